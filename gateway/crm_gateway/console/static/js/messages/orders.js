// Words of the order capture and order screens, in English, Russian and Kazakh.
export const en = {
};

export const ru = {
};

export const kk = {
};

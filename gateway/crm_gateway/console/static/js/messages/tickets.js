// Words of the ticket queue and ticket workflow screens, in English, Russian and Kazakh.
export const en = {
};

export const ru = {
};

export const kk = {
};

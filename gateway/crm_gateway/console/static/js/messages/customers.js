// Words of the customer maintenance (phones, addresses, contacts, merging) and the staff list, in English, Russian and Kazakh.
export const en = {
};

export const ru = {
};

export const kk = {
};

// Words of the list exports (CSV), in English, Russian and Kazakh.
export const en = {
  "export.csv": "Export as CSV", "export.preparing": "Preparing the file…", "export.done": "Saved as {file}.",
};

export const ru = {
  "export.csv": "Выгрузить в CSV", "export.preparing": "Готовим файл…", "export.done": "Сохранено: {file}.",
};

export const kk = {
  "export.csv": "CSV-ге жүктеу", "export.preparing": "Файл дайындалуда…", "export.done": "Сақталды: {file}.",
};

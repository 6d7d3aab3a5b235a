// Words of the privacy officer's work (the subject-access export) and of what masked roles see
// instead of the birth date, in English, Russian and Kazakh.
export const en = {
  "customer.birth_year": "Year of birth",
  "privacy.export": "Export personal data",
  "privacy.export_hint": "Everything every service holds about this person, as one JSON file (Law No. 94-V on personal data). Each export is recorded.",
  "privacy.exporting": "Gathering the data from every service…",
  "privacy.exported": "Exported: {services}. The file is in your downloads.",
  "privacy.service_silent": "{services} did not answer, so no export was made (never an incomplete one). Try again in a moment.",
};

export const ru = {
  "customer.birth_year": "Год рождения",
  "privacy.export": "Выгрузить персональные данные",
  "privacy.export_hint": "Всё, что хранят о человеке все сервисы, одним файлом JSON (Закон № 94-V о персональных данных). Каждая выгрузка записывается.",
  "privacy.exporting": "Собираем данные из всех сервисов…",
  "privacy.exported": "Выгружено: {services}. Файл в загрузках.",
  "privacy.service_silent": "{services} не ответил(и), поэтому выгрузка не сделана (неполной она не бывает). Повторите через минуту.",
};

export const kk = {
  "customer.birth_year": "Туған жылы",
  "privacy.export": "Дербес деректерді жүктеп алу",
  "privacy.export_hint": "Барлық қызметтер осы адам туралы сақтайтын мәліметтің бәрі, бір JSON файлында (Дербес деректер туралы № 94-V Заң). Әр жүктеу тіркеледі.",
  "privacy.exporting": "Деректер барлық қызметтерден жиналуда…",
  "privacy.exported": "Жүктелді: {services}. Файл жүктеулер қалтасында.",
  "privacy.service_silent": "{services} жауап бермеді, сондықтан жүктеу жасалмады (толық емес жүктеу болмайды). Сәлден соң қайталаңыз.",
};

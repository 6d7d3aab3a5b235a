// Words of the erasure of a person's data on request (privacy officers), in English, Russian and Kazakh.
export const en = {
  "erasure.title": "Erase personal data",
  "erasure.what_happens": "The person's names, IIN/BIN, birth date, phones, e-mail, contacts and addresses are destroyed here, and what tickets and orders keep about them too. The record stays as “Erased customer”, so that orders and invoices keep their books. This cannot be undone.",
  "erasure.reason": "Reason", "erasure.reason_hint": "The data subject's request and its reference, e.g. DSR-2031.",
  "erasure.confirm": "Erase the personal data", "erasure.done": "Personal data erased; the services confirm one by one.",
  "erasure.status_title": "Erasure of personal data",
  "erasure.pending": "Pending: waiting for every service to confirm.", "erasure.complete": "Complete: every service confirmed.",
  "erasure.requested": "Requested by {who} on {at}.", "erasure.waiting": "waiting",
  "erasure.service": "Service", "erasure.confirmed_at": "Confirmed",
  "audit.erased": "Personal data erased", "audit.erasure_confirmed": "Erasure confirmed by a service",
  "audit.erasure_completed": "Erasure complete", "audit.erasure_asked": "Erasure asked for by the customer", "field.erasure_id": "Erasure", "field.reason": "Reason",
  "field.service": "Service",
};

export const ru = {
  "erasure.title": "Удалить персональные данные",
  "erasure.what_happens": "Имена, ИИН/БИН, дата рождения, телефоны, e-mail, контактные лица и адреса человека будут уничтожены здесь, а также то, что о нём хранят обращения и заказы. Запись останется как «Удалённый клиент», чтобы заказы и счета сохранили учёт. Это нельзя отменить.",
  "erasure.reason": "Основание", "erasure.reason_hint": "Запрос субъекта данных и его номер, например DSR-2031.",
  "erasure.confirm": "Удалить персональные данные", "erasure.done": "Персональные данные удалены; сервисы подтверждают по очереди.",
  "erasure.status_title": "Удаление персональных данных",
  "erasure.pending": "Выполняется: ждём подтверждения всех сервисов.", "erasure.complete": "Завершено: все сервисы подтвердили.",
  "erasure.requested": "Запросил(а) {who}, {at}.", "erasure.waiting": "ожидается",
  "erasure.service": "Сервис", "erasure.confirmed_at": "Подтверждено",
  "audit.erased": "Персональные данные удалены", "audit.erasure_confirmed": "Сервис подтвердил удаление",
  "audit.erasure_completed": "Удаление завершено", "audit.erasure_asked": "Клиент просит удалить данные", "field.erasure_id": "Удаление", "field.reason": "Основание",
  "field.service": "Сервис",
};

export const kk = {
  "erasure.title": "Дербес деректерді жою",
  "erasure.what_happens": "Адамның аты-жөні, ЖСН/БСН, туған күні, телефондары, e-mail, байланыс тұлғалары мен мекенжайлары осында, сондай-ақ өтінімдер мен тапсырыстарда ол туралы сақталғандар жойылады. Тапсырыстар мен шоттардың есебі сақталуы үшін жазба «Жойылған клиент» ретінде қалады. Мұны қайтару мүмкін емес.",
  "erasure.reason": "Негіздеме", "erasure.reason_hint": "Деректер субъектісінің сұрауы және оның нөмірі, мысалы DSR-2031.",
  "erasure.confirm": "Дербес деректерді жою", "erasure.done": "Дербес деректер жойылды; қызметтер кезекпен растайды.",
  "erasure.status_title": "Дербес деректерді жою",
  "erasure.pending": "Орындалуда: барлық қызметтің растауы күтілуде.", "erasure.complete": "Аяқталды: барлық қызмет растады.",
  "erasure.requested": "Сұраған: {who}, {at}.", "erasure.waiting": "күтілуде",
  "erasure.service": "Қызмет", "erasure.confirmed_at": "Расталды",
  "audit.erased": "Дербес деректер жойылды", "audit.erasure_confirmed": "Қызмет жоюды растады",
  "audit.erasure_completed": "Жою аяқталды", "audit.erasure_asked": "Клиент деректерді жоюды сұрады", "field.erasure_id": "Жою", "field.reason": "Негіздеме",
  "field.service": "Қызмет",
};

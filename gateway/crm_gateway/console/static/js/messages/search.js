// Words of the one search box (customers, tickets and orders), in English, Russian and Kazakh.
export const en = {
  "search.kind.customer": "Customer", "search.kind.ticket": "Ticket", "search.kind.order": "Order",
  "search.unavailable": "Not searched (not answering): {services}.",
};

export const ru = {
  "search.kind.customer": "Клиент", "search.kind.ticket": "Заявка", "search.kind.order": "Заказ",
  "search.unavailable": "Не найдено в недоступных сервисах: {services}.",
};

export const kk = {
  "search.kind.customer": "Клиент", "search.kind.ticket": "Өтінім", "search.kind.order": "Тапсырыс",
  "search.unavailable": "Қолжетімсіз сервистерде ізделмеді: {services}.",
};

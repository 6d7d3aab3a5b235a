// The call-centre screen: one box for a name in any script, a phone number in any notation, an
// IIN/BIN, an e-mail or a ticket or order number (GET /api/v1/search); results as you type;
// arrows and Enter open the customer, ticket or order.
import { api } from "../api.js";
import { arrowNavigation, debounce, h, replace } from "../dom.js";
import { problemText } from "../forms.js";
import { label, t } from "../i18n.js";
import { empty, link } from "./common.js";

// What the box holds, as the customer API's query parameters (null while it is not complete).
export function searchQuery(text) {
  const typed = text.trim();
  if (/\p{L}/u.test(typed)) return typed.length >= 2 ? { q: typed } : null;
  const digits = typed.replace(/\D/g, "");
  if (digits.length === 12) {
    // IIN: YYMMDD..., the fifth digit is the day's tens (0-3); BIN: YYMM then 4-6 (entity type)
    return Number(digits[4]) >= 4 ? { bin: digits } : { iin: digits };
  }
  if (digits.length === 11 && /^[78]/.test(digits)) return { phone: typed };
  if (digits.length === 10 && digits[0] === "7") return { phone: `+7${digits}` };
  return null;
}

// What the box holds as the search's q (null while it is not complete): digits only wait for a
// whole phone number or IIN/BIN; anything else with letters, "@" or "#" is searched as it is.
export function boxQuery(text) {
  const typed = text.trim();
  if (/[\p{L}@#№]/u.test(typed)) return typed.replace(/[#№\s]/g, "").length >= 2 ? typed : null;
  return searchQuery(typed) ? typed : null;
}

const RESULT_LINKS = { customer: "customers", ticket: "tickets", order: "orders" };
const STATUS_LABELS = { customer: "status", ticket: "ticket", order: "order" };

function resultRow(item) {
  return h("a", { class: `result ${item.type}`, href: `#/${RESULT_LINKS[item.type]}/${item.id}` },
    h("span", { class: "kind" }, t(`search.kind.${item.type}`)),
    h("span", { class: "name" }, item.title),
    h("span", { class: "meta" }, [
      item.subtitle,
      item.status && !(item.type === "customer" && item.status === "active") ? label(STATUS_LABELS[item.type], item.status) : null,
    ].filter(Boolean).join(" · ")));
}

export async function searchView(root) {
  const box = h("input", { type: "search", id: "caller-search", autocomplete: "off", spellcheck: false,
    "aria-describedby": "caller-search-hint", "aria-controls": "search-results" });
  const status = h("p", { class: "hint", id: "caller-search-hint", role: "status", "aria-live": "polite" }, t("search.hint"));
  const results = h("div", { id: "search-results", class: "results", "aria-label": t("search.results") });
  let asked = 0;

  const run = debounce(async () => {
    const query = boxQuery(box.value);
    const ticket = ++asked;
    if (!query) {
      replace(results);
      status.textContent = box.value.trim() ? t("search.keep_typing") : t("search.hint");
      return;
    }
    status.textContent = t("common.loading");
    try {
      const page = await api("search", { query: { q: query, limit: 10 } });
      if (ticket !== asked) return;  // a newer query has been typed meanwhile
      replace(results, page.items.length ? h("ul", {}, page.items.map((item) => h("li", {}, resultRow(item))))
        : empty(t("search.nothing")));
      status.textContent = [
        page.items.length ? t("search.found", { count: page.items.length }) : t("search.nothing"),
        page.unavailable.length ? t("search.unavailable", { services: page.unavailable.join(", ") }) : null,
      ].filter(Boolean).join(" ");
    } catch (error) {
      if (ticket !== asked) return;
      replace(results);
      status.textContent = error.fieldErrors && Object.values(error.fieldErrors)[0] || problemText(error);
    }
  }, 250);

  box.addEventListener("input", run);
  arrowNavigation(results, "a.result", { fromInput: box });
  replace(root,
    h("h1", {}, t("search.title")),
    h("div", { class: "search card" },
      h("label", { for: "caller-search" }, t("search.label")),
      box, status, results),
    h("p", {}, link("customers", t("search.all_customers"))));
  box.focus();
}

// The customer self-service portal: sign-in by SMS code, then the customer's own data. Calls only
// /api/v1/portal/... with the customer's bearer token (kept for this browser tab only).
import { MESSAGES } from "./messages.js";

const API = "/api/v1/portal";
const main = document.getElementById("main");
const statusLine = document.getElementById("status");
let lang = localStorage.getItem("portal.lang") || "kk";
let token = sessionStorage.getItem("portal.token");
const t = (key) => MESSAGES[lang][key] ?? MESSAGES.en[key] ?? key;

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

let fieldSerial = 0;
function field(labelText, control) {
  const id = control.id || `f${++fieldSerial}`;
  control.id = id;
  return [h("label", { for: id, text: labelText }), control];
}

function say(text) {
  statusLine.textContent = text;
  setTimeout(() => { if (statusLine.textContent === text) statusLine.textContent = ""; }, 4000);
}

async function call(method, path, body, headers = {}) {
  const response = await fetch(API + path, {
    method,
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && token && path.startsWith("/me")) { signOut(); }
  return { status: response.status, ok: response.ok, data };
}

const money = (tiyn) => new Intl.NumberFormat(lang === "en" ? "en-GB" : `${lang}-KZ`, { style: "currency", currency: "KZT" }).format((tiyn || 0) / 100);
const day = (iso) => (iso ? new Date(iso).toLocaleDateString(lang === "en" ? "en-GB" : `${lang}-KZ`) : "");

function setLanguage(next) {
  lang = next;
  localStorage.setItem("portal.lang", lang);
  document.documentElement.lang = lang;
  for (const button of document.querySelectorAll("[data-lang]")) button.setAttribute("aria-pressed", String(button.dataset.lang === lang));
  render();
}

function signOut() {
  token = null;
  sessionStorage.removeItem("portal.token");
  render();
}

// --- sign-in ---------------------------------------------------------------------------------

function signInScreen() {
  const phone = h("input", { type: "tel", autocomplete: "tel", inputmode: "tel", required: true, name: "phone" });
  const code = h("input", { inputmode: "numeric", autocomplete: "one-time-code", maxlength: "6", name: "code" });
  const message = h("p", { class: "muted", "aria-live": "polite" });
  const choices = h("div");
  const codeStep = h("div", { hidden: true }, field(t("code"), code), h("div", { class: "row" }, h("button", { type: "submit", text: t("signIn") })));

  async function exchange(customerId) {
    const answer = await call("POST", "/auth/token", { phone: phone.value, code: code.value, ...(customerId ? { customer_id: customerId } : {}) });
    if (answer.ok) {
      token = answer.data.access_token;
      sessionStorage.setItem("portal.token", token);
      render();
    } else if (answer.status === 409 && answer.data?.choices) {
      choices.replaceChildren(h("p", { text: t("chooseAccount") }), ...answer.data.choices.map((choice) =>
        h("button", { type: "button", class: "secondary", onclick: () => exchange(choice.customer_id) }, choice.name)));
    } else {
      message.className = "error";
      message.textContent = answer.status === 429 ? t("tooMany") : answer.status === 422 ? answer.data?.detail || t("error") : t("wrongCode");
    }
  }

  const form = h("form", {
    novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      if (codeStep.hidden) {
        const answer = await call("POST", "/auth/code", { phone: phone.value });
        message.className = answer.ok ? "muted" : "error";
        message.textContent = answer.ok ? t("codeSent") : answer.status === 429 ? t("tooMany") : answer.data?.detail || t("error");
        if (answer.ok) { codeStep.hidden = false; code.focus(); }
      } else {
        await exchange(null);
      }
    },
  }, field(t("phone"), phone), h("div", { class: "row" }, h("button", { type: "submit", class: "secondary", text: t("sendCode") })), message, codeStep, choices);
  return h("section", {}, h("h1", { text: t("signInTitle") }), form);
}

// --- the customer's own data -----------------------------------------------------------------

function profileSection(profile) {
  const email = h("input", { type: "email", value: profile.email || "", autocomplete: "email" });
  const language = h("select", {}, ...["kk", "ru", "en"].map((code) => h("option", { value: code, selected: profile.language === code }, code.toUpperCase())));
  const marketing = h("input", { type: "checkbox", id: "consent-marketing", checked: !!profile.consents.marketing });
  const processing = h("input", { type: "checkbox", id: "consent-data", checked: !!profile.consents.data_processing });
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      const answer = await call("PATCH", "/me", {
        email: email.value || null, language: language.value, marketing_consent: marketing.checked,
        data_processing_consent: processing.checked, version: profile.version,
      });
      say(answer.ok ? t("saved") : answer.data?.detail || t("error"));
      render();
    },
  },
  h("p", {}, h("strong", { text: profile.name })),
  h("p", { class: "muted" }, `${t("iin")}: ${profile.iin_masked || "—"} · ${t("phone")}: ${profile.primary_phone || "—"}`),
  field(t("email"), email), field(t("language"), language),
  h("fieldset", {}, h("legend", { text: t("consents") }),
    h("label", { class: "check", for: "consent-marketing" }, marketing, t("marketingConsent")),
    h("label", { class: "check", for: "consent-data" }, processing, t("dataConsent"))),
  h("div", { class: "row" }, h("button", { type: "submit", text: t("save") }),
    h("button", { type: "button", class: "secondary", onclick: downloadMyData, text: t("myData") })));
  return h("section", { "aria-labelledby": "profile-title" }, h("h2", { id: "profile-title", text: t("profile") }), form, erasureAsk());
}

function erasureAsk() {
  const confirm = h("div", { hidden: true, id: "erase-confirm" }, h("p", { text: t("eraseWarning") }),
    h("button", {
      type: "button",
      onclick: async () => {
        const answer = await call("POST", "/me/erasure-request", {});
        say(answer.ok ? t("eraseSent") : answer.data?.detail || t("error"));
        confirm.hidden = true;
      },
    }, t("eraseConfirm")));
  return h("div", { class: "row" },
    h("button", { type: "button", class: "secondary", "aria-controls": "erase-confirm", onclick: () => { confirm.hidden = false; } }, t("erase")),
    confirm);
}

async function downloadMyData() {
  const response = await fetch(`${API}/me/data`, { headers: { Authorization: `Bearer ${token}` } });
  if (!response.ok) { say(t("error")); return; }
  const link = h("a", { href: URL.createObjectURL(await response.blob()), download: "my-data.json" });
  document.body.append(link);
  link.click();
  link.remove();
}

function loyaltySection(loyalty) {
  if (!loyalty?.enrolled) return null;
  return h("section", { "aria-labelledby": "loyalty-title", id: "loyalty" }, h("h2", { id: "loyalty-title", text: t("loyalty") }),
    h("p", {}, `${t("card")}: ${loyalty.card_number} · ${t("tier")}: ${loyalty.tier} · ${t("points")}: `, h("strong", { text: String(loyalty.points) })));
}

function productsSection(products) {
  return h("section", { "aria-labelledby": "products-title", id: "products" }, h("h2", { id: "products-title", text: t("products") }),
    products.length ? h("ul", { class: "plain" }, products.map((p) => h("li", {},
      h("strong", { text: p.offering_name || p.name || p.offering_id }), " ",
      h("span", { class: "badge", text: p.status }),
      h("div", { class: "muted", text: [p.service_address, p.recurring_price_tiyn !== undefined ? money(p.recurring_price_tiyn) : null].filter(Boolean).join(" · ") }))))
      : h("p", { class: "muted", text: t("noProducts") }));
}

function balanceSection(balance) {
  return h("section", { "aria-labelledby": "balance-title", id: "balance" }, h("h2", { id: "balance-title", text: t("balance") }),
    h("p", {}, `${t("outstanding")}: `, h("strong", { text: money(balance.outstanding_tiyn) })),
    h("p", { class: "muted" }, `${t("paid")}: ${money(balance.paid_tiyn)} · ${t("overdue")}: ${money(balance.overdue_tiyn)}`),
    balance.invoices?.length ? h("ul", { class: "plain", "aria-label": t("invoices") }, balance.invoices.map((i) =>
      h("li", {}, `${i.invoice_id || i.id} · ${money(i.amount_tiyn)} · ${day(i.due_on)}`))) : null);
}

function ratingForm(ticket) {
  const stars = h("fieldset", { class: "stars" }, h("legend", { text: t("score") }),
    [1, 2, 3, 4, 5].map((n) => h("label", {}, h("input", { type: "radio", name: `score-${ticket.id}`, value: String(n), required: true }), ` ${n}`)));
  const comment = h("input", { maxlength: "1000" });
  return h("form", {
    class: "rating",
    onsubmit: async (event) => {
      event.preventDefault();
      const chosen = stars.querySelector("input:checked");
      if (!chosen) return;
      const answer = await call("POST", `/me/tickets/${ticket.id}/rating`, { score: Number(chosen.value), comment: comment.value || null });
      say(answer.ok ? t("thanks") : answer.data?.detail || t("error"));
      render();
    },
  }, stars, field(t("comment"), comment), h("div", { class: "row" }, h("button", { type: "submit", text: t("rate") })));
}

function ticketItem(ticket) {
  const finished = ["resolved", "closed"].includes(ticket.status);
  return h("li", { "data-ticket": ticket.id },
    h("strong", { text: ticket.name }), " ", h("span", { class: "badge", text: t("statuses")[ticket.status] || ticket.status }),
    h("div", { class: "muted", text: `${t("categories")[ticket.category] || ticket.category} · ${day(ticket.created_at)}${!finished && ticket.resolution_due_at ? ` · ${t("dueBy")}: ${day(ticket.resolution_due_at)}` : ""}` }),
    ticket.rating ? h("p", { text: `${t("rated")}: ${ticket.rating.score}/5` }) : finished ? ratingForm(ticket) : null);
}

function ticketsSection(tickets) {
  const summary = h("input", { required: true, maxlength: "200" });
  const description = h("textarea", { required: true, maxlength: "4000" });
  const category = h("select", {}, Object.entries(t("categories")).map(([value, label]) => h("option", { value }, label)));
  const form = h("form", {
    onsubmit: async (event) => {
      event.preventDefault();
      const answer = await call("POST", "/me/tickets", { summary: summary.value, description: description.value, category: category.value },
        { "Idempotency-Key": crypto.randomUUID() });
      say(answer.ok ? t("ticketOpened") : answer.data?.detail || t("error"));
      if (answer.ok) render();
    },
  }, h("h3", { text: t("newTicket") }), field(t("summary"), summary), field(t("description"), description), field(t("category"), category),
  h("div", { class: "row" }, h("button", { type: "submit", text: t("send") })));
  return h("section", { "aria-labelledby": "tickets-title", id: "tickets" }, h("h2", { id: "tickets-title", text: t("tickets") }),
    tickets.length ? h("ul", { class: "plain" }, tickets.map(ticketItem)) : h("p", { class: "muted", text: t("noTickets") }), form);
}

async function accountScreen() {
  const [profile, products, balance, tickets, loyalty] = await Promise.all(
    ["/me", "/me/products", "/me/balance", "/me/tickets", "/me/loyalty"].map((path) => call("GET", path)));
  if (!token) return signInScreen();
  if (!profile.ok) return h("section", {}, h("p", { class: "error", text: t("error") }));
  return h("div", {},
    h("div", { class: "row" }, h("h1", { text: `${t("hello")}, ${profile.data.name}` }),
      h("button", { type: "button", class: "secondary", onclick: signOut, text: t("signOut") })),
    h("div", { class: "grid" }, profileSection(profile.data), balanceSection(balance.ok ? balance.data : {})),
    productsSection(products.ok ? products.data.items : []),
    loyaltySection(loyalty.ok ? loyalty.data : null),
    ticketsSection(tickets.ok ? tickets.data.items : []));
}

async function render() {
  const screen = token ? await accountScreen() : signInScreen();
  main.replaceChildren(screen);
}

for (const button of document.querySelectorAll("[data-lang]")) button.addEventListener("click", () => setLanguage(button.dataset.lang));
setLanguage(lang);

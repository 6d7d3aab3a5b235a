// The console's shell: sign-in, the header (menu by role, language, sign-out) and the screens,
// addressed by the URL fragment so that each one is a link (#/customers/<id>).
import { ApiError, api, session, signIn, signOut } from "./api.js";
import { h, replace } from "./dom.js";
import { field, formAlert, onSubmit, submitButton, textInput } from "./forms.js";
import { LANGUAGES, currentLanguage, label, setLanguage, t } from "./i18n.js";
import { customerFormView, customerHistoryView, customerView } from "./views/customer.js";
import { customersView } from "./views/customers.js";
import { customerImportView } from "./views/imports.js";
import { searchView } from "./views/search.js";
import { leadsView, pipelineView, reassignView } from "./views/pipeline.js";
import { branchesView, keysView, usersView } from "./views/admin.js";
import { statsView } from "./views/stats.js";
import { analyticsView } from "./views/analytics.js";
import { incidentView, incidentsView, ticketView, ticketsView } from "./views/tickets.js";
import { newOrderView, orderView, ordersView } from "./views/orders.js";
import { approvalsView, disputesView, partnerView, partnersView, portalView } from "./views/partners.js";
import { can } from "./views/common.js";
import { forecastView, leadHistoryView, myTasksView, opportunityHistoryView, orderHistoryView, overdueView, reminderBadge } from "./views/daily.js";
import { campaignsView, canMarket, loyaltyView, outboxView, segmentsView } from "./views/marketing.js";

const SCREENS = [
  { path: /^search$/, view: searchView, menu: "nav.search", allowed: (me) => can.readCustomers(me) },
  { path: /^customers$/, view: customersView, menu: "nav.customers", allowed: (me) => can.readCustomers(me) },
  { path: /^customers\/new$/, view: customerFormView, allowed: (me) => can.writeCustomers(me) },
  { path: /^customers\/import$/, view: customerImportView, allowed: (me) => can.writeCustomers(me) },
  { path: /^customers\/([^/]+)\/edit$/, view: customerFormView, allowed: (me) => can.writeCustomers(me) },
  { path: /^customers\/([^/]+)$/, view: customerView, allowed: (me) => can.readCustomers(me) },
  { path: /^customers\/([^/]+)\/history$/, view: customerHistoryView, allowed: (me) => can.readCustomers(me) },
  { path: /^customers\/([^/]+)\/orders\/new$/, view: newOrderView, allowed: (me) => can.writeOrders(me) },
  { path: /^orders$/, view: ordersView, menu: "nav.orders", allowed: (me) => can.readOrders(me) },
  { path: /^orders\/([^/]+)$/, view: orderView, allowed: (me) => can.readOrders(me) },
  { path: /^leads$/, view: leadsView, menu: "nav.leads", allowed: (me) => can.writeCustomers(me) },
  { path: /^pipeline$/, view: pipelineView, menu: "nav.pipeline", allowed: (me) => can.writeCustomers(me) },
  { path: /^tickets$/, view: ticketsView, menu: "nav.tickets", allowed: (me) => can.readTickets(me) },
  { path: /^tickets\/([^/]+)$/, view: ticketView, allowed: (me) => can.readTickets(me) },
  { path: /^incidents$/, view: incidentsView, menu: "nav.incidents", allowed: (me) => can.readTickets(me) },
  { path: /^incidents\/([^/]+)$/, view: incidentView, allowed: (me) => can.readTickets(me) },
  { path: /^my-tasks$/, view: myTasksView, menu: "nav.my_tasks", allowed: (me) => can.logActivity(me) },
  { path: /^overdue$/, view: overdueView, menu: "nav.overdue", allowed: (me) => can.reassign(me) },
  { path: /^forecast$/, view: forecastView, menu: "nav.forecast", allowed: (me) => can.readStats(me) },
  { path: /^leads\/([^/]+)\/history$/, view: leadHistoryView, allowed: (me) => can.readCustomers(me) },
  { path: /^opportunities\/([^/]+)\/history$/, view: opportunityHistoryView, allowed: (me) => can.readCustomers(me) },
  { path: /^orders\/([^/]+)\/history$/, view: orderHistoryView, allowed: (me) => can.readOrders(me) },
  { path: /^stats$/, view: statsView, menu: "nav.stats", allowed: (me) => can.readStats(me) },
  { path: /^analytics$/, view: analyticsView, menu: "nav.analytics", allowed: (me) => can.readAnalytics(me) },
  { path: /^reassign$/, view: reassignView, menu: "nav.reassign", allowed: (me) => can.reassign(me) },
  { path: /^admin\/users$/, view: usersView, menu: "nav.users", allowed: (me) => can.administer(me) },
  { path: /^admin\/branches$/, view: branchesView, menu: "nav.branches", allowed: (me) => can.administer(me) },
  { path: /^admin\/keys$/, view: keysView, menu: "nav.keys", allowed: (me) => can.administer(me) },
  { path: /^marketing\/segments$/, view: segmentsView, menu: "nav.segments", allowed: (me) => canMarket.manage(me) },
  { path: /^marketing\/campaigns$/, view: campaignsView, menu: "nav.campaigns", allowed: (me) => canMarket.manage(me) },
  { path: /^marketing\/loyalty$/, view: loyaltyView, menu: "nav.loyalty", allowed: (me) => canMarket.loyalty(me) },
  { path: /^admin\/outbox$/, view: outboxView, menu: "nav.outbox", allowed: (me) => canMarket.outbox(me) },
  { path: /^portal$/, view: portalView, menu: "nav.portal", allowed: (me) => can.usePortal(me) },
  { path: /^partners$/, view: partnersView, menu: "nav.partners", allowed: (me) => can.managePartners(me) },
  { path: /^partners\/approvals$/, view: approvalsView, menu: "nav.approvals", allowed: (me) => can.managePartners(me) },
  { path: /^partners\/disputes$/, view: disputesView, menu: "nav.disputes", allowed: (me) => can.managePartners(me) || can.usePortal(me) },
  { path: /^partners\/([^/]+)$/, view: partnerView, allowed: (me) => can.managePartners(me) },
];

const header = document.getElementById("top");
const main = document.getElementById("main");

function currentPath() {
  return decodeURIComponent(location.hash.replace(/^#\/?/, "")).split("?")[0];
}

function homeOf(me) {
  if (me.role === "hq_analyst") return "stats";
  if (me.role === "marketer") return "marketing/campaigns";
  if (me.role === "partner") return "portal";
  if (me.role === "channel_manager") return "partners";
  // the call centre and the privacy officer start from a person's phone or IIN
  return me.role === "call_center_agent" || me.role === "privacy_officer" ? "search" : "customers";
}

export function go(path) {
  if (currentPath() === path) render(); else location.hash = `#/${path}`;
}

async function render() {
  if (!session.token || !session.me) {
    renderHeader();
    return signInView(main);
  }
  const path = currentPath();
  if (path === "" || path === "signin") return go(homeOf(session.me));
  renderHeader(path);
  const screen = SCREENS.find((s) => s.path.test(path));
  if (!screen || !screen.allowed(session.me)) {
    replace(main, h("h1", {}, t("error.no_screen")), h("p", {}, h("a", { href: `#/${homeOf(session.me)}` }, t("nav.home"))));
    return;
  }
  // Each screen draws into a container of its own: a screen still loading when the user moves
  // on finishes into its detached container instead of over the screen shown now.
  const container = h("div", { class: "screen" }, h("p", { class: "loading" }, t("common.loading")));
  replace(main, container);
  const params = path.match(screen.path).slice(1);
  await screen.view(container, ...params);
  if (!container.isConnected) return;
  const heading = container.querySelector("h1");
  document.title = `${heading ? heading.textContent + " · " : ""}Qazaq CRM`;
}

function languagePicker() {
  const picker = h("select", { id: "language", onchange: () => chooseLanguage(picker.value) },
    LANGUAGES.map(({ code, name }) => h("option", { value: code, lang: code, selected: code === currentLanguage() }, name)));
  return h("div", { class: "language" }, h("label", { for: "language" }, t("common.language")), picker);
}

async function chooseLanguage(code) {
  setLanguage(code);
  if (session.me) {
    try {
      session.me = await api("auth/me", { method: "PATCH", body: { language: code } });
    } catch {
      // the choice still holds in this browser; the account keeps its previous one
    }
  }
  await render();
  document.getElementById("language")?.focus();
}

function renderHeader(path = "") {
  const me = session.me;
  const menu = me ? SCREENS.filter((s) => s.menu && s.allowed(me)) : [];
  replace(header,
    h("a", { class: "brand", href: "#/" }, "Qazaq CRM"),
    menu.length ? h("nav", { "aria-label": t("nav.label") }, h("ul", {}, menu.map((screen) => {
      const target = screen.path.source.replace(/^\^|\$$/g, "").replace(/\\\//g, "/");
      const active = path === target || (["customers", "tickets", "incidents"].includes(target) && path.startsWith(`${target}/`));
      return h("li", {}, h("a", { href: `#/${target}`, "aria-current": active ? "page" : null }, t(screen.menu)));
    }))) : null,
    h("div", { class: "session" },
      me ? reminderBadge(me) : null,
      languagePicker(),
      me ? h("span", { class: "who" }, me.full_name || me.username, " · ", label("role", me.role),
        me.branch ? ` · ${me.branch}` : me.region ? ` · ${me.region}` : "") : null,
      me ? h("button", { type: "button", class: "link", onclick: () => { signOut(); go("signin"); } }, t("nav.sign_out")) : null));
}

function signInView(root) {
  const form = h("form", { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, t("signin.title")),
    formAlert(),
    field("username", t("signin.username"), textInput({ autocomplete: "username", autocapitalize: "none" }), { required: true }),
    field("password", t("signin.password"), h("input", { type: "password", autocomplete: "current-password" }), { required: true }),
    submitButton(t("signin.submit")));
  onSubmit(form, async (values) => {
    try {
      const me = await signIn(values.username || "", values.password || "");
      if (me.language) setLanguage(me.language);
    } catch (error) {
      throw error.status === 401 ? new ApiError(401, { detail: t("signin.wrong") }) : error;
    }
    const wanted = currentPath();
    if (wanted && wanted !== "signin") await render(); else go(homeOf(session.me));
  });
  replace(root, form);
  document.title = `${t("signin.title")} · Qazaq CRM`;
  form.elements.username.focus();
}

async function boot() {
  document.documentElement.lang = currentLanguage();
  if (session.token) {
    try {
      session.me = await api("auth/me");
      if (session.me.language) setLanguage(session.me.language);
    } catch {
      signOut();
    }
  }
  window.addEventListener("hashchange", () => render());
  window.addEventListener("crm:signed-out", () => { session.me = null; render(); });
  await render();
}

boot();

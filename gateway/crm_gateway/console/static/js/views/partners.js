// Partner screens. The portal of a partner's user (role partner): register a deal, follow its deals,
// see its commissions and a month's statement (download as CSV or PDF). The channel manager's
// screens: partners, deal approvals, disputes and the commission runs (statements) of a partner.
import { api, idempotencyKey, session } from "../api.js";
import { h, replace } from "../dom.js";
import { field, formAlert, formValues, onSubmit, selectInput, showErrors, submitButton, textInput } from "../forms.js";
import { dateTime, label, money, t } from "../i18n.js";
import { empty, link, pager, problemBox, table, toast } from "./common.js";

const P = "partners";

function thisMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}`;
}

// A statement file (CSV or PDF) fetched with the user's token and handed to the browser.
async function download(partnerId, period, format) {
  const response = await fetch(`/api/v1/${P}/partners/${partnerId}/statements/${period}?format=${format}`,
    { headers: { Authorization: `Bearer ${session.token}` } });
  if (!response.ok) { toast(t("partners.download_failed")); return; }
  const url = URL.createObjectURL(await response.blob());
  const anchor = h("a", { href: url, download: `statement-${partnerId}-${period}.${format}` });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function dealsTable(items, { decide = false, onDecided } = {}) {
  if (!items.length) return empty(t("partners.no_deals"));
  return table(
    [t("partners.deal_customer"), t("partners.deal_status"), t("partners.expected"), t("partners.created"), t("partners.result")],
    items.map((deal) => {
      const who = deal.customer.legal_name || `${deal.customer.first_name || ""} ${deal.customer.last_name || ""}`;
      const actions = decide && deal.status === "submitted" ? decisionForm(deal, onDecided) : null;
      return h("tr", {},
        h("td", {}, who), h("td", {}, label("deal_status", deal.status)), h("td", {}, money(deal.expected_value_tiyn)),
        h("td", {}, dateTime(deal.created_at)),
        h("td", {}, actions || deal.decision_reason || (deal.customer_id ? link(`customers/${deal.customer_id}`, t("partners.open_customer")) : "")));
    }),
    { caption: t("partners.deals_caption") });
}

function decisionForm(deal, onDecided) {
  const form = h("form", { class: "inline", "aria-label": t("partners.decide") },
    formAlert(),
    field("reason", t("partners.reason"), textInput()),
    h("button", { type: "submit", name: "decision", value: "approved", class: "primary" }, t("partners.approve")),
    h("button", { type: "submit", name: "decision", value: "rejected" }, t("partners.reject")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const decision = event.submitter?.value || "approved";
    try {
      await api(`${P}/deals/${deal.id}/decision`, { method: "POST", body: { decision, reason: formValues(form).reason || null } });
      toast(t(decision === "approved" ? "partners.approved" : "partners.rejected"));
      await onDecided();
    } catch (error) {
      showErrors(form, error);
    }
  });
  return form;
}

function commissionsBlock(partnerId) {
  const results = h("div", { "aria-live": "polite" });
  const paging = pager(async (cursor) => {
    const page = await api(`${P}/partners/${partnerId}/commissions`, { query: { limit: 25, cursor } });
    replace(results, page.items.length ? table(
      [t("partners.line_kind"), t("partners.line_status"), t("partners.order"), t("partners.amount"), t("partners.accrued")],
      page.items.map((line) => h("tr", {},
        h("td", {}, label("line_kind", line.kind)), h("td", {}, label("line_status", line.status)),
        h("td", {}, line.order_id ? link(`orders/${line.order_id}`, line.order_id.slice(0, 8)) : ""),
        h("td", { class: "number" }, money(line.amount_tiyn)), h("td", {}, dateTime(line.accrued_at)))),
      { caption: t("partners.commissions_caption") }) : empty(t("partners.no_lines")));
    return page.next_cursor;
  });
  return { node: h("section", {}, h("h2", {}, t("partners.commissions")), results, paging.bar), load: paging.reset };
}

function statementBlock(partnerId) {
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "filters card", "aria-label": t("partners.statement") },
    formAlert(),
    h("div", { class: "row" },
      field("period", t("partners.period"), textInput({ type: "month", value: thisMonth() })),
      h("button", { type: "submit", class: "primary" }, t("partners.show_statement")),
      h("button", { type: "button", onclick: () => download(partnerId, formValues(form).period, "csv") }, t("partners.download_csv")),
      h("button", { type: "button", onclick: () => download(partnerId, formValues(form).period, "pdf") }, t("partners.download_pdf"))));
  async function show() {
    try {
      const statement = await api(`${P}/partners/${partnerId}/statements/${formValues(form).period}`);
      const totals = statement.totals;
      replace(out,
        h("dl", { class: "facts" },
          h("dt", {}, t("partners.total_accrued")), h("dd", {}, money(totals.accrued_tiyn)),
          h("dt", {}, t("partners.total_confirmed")), h("dd", {}, money(totals.confirmed_tiyn)),
          h("dt", {}, t("partners.total_clawback")), h("dd", {}, money(totals.clawback_tiyn)),
          h("dt", {}, t("partners.total")), h("dd", { class: "total" }, money(totals.total_tiyn))),
        statement.lines.length ? table([t("partners.line_kind"), t("partners.line_status"), t("partners.order"), t("partners.amount")],
          statement.lines.map((line) => h("tr", {}, h("td", {}, label("line_kind", line.kind)),
            h("td", {}, label("line_status", line.status)), h("td", {}, line.order_id || ""),
            h("td", { class: "number" }, money(line.amount_tiyn)))), { caption: t("partners.statement_caption") })
          : empty(t("partners.no_lines")));
    } catch (error) {
      showErrors(form, error);
    }
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); show(); });
  return { node: h("section", {}, h("h2", {}, t("partners.statement")), form, out), load: show };
}

// --- the partner's portal -------------------------------------------------------------------

const TICKET_CATEGORIES = ["internet", "tv", "mobile", "fixed_line", "billing", "relocation", "equipment", "other"];

// The tickets of the customers the partner brought (the only ones the services show it), and a
// form to open one for such a customer.
function ticketsBlock() {
  const list = h("div", { "aria-live": "polite" });
  const formBox = h("div");
  async function load() {
    const [customers, tickets] = await Promise.all([
      api("sales/customers", { query: { limit: 100 } }), api("tickets/tickets", { query: { limit: 50 } })]);
    replace(list, tickets.items.length ? table([t("ticket.opened"), t("ticket.summary"), t("ticket.customer"), t("ticket.status")],
      tickets.items.map((k) => h("tr", {}, h("td", {}, dateTime(k.created_at)), h("td", {}, link(`tickets/${k.id}`, k.name)),
        h("td", {}, k.customer_name), h("td", {}, label("ticket", k.status)))))
      : empty(t("common.none")));
    if (!customers.items.length) {
      replace(formBox, h("p", { class: "hint", id: "partner-no-customers" }, t("partners.no_customers_yet")));
      return;
    }
    const form = h("form", { class: "card", "aria-labelledby": "partner-ticket-title" },
      h("h3", { id: "partner-ticket-title" }, t("ticket.open")),
      formAlert(),
      h("div", { class: "row" },
        field("customer_id", t("ticket.customer"), selectInput(customers.items.map((c) => [c.id, c.display_name]), customers.items[0].id)),
        field("name", t("ticket.summary"), textInput(), { required: true }),
        field("category", t("ticket.category"), selectInput(TICKET_CATEGORIES.map((c) => [c, label("category", c)]), "internet"))),
      field("description", t("ticket.description"), h("textarea", { rows: 2 }), { required: true }),
      submitButton(t("ticket.open")));
    onSubmit(form, async (values) => {
      await api("tickets/tickets", { method: "POST", headers: { "Idempotency-Key": idempotencyKey() },
        body: { customer_id: values.customer_id, name: values.name || "", description: values.description || "", category: values.category } });
      toast(t("ticket.opened_toast"));
      await load();
    });
    replace(formBox, form);
  }
  return { node: h("section", {}, h("h2", {}, t("partners.my_tickets")), formBox, list), load };
}

export async function portalView(root) {
  const me = session.me;
  let partner;
  try {
    partner = await api(`${P}/partners/${me.partner_id}`);
  } catch (error) {
    replace(root, h("h1", {}, t("partners.portal")), problemBox(error));
    return;
  }
  const dealsBox = h("div", { "aria-live": "polite" });
  async function loadDeals() {
    const page = await api(`${P}/deals`, { query: { limit: 50 } });
    replace(dealsBox, dealsTable(page.items));
  }
  const kind = selectInput([["individual", label("kind", "individual")], ["business", label("kind", "business")]], "individual");
  const register = h("form", { class: "card", "aria-labelledby": "deal-title" },
    h("h2", { id: "deal-title" }, t("partners.register_deal")),
    formAlert(),
    h("div", { class: "row" },
      field("customer.kind", t("customer.kind"), kind),
      field("customer.iin", t("partners.iin_or_bin"), textInput({ inputmode: "numeric" }), { required: true }),
      field("customer.phone", t("customer.phone"), textInput({ type: "tel" }), { required: true })),
    h("div", { class: "row" },
      field("customer.first_name", t("partners.first_name"), textInput()),
      field("customer.last_name", t("partners.last_name"), textInput()),
      field("customer.legal_name", t("partners.legal_name"), textInput())),
    h("div", { class: "row" },
      field("offering_ids", t("partners.offerings"), textInput({ value: "inet-gpon-100" }), { hint: t("partners.offerings_hint") }),
      field("expected_value_tiyn", t("partners.expected_kzt"), textInput({ inputmode: "numeric" }))),
    submitButton(t("partners.submit_deal")));
  onSubmit(register, async (values) => {
    const business = values["customer.kind"] === "business";
    const customer = { kind: values["customer.kind"], phone: values["customer.phone"] || "" };
    if (business) Object.assign(customer, { bin: values["customer.iin"] || "", legal_name: values["customer.legal_name"] });
    else Object.assign(customer, { iin: values["customer.iin"] || "", first_name: values["customer.first_name"], last_name: values["customer.last_name"] });
    const offerings = (values.offering_ids || "").split(",").map((s) => s.trim()).filter(Boolean);
    const expected = Math.round(Number((values.expected_value_tiyn || "0").replace(",", ".")) * 100) || 0;
    await api(`${P}/deals`, { method: "POST", headers: { "Idempotency-Key": idempotencyKey() },
      body: { customer, offering_ids: offerings, expected_value_tiyn: expected } });
    toast(t("partners.deal_submitted"));
    register.reset();
    await loadDeals();
  });
  const commissions = commissionsBlock(partner.id);
  const statement = statementBlock(partner.id);
  const tickets = ticketsBlock();
  replace(root,
    h("h1", {}, t("partners.portal_of", { name: partner.name })),
    h("p", {}, `${label("partner_kind", partner.kind)} · ${label("partner_status", partner.status)} · ${partner.region_codes.join(", ")}`),
    register,
    h("section", {}, h("h2", {}, t("partners.my_deals")), dealsBox),
    tickets.node, commissions.node, statement.node,
    h("p", {}, link("orders", t("partners.my_orders")), " · ", link("customers", t("partners.my_customers"))));
  await Promise.all([loadDeals(), tickets.load(), commissions.load(), statement.load()]);
}

// --- the channel manager's screens --------------------------------------------------------------

export async function partnersView(root) {
  const list = h("div", { "aria-live": "polite" });
  async function load() {
    const page = await api(`${P}/partners`, { query: { limit: 100 } });
    replace(list, page.items.length ? table(
      [t("common.name"), t("partners.kind"), t("partners.status"), t("partners.regions"), t("partners.plan")],
      page.items.map((p) => h("tr", {},
        h("td", {}, link(`partners/${p.id}`, p.name)), h("td", {}, label("partner_kind", p.kind)),
        h("td", {}, label("partner_status", p.status)), h("td", {}, p.region_codes.join(", ")),
        h("td", {}, t("partners.plan_summary", { one_off: money(p.commission_plan.one_off_tiyn),
          percent: p.commission_plan.recurring_percent, months: p.commission_plan.recurring_months })))),
      { caption: t("partners.caption") }) : empty(t("partners.none")));
  }
  const create = h("form", { class: "card", "aria-labelledby": "new-partner" },
    h("h2", { id: "new-partner" }, t("partners.new")),
    formAlert(),
    h("div", { class: "row" },
      field("name", t("common.name"), textInput(), { required: true }),
      field("bin", "BIN", textInput({ inputmode: "numeric" }), { required: true }),
      field("kind", t("partners.kind"), selectInput(["dealer", "agent", "installer"].map((k) => [k, label("partner_kind", k)]), "dealer")),
      field("region_codes", t("partners.regions"), textInput({ value: "KZ-75" }))),
    h("div", { class: "row" },
      field("commission_plan.one_off_tiyn", t("partners.one_off_kzt"), textInput({ inputmode: "numeric", value: "5000" })),
      field("commission_plan.recurring_percent", t("partners.recurring_percent"), textInput({ value: "5" })),
      field("commission_plan.recurring_months", t("partners.recurring_months"), textInput({ inputmode: "numeric", value: "6" })),
      field("commission_plan.clawback_days", t("partners.clawback_days"), textInput({ inputmode: "numeric", value: "90" }))),
    submitButton(t("partners.create")));
  onSubmit(create, async (values) => {
    const plan = {
      one_off_tiyn: Math.round(Number(values["commission_plan.one_off_tiyn"] || 0) * 100),
      recurring_percent: values["commission_plan.recurring_percent"] || "0",
      recurring_months: Number(values["commission_plan.recurring_months"] || 0),
      clawback_days: Number(values["commission_plan.clawback_days"] || 0),
    };
    await api(`${P}/partners`, { method: "POST", headers: { "Idempotency-Key": idempotencyKey() },
      body: { name: values.name || "", bin: values.bin || "", kind: values.kind,
        region_codes: (values.region_codes || "").split(",").map((s) => s.trim()).filter(Boolean), commission_plan: plan } });
    toast(t("partners.created_toast"));
    create.reset();
    await load();
  });
  replace(root, h("h1", {}, t("partners.title")), list, create);
  await load();
}

export async function partnerView(root, partnerId) {
  let partner;
  try {
    partner = await api(`${P}/partners/${partnerId}`);
  } catch (error) {
    replace(root, h("h1", {}, t("partners.title")), problemBox(error), h("p", {}, link("partners", t("partners.back"))));
    return;
  }
  const moves = { onboarding: ["active", "terminated"], active: ["suspended", "terminated"], suspended: ["active", "terminated"] };
  const statusButtons = (moves[partner.status] || []).map((status) => h("button", { type: "button", onclick: async () => {
    await api(`${P}/partners/${partner.id}`, { method: "PATCH", body: { status }, headers: { "If-Match": `"${partner.version}"` } });
    toast(t("partners.status_changed"));
    await partnerView(root, partnerId);
  } }, t("partners.make", { status: label("partner_status", status) })));
  const commissions = commissionsBlock(partner.id);
  const statement = statementBlock(partner.id);
  const tickets = ticketsBlock();
  replace(root,
    h("h1", {}, partner.name),
    h("p", {}, `${label("partner_kind", partner.kind)} · BIN ${partner.bin} · ${label("partner_status", partner.status)}`),
    h("div", { class: "row" }, statusButtons),
    commissions.node, statement.node, h("p", {}, link("partners", t("partners.back"))));
  await Promise.all([commissions.load(), statement.load()]);
}

export async function approvalsView(root) {
  const box = h("div", { "aria-live": "polite" });
  async function load() {
    const page = await api(`${P}/deals`, { query: { status: "submitted", limit: 100 } });
    replace(box, dealsTable(page.items, { decide: true, onDecided: load }));
  }
  replace(root, h("h1", {}, t("partners.approvals")), box);
  await load();
}

export async function disputesView(root) {
  const box = h("div", { "aria-live": "polite" });
  const me = session.me;
  async function load() {
    const items = await api(`${P}/disputes`, { query: me.role === "partner" ? {} : { status: "open" } });
    replace(box, items.length ? table([t("partners.period"), t("partners.dispute_text"), t("partners.status"), t("partners.resolution")],
      items.map((d) => h("tr", {}, h("td", {}, d.period), h("td", {}, d.text), h("td", {}, label("dispute_status", d.status)),
        h("td", {}, d.status === "open" && me.role !== "partner" ? resolveForm(d, load) : d.resolution || "")))) : empty(t("partners.no_disputes")));
  }
  const open = me.role === "partner" ? h("form", { class: "card", "aria-labelledby": "new-dispute" },
    h("h2", { id: "new-dispute" }, t("partners.open_dispute")), formAlert(),
    field("period", t("partners.period"), textInput({ type: "month", value: thisMonth() })),
    field("text", t("partners.dispute_text"), h("textarea", {})), submitButton(t("partners.send"))) : null;
  if (open) {
    onSubmit(open, async (values) => {
      await api(`${P}/disputes`, { method: "POST", body: { period: values.period || "", text: values.text || "" } });
      toast(t("partners.dispute_opened"));
      open.reset();
      await load();
    });
  }
  replace(root, h("h1", {}, t("partners.disputes")), open, box);
  await load();
}

function resolveForm(dispute, reload) {
  const form = h("form", { class: "inline" }, formAlert(), field("resolution", t("partners.resolution"), textInput()),
    submitButton(t("partners.resolve")));
  onSubmit(form, async (values) => {
    await api(`${P}/disputes/${dispute.id}/resolution`, { method: "POST", body: { resolution: values.resolution || "" } });
    toast(t("partners.resolved"));
    await reload();
  });
  return form;
}

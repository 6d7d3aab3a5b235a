// The customer 360 view (profile, contacts, consents, activities, opportunities, and the
// orders, installed products, balance and tickets when those services answer), and the
// create / edit form with the API's messages at their fields.
import { api, idempotencyKey, session } from "../api.js";
import { h, replace } from "../dom.js";
import { checkbox, field, formAlert, onSubmit, selectInput, submitButton, textInput } from "../forms.js";
import { LANGUAGES, branchName, date, dateTime, label, money, phone, t } from "../i18n.js";
import { branches, can, definitionList, empty, link, problemBox, table, toast } from "./common.js";

const ACTIVITY_KINDS = ["call", "meeting", "task", "note"];
const TICKET_CATEGORIES = ["internet", "tv", "mobile", "fixed_line", "billing", "relocation", "equipment", "other"];

function panel(id, title, ...content) {
  return h("section", { class: "panel", id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), content);
}

// A panel filled by its own call; when the call fails (a service that is not there yet, a
// scope that does not reach it) the panel goes away instead of breaking the page.
function optionalPanel(id, title, load) {
  const body = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const section = panel(id, title, body);
  load().then((content) => replace(body, content)).catch(() => section.remove());
  return section;
}

function yesNo(value) {
  return h("span", { class: value ? "flag yes" : "flag no" }, value ? t("common.yes") : t("common.no"));
}

function profile(customer) {
  const address = (a) => [a.postal_code, a.city, a.street, a.building, a.apartment && `${t("customer.apartment")} ${a.apartment}`]
    .filter(Boolean).join(", ");
  return panel("profile", t("customer.profile"),
    definitionList([
      [t("customer.kind"), label("kind", customer.kind)],
      [customer.kind === "individual" ? t("customer.iin") : t("customer.bin"), customer.iin || customer.bin],
      [t("customer.birth_date"), date(customer.birth_date)],
      [t("customer.legal_form"), customer.legal_form],
      [t("customer.status"), label("status", customer.status)],
      [t("customer.phones"), h("ul", { class: "plain" }, customer.phones.map((p) =>
        h("li", {}, h("a", { href: `tel:${p.e164}` }, phone(p.e164)), p.label ? ` (${p.label})` : "",
          p.e164 === customer.primary_phone ? ` · ${t("customer.primary")}` : "")))],
      [t("customer.email"), customer.email],
      [t("customer.language"), label("language", customer.language)],
      [t("customer.branch"), customer.branch_code],
      [t("customer.owner"), customer.owner_name],
      [t("customer.addresses"), customer.addresses.length ? h("ul", { class: "plain" }, customer.addresses.map((a) =>
        h("li", {}, `${label("address", a.kind)}: ${address(a)}`))) : null],
      [t("customer.since"), date(customer.created_at)],
    ]));
}

function consents(customer) {
  return panel("consents", t("customer.consents"), definitionList([
    [t("customer.data_processing_consent"), h("span", {}, yesNo(customer.data_processing_consent),
      customer.data_processing_consent_at ? ` ${dateTime(customer.data_processing_consent_at)}` : "")],
    [t("customer.marketing_consent"), h("span", {}, yesNo(customer.marketing_consent),
      customer.marketing_consent_at ? ` ${dateTime(customer.marketing_consent_at)}` : "")],
  ]));
}

function contacts(customer) {
  if (customer.kind !== "business") return null;
  return panel("contacts", t("customer.contacts"), customer.contacts.length
    ? table([t("common.name"), t("customer.position"), t("customer.phone"), t("customer.email")],
      customer.contacts.map((c) => h("tr", {}, h("td", {}, c.name), h("td", {}, c.position || ""),
        h("td", {}, phone(c.phone)), h("td", {}, c.email || ""))))
    : empty(t("common.none")));
}

function activityList(items) {
  if (!items.length) return empty(t("activity.none"));
  return h("ul", { class: "timeline" }, items.map((a) => h("li", {},
    h("span", { class: `badge ${a.kind}` }, label("activity", a.kind)), " ",
    h("strong", {}, a.subject), " · ", dateTime(a.done_at || a.due_at || a.created_at), " · ", a.owner_name,
    a.outcome ? h("div", { class: "note" }, a.outcome) : null,
    a.body ? h("div", { class: "note" }, a.body) : null,
    !a.done_at ? h("span", { class: "badge open" }, a.due_at ? t("activity.due", { at: dateTime(a.due_at) }) : t("activity.open")) : null)));
}

function activities(customer) {
  const list = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const refresh = () => api("sales/activities", { query: { related_type: "customer", related_id: customer.id, limit: 50 } })
    .then((page) => replace(list, activityList(page.items)))
    .catch((error) => replace(list, problemBox(error)));
  refresh();
  let form = null;
  if (can.logActivity(session.me)) {
    form = h("form", { class: "inline-form", "aria-label": t("activity.log") },
      h("h3", {}, t("activity.log")),
      formAlert(),
      h("div", { class: "row" },
        field("kind", t("activity.kind"), selectInput(ACTIVITY_KINDS.map((k) => [k, label("activity", k)]), "call")),
        field("subject", t("activity.subject"), textInput(), { required: true })),
      field("outcome", t("activity.outcome"), h("textarea", { rows: 2 })),
      checkbox("done", t("activity.done_now"), true),
      submitButton(t("activity.save")));
    onSubmit(form, async (values) => {
      const body = { kind: values.kind, related_type: "customer", related_id: customer.id, subject: values.subject || "" };
      if (values.outcome) body.outcome = values.outcome;
      if (values.done) body.done_at = new Date().toISOString();
      await api("sales/activities", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey() } });
      form.reset();
      toast(t("activity.saved"));
      await refresh();
    });
  }
  return panel("activities", t("customer.activities"), form, list);
}

function opportunities(customer) {
  return optionalPanel("opportunities", t("customer.opportunities"), async () => {
    const page = await api("sales/opportunities", { query: { customer_id: customer.id, limit: 50 } });
    if (!page.items.length) return empty(t("common.none"));
    return table([t("common.name"), t("opportunity.stage"), t("opportunity.amount"), t("opportunity.close"), t("customer.owner")],
      page.items.map((o) => h("tr", {}, h("td", {}, o.name), h("td", {}, label("stage", o.stage)),
        h("td", { class: "num" }, money(o.amount_tiyn, o.currency)), h("td", {}, date(o.closed_at || o.expected_close_date)),
        h("td", {}, o.owner_name))));
  });
}

function orders(customer) {
  return optionalPanel("orders", t("customer.orders"), async () => {
    const page = await api("orders/orders", { query: { customer_id: customer.id, limit: 20 } });
    if (!page.items.length) return empty(t("common.none"));
    return table([t("order.created"), t("order.state"), t("order.one_off"), t("order.monthly")],
      page.items.map((o) => h("tr", {}, h("td", {}, dateTime(o.created_at)), h("td", {}, label("order", o.state)),
        h("td", { class: "num" }, money(o.one_off_total_tiyn, o.currency)),
        h("td", { class: "num" }, money(o.recurring_total_tiyn, o.currency)))));
  });
}

function installedProducts(customer) {
  return optionalPanel("products", t("customer.products"), async () => {
    const items = await api("orders/installed-products", { query: { customer_id: customer.id } });
    const list = Array.isArray(items) ? items : items.items || [];
    if (!list.length) return empty(t("common.none"));
    return h("ul", { class: "plain" }, list.map((p) => h("li", {},
      h("strong", {}, p.name || p.offering_name || p.offering_id), " · ", label("product", p.status),
      p.recurring_price_tiyn !== undefined ? ` · ${money(p.recurring_price_tiyn)}` : "")));
  });
}

function balance(customer) {
  return optionalPanel("balance", t("customer.balance"), async () => {
    const account = await api(`orders/billing/customers/${encodeURIComponent(customer.id)}/balance`);
    return definitionList([
      [t("balance.status"), label("balance", account.status)],
      [t("balance.outstanding"), money(account.outstanding_tiyn)],
      [t("balance.overdue"), money(account.overdue_tiyn)],
      [t("balance.paid"), money(account.paid_tiyn)],
    ]);
  });
}

function tickets(customer) {
  return optionalPanel("tickets", t("customer.tickets"), async () => {
    const list = h("div");
    const refresh = async () => {
      const page = await api("tickets/tickets", { query: { customer_id: customer.id, limit: 20 } });
      replace(list, page.items.length ? table([t("ticket.opened"), t("common.name"), t("ticket.status"), t("ticket.priority")],
        page.items.map((k) => h("tr", {}, h("td", {}, dateTime(k.created_at)), h("td", {}, k.name),
          h("td", {}, label("ticket", k.status)), h("td", {}, label("priority", k.priority)))))
        : empty(t("common.none")));
    };
    await refresh();
    if (!can.logActivity(session.me)) return list;
    const form = h("form", { class: "inline-form", "aria-label": t("ticket.open") },
      h("h3", {}, t("ticket.open")),
      formAlert(),
      h("div", { class: "row" },
        field("name", t("ticket.summary"), textInput(), { required: true }),
        field("category", t("ticket.category"), selectInput(TICKET_CATEGORIES.map((c) => [c, label("category", c)]), "internet"))),
      field("description", t("ticket.description"), h("textarea", { rows: 2 }), { required: true }),
      submitButton(t("ticket.open")));
    onSubmit(form, async (values) => {
      await api("tickets/tickets", { method: "POST", headers: { "Idempotency-Key": idempotencyKey() },
        body: { customer_id: customer.id, name: values.name || "", description: values.description || "", category: values.category } });
      form.reset();
      toast(t("ticket.opened_toast"));
      await refresh();
    });
    return h("div", {}, form, list);
  });
}

export async function customerView(root, customerId) {
  let customer;
  try {
    customer = await api(`sales/customers/${encodeURIComponent(customerId)}`);
  } catch (error) {
    replace(root, h("h1", {}, t("customer.not_found_title")),
      error.status === 404 ? h("p", { class: "problem", role: "alert" }, t("customer.not_found")) : problemBox(error),
      h("p", {}, link("search", t("search.back"))));
    return;
  }
  replace(root,
    h("div", { class: "title-row" },
      h("h1", {}, customer.display_name),
      customer.status !== "active" ? h("span", { class: "badge" }, label("status", customer.status)) : null,
      can.writeCustomers(session.me) && customer.status !== "merged"
        ? link(`customers/${customer.id}/edit`, t("customer.edit"), { class: "button" }) : null),
    h("div", { class: "grid-360" },
      h("div", { class: "column" }, profile(customer), consents(customer), contacts(customer), balance(customer)),
      h("div", { class: "column" }, activities(customer), tickets(customer), opportunities(customer), orders(customer),
        installedProducts(customer))));
  root.querySelector("h1").focus?.();
}

// --- create / edit -------------------------------------------------------------------------

function kindFields(kind, customer) {
  const value = (name) => (customer ? customer[name] || "" : "");
  if (kind === "business") {
    return [
      customer ? null : field("bin", t("customer.bin"), textInput({ inputmode: "numeric", maxlength: 12 }), { required: true, hint: t("customer.bin_hint") }),
      field("legal_name", t("customer.legal_name"), textInput({ value: value("legal_name") }), { required: true }),
      field("legal_form", t("customer.legal_form"), textInput({ value: value("legal_form") }), { hint: t("customer.legal_form_hint") }),
    ];
  }
  return [
    customer ? null : field("iin", t("customer.iin"), textInput({ inputmode: "numeric", maxlength: 12 }), { required: true, hint: t("customer.iin_hint") }),
    field("last_name", t("customer.last_name"), textInput({ value: value("last_name") }), { required: true }),
    field("first_name", t("customer.first_name"), textInput({ value: value("first_name") }), { required: true }),
    field("middle_name", t("customer.middle_name"), textInput({ value: value("middle_name") })),
  ];
}

export async function customerFormView(root, customerId) {
  let customer = null;
  if (customerId) {
    try {
      customer = await api(`sales/customers/${encodeURIComponent(customerId)}`);
    } catch (error) {
      replace(root, h("h1", {}, t("customer.not_found_title")), problemBox(error));
      return;
    }
  }
  const me = session.me;
  const branchList = await branches();
  const visibleBranches = branchList.filter((b) => me.role === "admin" || me.role === "call_center_agent"
    || (me.branch ? b.code === me.branch : b.region_code === me.region));
  const kindSelect = selectInput([["individual", label("kind", "individual")], ["business", label("kind", "business")]], "individual");
  const kindBox = h("div", { class: "kind-fields" }, kindFields(customer ? customer.kind : "individual", customer));
  kindSelect.addEventListener("change", () => replace(kindBox, kindFields(kindSelect.value, null)));

  const form = h("form", { class: "card customer-form", "aria-labelledby": "customer-form-title" },
    h("h1", { id: "customer-form-title" }, customer ? t("customer.edit_title", { name: customer.display_name }) : t("customer.new_title")),
    formAlert(),
    customer ? null : field("kind", t("customer.kind"), kindSelect),
    kindBox,
    field(customer ? "primary_phone" : "phone", t("customer.phone"),
      textInput({ type: "tel", value: customer ? phone(customer.primary_phone) : "", inputmode: "tel" }),
      { required: true, hint: t("customer.phone_hint") }),
    field("email", t("customer.email"), textInput({ type: "email", value: customer?.email || "" })),
    field("language", t("customer.language"), selectInput(LANGUAGES.map((l) => [l.code, l.name]), customer?.language || "kk")),
    customer ? null : field("branch_code", t("customer.branch"),
      selectInput(visibleBranches.map((b) => [b.code, `${b.code} · ${branchName(b)}`]), me.branch || visibleBranches[0]?.code)),
    checkbox("data_processing_consent", t("customer.data_processing_consent"), customer ? customer.data_processing_consent : false),
    checkbox("marketing_consent", t("customer.marketing_consent"), customer ? customer.marketing_consent : false),
    h("div", { class: "actions" }, submitButton(customer ? t("common.save") : t("customer.create")),
      link(customer ? `customers/${customer.id}` : "customers", t("common.cancel"))));

  let key = idempotencyKey();
  onSubmit(form, async (values) => {
    if (customer) {
      const body = { version: customer.version };
      for (const name of ["first_name", "last_name", "legal_name", "legal_form", "email", "middle_name"]) {
        if (name in values || customer[name]) body[name] = values[name] ?? null;
      }
      if (customer.kind === "individual") { delete body.legal_name; delete body.legal_form; }
      else { delete body.first_name; delete body.last_name; delete body.middle_name; }
      body.language = values.language;
      body.marketing_consent = values.marketing_consent;
      body.data_processing_consent = values.data_processing_consent;
      if (values.primary_phone && values.primary_phone.replace(/\D/g, "").slice(-10) !== customer.primary_phone.slice(-10)) {
        body.primary_phone = values.primary_phone;
      }
      await api(`sales/customers/${encodeURIComponent(customer.id)}`, { method: "PATCH", body });
      toast(t("customer.saved"));
      location.hash = `#/customers/${customer.id}`;
      return;
    }
    const body = { ...values };
    try {
      const created = await api("sales/customers", { method: "POST", body, headers: { "Idempotency-Key": key } });
      toast(t("customer.created"));
      location.hash = `#/customers/${created.id}`;
    } catch (error) {
      key = idempotencyKey();  // the answer was final: a corrected form is a new attempt
      if (error.status === 409 && error.problem.existing_customer_id) {
        // after the form has shown the problem: a link to the customer already registered
        const existing = error.problem.existing_customer_id;
        setTimeout(() => form.querySelector(".form-alert").append(" ", link(`customers/${existing}`, t("customer.open_existing"))));
      }
      throw error;
    }
  });
  replace(root, form);
  form.querySelector("input, select")?.focus();
}

// The customer 360 view (profile, contacts, consents, activities, opportunities, and the
// orders, installed products, balance and tickets when those services answer), and the
// create / edit form with the API's messages at their fields.
import { api, idempotencyKey, session } from "../api.js";
import { arrowNavigation, debounce, h, replace } from "../dom.js";
import { checkbox, field, formAlert, onSubmit, problemText, selectInput, submitButton, textInput } from "../forms.js";
import { LANGUAGES, branchName, currentLanguage, date, dateTime, label, money, phone, t } from "../i18n.js";
import { loyaltyCard } from "./marketing.js";
import { branches, can, definitionList, empty, link, loadRecord, pager, placeableBranches, problemBox, regions, table, toast } from "./common.js";
import { searchQuery } from "./search.js";

// Planned work and notes; calls and visits are the tickets service's interactions ("Calls and visits").
const ACTIVITY_KINDS = ["task", "meeting", "note"];
const INTERACTION_CHANNELS = ["phone", "branch"];
const INTERACTION_OUTCOMES = ["resolved_on_call", "note_added", "callback_needed", "no_answer", "other"];
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

function addressText(a) {
  return [a.postal_code, a.city, a.street, a.building, a.apartment && `${t("customer.apartment")} ${a.apartment}`]
    .filter(Boolean).join(", ");
}

function taxIdName(customer) {
  return customer.kind === "individual" ? t("customer.iin") : t("customer.bin");
}

// --- upkeep: phones, addresses, contact persons ---------------------------------------------

// The customer on the page, read again after each change so that every panel follows it (and
// the next change starts from the current version).
function liveCustomer(customer) {
  const renders = [];
  return {
    current: customer,
    show(render) {
      renders.push(render);
      render(this.current);
    },
    async reload() {
      this.current = await api(`sales/customers/${encodeURIComponent(this.current.id)}`);
      for (const render of renders) render(this.current);
    },
  };
}

function maintainable(customer) {
  return can.writeCustomers(session.me) && customer.status !== "merged";
}

function customerPath(customer, ...rest) {
  return ["sales/customers", encodeURIComponent(customer.id), ...rest.map(encodeURIComponent)].join("/");
}

function disclosure(summary, ...content) {
  return h("details", { class: "upkeep" }, h("summary", {}, summary), content);
}

function panelAlert() {
  return h("div", { class: "problem", role: "alert", hidden: true });
}

// A small button for one phone, address or contact: runs `action` and then `done`; a refusal
// by the API (its detail) shows in the panel's alert.
function itemButton(text, name, alert, action, done) {
  const button = h("button", { type: "button", class: "small", "aria-label": name }, text);
  button.addEventListener("click", async () => {
    button.disabled = true;
    alert.hidden = true;
    try {
      await action();
      await done();
    } catch (error) {
      if (error.status === undefined) throw error;
      button.disabled = false;
      alert.hidden = false;
      replace(alert, problemText(error));
    }
  });
  return button;
}

// After a change the panel is drawn again; the keyboard continues from its heading.
async function changed(live, section, message) {
  await live.reload();
  toast(message);
  const heading = section.querySelector("h2");
  heading.tabIndex = -1;
  heading.focus();
}

function phoneList(customer, live, section, alert) {
  return h("ul", { class: "plain" }, customer.phones.map((p) => {
    const primary = p.e164 === customer.primary_phone;
    const shown = phone(p.e164);
    return h("li", {}, h("a", { href: `tel:${p.e164}` }, shown), p.label ? ` (${p.label})` : "",
      primary ? ` · ${t("customer.primary")}` : "",
      maintainable(customer) && !primary ? h("span", { class: "item-actions" },
        itemButton(t("upkeep.set_primary"), t("upkeep.set_primary_named", { name: shown }), alert,
          () => api(customerPath(customer), { method: "PATCH", body: { version: customer.version, primary_phone: p.e164 } }),
          () => changed(live, section, t("upkeep.primary_set"))),
        itemButton(t("upkeep.remove"), t("upkeep.remove_named", { name: shown }), alert,
          () => api(customerPath(customer, "phones", p.id), { method: "DELETE" }),
          () => changed(live, section, t("upkeep.phone_removed")))) : null);
  }));
}

function addressList(customer, live, section, alert) {
  if (!customer.addresses.length) return null;
  return h("ul", { class: "plain" }, customer.addresses.map((a) => {
    const text = `${label("address", a.kind)}: ${addressText(a)}`;
    return h("li", {}, text, maintainable(customer) ? h("span", { class: "item-actions" },
      itemButton(t("upkeep.remove"), t("upkeep.remove_named", { name: text }), alert,
        () => api(customerPath(customer, "addresses", a.id), { method: "DELETE" }),
        () => changed(live, section, t("upkeep.address_removed")))) : null);
  }));
}

function addPhoneForm(live) {
  const form = h("form", { class: "inline-form", "aria-label": t("upkeep.add_phone") },
    formAlert(),
    h("div", { class: "row" },
      field("phone", t("customer.phone"), textInput({ type: "tel", inputmode: "tel" }), { required: true, hint: t("customer.phone_hint") }),
      field("label", t("upkeep.phone_label"), textInput(), { hint: t("upkeep.phone_label_hint") })),
    checkbox("primary", t("upkeep.make_primary")),
    submitButton(t("upkeep.add_phone")));
  onSubmit(form, async (values) => {
    const added = await api(customerPath(live.current, "phones"), { method: "POST",
      body: { phone: values.phone || "", label: values.label } });
    await live.reload();
    if (values.primary) {
      await api(customerPath(live.current), { method: "PATCH", body: { version: live.current.version, primary_phone: added.e164 } });
      await live.reload();
    }
    form.reset();
    toast(t("upkeep.phone_added"));
  });
  return disclosure(t("upkeep.add_phone"), form);
}

const ADDRESS_KINDS = ["registration", "service", "billing"];

// form.reset() returns a select to its default option: make that the one chosen here.
function resettable(select) {
  for (const option of select.options) option.defaultSelected = option.selected;
  return select;
}

function addAddressForm(live, regionList) {
  const language = currentLanguage();
  const regionOptions = regionList.map((r) => [r.code, r.name[language] || r.name.en]);
  const form = h("form", { class: "inline-form", "aria-label": t("upkeep.add_address") },
    formAlert(),
    h("div", { class: "row" },
      field("kind", t("upkeep.address_kind"), resettable(selectInput(ADDRESS_KINDS.map((k) => [k, label("address", k)]), "service"))),
      regionOptions.length
        ? field("region_code", t("upkeep.region"), resettable(selectInput(regionOptions, live.current.region_code))) : null),
    h("div", { class: "row" },
      field("city", t("upkeep.city"), textInput(), { required: true }),
      field("street", t("upkeep.street"), textInput(), { required: true })),
    h("div", { class: "row" },
      field("building", t("upkeep.building"), textInput(), { required: true }),
      field("apartment", t("upkeep.apartment"), textInput()),
      field("postal_code", t("upkeep.postal_code"), textInput({ maxlength: 10 }), { hint: t("upkeep.postal_code_hint") })),
    submitButton(t("upkeep.add_address")));
  onSubmit(form, async (values) => {
    const body = { kind: values.kind, city: values.city || "", street: values.street || "", building: values.building || "" };
    for (const name of ["region_code", "apartment", "postal_code"]) if (values[name]) body[name] = values[name];
    await api(customerPath(live.current, "addresses"), { method: "POST", body });
    await live.reload();
    form.reset();
    toast(t("upkeep.address_added"));
  });
  return disclosure(t("upkeep.add_address"), form);
}

function addContactForm(live) {
  const form = h("form", { class: "inline-form", "aria-label": t("upkeep.add_contact") },
    formAlert(),
    h("div", { class: "row" },
      field("name", t("upkeep.contact_name"), textInput(), { required: true }),
      field("position", t("customer.position"), textInput())),
    h("div", { class: "row" },
      field("phone", t("customer.phone"), textInput({ type: "tel", inputmode: "tel" }), { hint: t("customer.phone_hint") }),
      field("email", t("customer.email"), textInput({ type: "email" }))),
    submitButton(t("upkeep.add_contact")));
  onSubmit(form, async (values) => {
    const body = { name: values.name || "" };
    for (const name of ["position", "phone", "email"]) if (values[name]) body[name] = values[name];
    await api(customerPath(live.current, "contacts"), { method: "POST", body });
    await live.reload();
    form.reset();
    toast(t("upkeep.contact_added"));
  });
  return disclosure(t("upkeep.add_contact"), form);
}

function profile(live, regionList) {
  const facts = h("div");
  const alert = panelAlert();
  const customer = live.current;
  const section = panel("profile", t("customer.profile"), alert, facts,
    maintainable(customer) ? [addPhoneForm(live), addAddressForm(live, regionList)] : null);
  live.show((current) => replace(facts, definitionList([
    [t("customer.kind"), label("kind", current.kind)],
    [taxIdName(current), current.iin || current.bin],
    // Roles that see the IIN masked get the birth year only (an IIN begins with the birth date).
    current.birth_date || !current.birth_year
      ? [t("customer.birth_date"), date(current.birth_date)]
      : [t("customer.birth_year"), String(current.birth_year)],
    [t("customer.legal_form"), current.legal_form],
    [t("customer.status"), label("status", current.status)],
    [t("customer.phones"), phoneList(current, live, section, alert)],
    [t("customer.email"), current.email],
    [t("customer.language"), label("language", current.language)],
    [t("customer.branch"), current.branch_code],
    [t("customer.owner"), current.owner_name],
    [t("customer.addresses"), addressList(current, live, section, alert)],
    [t("customer.since"), date(current.created_at)],
  ])));
  return section;
}

function consents(customer) {
  return panel("consents", t("customer.consents"), definitionList([
    [t("customer.data_processing_consent"), h("span", {}, yesNo(customer.data_processing_consent),
      customer.data_processing_consent_at ? ` ${dateTime(customer.data_processing_consent_at)}` : "")],
    [t("customer.marketing_consent"), h("span", {}, yesNo(customer.marketing_consent),
      customer.marketing_consent_at ? ` ${dateTime(customer.marketing_consent_at)}` : "")],
  ]));
}

function contactRow(contact, removal) {
  return h("tr", {}, h("td", {}, contact.name), h("td", {}, contact.position || ""),
    h("td", {}, phone(contact.phone)), h("td", {}, contact.email || ""),
    removal ? h("td", {}, removal(contact)) : null);
}

function contacts(live) {
  if (live.current.kind !== "business") return null;
  const list = h("div");
  const alert = panelAlert();
  const writable = maintainable(live.current);
  const section = panel("contacts", t("customer.contacts"), alert, list, writable ? addContactForm(live) : null);
  live.show((customer) => {
    const removal = writable && ((c) => itemButton(t("upkeep.remove"), t("upkeep.remove_named", { name: c.name }), alert,
      () => api(customerPath(customer, "contacts", c.id), { method: "DELETE" }),
      () => changed(live, section, t("upkeep.contact_removed"))));
    replace(list, customer.contacts.length
      ? table([t("common.name"), t("customer.position"), t("customer.phone"), t("customer.email"),
        writable ? t("upkeep.actions") : null].filter(Boolean),
      customer.contacts.map((c) => contactRow(c, removal)))
      : empty(t("common.none")));
  });
  return section;
}

// --- merging a duplicate -------------------------------------------------------------------

function comparison(kept, duplicate) {
  const phones = (c) => c.phones.map((p) => phone(p.e164)).join(", ");
  const addresses = (c) => c.addresses.map((a) => `${label("address", a.kind)}: ${addressText(a)}`).join("; ");
  const rows = [
    [t("common.name"), (c) => c.display_name],
    [taxIdName(kept), (c) => c.iin || c.bin],
    [t("customer.phones"), phones],
    [t("customer.email"), (c) => c.email || ""],
    [t("customer.addresses"), addresses],
    kept.kind === "business" ? [t("customer.contacts"), (c) => c.contacts.map((p) => p.name).join(", ")] : null,
    [t("customer.branch"), (c) => c.branch_code],
    [t("customer.owner"), (c) => c.owner_name],
    [t("customer.status"), (c) => label("status", c.status)],
    [t("customer.since"), (c) => date(c.created_at)],
  ].filter(Boolean);
  return table([t("merge.field"), t("merge.kept"), t("merge.duplicate")],
    rows.map(([name, value]) => h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, value(kept)), h("td", {}, value(duplicate)))),
    { caption: t("merge.compare") });
}

function mergeConfirmation(live, duplicate, onMerged, onCancel) {
  const cancel = h("button", { type: "button", onclick: onCancel }, t("common.cancel"));
  const form = h("form", { class: "merge-confirm", "aria-label": t("merge.confirm") },
    formAlert(),
    h("div", { class: "compare" }, comparison(live.current, duplicate)),
    h("p", { class: "hint" }, t("merge.what_happens")),
    h("div", { class: "actions" }, submitButton(t("merge.confirm")), cancel));
  onSubmit(form, async () => {
    const survivor = live.current;
    await api(customerPath(survivor, "merge"), { method: "POST", body: { duplicate_id: duplicate.id },
      headers: { "If-Match": `"${survivor.version}"` } });
    toast(t("merge.done", { name: duplicate.display_name }));
    await onMerged(survivor);
  });
  return form;
}

function mergeCandidate(customer, choose) {
  return h("button", { type: "button", class: "result", onclick: () => choose(customer) },
    h("span", { class: "name" }, customer.display_name),
    h("span", { class: "meta" }, [customer.iin || customer.bin, phone(customer.primary_phone), customer.branch_code,
      customer.status !== "active" ? label("status", customer.status) : null].filter(Boolean).join(" · ")));
}

// Finds the duplicate with the call centre's search, shows both records side by side, and
// merges it into this customer once confirmed; `onMerged(survivor)` shows the survivor.
function mergeDuplicate(live, onMerged) {
  const kept = live.current;
  const box = h("input", { type: "search", id: "merge-search", autocomplete: "off", spellcheck: false,
    "aria-describedby": "merge-search-hint", "aria-controls": "merge-results" });
  const status = h("p", { class: "hint", id: "merge-search-hint", role: "status", "aria-live": "polite" }, t("merge.hint"));
  const results = h("div", { id: "merge-results", class: "results", "aria-label": t("merge.candidates") });
  const confirmation = h("div");
  let asked = 0;

  const cancel = () => { replace(confirmation); box.focus(); };
  const choose = (duplicate) => {
    replace(confirmation, mergeConfirmation(live, duplicate, onMerged, cancel));
    confirmation.querySelector("button[type=submit]").focus();
  };
  const run = debounce(async () => {
    const query = searchQuery(box.value);
    const ticket = ++asked;
    replace(confirmation);
    if (!query) {
      replace(results);
      status.textContent = box.value.trim() ? t("search.keep_typing") : t("merge.hint");
      return;
    }
    status.textContent = t("common.loading");
    try {
      const page = await api("sales/customers", { query: { ...query, kind: kept.kind, status: "any", limit: 20 } });
      if (ticket !== asked) return;  // a newer query has been typed meanwhile
      const candidates = page.items.filter((c) => c.id !== kept.id && c.status !== "merged");
      replace(results, candidates.length ? h("ul", {}, candidates.map((c) => h("li", {}, mergeCandidate(c, choose))))
        : empty(t("merge.nothing")));
      status.textContent = candidates.length ? t("search.found", { count: candidates.length }) : t("merge.nothing");
    } catch (error) {
      if (ticket !== asked) return;
      replace(results);
      status.textContent = error.fieldErrors && Object.values(error.fieldErrors)[0] || problemText(error);
    }
  }, 250);

  box.addEventListener("input", run);
  arrowNavigation(results, "button.result", { fromInput: box });
  return h("details", { class: "upkeep card", id: "merge" },
    h("summary", {}, t("merge.title")),
    h("label", { for: "merge-search" }, t("merge.search")),
    box, status, results, confirmation);
}

async function mergedNotice(customer) {
  let survivor = null;
  try {
    survivor = await api(`sales/customers/${encodeURIComponent(customer.merged_into_id)}`);
  } catch {
    // not visible to the caller, or the service is busy: the link still leads there
  }
  return h("p", { class: "notice", role: "status" }, t("merge.merged_into"), " ",
    link(`customers/${customer.merged_into_id}`, survivor ? survivor.display_name : t("merge.open_survivor"),
      { class: "survivor" }));
}

// --- erasure of the person's data (privacy officers and admins) ----------------------------------

function erasureStatus(request) {
  const services = Object.entries(request.services);
  return h("div", { class: "erasure-status" },
    h("p", { class: request.status === "complete" ? "notice" : "hint", role: "status" },
      t(request.status === "complete" ? "erasure.complete" : "erasure.pending")),
    h("p", {}, t("erasure.requested", { who: request.requested_by_name, at: dateTime(request.requested_at) }), " ",
      h("q", {}, request.reason)),
    table([t("erasure.service"), t("erasure.confirmed_at")],
      services.map(([service, confirmation]) => h("tr", { "data-service": service },
        h("th", { scope: "row" }, service),
        h("td", {}, confirmation.confirmed_at ? dateTime(confirmation.confirmed_at) : t("erasure.waiting"))))));
}

// Where the erasure of an erased customer stands; the panel goes away for roles that may not ask.
function erasureProgress(customer) {
  return optionalPanel("erasure", t("erasure.status_title"),
    async () => erasureStatus(await api(customerPath(customer, "erasure"))));
}

// The request itself: a reason, one confirmation, then the customer as it is left.
function eraseCustomer(customer, onErased) {
  const form = h("form", { class: "erasure-form", "aria-label": t("erasure.title") },
    formAlert(),
    h("p", { class: "hint" }, t("erasure.what_happens")),
    field("reason", t("erasure.reason"), h("textarea", { rows: 2, maxlength: 2000 }), { required: true, hint: t("erasure.reason_hint") }),
    h("div", { class: "actions" }, submitButton(t("erasure.confirm"))));
  onSubmit(form, async (values) => {
    await api(customerPath(customer, "erasure"), { method: "POST", body: { reason: values.reason || "" } });
    toast(t("erasure.done"));
    await onErased();
  });
  return h("details", { class: "upkeep card", id: "erase" }, h("summary", {}, t("erasure.title")), form);
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
        field("kind", t("activity.kind"), selectInput(ACTIVITY_KINDS.map((k) => [k, label("activity", k)]), "task")),
        field("subject", t("activity.subject"), textInput(), { required: true })),
      field("outcome", t("activity.outcome"), h("textarea", { rows: 2 })),
      checkbox("done", t("activity.done_now"), false),
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
    // the API takes orders from writers for a customer they may change (not merged)
    const newOrder = can.writeOrders(session.me) && customer.status !== "merged"
      ? h("p", {}, link(`customers/${customer.id}/orders/new`, t("orders.new"), { class: "button primary" })) : null;
    const more = page.next_cursor ? h("p", {}, link(`orders?customer=${customer.id}`, t("orders.all_of_customer"))) : null;
    if (!page.items.length) return h("div", {}, newOrder, empty(t("common.none")));
    return h("div", {}, newOrder, table([t("order.created"), t("order.state"), t("order.one_off"), t("order.monthly")],
      page.items.map((o) => h("tr", { "data-order": o.id }, h("td", {}, link(`orders/${o.id}`, dateTime(o.created_at))),
        h("td", {}, label("order", o.state)),
        h("td", { class: "num" }, money(o.one_off_total_tiyn, o.currency)),
        h("td", { class: "num" }, money(o.recurring_total_tiyn, o.currency))))), more);
  });
}

// Installed products, the running ones first; writers get a tariff change and a disconnection for
// each running one, as lines prefilled in the order capture.
function installedProducts(customer) {
  return optionalPanel("products", t("customer.products"), async () => {
    const list = await api("orders/installed-products", { query: { customer_id: customer.id, include_terminated: true } });
    if (!list.length) return empty(t("common.none"));
    const running = (p) => p.status !== "terminated";
    // the API takes orders from writers for a customer they may change (not merged)
    const changeable = can.writeOrders(session.me) && customer.status !== "merged";
    const capture = `customers/${customer.id}/orders/new`;
    return h("ul", { class: "plain products" }, [...list.filter(running), ...list.filter((p) => !running(p))].map((p) =>
      h("li", { "data-product": p.id, "data-status": p.status },
        h("strong", {}, p.offering_name), " · ", label("product", p.status), " · ",
        t("orders.per_month", { amount: money(p.recurring_price_tiyn) }),
        p.service_address ? h("div", { class: "note" }, p.service_address) : null,
        changeable && running(p) ? h("div", { class: "actions" },
          link(`${capture}?change=${encodeURIComponent(p.id)}`, t("orders.change_tariff"),
            { class: "button", "data-action": "modify", "aria-label": t("orders.change_tariff_of", { name: p.offering_name }) }),
          link(`${capture}?disconnect=${encodeURIComponent(p.id)}`, t("orders.disconnect"),
            { class: "button", "data-action": "delete", "aria-label": t("orders.disconnect_product", { name: p.offering_name }) }))
          : null)));
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

// The loyalty card, tier and points (the marketing service); no panel when not enrolled.
function loyalty(customer) {
  return optionalPanel("loyalty", t("loyalty.title"),
    async () => loyaltyCard(await api(`marketing/loyalty/accounts/${encodeURIComponent(customer.id)}`)));
}

// Calls and branch visits with the customer, newest first, with what came of each: the tickets
// service owns them (a ticket opened here logs one too); the list is sales' copy of them. A contact
// logged here shows at once, and once, when the copy catches up.
function contactList(items) {
  if (!items.length) return empty(t("common.none"));
  return h("ul", { class: "timeline" }, items.map((i) => h("li", { dataset: { interaction: i.id } },
    h("span", { class: "badge" }, label("channel", i.channel)), " ", label("direction", i.direction), " · ",
    dateTime(i.started_at), i.agent_name ? ` · ${i.agent_name}` : "",
    i.outcome ? h("div", {}, h("strong", {}, label("outcome", i.outcome)),
      i.ticket_id ? [" · ", link(`tickets/${i.ticket_id}`, t("interaction.ticket"))] : null)
      : h("span", { class: "badge open" }, t("interaction.ongoing")),
    i.summary ? h("div", { class: "note" }, i.summary) : null)));
}

function contactHistory(customer) {
  const justLogged = [];
  const list = h("div", {}, h("p", { class: "loading" }, t("common.loading")));
  const refresh = async () => {
    const { items } = await api(customerPath(customer, "interactions"), { query: { limit: 20 } });
    const known = new Set(items.map((i) => i.id));
    const pending = justLogged.filter((i) => !known.has(i.id));
    replace(list, contactList([...pending, ...items]));
  };
  return optionalPanel("contact-history", t("interaction.title"), async () => {
    await refresh();
    if (!can.logActivity(session.me) || customer.status !== "active") return list;
    const form = h("form", { class: "inline-form", "aria-label": t("interaction.log") },
      h("h3", {}, t("interaction.log")),
      formAlert(),
      h("div", { class: "row" },
        field("channel", t("interaction.channel"), selectInput(INTERACTION_CHANNELS.map((c) => [c, label("channel", c)]), "phone")),
        field("direction", t("interaction.direction"), selectInput(["inbound", "outbound"].map((d) => [d, label("direction", d)]), "inbound")),
        field("outcome", t("interaction.outcome"), selectInput(INTERACTION_OUTCOMES.map((o) => [o, label("outcome", o)]), "resolved_on_call"))),
      field("summary", t("interaction.summary"), h("textarea", { rows: 2, maxlength: 2000 })),
      submitButton(t("interaction.save")));
    onSubmit(form, async (values) => {
      const started = await api("tickets/interactions", { method: "POST",
        body: { customer_id: customer.id, channel: values.channel, direction: values.direction, summary: values.summary || null } });
      const ended = await api(`tickets/interactions/${encodeURIComponent(started.id)}/end`, { method: "POST",
        body: { outcome: values.outcome } });
      justLogged.unshift(ended);
      form.reset();
      toast(t("interaction.saved"));
      await refresh();
    });
    return h("div", {}, form, list);
  });
}

function tickets(customer) {
  return optionalPanel("tickets", t("customer.tickets"), async () => {
    const list = h("div");
    const refresh = async () => {
      const page = await api("tickets/tickets", { query: { customer_id: customer.id, limit: 20 } });
      replace(list, page.items.length ? table([t("ticket.opened"), t("common.name"), t("ticket.status"), t("ticket.priority")],
        page.items.map((k) => h("tr", {}, h("td", {}, dateTime(k.created_at)), h("td", {}, link(`tickets/${k.id}`, k.name)),
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
    // the ticket just opened stays one click away (and a known outage in the area is said at once)
    const opened = h("div", { class: "opened-ticket", role: "status", hidden: true });
    onSubmit(form, async (values) => {
      const ticket = await api("tickets/tickets", { method: "POST", headers: { "Idempotency-Key": idempotencyKey() },
        body: { customer_id: customer.id, name: values.name || "", description: values.description || "", category: values.category } });
      form.reset();
      toast(t("ticket.opened_toast"));
      replace(opened, h("p", {}, t("ticket.opened_toast"), " ", link(`tickets/${ticket.id}`, t("ticket.go_to", { name: ticket.name }), { id: "opened-ticket-link" })),
        ticket.known_outage ? h("p", { class: "hint" }, t("ticket.known_outage", { title: ticket.known_outage.title }), " ",
          link(`incidents/${ticket.known_outage.incident_id}`, t("ticket.see_incident"))) : null);
      opened.hidden = false;
      await refresh();
    });
    return h("div", {}, form, opened, list);
  });
}

// The customer a screen is about, or null once the screen says it is not there (or not visible).
export function loadCustomer(root, customerId) {
  return loadRecord(root, `sales/customers/${encodeURIComponent(customerId)}`, t("customer.not_found_title"),
    t("customer.not_found"), link("search", t("search.back")));
}

// --- the subject-access export ----------------------------------------------------------------

// Everything the suite holds about the person as one JSON file (privacy officers and admins). The
// API gathers it from every service; one that does not answer makes it a 503 naming the service,
// so the file is never a partial document.
function personalDataExport(customer) {
  const status = h("span", { id: "export-status", class: "hint", role: "status", "aria-live": "polite" });
  const button = h("button", { type: "button", id: "export-personal-data" }, t("privacy.export"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    replace(status, t("privacy.exporting"));
    try {
      const data = await api(`sales/customers/${encodeURIComponent(customer.id)}/personal-data`);
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      const save = h("a", { href: url, download: `personal-data-${customer.id}.json`, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      replace(status, t("privacy.exported", { services: Object.keys(data.services || {}).join(", ") }));
    } catch (error) {
      const silent = error.status === 503 && (error.problem.services || [error.problem.service]).filter(Boolean);
      replace(status, h("span", { class: "problem", role: "alert" },
        silent && silent.length ? t("privacy.service_silent", { services: silent.join(", ") }) : problemText(error)));
    } finally {
      button.disabled = false;
    }
  });
  return h("div", { class: "export", title: t("privacy.export_hint") }, button, status);
}

export async function customerView(root, customerId) {
  const customer = await loadCustomer(root, customerId);
  if (!customer) return;
  const live = liveCustomer(customer);
  const regionList = maintainable(customer) ? await regions() : [];
  const showSurvivor = (survivor) => customerView(root, survivor.id);
  replace(root,
    h("div", { class: "title-row" },
      h("h1", {}, customer.display_name),
      customer.status !== "active" ? h("span", { class: "badge" }, label("status", customer.status)) : null,
      link(`customers/${customer.id}/history`, t("history.link"), { class: "button" }),
      can.writeCustomers(session.me) && customer.status !== "merged"
        ? link(`customers/${customer.id}/edit`, t("customer.edit"), { class: "button" }) : null,
      can.exportPersonalData(session.me) ? personalDataExport(customer) : null),
    customer.status === "merged" && customer.merged_into_id ? await mergedNotice(customer) : null,
    maintainable(customer) ? mergeDuplicate(live, showSurvivor) : null,
    can.erase(session.me) && customer.status !== "merged" && customer.status !== "erased"
      ? eraseCustomer(customer, () => customerView(root, customer.id)) : null,
    customer.status === "erased" && can.erase(session.me) ? erasureProgress(customer) : null,
    h("div", { class: "grid-360" },
      h("div", { class: "column" }, profile(live, regionList), consents(customer), contacts(live), balance(customer), loyalty(customer)),
      h("div", { class: "column" }, activities(customer), contactHistory(customer), tickets(customer), opportunities(customer), orders(customer),
        installedProducts(customer))));
  root.querySelector("h1").focus?.();
}

// --- history -------------------------------------------------------------------------------

const LABELLED_VALUES = { kind: "kind", status: "status", language: "language" };

function changeValue(fieldName, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? t("common.yes") : t("common.no");
  if (Array.isArray(value)) return value.map((v) => changeValue(fieldName, v)).join(", ");
  if (typeof value === "string" && /^\+7\d{10}$/.test(value)) return phone(value);
  if (fieldName in LABELLED_VALUES) return label(LABELLED_VALUES[fieldName], value);
  return String(value);
}

function changeList(changes) {
  return h("ul", { class: "plain changes" }, Object.entries(changes).map(([fieldName, values]) => {
    const [before, after] = Array.isArray(values) && values.length === 2 ? values : [null, values];
    const name = h("span", { class: "field-name" }, label("field", fieldName));
    if (before === null || before === undefined) return h("li", {}, name, ": ", h("ins", {}, changeValue(fieldName, after)));
    return h("li", {}, name, ": ", h("del", {}, changeValue(fieldName, before)), " → ", h("ins", {}, changeValue(fieldName, after)));
  }));
}

function historyTable(entries) {
  return table([t("history.when"), t("history.who"), t("history.what"), t("history.changes")],
    entries.map((e) => h("tr", {}, h("td", {}, dateTime(e.at)), h("td", {}, e.actor_name),
      h("td", {}, label("audit", e.action)), h("td", {}, changeList(e.changes)))),
    { caption: t("history.caption") });
}

export async function customerHistoryView(root, customerId) {
  const customer = await loadCustomer(root, customerId);
  if (!customer) return;
  const list = h("div", { id: "history" });
  const pages = pager(async (cursor) => {
    try {
      const page = await api(customerPath(customer, "history"), { query: { limit: 50, cursor } });
      replace(list, page.items.length ? historyTable(page.items) : empty(t("history.none")));
      return page.next_cursor;
    } catch (error) {
      replace(list, problemBox(error));
      return null;
    }
  });
  replace(root,
    h("h1", {}, t("history.title", { name: customer.display_name })),
    h("p", {}, link(`customers/${customer.id}`, t("history.back"))),
    list, pages.bar);
  await pages.reset();
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
  // a new customer is registered in an open branch (the form offers no branch when editing one)
  const visibleBranches = placeableBranches(branchList).filter((b) => me.role === "admin" || me.role === "call_center_agent"
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

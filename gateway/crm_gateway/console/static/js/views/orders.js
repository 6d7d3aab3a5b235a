// Order screens (orders service): the orders in the caller's scope with filters and cursor
// paging, order capture for one customer (the catalogue, the lines, running totals) and one
// order with its items' fulfilment and the state changes the API allows from where it is.
import { api, idempotencyKey, session } from "../api.js";
import { h, replace } from "../dom.js";
import { field, formAlert, formValues, onSubmit, selectInput, showErrors, submitButton, textInput } from "../forms.js";
import { branchName, dateTime, label, money, phone, t } from "../i18n.js";
import { branches, can, definitionList, empty, link, loadRecord, pager, problemBox, table, toast } from "./common.js";
import { loadCustomer } from "./customer.js";

const ORDER_STATES = ["draft", "acknowledged", "in_progress", "held", "completed", "failed", "partial", "cancelled"];
const PRODUCT_LINES = ["internet", "tv", "mobile", "fixed_line", "bundle"];
const FINAL_ITEM_STATES = ["completed", "failed"];
// The button for each state change the API offers, by the state it leads to (and where from).
const MOVES = {
  acknowledged: (from) => (from === "draft" ? t("orders.move_submit") : t("orders.move_release")),
  in_progress: (from) => (from === "held" ? t("orders.move_resume") : t("orders.move_start")),
  held: () => t("orders.move_hold"),
};

// The query of the fragment: #/orders?customer=<id>&state=held
function fragmentQuery() {
  return new URLSearchParams(location.hash.split("?")[1] || "");
}

function orderNumber(order) {
  return t("orders.number", { id: order.id.slice(0, 8) });
}

function stateBadge(order) {
  return h("span", { class: `badge order-state ${order.state}`, "data-state": order.state }, label("order", order.state));
}

function itemsSummary(order) {
  if (!order.items.length) return h("span", { class: "empty" }, t("orders.no_items"));
  return order.items.map((i) => (i.quantity > 1 ? `${i.offering_name} × ${i.quantity}` : i.offering_name)).join(", ");
}

function customerLink(order) {
  return link(`customers/${order.customer_id}`, order.customer_name || t("orders.open_customer"));
}

// The API names an item's field "items[0].quantity" (its own checks) or "items.0.quantity" (the
// request schema); the forms name their inputs the second way.
function dottedFields(error) {
  for (const problem of error.problem?.errors || []) {
    if (problem.field) problem.field = problem.field.replace(/\[(\d+)\]/g, ".$1");
  }
  return error;
}

// Whether the answer to an attempt is final. A network error, a 5xx, a 408/429 or a 409 (maybe
// the same key still in flight) leaves the outcome open: a retry must send the same key.
function isFinal(error) {
  return error.status >= 400 && error.status < 500 && ![408, 409, 429].includes(error.status);
}

// --- the list ------------------------------------------------------------------------------

async function customerFilterNote(customerId) {
  let name = customerId;
  try {
    name = (await api(`sales/customers/${encodeURIComponent(customerId)}`)).display_name;
  } catch {
    // the orders' own answer says whether the customer is visible; the id is enough here
  }
  return h("p", { class: "filter-note" }, t("orders.of_customer"), " ", link(`customers/${customerId}`, name), " · ",
    link("orders", t("orders.all_customers")),
    can.writeOrders(session.me) ? [" · ", link(`customers/${customerId}/orders/new`, t("orders.new"))] : null);
}

export async function ordersView(root) {
  const wanted = fragmentQuery();
  const customerId = wanted.get("customer");
  const initialState = ORDER_STATES.includes(wanted.get("state")) ? wanted.get("state") : "";
  const filters = h("form", { class: "filters card", role: "search", "aria-label": t("orders.filters") },
    formAlert(),
    h("div", { class: "row" },
      field("state", t("order.state"), selectInput([["", t("common.all")],
        ...ORDER_STATES.map((s) => [s, label("order", s)])], initialState)),
      h("button", { type: "submit", class: "primary" }, t("common.apply"))));
  const results = h("div", { "aria-live": "polite" });
  const paging = pager(async (cursor) => {
    const values = formValues(filters);
    try {
      const page = await api("orders/orders", { query: { state: values.state, customer_id: customerId, limit: 25, cursor } });
      replace(results, page.items.length ? table(
        [t("orders.order"), t("order.created"), t("orders.customer"), t("orders.items"), t("order.state"),
          t("order.one_off"), t("order.monthly"), t("customer.owner")],
        page.items.map((o) => h("tr", { "data-order": o.id },
          h("td", { class: "nowrap" }, link(`orders/${o.id}`, orderNumber(o))), h("td", {}, dateTime(o.created_at)),
          h("td", {}, customerLink(o)), h("td", {}, itemsSummary(o)), h("td", {}, stateBadge(o)),
          h("td", { class: "num" }, money(o.one_off_total_tiyn, o.currency)),
          h("td", { class: "num" }, money(o.recurring_total_tiyn, o.currency)), h("td", {}, o.owner_name))),
        { caption: t("orders.caption") }) : empty(t("orders.nothing")));
      return page.next_cursor;
    } catch (error) {
      showErrors(filters, error);
      replace(results);
      return null;
    }
  });
  filters.addEventListener("submit", (event) => { event.preventDefault(); paging.reset(); });
  replace(root,
    h("div", { class: "title-row" }, h("h1", {}, t("orders.title"))),
    customerId ? await customerFilterNote(customerId) : null,
    filters, results, paging.bar);
  await paging.reset();
}

// --- order lines (capture, and items added to a draft) --------------------------------------

function characteristicsText(characteristics) {
  return Object.entries(characteristics || {}).map(([name, value]) => `${label("characteristic", name)}: ${value}`).join(" · ");
}

function serviceAddressOf(customer) {
  const address = customer?.addresses?.find((a) => a.kind === "service")
    || customer?.addresses?.find((a) => a.kind === "registration");
  if (!address) return "";
  return [address.postal_code, address.city, address.street, address.building,
    address.apartment && `${t("customer.apartment")} ${address.apartment}`].filter(Boolean).join(", ");
}

function offeringSelect(offerings, value) {
  const lines = PRODUCT_LINES.filter((line) => offerings.some((o) => o.product_line === line));
  return h("select", {},
    h("option", { value: "", selected: !value }, t("orders.choose_offering")),
    lines.map((line) => h("optgroup", { label: label("product_line", line) },
      offerings.filter((o) => o.product_line === line).map((o) => h("option", { value: o.id, selected: o.id === value },
        `${o.name} · ${money(o.one_off_price_tiyn, o.currency)} + ${t("orders.per_month", { amount: money(o.recurring_price_tiyn, o.currency) })}`)))));
}

// A typed quantity as the API wants it (an integer); anything else is sent as typed, so that
// the API's own message about it is the one shown.
function quantityValue(text) {
  const trimmed = String(text ?? "").trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

function lineTotals(lines, offerings) {
  let oneOff = 0;
  let monthly = 0;
  for (const line of lines) {
    const offering = offerings.find((o) => o.id === line.offering_id);
    const quantity = quantityValue(line.quantity);
    if (!offering || !Number.isInteger(quantity) || quantity < 1) continue;
    oneOff += quantity * offering.one_off_price_tiyn;
    monthly += quantity * offering.recurring_price_tiyn;
  }
  return { oneOff, monthly };
}

function itemBody(line) {
  return { action: "add", offering_id: line.offering_id || null, quantity: quantityValue(line.quantity),
    service_address: line.service_address.trim() };
}

// The inputs of one line, named `${prefix}offering_id` and so on so that the API's errors find
// them; `line` is kept up to date as the user types, `changed()` after each change.
function lineFields(prefix, line, offerings, changed) {
  const select = offeringSelect(offerings, line.offering_id);
  const quantity = h("input", { type: "number", min: "1", step: "1", inputmode: "numeric", value: line.quantity, class: "quantity" });
  const address = textInput({ value: line.service_address, maxlength: 500 });
  const details = h("p", { class: "line-details" });
  const describe = () => {
    const offering = offerings.find((o) => o.id === line.offering_id);
    const total = lineTotals([line], offerings);
    replace(details, offering ? [characteristicsText(offering.characteristics),
      offering.description ? ` · ${offering.description}` : "",
      h("br"), t("orders.line_prices", { one_off: money(total.oneOff), monthly: money(total.monthly) })] : "");
  };
  select.addEventListener("change", () => { line.offering_id = select.value; describe(); changed(); });
  quantity.addEventListener("input", () => { line.quantity = quantity.value; describe(); changed(); });
  address.addEventListener("input", () => { line.service_address = address.value; });
  describe();
  return [
    h("div", { class: "row" },
      field(`${prefix}offering_id`, t("orders.offering"), select, { required: true }),
      field(`${prefix}quantity`, t("orders.quantity"), quantity, { required: true })),
    details,
    field(`${prefix}service_address`, t("orders.service_address"), address, { hint: t("orders.service_address_hint") }),
  ];
}

function newLine(offeringId, customer) {
  return { offering_id: offeringId || "", quantity: "1", service_address: serviceAddressOf(customer) };
}

function totalsList(totals) {
  return definitionList([
    [t("orders.total_one_off"), h("strong", { class: "total-one-off" }, money(totals.oneOff))],
    [t("orders.total_monthly"), h("strong", { class: "total-monthly" }, money(totals.monthly))],
  ]);
}

// --- capture ---------------------------------------------------------------------------------

function catalogue(offerings, choose) {
  const lines = PRODUCT_LINES.filter((line) => offerings.some((o) => o.product_line === line));
  const filter = selectInput([["", t("common.all")], ...lines.map((l) => [l, label("product_line", l)])], "");
  const body = h("div");
  const show = () => {
    const rows = lines.filter((line) => !filter.value || filter.value === line).flatMap((line) => [
      h("tr", { class: "group" }, h("th", { scope: "colgroup", colspan: 4 }, label("product_line", line))),
      ...offerings.filter((o) => o.product_line === line).map((o) => h("tr", { "data-offering": o.id },
        h("td", {}, h("strong", {}, o.name), h("div", { class: "note" }, characteristicsText(o.characteristics))),
        h("td", { class: "num" }, money(o.one_off_price_tiyn, o.currency)),
        h("td", { class: "num" }, money(o.recurring_price_tiyn, o.currency)),
        h("td", {}, h("button", { type: "button", "aria-label": t("orders.add_offering", { name: o.name }),
          onclick: () => choose(o.id) }, t("orders.add"))))),
    ]);
    replace(body, offerings.length
      ? table([t("orders.offering"), t("order.one_off"), t("order.monthly"), ""], rows, { caption: t("orders.catalogue_caption") })
      : empty(t("orders.catalogue_empty")));
  };
  filter.addEventListener("change", show);
  show();
  return h("section", { class: "panel", id: "catalogue", "aria-labelledby": "catalogue-title" },
    h("h2", { id: "catalogue-title" }, t("orders.catalogue")),
    h("div", { class: "filters" }, field("product_line", t("orders.product_line"), filter)),
    body);
}

function customerCard(customer, branchList) {
  const branch = branchList.find((b) => b.code === customer.branch_code);
  return h("section", { class: "panel", id: "order-customer", "aria-labelledby": "order-customer-title" },
    h("h2", { id: "order-customer-title" }, link(`customers/${customer.id}`, customer.display_name)),
    definitionList([
      [t("customer.phone"), customer.primary_phone ? h("a", { href: `tel:${customer.primary_phone}` }, phone(customer.primary_phone)) : null],
      [t("customer.branch"), branch ? `${branch.code} · ${branchName(branch)}` : customer.branch_code],
      [t("orders.service_address"), serviceAddressOf(customer) || null],
    ]));
}

function captureForm(customer, offerings) {
  const lines = [newLine("", customer)];
  const list = h("ol", { class: "order-lines" });
  const totals = h("div", { class: "order-totals", "aria-live": "polite" });
  const addButton = h("button", { type: "button", onclick: () => addLine("") }, t("orders.add_line"));
  const updateTotals = () => replace(totals, totalsList(lineTotals(lines, offerings)));
  const renderLines = () => {
    replace(list, lines.map((line, index) => h("li", { class: "order-line card", "data-line": index },
      h("div", { class: "title-row" }, h("h3", {}, t("orders.line", { n: index + 1 })),
        lines.length > 1 ? h("button", { type: "button", class: "remove-line",
          "aria-label": t("orders.remove_line_n", { n: index + 1 }), onclick: () => removeLine(index) }, t("orders.remove_line")) : null),
      lineFields(`items.${index}.`, line, offerings, updateTotals))));
    updateTotals();
  };
  // An empty line takes the offering chosen in the catalogue; otherwise a new line is added.
  function addLine(offeringId) {
    const blank = offeringId ? lines.findIndex((l) => !l.offering_id) : -1;
    const index = blank >= 0 ? blank : lines.push(newLine(offeringId, customer)) - 1;
    lines[index].offering_id = offeringId || lines[index].offering_id;
    renderLines();
    list.querySelector(`[data-line="${index}"] select`).focus();
  }
  function removeLine(index) {
    lines.splice(index, 1);
    renderLines();
    addButton.focus();
  }
  renderLines();
  const form = h("form", { class: "panel order-form", id: "order-form", "aria-labelledby": "order-lines-title" },
    h("h2", { id: "order-lines-title" }, t("orders.lines")),
    formAlert(),
    list,
    h("div", { class: "actions" }, addButton),
    totals,
    h("div", { class: "actions" }, submitButton(t("orders.place")), link(`customers/${customer.id}`, t("common.cancel"))));
  let key = idempotencyKey();
  onSubmit(form, async () => {
    const body = { customer_id: customer.id, items: lines.map(itemBody) };
    let created;
    try {
      created = await api("orders/orders", { method: "POST", body, headers: { "Idempotency-Key": key } });
    } catch (error) {
      if (isFinal(error)) key = idempotencyKey();  // a corrected order is a new attempt
      throw dottedFields(error);
    }
    toast(t("orders.created"));
    location.hash = `#/orders/${created.id}`;
  });
  return { form, addLine };
}

export async function newOrderView(root, customerId) {
  const customer = await loadCustomer(root, customerId);
  if (!customer) return;
  const title = h("div", { class: "title-row" }, h("h1", {}, t("orders.new_title", { name: customer.display_name })));
  const branchList = await branches();
  if (customer.status === "merged") {
    replace(root, title, customerCard(customer, branchList),
      h("p", { class: "problem", role: "alert" }, t("orders.customer_merged")));
    return;
  }
  let offerings;
  try {
    offerings = await api("orders/offerings", { query: { status: "active", region_code: customer.region_code } });
  } catch (error) {
    replace(root, title, customerCard(customer, branchList), problemBox(error));
    return;
  }
  const capture = captureForm(customer, offerings);
  replace(root, title, customerCard(customer, branchList),
    h("div", { class: "grid-order" }, capture.form, catalogue(offerings, capture.addLine)));
  capture.form.querySelector("select")?.focus();
}

// --- one order -------------------------------------------------------------------------------

function itemRows(order) {
  return order.items.map((item) => h("tr", { "data-item": item.id, "data-item-state": item.state },
    h("td", {}, item.position + 1),
    h("td", {}, h("strong", {}, item.offering_name), " ", h("span", { class: "badge" }, label("product_line", item.product_line)),
      h("div", { class: "note" }, characteristicsText(item.characteristics))),
    h("td", {}, label("order_action", item.action)),
    h("td", { class: "num" }, item.quantity),
    h("td", {}, item.service_address),
    h("td", { class: "num" }, money(item.quantity * item.one_off_price_tiyn, order.currency)),
    h("td", { class: "num" }, money(item.quantity * item.recurring_price_tiyn, order.currency)),
    h("td", {}, h("span", { class: `badge item-state ${item.state}` }, label("item_state", item.state)),
      item.state_reason ? h("div", { class: "note" }, item.state_reason) : null)));
}

function itemsPanel(order) {
  const done = order.items.filter((i) => FINAL_ITEM_STATES.includes(i.state)).length;
  const content = order.items.length ? [
    h("p", { class: "progress" }, h("label", { for: "order-progress" }, t("orders.progress", { done, total: order.items.length })),
      " ", h("progress", { id: "order-progress", max: order.items.length, value: done })),
    table([t("orders.position"), t("orders.offering"), t("orders.action"), t("orders.quantity"), t("orders.service_address"),
      t("order.one_off"), t("order.monthly"), t("orders.fulfilment")], itemRows(order), { caption: t("orders.items_caption") }),
  ] : empty(t("orders.no_items"));
  return h("section", { class: "panel", id: "order-items", "aria-labelledby": "order-items-title" },
    h("h2", { id: "order-items-title" }, t("orders.items")), content,
    h("div", { class: "order-totals" }, totalsList({ oneOff: order.one_off_total_tiyn, monthly: order.recurring_total_tiyn })));
}

function summaryPanel(order) {
  return h("section", { class: "panel", id: "order-summary", "aria-labelledby": "order-summary-title" },
    h("h2", { id: "order-summary-title" }, t("orders.summary")),
    definitionList([
      [t("orders.customer"), customerLink(order)],
      [t("order.state"), h("span", {}, stateBadge(order),
        order.state_reason ? h("span", { class: "state-reason" }, " ", t("orders.reason_is", { reason: order.state_reason })) : null)],
      [t("order.created"), dateTime(order.created_at)],
      [t("orders.updated"), dateTime(order.updated_at)],
      [t("orders.completed_at"), dateTime(order.completed_at)],
      [t("orders.source"), label("order_source", order.source)],
      [t("customer.owner"), order.owner_name],
      [t("customer.branch"), order.branch_code],
    ]));
}

async function changeState(order, state, reason) {
  return api(`orders/orders/${encodeURIComponent(order.id)}/state`, { method: "PATCH",
    headers: { "If-Match": `"${order.version}"` }, body: reason ? { state, reason } : { state } });
}

function movesForm(order, moves, show) {
  let requested = null;
  const note = textInput({ maxlength: 2000 });
  // Enter in the note would press the first button: the move must be chosen, not defaulted
  note.addEventListener("keydown", (event) => { if (event.key === "Enter") event.preventDefault(); });
  const form = h("form", { class: "inline-form", id: "order-moves", "aria-labelledby": "order-moves-title" },
    h("h3", { id: "order-moves-title" }, t("orders.moves")),
    formAlert(),
    field("reason", t("orders.note"), note, { hint: t("orders.note_hint") }),
    h("div", { class: "actions" }, moves.map((state) => h("button", { type: "submit", dataset: { state },
      onclick: () => { requested = state; } }, MOVES[state](order.state)))));
  onSubmit(form, async (values) => {
    show(await changeState(order, requested, values.reason), t("orders.state_changed"));
  });
  return form;
}

function cancelForm(order, show) {
  const form = h("form", { class: "inline-form", id: "order-cancel", "aria-labelledby": "order-cancel-title" },
    h("h3", { id: "order-cancel-title" }, t("orders.cancel_title")),
    formAlert(),
    field("reason", t("orders.cancel_reason"), h("textarea", { rows: 2, maxlength: 2000 }), { required: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "danger" }, t("orders.cancel"))));
  onSubmit(form, async (values) => {
    show(await changeState(order, "cancelled", values.reason), t("orders.cancelled"));
  });
  return form;
}

function draftItemForm(order, offerings, customer, show) {
  const line = newLine("", customer);
  const form = h("form", { class: "inline-form", id: "order-add-item", "aria-labelledby": "order-add-item-title" },
    h("h3", { id: "order-add-item-title" }, t("orders.add_item")),
    formAlert(),
    lineFields("", line, offerings, () => {}),
    submitButton(t("orders.add_item")));
  // the API names the new item by the position it would take
  onSubmit(form, async () => {
    show(await api(`orders/orders/${encodeURIComponent(order.id)}/items`, { method: "POST", body: itemBody(line) }),
      t("orders.item_added"));
  }, { prefix: `items[${order.items.length}].` });
  return form;
}

// What the caller may do with the order now: the API's allowed_transitions, for a writer.
async function actionsPanel(order, show) {
  if (!can.writeOrders(session.me)) return null;
  const allowed = order.allowed_transitions || [];
  const moves = allowed.filter((s) => s in MOVES);
  // an order with a completed item cannot be cancelled any more (the API says 409)
  const cancellable = allowed.includes("cancelled") && !order.items.some((i) => i.state === "completed");
  let addItem = null;
  if (order.state === "draft") {
    const [offerings, customer] = await Promise.all([
      api("orders/offerings", { query: { status: "active", region_code: order.region_code } }),
      api(`sales/customers/${encodeURIComponent(order.customer_id)}`).catch(() => null)]);
    addItem = draftItemForm(order, offerings, customer, show);
  }
  if (!moves.length && !cancellable && !addItem) return null;
  return h("section", { class: "panel", id: "order-actions", "aria-labelledby": "order-actions-title" },
    h("h2", { id: "order-actions-title" }, t("orders.actions")),
    addItem, moves.length ? movesForm(order, moves, show) : null, cancellable ? cancelForm(order, show) : null);
}

export async function orderView(root, orderId) {
  const order = await loadRecord(root, `orders/orders/${encodeURIComponent(orderId)}`, t("orders.not_found_title"),
    t("orders.not_found"), link("orders", t("orders.back")));
  if (!order) return;
  const refresh = h("button", { type: "button", id: "order-refresh" }, t("orders.refresh"));
  const show = async (current, message) => {
    let actions;
    try {
      actions = await actionsPanel(current, show);
    } catch (error) {
      actions = problemBox(error);
    }
    replace(root,
      h("div", { class: "title-row" }, h("h1", {}, t("orders.order_title", { number: orderNumber(current) })),
        stateBadge(current), refresh),
      h("div", { class: "grid-360" }, summaryPanel(current), actions),
      itemsPanel(current));
    if (message) {
      toast(message);
      refresh.focus();
    }
  };
  refresh.addEventListener("click", async () => {
    refresh.disabled = true;
    try {
      await show(await api(`orders/orders/${encodeURIComponent(order.id)}`), t("orders.refreshed"));
    } catch (error) {
      toast(error.status === 404 ? t("orders.not_found") : error.message);
    } finally {
      refresh.disabled = false;
      refresh.focus();
    }
  });
  await show(order);
}

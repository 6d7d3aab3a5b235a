// Order screens (orders service): the orders in the caller's scope with filters and cursor
// paging, order capture for one customer (new products from the catalogue, tariff changes and
// disconnections of installed products, running totals) and one order with its items'
// fulfilment and the state changes the API allows from where it is.
import { ApiError, api, idempotencyKey, session } from "../api.js";
import { h, replace } from "../dom.js";
import { field, formAlert, formValues, onSubmit, selectInput, showErrors, submitButton, textInput } from "../forms.js";
import { branchName, dateTime, label, money, offeringName, phone, t } from "../i18n.js";
import { branches, can, definitionList, empty, link, loadRecord, pager, problemBox, table, toast } from "./common.js";
import { loadCustomer } from "./customer.js";
import { exportButton } from "./exports.js";

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

function itemSummary(item) {
  if (item.action !== "add") return `${label("order_action", item.action)}: ${item.offering_name}`;
  return item.quantity > 1 ? `${item.offering_name} × ${item.quantity}` : item.offering_name;
}

function itemsSummary(order) {
  if (!order.items.length) return h("span", { class: "empty" }, t("orders.no_items"));
  return order.items.map(itemSummary).join(", ");
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
  const listFilters = () => ({ state: formValues(filters).state, customer_id: customerId });
  const paging = pager(async (cursor) => {
    try {
      const page = await api("orders/orders", { query: { ...listFilters(), limit: 25, cursor } });
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
    filters, exportButton("orders/orders", listFilters, "orders.csv"), results, paging.bar);
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

function offeringSelect(offerings, value, placeholder = t("orders.choose_offering")) {
  const lines = PRODUCT_LINES.filter((line) => offerings.some((o) => o.product_line === line));
  return h("select", {},
    h("option", { value: "", selected: !value }, placeholder),
    lines.map((line) => h("optgroup", { label: label("product_line", line) },
      offerings.filter((o) => o.product_line === line).map((o) => h("option", { value: o.id, selected: o.id === value },
        `${offeringName(o)} · ${money(o.one_off_price_tiyn, o.currency)} + ${t("orders.per_month", { amount: money(o.recurring_price_tiyn, o.currency) })}`)))));
}

function productText(product) {
  return `${product.offering_name} · ${t("orders.per_month", { amount: money(product.recurring_price_tiyn) })}`;
}

function productSelect(products, value) {
  return h("select", {}, products.map((p) => h("option", { value: p.id, selected: p.id === value },
    p.service_address ? `${productText(p)} · ${p.service_address}` : productText(p))));
}

// The offerings a product may change to: the API takes one of the same product line that is
// sold in the customer's region today; its own offering would change nothing.
function changeChoices(product, offerings) {
  const today = new Date().toISOString().slice(0, 10);
  return offerings.filter((o) => o.product_line === product.product_line && o.id !== product.offering_id
    && (!o.valid_from || o.valid_from <= today) && (!o.valid_to || today <= o.valid_to));
}

// A typed quantity as the API wants it (an integer); anything else is sent as typed, so that
// the API's own message about it is the one shown.
function quantityValue(text) {
  const trimmed = String(text ?? "").trim();
  return /^-?\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
}

// What the API charges: a new product its quantity times the offering's prices, a change the
// new offering's prices once, a disconnection nothing.
function lineTotals(lines, offerings) {
  let oneOff = 0;
  let monthly = 0;
  for (const line of lines) {
    if (line.action === "delete") continue;
    const offering = offerings.find((o) => o.id === line.offering_id);
    const quantity = line.action === "modify" ? 1 : quantityValue(line.quantity);
    if (!offering || !Number.isInteger(quantity) || quantity < 1) continue;
    oneOff += quantity * offering.one_off_price_tiyn;
    monthly += quantity * offering.recurring_price_tiyn;
  }
  return { oneOff, monthly };
}

function itemBody(line) {
  if (line.action === "delete") return { action: "delete", installed_product_id: line.installed_product_id, quantity: 1 };
  if (line.action === "modify") {
    return { action: "modify", installed_product_id: line.installed_product_id, offering_id: line.offering_id, quantity: 1 };
  }
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

function signedMoney(tiyn) {
  return tiyn > 0 ? `+${money(tiyn)}` : money(tiyn);
}

// The installed product a change or a disconnection works on; the same input carries the API's
// message about it (disconnected meanwhile, not this customer's).
function productField(prefix, line, products, onChange) {
  const select = productSelect(products, line.installed_product_id);
  select.addEventListener("change", () => { line.installed_product_id = select.value; onChange(); });
  return field(`${prefix}installed_product_id`, t("orders.product"), select, { required: true });
}

function productNow(product) {
  if (!product) return [];
  return [t("orders.line_now", { name: product.offering_name, monthly: money(product.recurring_price_tiyn) }),
    product.service_address ? [h("br"), t("orders.service_address"), ": ", product.service_address] : null];
}

// A tariff change: the product as it is now, and the new offering among those it may become.
function changeFields(prefix, line, products, offerings, changed) {
  const choice = h("div");
  const details = h("p", { class: "line-details" });
  const product = () => products.find((p) => p.id === line.installed_product_id);
  const describe = () => {
    const now = product();
    const offering = offerings.find((o) => o.id === line.offering_id);
    replace(details, productNow(now), offering && now ? [h("br"), t("orders.line_change", {
      one_off: money(offering.one_off_price_tiyn), monthly: money(offering.recurring_price_tiyn),
      difference: signedMoney(offering.recurring_price_tiyn - now.recurring_price_tiyn) })] : null);
  };
  const offerChoices = () => {
    const choices = product() ? changeChoices(product(), offerings) : [];
    if (!choices.some((o) => o.id === line.offering_id)) line.offering_id = "";
    const select = offeringSelect(choices, line.offering_id, t("orders.choose_new_offering"));
    select.addEventListener("change", () => { line.offering_id = select.value; describe(); changed(); });
    replace(choice, field(`${prefix}offering_id`, t("orders.new_offering"), select,
      { required: true, hint: choices.length ? null : t("orders.no_change_choices") }));
  };
  offerChoices();
  describe();
  return [productField(prefix, line, products, () => { offerChoices(); describe(); changed(); }), choice, details];
}

// A disconnection: the product that stops, at no charge.
function disconnectFields(prefix, line, products, changed) {
  const details = h("p", { class: "line-details" });
  const describe = () => {
    const product = products.find((p) => p.id === line.installed_product_id);
    replace(details, productNow(product),
      product ? [h("br"), t("orders.line_disconnect", { monthly: money(product.recurring_price_tiyn) })] : null);
  };
  describe();
  return [productField(prefix, line, products, () => { describe(); changed(); }), details];
}

function newLine(offeringId, customer) {
  return { action: "add", offering_id: offeringId || "", quantity: "1", service_address: serviceAddressOf(customer) };
}

function productLine(action, productId) {
  return { action, installed_product_id: productId, offering_id: "", quantity: "1", service_address: "" };
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
        h("td", {}, h("strong", {}, offeringName(o)), h("div", { class: "note" }, characteristicsText(o.characteristics))),
        h("td", { class: "num" }, money(o.one_off_price_tiyn, o.currency)),
        h("td", { class: "num" }, money(o.recurring_price_tiyn, o.currency)),
        h("td", {}, h("button", { type: "button", "aria-label": t("orders.add_offering", { name: offeringName(o) }),
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

// The customer's installed products, each with the lines it may get: a tariff change or a
// disconnection. `installed` is { products } or { error } when inventory did not answer.
function installedPanel(installed, choose) {
  const { products = [], error } = installed;
  let content;
  if (error) content = problemBox(error);
  else if (!products.length) content = empty(t("orders.products_none"));
  else {
    content = table([t("orders.product"), t("order.monthly"), ""], products.map((p) => h("tr", { "data-product": p.id },
      h("td", {}, h("strong", {}, p.offering_name), " ", h("span", { class: "badge" }, label("product_line", p.product_line)),
        p.status !== "active" ? [" ", h("span", { class: "badge" }, label("product", p.status))] : null,
        p.service_address ? h("div", { class: "note" }, p.service_address) : null),
      h("td", { class: "num" }, money(p.recurring_price_tiyn)),
      h("td", { class: "product-actions" },
        h("button", { type: "button", dataset: { action: "modify" }, onclick: () => choose("modify", p.id),
          "aria-label": t("orders.change_tariff_of", { name: p.offering_name }) }, t("orders.change_tariff")),
        h("button", { type: "button", dataset: { action: "delete" }, onclick: () => choose("delete", p.id),
          "aria-label": t("orders.disconnect_product", { name: p.offering_name }) }, t("orders.disconnect"))))),
    { caption: t("orders.products_caption") });
  }
  return h("section", { class: "panel", id: "order-products", "aria-labelledby": "order-products-title" },
    h("h2", { id: "order-products-title" }, t("customer.products")), content);
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

// The API takes a change without a new offering (it would keep the product as it is); here a
// change is a tariff change, so the line must name the new one.
function unchosenChange(lines) {
  const index = lines.findIndex((l) => l.action === "modify" && !l.offering_id);
  if (index < 0) return null;
  return new ApiError(422, { detail: t("form.fix_fields"),
    errors: [{ field: `items.${index}.offering_id`, message: t("orders.choose_new_offering_error") }] });
}

function captureForm(customer, offerings, products, firstLine) {
  const lines = [firstLine || newLine("", customer)];
  const list = h("ol", { class: "order-lines" });
  const totals = h("div", { class: "order-totals", "aria-live": "polite" });
  const addButton = h("button", { type: "button", onclick: () => addLine("") }, t("orders.add_line"));
  const updateTotals = () => replace(totals, totalsList(lineTotals(lines, offerings)));
  const fieldsOf = (line, index) => {
    const prefix = `items.${index}.`;
    if (line.action === "modify") return changeFields(prefix, line, products, offerings, updateTotals);
    if (line.action === "delete") return disconnectFields(prefix, line, products, updateTotals);
    return lineFields(prefix, line, offerings, updateTotals);
  };
  const renderLines = () => {
    replace(list, lines.map((line, index) => h("li", { class: `order-line card ${line.action}`, "data-line": index, "data-action": line.action },
      h("div", { class: "title-row" }, h("h3", {}, t("orders.line", { n: index + 1 }), " ",
        h("span", { class: `badge order-action ${line.action}` }, label("order_action", line.action))),
        lines.length > 1 ? h("button", { type: "button", class: "remove-line",
          "aria-label": t("orders.remove_line_n", { n: index + 1 }), onclick: () => removeLine(index) }, t("orders.remove_line")) : null),
      fieldsOf(line, index))));
    updateTotals();
  };
  const focusLine = (index) => {
    const line = list.querySelector(`[data-line="${index}"]`);
    (line.querySelector("select[name$='offering_id']") || line.querySelector("select")).focus();
  };
  const blankLine = () => lines.findIndex((l) => l.action === "add" && !l.offering_id);
  // An empty new-product line takes the offering chosen in the catalogue; otherwise a line is added.
  function addLine(offeringId) {
    const blank = offeringId ? blankLine() : -1;
    const index = blank >= 0 ? blank : lines.push(newLine(offeringId, customer)) - 1;
    lines[index].offering_id = offeringId || lines[index].offering_id;
    renderLines();
    focusLine(index);
  }
  // A product already on a line gets the action asked for there (one item per product, as the
  // API wants); otherwise it takes an empty new-product line, or a line of its own.
  function addProductLine(action, productId) {
    let index = lines.findIndex((l) => l.installed_product_id === productId);
    if (index < 0) index = blankLine();
    if (index < 0) index = lines.push(null) - 1;
    const line = lines[index];
    if (!line || line.action !== action || line.installed_product_id !== productId) lines[index] = productLine(action, productId);
    renderLines();
    focusLine(index);
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
    const unchosen = unchosenChange(lines);
    if (unchosen) throw unchosen;
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
  return { form, addLine, addProductLine, focus: () => focusLine(0) };
}

// The customer's installed products that may still change (the API leaves out terminated ones).
async function installedProductsOf(customer) {
  try {
    return { products: await api("orders/installed-products", { query: { customer_id: customer.id } }) };
  } catch (error) {
    return { error };
  }
}

// The line the capture starts with: ?change=<product> or ?disconnect=<product> (from the 360
// view's installed products), or an empty new-product line.
function requestedLine(products) {
  const wanted = fragmentQuery();
  const [action, productId] = wanted.has("change") ? ["modify", wanted.get("change")]
    : wanted.has("disconnect") ? ["delete", wanted.get("disconnect")] : [null, null];
  if (!action) return { line: null, missing: false };
  const found = products.some((p) => p.id === productId);
  return { line: found ? productLine(action, productId) : null, missing: !found };
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
  let installed;
  try {
    [offerings, installed] = await Promise.all([
      api("orders/offerings", { query: { status: "active", region_code: customer.region_code } }),
      installedProductsOf(customer)]);
  } catch (error) {
    replace(root, title, customerCard(customer, branchList), problemBox(error));
    return;
  }
  const products = installed.products || [];
  const requested = requestedLine(products);
  const capture = captureForm(customer, offerings, products, requested.line);
  replace(root, title, customerCard(customer, branchList),
    requested.missing ? h("p", { class: "problem", role: "alert" }, t("orders.product_not_available")) : null,
    h("div", { class: "grid-order" }, capture.form,
      h("div", { class: "column" }, installedPanel(installed, capture.addProductLine), catalogue(offerings, capture.addLine))));
  capture.focus();
}

// --- one order -------------------------------------------------------------------------------

// An item as the order page shows it. A change names the offering it moves the product from and
// a disconnection the one it ends: what the product was when the order was taken, as the order
// keeps it (replaced_offering_name). An item taken before orders kept that has none: a change then
// shows only its new offering, a disconnection the offering it names.
function offeringCell(item) {
  const line = h("span", { class: "badge" }, label("product_line", item.product_line));
  const note = h("div", { class: "note" }, characteristicsText(item.characteristics));
  const from = item.replaced_offering_name;
  if (item.action === "delete") return [h("strong", {}, from || item.offering_name), " ", line, note];
  if (item.action !== "modify") return [h("strong", {}, item.offering_name), " ", line, note];
  return [h("span", { class: "change" }, from ? [h("span", { class: "from" }, from), " → "] : null,
    h("strong", { class: "to" }, item.offering_name)), " ", line, note];
}

function itemRows(order) {
  return order.items.map((item) => h("tr", { "data-item": item.id, "data-item-state": item.state, "data-item-action": item.action },
    h("td", {}, item.position + 1),
    h("td", {}, offeringCell(item)),
    h("td", {}, h("span", { class: `badge order-action ${item.action}` }, label("order_action", item.action))),
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
        stateBadge(current), refresh, link(`orders/${current.id}/history`, t("record_history.link"), { id: "order-history" })),
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

// Branch screens of the sales pipeline: leads and their conversion, the opportunity board by
// stage, and the reassignment of a departing employee's records (managers only).
import { allPages, api, idempotencyKey, session } from "../api.js";
import { h, replace } from "../dom.js";
import { checkbox, field, formAlert, onSubmit, selectInput, submitButton, textInput } from "../forms.js";
import { date, label, money, phone, t } from "../i18n.js";
import { can, empty, link, pager, problemBox, table, toast } from "./common.js";
import { forecastPanel } from "./daily.js";

const SOURCES = ["web", "call_center", "branch_walk_in", "partner", "campaign"];
const INTERESTS = ["internet", "tv", "mobile", "fixed_line", "bundle"];
const LEAD_STATUSES = ["new", "contacted", "qualified", "converted", "disqualified"];
const NEXT_STATUS = { new: "contacted", contacted: "qualified" };
const OPEN_STAGES = ["prospecting", "qualification", "proposal", "negotiation"];

// Whole tenge typed by a person -> integer tiyn for the API ("12 500,50" -> 1250050).
export function tiynFromTenge(text) {
  const cleaned = String(text || "").replace(/[\s\u00a0]/g, "").replace(",", ".");
  if (!cleaned) return 0;
  if (!/^\d+(\.\d{1,2})?$/.test(cleaned)) return NaN;
  const [whole, fraction = ""] = cleaned.split(".");
  return Number(whole) * 100 + Number(fraction.padEnd(2, "0"));
}

// --- leads ---------------------------------------------------------------------------------

function newLeadForm(onCreated) {
  const form = h("form", { class: "inline-form", "aria-labelledby": "new-lead-title" },
    h("h2", { id: "new-lead-title" }, t("lead.new")),
    formAlert(),
    h("div", { class: "row" },
      field("name", t("common.name"), textInput(), { required: true }),
      field("phone", t("customer.phone"), textInput({ type: "tel" })),
      field("email", t("customer.email"), textInput({ type: "email" }))),
    h("div", { class: "row" },
      field("company_name", t("lead.company"), textInput()),
      field("source", t("lead.source"), selectInput(SOURCES.map((s) => [s, label("source", s)]), "branch_walk_in")),
      field("interest", t("lead.interest"), selectInput(INTERESTS.map((s) => [s, label("product_line", s)]), "internet"))),
    field("notes", t("lead.notes"), h("textarea", { rows: 2 })),
    submitButton(t("lead.create")));
  let key = idempotencyKey();
  onSubmit(form, async (values) => {
    try {
      await api("sales/leads", { method: "POST", body: { ...values, name: values.name || "" }, headers: { "Idempotency-Key": key } });
    } finally {
      key = idempotencyKey();
    }
    form.reset();
    toast(t("lead.created"));
    onCreated();
  });
  return form;
}

function convertForm(lead, done) {
  const [first, ...rest] = lead.name.split(/\s+/);
  const mode = selectInput([["new", t("lead.convert_new")], ["existing", t("lead.convert_existing")]], "new");
  const newFields = h("div", {},
    h("div", { class: "row" },
      field("customer.kind", t("customer.kind"), selectInput([["individual", label("kind", "individual")], ["business", label("kind", "business")]], lead.company_name ? "business" : "individual")),
      field("customer.iin", t("lead.iin_or_bin"), textInput({ inputmode: "numeric", maxlength: 12 }), { required: true })),
    h("div", { class: "row" },
      field("customer.last_name", t("customer.last_name"), textInput({ value: rest.join(" ") })),
      field("customer.first_name", t("customer.first_name"), textInput({ value: first || "" })),
      field("customer.legal_name", t("customer.legal_name"), textInput({ value: lead.company_name || "" }))));
  const existingFields = h("div", { hidden: true },
    field("customer_id", t("lead.customer_id"), textInput(), { hint: t("lead.customer_id_hint") }));
  mode.addEventListener("change", () => {
    newFields.hidden = mode.value !== "new";
    existingFields.hidden = mode.value === "new";
  });
  const form = h("form", { class: "inline-form", "aria-label": t("lead.convert") },
    h("h3", {}, t("lead.convert")),
    formAlert(),
    field("mode", t("lead.convert_how"), mode),
    newFields, existingFields,
    h("div", { class: "row" },
      field("opportunity.name", t("lead.opportunity_name"), textInput()),
      field("opportunity.amount", t("opportunity.amount_kzt"), textInput({ inputmode: "decimal" }))),
    submitButton(t("lead.convert")));
  const key = idempotencyKey();
  onSubmit(form, async (values) => {
    const body = { opportunity: {} };
    if (values["opportunity.name"]) body.opportunity.name = values["opportunity.name"];
    const amount = tiynFromTenge(values["opportunity.amount"]);
    body.opportunity.amount_tiyn = Number.isNaN(amount) ? values["opportunity.amount"] : amount;
    if (values.mode === "existing") body.customer_id = values.customer_id || "";
    else {
      const kind = values["customer.kind"];
      const id = values["customer.iin"] || "";
      body.customer = kind === "business"
        ? { kind, bin: id, legal_name: values["customer.legal_name"] || "" }
        : { kind, iin: id, first_name: values["customer.first_name"] || "", last_name: values["customer.last_name"] || "" };
    }
    try {
      const result = await api(`sales/leads/${lead.id}/convert`, { method: "POST", body, headers: { "Idempotency-Key": key } });
      toast(t("lead.converted"));
      location.hash = `#/customers/${result.customer.id}`;
    } catch (error) {
      // the API names "customer.bin" for a business; the form has one box for IIN/BIN
      const errors = error.problem.errors || [];
      for (const e of errors) if (e.field === "customer.bin") e.field = "customer.iin";
      for (const e of errors) if (e.field === "opportunity.amount_tiyn") e.field = "opportunity.amount";
      throw error;
    }
  });
  return form;
}

function leadActions(lead, refresh) {
  const actions = h("div", { class: "actions" });
  const change = async (body) => {
    try {
      await api(`sales/leads/${lead.id}`, { method: "PATCH", body: { version: lead.version, ...body } });
      toast(t("common.saved"));
      refresh();
    } catch (error) {
      actions.append(problemBox(error));
    }
  };
  if (NEXT_STATUS[lead.status]) {
    actions.append(h("button", { type: "button", onclick: () => change({ status: NEXT_STATUS[lead.status] }) },
      t("lead.mark", { status: label("lead_status", NEXT_STATUS[lead.status]) })));
  }
  if (["new", "contacted", "qualified"].includes(lead.status)) {
    const reason = textInput({ placeholder: t("lead.disqualify_reason") });
    const disqualify = h("form", { class: "row" }, field("disqualify_reason", t("lead.disqualify_reason"), reason),
      h("button", { type: "submit" }, t("lead.disqualify")));
    disqualify.addEventListener("submit", (event) => {
      event.preventDefault();
      change({ status: "disqualified", disqualify_reason: reason.value.trim() || null });
    });
    actions.append(disqualify);
  }
  if (lead.status === "qualified") actions.append(convertForm(lead, refresh));
  if (lead.customer_id) actions.append(link(`customers/${lead.customer_id}`, t("lead.open_customer")));
  actions.append(h("p", {}, link(`leads/${lead.id}/history`, t("record_history.link"), { class: "history" })));
  return actions;
}

export async function leadsView(root) {
  const statusFilter = selectInput([["", t("common.all")], ...LEAD_STATUSES.map((s) => [s, label("lead_status", s)])], "");
  const list = h("div", { "aria-live": "polite" });
  const paging = pager(async (cursor) => {
    try {
      const page = await api("sales/leads", { query: { status: statusFilter.value, limit: 25, cursor } });
      replace(list, page.items.length ? h("ul", { class: "cards" }, page.items.map((lead) => {
        const details = h("details", {},
          h("summary", {}, h("strong", {}, lead.name), " · ", label("lead_status", lead.status), " · ", label("product_line", lead.interest)),
          h("p", {}, [phone(lead.phone), lead.email, lead.company_name, label("source", lead.source), lead.owner_name, lead.branch_code,
            date(lead.created_at)].filter(Boolean).join(" · ")),
          lead.notes ? h("p", { class: "note" }, lead.notes) : null,
          lead.disqualify_reason ? h("p", { class: "note" }, lead.disqualify_reason) : null);
        details.addEventListener("toggle", () => {
          if (details.open && !details.querySelector(".actions")) details.append(leadActions(lead, () => paging.reset()));
        }, { once: false });
        return h("li", { class: "card" }, details);
      })) : empty(t("common.none")));
      return page.next_cursor;
    } catch (error) {
      replace(list, problemBox(error));
      return null;
    }
  });
  statusFilter.addEventListener("change", () => paging.reset());
  replace(root, h("h1", {}, t("lead.title")),
    h("details", { class: "card" }, h("summary", {}, t("lead.new")), newLeadForm(() => paging.reset())),
    h("div", { class: "filters row" }, field("status", t("lead.status"), statusFilter)),
    list, paging.bar);
  await paging.reset();
}

// --- opportunity board ---------------------------------------------------------------------

function opportunityCard(o, refresh) {
  const move = async (body) => {
    try {
      await api(`sales/opportunities/${o.id}`, { method: "PATCH", body: { version: o.version, ...body } });
      refresh();
    } catch (error) {
      card.append(problemBox(error));
    }
  };
  const at = OPEN_STAGES.indexOf(o.stage);
  const open = at >= 0;
  const lostReason = textInput();
  const lost = h("form", { class: "lost", hidden: true },
    field("close_reason", t("opportunity.lost_reason"), lostReason),
    h("button", { type: "submit" }, t("opportunity.mark_lost")));
  lost.addEventListener("submit", (event) => { event.preventDefault(); move({ stage: "closed_lost", close_reason: lostReason.value.trim() || null }); });
  const card = h("li", { class: "card opportunity", dataset: { id: o.id } },
    h("strong", {}, o.name),
    h("div", { class: "amount" }, money(o.amount_tiyn, o.currency), ` · ${o.probability}%`),
    h("div", { class: "meta" }, link(`customers/${o.customer_id}`, o.customer_name || t("opportunity.customer"), { class: "customer" }),
      ` · ${o.owner_name} · ${o.branch_code} · `, link(`opportunities/${o.id}/history`, t("record_history.link"), { class: "history" })),
    o.expected_close_date && open ? h("div", { class: "meta" }, t("opportunity.expected", { date: date(o.expected_close_date) })) : null,
    o.close_reason ? h("div", { class: "note" }, o.close_reason) : null,
    open ? h("div", { class: "actions" },
      at > 0 ? h("button", { type: "button", "aria-label": t("opportunity.back_to", { stage: label("stage", OPEN_STAGES[at - 1]) }),
        onclick: () => move({ stage: OPEN_STAGES[at - 1] }) }, "←") : null,
      h("button", { type: "button", "aria-label": t("opportunity.forward_to", { stage: label("stage", OPEN_STAGES[at + 1] || "closed_won") }),
        onclick: () => move({ stage: OPEN_STAGES[at + 1] || "closed_won" }) }, at === OPEN_STAGES.length - 1 ? t("opportunity.won") : "→"),
      h("button", { type: "button", onclick: () => { lost.hidden = !lost.hidden; if (!lost.hidden) lostReason.focus(); } }, t("opportunity.lost"))) : null,
    lost);
  return card;
}

export async function pipelineView(root) {
  const board = h("div", { class: "board" });
  async function refresh() {
    let open, closed;
    try {
      [open, closed] = await Promise.all([allPages("sales/opportunities", { state: "open" }),
        api("sales/opportunities", { query: { state: "closed", limit: 20 } }).then((p) => p.items)]);
    } catch (error) {
      replace(board, problemBox(error));
      return;
    }
    const columns = [...OPEN_STAGES, "closed_won", "closed_lost"];
    replace(board, columns.map((stage) => {
      const items = [...open, ...closed].filter((o) => o.stage === stage);
      const total = items.reduce((sum, o) => sum + o.amount_tiyn, 0);
      return h("section", { class: "column", "aria-labelledby": `stage-${stage}` },
        h("h2", { id: `stage-${stage}` }, label("stage", stage), h("span", { class: "count" }, ` ${items.length}`)),
        h("p", { class: "total" }, money(total)),
        items.length ? h("ul", { class: "plain" }, items.map((o) => opportunityCard(o, refresh))) : empty("—"));
    }));
  }
  replace(root, h("h1", {}, t("pipeline.title")), h("p", { class: "hint" }, t("pipeline.hint")),
    can.readStats(session.me) ? forecastPanel(session.me) : null, board);
  await refresh();
}

// --- reassignment --------------------------------------------------------------------------

// [id, "Full Name · branch"] of the colleagues in the caller's reach, by full name; the departing
// employee may already be deactivated, so those are offered as the ones whose records move.
async function staffInScope() {
  try {
    const staff = await allPages("staff", { include_inactive: true });
    return staff.map((s) => ({ id: s.id, active: s.active,
      text: `${s.full_name}${s.branch_code ? ` · ${s.branch_code}` : ""}${s.active ? "" : ` · ${t("users.inactive")}`}` }));
  } catch {
    return [];
  }
}

export async function reassignView(root) {
  const staff = await staffInScope();
  const pick = (people) => [["", t("reassign.pick")], ...people.map((s) => [s.id, s.text])];
  const result = h("div", { "aria-live": "polite" });
  const preview = h("div", { id: "reassign-preview", "aria-live": "polite" });
  const confirm = h("button", { type: "button", id: "reassign-confirm", hidden: true }, t("reassign.confirm"));
  const form = h("form", { class: "card", "aria-labelledby": "reassign-title" },
    h("h1", { id: "reassign-title" }, t("reassign.title")),
    h("p", { class: "hint" }, t("reassign.hint")),
    formAlert(),
    field("from_owner_id", t("reassign.from"), selectInput(pick(staff), ""), { required: true }),
    field("to_owner_id", t("reassign.to"), selectInput(pick(staff.filter((s) => s.active)), ""), { required: true }),
    field("reason", t("reassign.reason"), textInput(), { required: true }),
    submitButton(t("reassign.preview")), preview, confirm);
  const chosen = () => ({ from_owner_id: form.elements.from_owner_id.value, to_owner_id: form.elements.to_owner_id.value });
  for (const name of ["from_owner_id", "to_owner_id"]) {
    form.elements[name].addEventListener("change", () => { confirm.hidden = true; replace(preview); });
  }
  onSubmit(form, async () => {
    const answer = await api("sales/reassignments/preview", { method: "POST", body: chosen() });
    const total = Object.values(answer.counts).reduce((sum, n) => sum + n, 0);
    replace(preview, h("div", { class: "card", role: "status" },
      h("h2", {}, t("reassign.preview_title", { count: total, from: answer.from_owner_name, to: answer.to_owner_name })),
      table([t("reassign.what"), t("reassign.count")], Object.entries(answer.counts).map(([type, n]) =>
        h("tr", {}, h("td", {}, label("entity", type)), h("td", { class: "num" }, n)))),
      answer.sample.length ? h("div", {}, h("h3", {}, t("reassign.sample")), h("ul", { class: "plain sample" }, answer.sample.map((r) =>
        h("li", {}, label("entity", r.entity_type), ": ",
          r.entity_type === "customer" ? link(`customers/${r.entity_id}`, r.title) : r.title)))) : empty(t("reassign.nothing"))));
    confirm.hidden = total === 0;
  });
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      const operation = await api("sales/reassignments", { method: "POST", headers: { "Idempotency-Key": idempotencyKey() },
        body: { ...chosen(), reason: form.elements.reason.value.trim() } });
      const counts = Object.fromEntries(Object.entries(operation.counts || {}).filter(([, n]) => n > 0));
      replace(result, h("div", { class: "card", role: "status", id: "reassign-done" }, h("h2", {}, t("reassign.done", { name: operation.to_owner_name })),
        Object.keys(counts).length ? table([t("reassign.what"), t("reassign.count")],
          Object.entries(counts).map(([type, n]) => h("tr", {}, h("td", {}, label("entity", type)), h("td", { class: "num" }, n))))
          : empty(t("reassign.nothing"))));
      form.reset();
      replace(preview);
      confirm.hidden = true;
    } catch (error) {
      replace(result, problemBox(error));
    } finally {
      confirm.disabled = false;
    }
  });
  replace(root, form, result);
}

// The daily work of branch staff: my tasks (due and overdue, done from the list) with the reminder
// badge in the header, a manager's overdue list, the forecast (weighted pipeline) and the history of
// leads and opportunities, everyone by name.
import { allPages, api, session } from "../api.js";
import { h, replace } from "../dom.js";
import { field, selectInput, textInput } from "../forms.js";
import { dateTime, label, money, monthYear, number, t } from "../i18n.js";
import { can, empty, link, pager, problemBox, table, toast } from "./common.js";

const DUES = ["overdue", "today", "upcoming"];
const FORECAST_GROUPS = ["month", "owner", "branch", "region"];

// Where the record a task is about is shown: a customer's card, the leads, the pipeline board.
function relatedLink(task) {
  const text = task.related_name || label("entity", task.related_type);
  if (task.related_type === "customer") return link(`customers/${task.related_id}`, text);
  if (task.related_type === "lead") return link(`leads/${task.related_id}/history`, text);
  return link(`opportunities/${task.related_id}/history`, text);
}

// --- reminders -----------------------------------------------------------------------------

const badge = h("a", { id: "reminders", class: "badge reminders", href: "#/my-tasks", hidden: true });

// The header's badge of due and overdue tasks (the caller's own), refreshed on every screen.
export function reminderBadge(me) {
  if (!can.logActivity(me)) return null;
  refreshReminders();
  return badge;
}

export async function refreshReminders() {
  try {
    const counts = await api("sales/my-tasks/counts");
    const due = counts.overdue + counts.today;
    badge.textContent = t("reminders.badge", counts);
    badge.setAttribute("aria-label", `${t("reminders.label")}: ${t("reminders.badge", counts)}`);
    badge.classList.toggle("overdue", counts.overdue > 0);
    badge.hidden = due === 0;
  } catch {
    badge.hidden = true;  // the reminder is a convenience; the screen itself says what failed
  }
}

// --- my tasks ------------------------------------------------------------------------------

async function complete(task, after) {
  await api(`sales/activities/${task.id}`, { method: "PATCH", body: { version: task.version, done_at: new Date().toISOString() } });
  toast(t("mytasks.completed"));
  refreshReminders();
  after();
}

function taskRows(tasks, refresh, { withOwner = false, withDone = true } = {}) {
  return tasks.map((task) => {
    const row = h("tr", { dataset: { id: task.id, due: task.due } },
      h("td", {}, h("time", { datetime: task.due_at }, dateTime(task.due_at))),
      h("td", {}, task.subject),
      h("td", {}, relatedLink(task)),
      withOwner ? h("td", {}, task.owner_name) : null,
      withDone ? h("td", {}, h("button", { type: "button", class: "done", onclick: async () => {
        try {
          await complete(task, refresh);
        } catch (error) {
          row.after(h("tr", {}, h("td", { colspan: 4 }, problemBox(error))));
        }
      } }, t("mytasks.done"))) : null);
    return row;
  });
}

export async function myTasksView(root) {
  const sections = h("div");
  async function refresh() {
    try {
      const lists = await Promise.all(DUES.map((due) => allPages("sales/my-tasks", { due }, 200)));
      replace(sections, DUES.map((due, i) => h("section", { class: `card due-${due}`, id: `due-${due}`, "aria-labelledby": `due-${due}-title` },
        h("h2", { id: `due-${due}-title` }, label("due", due), h("span", { class: "count" }, ` ${lists[i].length}`)),
        lists[i].length
          ? table([t("mytasks.due_at"), t("mytasks.subject"), t("mytasks.about"), ""], taskRows(lists[i], refresh))
          : empty(t("mytasks.none")))));
    } catch (error) {
      replace(sections, problemBox(error));
    }
  }
  replace(root, h("h1", {}, t("mytasks.title")), h("p", { class: "hint" }, t("mytasks.hint")), sections);
  await refresh();
}

// --- the team's overdue tasks (managers) -----------------------------------------------------

export async function overdueView(root) {
  let staff = [];
  try {
    staff = await allPages("staff");
  } catch {
    // the list still shows everyone's
  }
  const person = selectInput([["", t("overdue.everyone")], ...staff.map((s) => [s.id, s.full_name])], "");
  const list = h("div", { "aria-live": "polite" });
  const paging = pager(async (cursor) => {
    try {
      const page = await api("sales/overdue-tasks", { query: { owner_id: person.value, limit: 50, cursor } });
      replace(list, page.items.length
        ? table([t("mytasks.due_at"), t("mytasks.subject"), t("mytasks.about"), t("overdue.owner")],
          taskRows(page.items, () => paging.reset(), { withOwner: true, withDone: false }))
        : empty(t("mytasks.none")));
      return page.next_cursor;
    } catch (error) {
      replace(list, problemBox(error));
      return null;
    }
  });
  person.addEventListener("change", () => paging.reset());
  replace(root, h("h1", {}, t("overdue.title")), h("p", { class: "hint" }, t("overdue.hint")),
    h("div", { class: "filters row" }, field("owner_id", t("overdue.person"), person)), list, paging.bar);
  await paging.reset();
}

// --- forecast ------------------------------------------------------------------------------

function groupText(group, line) {
  if (group === "owner") return line.name || line.key;
  if (group === "month") return line.key === "none" ? t("forecast.no_date") : monthYear(line.key);
  return line.key;
}

// The forecast panel: the weighted open pipeline by month, owner, branch or region (analysts see
// no owners). On the pipeline board for managers, and the forecast screen.
export function forecastPanel(me = session.me) {
  const groups = FORECAST_GROUPS.filter((g) => g !== "owner" || me.role !== "hq_analyst");
  const groupBy = selectInput(groups.map((g) => [g, label("forecast_group", g)]), "month");
  const from = textInput({ type: "date" });
  const to = textInput({ type: "date" });
  const result = h("div", { "aria-live": "polite" });
  async function refresh() {
    try {
      const answer = await api("sales/forecast", { query: { group_by: groupBy.value, from: from.value, to: to.value } });
      const row = (line, text, attrs = {}) => h("tr", attrs, h("td", {}, text), h("td", { class: "num" }, number(line.count)),
        h("td", { class: "num" }, money(line.amount_tiyn, answer.currency)), h("td", { class: "num" }, money(line.weighted_tiyn, answer.currency)));
      replace(result, answer.items.length ? table(
        [label("forecast_group", answer.group_by), t("forecast.count"), t("forecast.amount"), t("forecast.weighted")],
        [...answer.items.map((line) => row(line, groupText(answer.group_by, line), { dataset: { key: line.key } })),
          row(answer.total, h("strong", {}, t("forecast.total")), { class: "total" })],
        { caption: t("forecast.caption", { group: label("forecast_group", answer.group_by) }) }) : empty(t("common.none")));
    } catch (error) {
      replace(result, problemBox(error));
    }
  }
  for (const control of [groupBy, from, to]) control.addEventListener("change", refresh);
  refresh();
  return h("section", { class: "card forecast", id: "forecast", "aria-labelledby": "forecast-title" },
    h("h2", { id: "forecast-title" }, t("forecast.title")),
    h("p", { class: "hint" }, t("forecast.hint")),
    h("div", { class: "filters row" }, field("group_by", t("forecast.group_by"), groupBy),
      field("from", t("forecast.from"), from), field("to", t("forecast.to"), to)),
    result);
}

export async function forecastView(root) {
  replace(root, h("h1", {}, t("forecast.title")), forecastPanel());
}

// --- history of leads and opportunities ----------------------------------------------------

const LABELLED = { stage: "stage", status: "lead_status", source: "source", interest: "product_line", product_line: "product_line" };
// an order's state (and its items' states, "items[0].state") by their labels
const ORDER_STATE = /^(items\[\d+\]\.)?state$/;
// internal ids a person has no use for; the names beside them say it
const HIDDEN_FIELDS = new Set(["owner_id", "lead_id", "opportunity_id"]);

function changeValue(record, fieldName, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (fieldName === "amount_tiyn") return money(value);
  if (fieldName === "customer_id" && value === record.customer_id && record.customer_name) return link(`customers/${value}`, record.customer_name);
  if (record.items && ORDER_STATE.test(fieldName)) return label(fieldName === "state" ? "order" : "item_state", value);
  if (fieldName in LABELLED) return label(LABELLED[fieldName], value);
  return String(value);
}

function changeList(record, changes) {
  return h("ul", { class: "plain changes" }, Object.entries(changes).filter(([fieldName]) => !HIDDEN_FIELDS.has(fieldName)).map(([fieldName, values]) => {
    const [before, after] = Array.isArray(values) && values.length === 2 ? values : [null, values];
    const item = /^items\[(\d+)\]\.state$/.exec(fieldName);
    const name = h("span", { class: "field-name" }, item ? t("record_history.item_state", { position: Number(item[1]) + 1 }) : label("field", fieldName));
    if (before === null || before === undefined) return h("li", {}, name, ": ", h("ins", {}, changeValue(record, fieldName, after)));
    return h("li", {}, name, ": ", h("del", {}, changeValue(record, fieldName, before)), " → ", h("ins", {}, changeValue(record, fieldName, after)));
  }));
}

// The history screen of one record: `path` its API path ("sales/leads"), `title(record)` its heading.
function historyView(path, title, back) {
  return async (root, recordId) => {
    let record;
    try {
      record = await api(`${path}/${recordId}`);
    } catch (error) {
      replace(root, h("h1", {}, t("record_history.caption")), problemBox(error), h("p", {}, back(recordId)));
      return;
    }
    const list = h("div", { id: "history" });
    const pages = pager(async (cursor) => {
      try {
        const page = await api(`${path}/${recordId}/history`, { query: { limit: 50, cursor } });
        replace(list, page.items.length ? table([t("history.when"), t("history.who"), t("history.what"), t("history.changes")],
          page.items.map((e) => h("tr", {}, h("td", {}, dateTime(e.at)), h("td", {}, e.actor_name),
            h("td", {}, e.action === "created" ? t("record_history.created") : label("audit", e.action)),
            h("td", {}, changeList(record, e.changes)))),
          { caption: t("record_history.caption") }) : empty(t("history.none")));
        return page.next_cursor;
      } catch (error) {
        replace(list, problemBox(error));
        return null;
      }
    });
    replace(root, h("h1", {}, title(record)), h("p", {}, back(recordId)), list, pages.bar);
    await pages.reset();
  };
}

export const leadHistoryView = historyView("sales/leads", (lead) => t("record_history.lead", { name: lead.name }),
  () => link("leads", t("record_history.back_leads")));
export const opportunityHistoryView = historyView("sales/opportunities",
  (deal) => t("record_history.opportunity", { name: deal.name }), () => link("pipeline", t("record_history.back_pipeline")));
export const orderHistoryView = historyView("orders/orders",
  (order) => t("record_history.order", { number: order.id.slice(0, 8) }), (id) => link(`orders/${id}`, t("record_history.back_order")));

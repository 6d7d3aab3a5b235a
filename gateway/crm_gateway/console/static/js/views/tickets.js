// Service tickets: the work queue (assigned to me, a branch's team queues, most urgent SLA
// deadline first; or every ticket, newest first), one ticket with its workflow, assignment,
// notes and status history, and the mass incidents (outages) the tickets are linked to.
import { allPages, api, session } from "../api.js";
import { h, replace } from "../dom.js";
import { checkbox, field, formAlert, formValues, onSubmit, selectInput, showErrors, submitButton, textInput } from "../forms.js";
import { branchName, dateTime, label, number, t } from "../i18n.js";
import { branches, can, definitionList, empty, link, loadRecord, pager, problemBox, table, toast } from "./common.js";
import { exportButton } from "./exports.js";

const STATUSES = ["new", "acknowledged", "in_progress", "pending", "resolved", "closed", "cancelled"];
const OPEN_STATUSES = ["new", "acknowledged", "in_progress", "pending"];
const FINAL_STATUSES = ["closed", "cancelled"];
const PRIORITIES = ["critical", "high", "medium", "low"];
const CATEGORIES = ["internet", "tv", "mobile", "fixed_line", "billing", "relocation", "equipment", "other"];
const TEAMS = ["technical", "billing", "field", "general"];  // a queue is "<branch>.<team>" (domain/routing.py)
const VIEWS = ["mine", "queues", "all"];
const PAGE_SIZE = 25;

// --- shared pieces -------------------------------------------------------------------------

function panel(id, title, ...content) {
  return h("section", { class: "panel", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title`, tabindex: "-1" }, title), content);
}

function queueName(queue) {
  const [branch, team] = (queue || "").split(".");
  return team ? `${branch} · ${label("team", team)}` : queue || "";
}

function isOpen(ticket) {
  return OPEN_STATUSES.includes(ticket.status);
}

// The deadline that counts now: the first response until there is one, then the resolution.
function currentDeadline(ticket) {
  const sla = ticket.sla;
  return sla.first_response_at ? sla.resolution_due_at : sla.response_due_at;
}

// ok, at_risk, breached, met, paused (pending) or stopped (cancelled before the target was met).
// A deadline that has passed is overdue even before the SLA scheduler has marked it so.
function targetState(ticket, state, due, reached) {
  if (state === "breached") return "breached";
  if (state === "met" || reached) return "met";
  if (!isOpen(ticket)) return "stopped";
  if (ticket.sla.paused_at) return "paused";
  if (due && new Date(due) <= new Date()) return "breached";
  return state;
}

function responseState(ticket) {
  const sla = ticket.sla;
  return targetState(ticket, sla.response_state, sla.response_due_at, Boolean(sla.first_response_at));
}

function resolutionState(ticket) {
  const sla = ticket.sla;
  return targetState(ticket, sla.resolution_state, sla.resolution_due_at, Boolean(ticket.resolved_at || ticket.closed_at));
}

function currentSlaState(ticket) {
  return ticket.sla.first_response_at || !isOpen(ticket) ? resolutionState(ticket) : responseState(ticket);
}

function slaBadge(state) {
  return h("span", { class: `badge sla-${state}` }, label("sla", state));
}

function priorityBadge(priority) {
  return h("span", { class: `badge priority-${priority}` }, label("priority", priority));
}

function deadlineCell(ticket) {
  const state = currentSlaState(ticket);
  const due = currentDeadline(ticket);
  return h("td", {}, slaBadge(state),
    isOpen(ticket) && due ? h("div", { class: "due" },
      ticket.sla.first_response_at ? t("ticket.resolve_by", { at: dateTime(due) }) : t("ticket.respond_by", { at: dateTime(due) }))
      : null);
}

function ticketRows(items) {
  return items.map((k) => h("tr", { class: `sla-${currentSlaState(k)}` },
    deadlineCell(k),
    h("td", {}, link(`tickets/${k.id}`, k.name), k.incident_id ? h("div", { class: "hint" }, t("ticket.outage_linked")) : null),
    h("td", {}, k.customer_name),
    h("td", {}, label("ticket", k.status)),
    h("td", {}, priorityBadge(k.priority)),
    h("td", {}, label("category", k.category)),
    h("td", {}, queueName(k.queue)),
    h("td", {}, k.assignee_name || k.assignee_id || h("span", { class: "empty" }, t("ticket.unassigned")))));
}

function ticketTable(items, caption) {
  return table([t("ticket.deadline"), t("ticket.summary"), t("ticket.customer"), t("ticket.status"), t("ticket.priority"),
    t("ticket.category"), t("ticket.queue"), t("ticket.assignee")], ticketRows(items), { caption });
}

// --- #/tickets: the work queue -------------------------------------------------------------

async function branchesInReach(me) {
  const all = await branches();
  if (me.branch) return all.filter((b) => b.code === me.branch);
  return me.region ? all.filter((b) => b.region_code === me.region) : all;
}

// The filters as the URL keeps them (#/tickets?view=mine&team=technical), completed for the role.
function settledFilters(me, reach, wanted) {
  const values = { view: VIEWS.includes(wanted.view) ? wanted.view : "queues", branch: wanted.branch || "",
    team: wanted.team || "", status: wanted.status || "", priority: wanted.priority || "", category: wanted.category || "",
    unassigned: wanted.unassigned === true || wanted.unassigned === "true" ? "true" : "" };
  if (me.branch) values.branch = me.branch;
  // a national caller's team queues are those of one branch at a time
  else if (values.view === "queues" && !me.region && !values.branch) values.branch = reach[0]?.code || "";
  if (!values.branch) values.team = "";  // a team's queue is "<branch>.<team>"
  if (values.view !== "all" && values.status && !OPEN_STATUSES.includes(values.status)) values.status = "";
  if (values.view !== "queues") values.unassigned = "";
  return values;
}

function filterFields(me, reach, values) {
  const queueViews = values.view !== "all";
  const everyBranch = values.view !== "queues" || me.region ? [["", t("tickets.every_branch")]] : [];
  const choose = (name, text, options, emptyText) =>
    field(name, text, selectInput([["", emptyText], ...options], values[name]));
  const hint = { mine: t("tickets.mine_hint"), queues: t("tickets.queue_hint"), all: t("tickets.all_hint") }[values.view];
  return [
    formAlert(),
    h("div", { class: "row" },
      field("view", t("tickets.view"), selectInput(VIEWS.map((v) => [v, label("ticket_view", v)]), values.view)),
      me.branch ? null : field("branch", t("customer.branch"),
        selectInput([...everyBranch, ...reach.map((b) => [b.code, `${b.code} · ${branchName(b)}`])], values.branch)),
      values.branch ? choose("team", t("tickets.team"), TEAMS.map((x) => [x, label("team", x)]), t("tickets.every_team")) : null,
      choose("status", t("ticket.status"), (queueViews ? OPEN_STATUSES : STATUSES).map((s) => [s, label("ticket", s)]),
        queueViews ? t("tickets.any_open") : t("tickets.any_status")),
      choose("priority", t("ticket.priority"), PRIORITIES.map((p) => [p, label("priority", p)]), t("common.all")),
      choose("category", t("ticket.category"), CATEGORIES.map((c) => [c, label("category", c)]), t("common.all")),
      values.view === "queues" ? checkbox("unassigned", t("tickets.unassigned_only"), Boolean(values.unassigned)) : null),
    h("div", { class: "actions" }, submitButton(t("common.apply")), h("p", { class: "hint" }, hint)),
  ];
}

// The API call of a view: one team's queue has its own endpoint; every team of a branch, every
// branch in reach and "assigned to me" (across every queue) are the ticket list by urgency.
function ticketsRequest(values, me) {
  const filters = { status: values.status, priority: values.priority, category: values.category, limit: PAGE_SIZE };
  const queue = values.branch && values.team ? `${values.branch}.${values.team}` : null;
  const unassigned = values.unassigned ? "true" : null;
  if (values.view === "all") return ["tickets/tickets", { ...filters, branch_code: values.branch, queue }];
  if (values.view === "mine") {
    return ["tickets/tickets", { ...filters, assignee_id: me.id, branch_code: values.branch, queue, sort: "urgency" }];
  }
  if (queue) return [`tickets/queues/${encodeURIComponent(queue)}/tickets`, { ...filters, unassigned }];
  return ["tickets/tickets", { ...filters, branch_code: values.branch, unassigned, sort: "urgency" }];
}

function remember(values) {
  const query = new URLSearchParams(Object.entries(values).filter(([, v]) => v)).toString();
  history.replaceState(null, "", `#/tickets${query ? `?${query}` : ""}`);
}

export async function ticketsView(root) {
  const me = session.me;
  const reach = await branchesInReach(me);
  let values = settledFilters(me, reach, Object.fromEntries(new URLSearchParams(location.hash.split("?")[1] || "")));
  const filters = h("form", { class: "filters card", role: "search", "aria-label": t("tickets.filters") });
  const results = h("div", { id: "ticket-results", "aria-live": "polite" });
  const drawFilters = (focusName) => {
    replace(filters, filterFields(me, reach, values));
    if (focusName) filters.elements.namedItem(focusName)?.focus();
  };
  const paging = pager(async (cursor) => {
    try {
      const [path, query] = ticketsRequest(values, me);
      const page = await api(path, { query: { ...query, cursor } });
      replace(results, page.items.length
        ? ticketTable(page.items, values.view === "all" ? t("tickets.caption_all") : t("tickets.caption_queue"))
        : empty(values.view === "mine" ? t("tickets.nothing_mine") : t("tickets.nothing")));
      return page.next_cursor;
    } catch (error) {
      showErrors(filters, error);
      replace(results);
      return null;
    }
  });
  const apply = () => {
    values = settledFilters(me, reach, formValues(filters));
    remember(values);
    return paging.reset();
  };
  filters.addEventListener("change", (event) => {
    // the view and the branch decide which other filters make sense
    if (event.target.name === "view" || event.target.name === "branch") {
      values = settledFilters(me, reach, formValues(filters));
      drawFilters(event.target.name);
      apply();
    }
  });
  filters.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  drawFilters();
  // the export takes the view's filters on the ticket list (a team's queue is its `queue` filter)
  const exportFilters = () => {
    const [path, { limit, ...query }] = ticketsRequest(values, me);
    return path === "tickets/tickets" ? query
      : { ...query, queue: decodeURIComponent(path.split("/")[2]), sort: "urgency" };
  };
  replace(root, h("h1", {}, t("tickets.title")), filters, exportButton("tickets/tickets", exportFilters, "tickets.csv"),
    results, paging.bar);
  await paging.reset();
}

// --- #/tickets/<id>: one ticket ------------------------------------------------------------

// What a move is called on its button, and what text it asks for (the API requires a reason
// to put a ticket on hold; a resolution, a cancellation or a reopening may say why).
function moveOf(from, to) {
  if (to === "in_progress" && from === "resolved") return { action: "reopen", text: "reason" };
  if (to === "in_progress" && from === "pending") return { action: "resume" };
  if (to === "pending") return { action: "pending", text: "reason", required: true };
  if (to === "resolved") return { action: "resolved", text: "resolution" };
  if (to === "cancelled") return { action: "cancelled", text: "reason" };
  return { action: to };
}

function versionHeader(ticket) {
  return { "If-Match": `"${ticket.version}"` };
}

// A form that changes the ticket: the API's problems at its fields, and on a stale version
// (412, someone changed the ticket meanwhile) a button that reloads it.
function changeForm(form, action, reload, focusId) {
  onSubmit(form, async (values) => {
    try {
      await action(values);
    } catch (error) {
      if (error.status === 412) {
        setTimeout(() => form.querySelector(".form-alert")?.append(" ",
          h("button", { type: "button", onclick: () => reload(focusId) }, t("ticket.reload"))));
      }
      throw error;
    }
    await reload(focusId);
  });
  return form;
}

// A form of one button (what it does is said by the button; a refusal is shown beside it).
function buttonForm(text, attrs, action, reload, focusId) {
  return changeForm(h("form", { "aria-label": text }, formAlert(), h("button", { type: "submit", ...attrs }, text)),
    action, reload, focusId);
}

function transitionForm(ticket, to, reload) {
  const move = moveOf(ticket.status, to);
  const send = async (values) => {
    const body = { status: to };
    if (values.reason) body.reason = values.reason;
    await api(`tickets/tickets/${encodeURIComponent(ticket.id)}/transitions`,
      { method: "POST", body, headers: versionHeader(ticket) });
    toast(t("ticket.moved", { status: label("ticket", to) }));
  };
  const text = label("transition", move.action);
  const attrs = { class: to === "cancelled" ? null : "primary", dataset: { transition: to } };
  if (!move.text) return buttonForm(text, attrs, send, reload, "ticket-workflow");
  const form = changeForm(h("form", { "aria-label": text },
    formAlert(),
    field("reason", move.text === "resolution" ? t("ticket.resolution") : t("ticket.reason"), h("textarea", { rows: 2 }),
      { required: move.required, hint: move.text === "resolution" ? t("ticket.resolution_hint") : null }),
    h("button", { type: "submit", ...attrs }, text)), send, reload, "ticket-workflow");
  return h("details", { dataset: { transition: to } }, h("summary", {}, `${text}…`), form);
}

function workflowPanel(ticket, reload) {
  const moves = ticket.allowed_transitions || [];
  if (!can.workTickets(session.me) || !moves.length) return null;
  const simple = moves.filter((to) => !moveOf(ticket.status, to).text);
  const withText = moves.filter((to) => moveOf(ticket.status, to).text);
  return panel("ticket-workflow", t("ticket.workflow"),
    h("p", { class: "hint" }, t("ticket.workflow_hint", { status: label("ticket", ticket.status) })),
    simple.length ? h("div", { class: "transitions" }, simple.map((to) => transitionForm(ticket, to, reload))) : null,
    withText.map((to) => transitionForm(ticket, to, reload)));
}

// Colleagues who may work this ticket as the API places them: branch staff in its branch,
// regional managers in its region, the call centre and administrators anywhere.
function mayWork(person, ticket) {
  if (!person.active || person.role === "hq_analyst") return false;
  if (person.role === "branch_agent" || person.role === "branch_manager") return person.branch_code === ticket.branch_code;
  if (person.role === "regional_manager") return person.region_code === ticket.region_code;
  return true;
}

async function colleagues(ticket) {
  try {
    return (await allPages("staff")).filter((person) => mayWork(person, ticket));
  } catch {
    return null;  // no staff directory to pick from: the agent's id is typed instead
  }
}

function assignmentPanel(ticket, staff, reload) {
  const me = session.me;
  if (!can.workTickets(me) || FINAL_STATUSES.includes(ticket.status)) return null;
  const assign = (body, done) => async () => {
    await api(`tickets/tickets/${encodeURIComponent(ticket.id)}/assignment`, { method: "POST", body });
    toast(done);
  };
  const quick = h("div", { class: "transitions" },
    ticket.assignee_id !== me.id ? buttonForm(t("ticket.take"), { class: "primary", id: "take-ticket" },
      assign({ assignee_id: me.id, assignee_name: me.full_name || me.username }, t("ticket.taken")), reload, "ticket-assignment")
      : null,
    ticket.assignee_id ? buttonForm(t("ticket.unassign"), {}, assign({}, t("ticket.unassigned_toast")), reload, "ticket-assignment")
      : null);

  const queueForm = h("form", { class: "inline-form", "aria-labelledby": "move-queue-title" },
    h("h3", { id: "move-queue-title" }, t("ticket.move_queue")),
    formAlert(),
    field("queue", t("ticket.queue"), selectInput(TEAMS.map((team) => `${ticket.branch_code}.${team}`)
      .filter((queue) => queue !== ticket.queue).map((queue) => [queue, queueName(queue)])), { hint: t("ticket.move_queue_hint") }),
    submitButton(t("ticket.move")));
  changeForm(queueForm, async (values) => {
    await api(`tickets/tickets/${encodeURIComponent(ticket.id)}/assignment`, { method: "POST", body: { queue: values.queue } });
    toast(t("ticket.queue_moved", { queue: queueName(values.queue) }));
  }, reload, "ticket-assignment");

  const people = staff ? staff.filter((person) => person.id !== ticket.assignee_id) : null;
  const agentForm = h("form", { class: "inline-form", "aria-labelledby": "assign-agent-title" },
    h("h3", { id: "assign-agent-title" }, t("ticket.assign_agent")),
    formAlert(),
    people
      ? field("assignee_id", t("ticket.agent"), selectInput([["", t("ticket.choose_agent")], ...people.map((p) =>
        [p.id, [p.full_name, label("role", p.role), p.branch_code].filter(Boolean).join(" · ")])], ""), { required: true })
      : h("div", { class: "row" },
        field("assignee_id", t("ticket.agent_id"), textInput(), { required: true, hint: t("ticket.agent_id_hint") }),
        field("assignee_name", t("ticket.agent_name"), textInput())),
    submitButton(t("ticket.assign")));
  changeForm(agentForm, async (values) => {
    const chosen = people?.find((p) => p.id === values.assignee_id);
    // an empty id is sent as such: the API names the field (no id at all would mean "unassign")
    const body = { assignee_id: values.assignee_id || "", assignee_name: chosen ? chosen.full_name : values.assignee_name || null };
    await api(`tickets/tickets/${encodeURIComponent(ticket.id)}/assignment`, { method: "POST", body });
    toast(t("ticket.assigned_to", { name: body.assignee_name || body.assignee_id }));
  }, reload, "ticket-assignment");

  return panel("ticket-assignment", t("ticket.assignment"),
    definitionList([[t("ticket.queue"), queueName(ticket.queue)],
      [t("ticket.assignee"), ticket.assignee_name || ticket.assignee_id || t("ticket.unassigned")]]),
    quick, queueForm, agentForm);
}

function changePanel(ticket, reload) {
  if (!can.workTickets(session.me) || FINAL_STATUSES.includes(ticket.status)) return null;
  const form = h("form", { "aria-label": t("ticket.change") },
    formAlert(),
    h("div", { class: "row" },
      field("priority", t("ticket.priority"), selectInput(PRIORITIES.map((p) => [p, label("priority", p)]), ticket.priority),
        { hint: t("ticket.priority_hint") }),
      field("category", t("ticket.category"), selectInput(CATEGORIES.map((c) => [c, label("category", c)]), ticket.category),
        { hint: t("ticket.category_hint") })),
    submitButton(t("common.save")));
  changeForm(form, async (values) => {
    const body = Object.fromEntries(["priority", "category"].filter((name) => values[name] !== ticket[name])
      .map((name) => [name, values[name]]));
    if (!Object.keys(body).length) return;
    await api(`tickets/tickets/${encodeURIComponent(ticket.id)}`, { method: "PATCH", headers: versionHeader(ticket), body });
    toast(t("common.saved"));
  }, reload, "ticket-change");
  return panel("ticket-change", t("ticket.change"), form);
}

function notesPanel(ticket, reload) {
  const notes = ticket.notes || [];
  const list = notes.length ? h("ol", { class: "timeline notes" }, notes.map((n) => h("li", { class: `note-${n.visibility}` },
    h("span", { class: `badge note-${n.visibility}` }, label("note_for", n.visibility)), " ",
    h("strong", {}, n.author_name), " · ", h("time", { datetime: n.created_at }, dateTime(n.created_at)),
    h("div", { class: "note" }, n.text)))) : empty(t("ticket.no_notes"));
  let form = null;
  if (can.workTickets(session.me) && !FINAL_STATUSES.includes(ticket.status)) {
    form = h("form", { class: "inline-form", "aria-labelledby": "add-note-title" },
      h("h3", { id: "add-note-title" }, t("ticket.add_note")),
      formAlert(),
      field("text", t("ticket.note_text"), h("textarea", { rows: 3 }), { required: true }),
      field("visibility", t("ticket.note_visibility"), selectInput([["internal", t("ticket.note_internal")],
        ["customer", t("ticket.note_customer")]], "internal")),
      submitButton(t("ticket.add_note")));
    changeForm(form, async (values) => {
      await api(`tickets/tickets/${encodeURIComponent(ticket.id)}/notes`, { method: "POST",
        body: { text: values.text || "", visibility: values.visibility } });
      toast(t("ticket.note_added"));
    }, reload, "ticket-notes");
  }
  return panel("ticket-notes", t("ticket.notes"), list, form);
}

function historyPanel(changes) {
  if (changes instanceof Error) return panel("ticket-history", t("ticket.history"), problemBox(changes));
  return panel("ticket-history", t("ticket.history"), table(
    [t("ticket.when"), t("ticket.change_of_status"), t("ticket.reason"), t("ticket.by")],
    changes.items.map((row) => h("tr", {},
      h("td", {}, h("time", { datetime: row.at }, dateTime(row.at))),
      h("td", {}, [row.from_status && label("ticket", row.from_status), label("ticket", row.to_status)].filter(Boolean).join(" → ")),
      h("td", {}, row.reason === "opened" ? label("ticket_reason", row.reason) : row.reason || ""),
      h("td", {}, row.actor_name))),
    { caption: t("ticket.history_caption") }));
}

function slaPanel(ticket) {
  const sla = ticket.sla;
  const target = (name, due, state, metAt) => h("tr", { class: `sla-${state}` },
    h("th", { scope: "row" }, name), h("td", {}, dateTime(due)), h("td", {}, slaBadge(state)), h("td", {}, dateTime(metAt)));
  return panel("ticket-sla", t("ticket.sla"),
    table([t("ticket.target"), t("ticket.due"), t("ticket.sla_state"), t("ticket.met_at")], [
      target(t("ticket.response"), sla.response_due_at, responseState(ticket), sla.first_response_at),
      target(t("ticket.resolution_target"), sla.resolution_due_at, resolutionState(ticket), ticket.resolved_at),
    ]),
    definitionList([
      [t("ticket.sla_policy"), label("sla_policy", sla.policy)],
      [t("ticket.paused_since"), dateTime(sla.paused_at)],
      [t("ticket.escalation"), sla.escalation_level ? label("escalation", sla.escalation_level) : null],
      // the customer's rating of the resolved ticket, given in the self-service portal (CSAT)
      [t("ticket.customer_rating"), ticket.rating
        ? `${ticket.rating.score} / 5${ticket.rating.comment ? ` · ${ticket.rating.comment}` : ""}` : null],
    ]));
}

function safeUrl(url) {
  return /^https?:\/\//i.test(url || "") ? url : null;
}

function detailsPanel(ticket, incident) {
  return panel("ticket-details", t("ticket.details"), definitionList([
    [t("ticket.customer"), link(`customers/${ticket.customer_id}`, ticket.customer_name, { id: "ticket-customer" })],
    [t("ticket.status"), h("span", {}, label("ticket", ticket.status),
      ticket.status_change_reason ? h("span", { class: "hint" }, ` · ${ticket.status_change_reason}`) : null)],
    [t("ticket.priority"), priorityBadge(ticket.priority)],
    [t("ticket.category"), label("category", ticket.category)],
    [t("ticket.severity"), label("severity", ticket.severity)],
    [t("ticket.queue"), queueName(ticket.queue)],
    [t("ticket.assignee"), ticket.assignee_name || ticket.assignee_id || t("ticket.unassigned")],
    [t("ticket.channel"), label("channel", ticket.channel)],
    [t("ticket.location"), ticket.location],
    [t("ticket.opened"), `${dateTime(ticket.created_at)} · ${ticket.opened_by_name}`],
    [t("ticket.incident"), ticket.incident_id ? h("span", {}, link(`incidents/${ticket.incident_id}`, incident ? incident.title : ticket.incident_id),
      incident ? ` · ${label("incident_status", incident.status)}` : null) : null],
    [t("ticket.description"), h("div", { class: "note" }, ticket.description)],
    [t("ticket.related"), ticket.related_tickets?.length ? h("ul", { class: "plain" }, ticket.related_tickets.map((r) =>
      h("li", {}, label("relation", r.kind), ": ", link(`tickets/${r.ticket_id}`, r.ticket_id)))) : null],
    [t("ticket.attachments"), ticket.attachments?.length ? h("ul", { class: "plain" }, ticket.attachments.map((a) =>
      h("li", {}, safeUrl(a.url) ? h("a", { href: safeUrl(a.url), rel: "noopener noreferrer" }, a.name) : a.name,
        ` (${a.media_type}, ${number(a.size_bytes)} B)`))) : null],
  ]));
}

export async function ticketView(root, ticketId) {
  const path = `tickets/tickets/${encodeURIComponent(ticketId)}`;
  // after a change the page is read again (a new version, new moves); the focus stays in the panel
  const reload = (focusId) => ticketView(root, ticketId)
    .then(() => (root.querySelector(`#${focusId}-title`) || root.querySelector("h1"))?.focus());
  const ticket = await loadRecord(root, path, t("ticket.not_found_title"), t("ticket.not_found"),
    link("tickets", t("ticket.back")));
  if (!ticket) return;
  const [statusHistory, incident, staff] = await Promise.all([
    api(`${path}/history`).catch((error) => error),
    ticket.incident_id ? api(`tickets/incidents/${encodeURIComponent(ticket.incident_id)}`).catch(() => null) : null,
    can.workTickets(session.me) && !FINAL_STATUSES.includes(ticket.status) ? colleagues(ticket) : null,
  ]);
  replace(root,
    h("p", { class: "back" }, link("tickets", t("ticket.back"))),
    h("div", { class: "title-row" },
      h("h1", { tabindex: "-1" }, ticket.name),
      h("span", { class: `badge status-${ticket.status}`, id: "ticket-status" }, label("ticket", ticket.status)),
      priorityBadge(ticket.priority),
      slaBadge(currentSlaState(ticket))),
    h("div", { class: "grid-360" },
      h("div", { class: "column" }, detailsPanel(ticket, incident), slaPanel(ticket), historyPanel(statusHistory)),
      h("div", { class: "column" }, workflowPanel(ticket, reload), assignmentPanel(ticket, staff, reload),
        notesPanel(ticket, reload), changePanel(ticket, reload))));
}

// --- #/incidents ---------------------------------------------------------------------------

function incidentPlace(incident) {
  return [incident.branch_code || incident.region_code, incident.area].filter(Boolean).join(" · ");
}

export async function incidentsView(root) {
  const wanted = new URLSearchParams(location.hash.split("?")[1] || "").get("status") ?? "open";
  const filters = h("form", { class: "filters card", role: "search", "aria-label": t("incidents.filters") },
    formAlert(),
    h("div", { class: "row" },
      field("status", t("incidents.status"), selectInput([["open", label("incident_status", "open")],
        ["resolved", label("incident_status", "resolved")], ["", t("tickets.any_status")]], wanted)),
      h("div", { class: "actions" }, submitButton(t("common.apply")))));
  const results = h("div", { "aria-live": "polite" });
  const load = async () => {
    const status = formValues(filters).status || "";
    history.replaceState(null, "", `#/incidents?status=${status}`);
    try {
      const page = await api("tickets/incidents", { query: { status, limit: 100 } });
      replace(results, page.items.length ? table([t("incidents.title_column"), t("incidents.place"), t("ticket.category"),
        t("ticket.severity"), t("incidents.status"), t("incidents.linked"), t("incidents.expected"), t("incidents.reported")],
      page.items.map((i) => h("tr", {},
        h("td", {}, link(`incidents/${i.id}`, i.title)), h("td", {}, incidentPlace(i)),
        h("td", {}, i.categories.map((c) => label("category", c)).join(", ")), h("td", {}, label("severity", i.severity)),
        h("td", {}, label("incident_status", i.status)), h("td", { class: "num" }, number(i.linked_tickets ?? 0)),
        h("td", {}, dateTime(i.expected_resolution_at)), h("td", {}, dateTime(i.created_at)))),
      { caption: t("incidents.caption") }) : empty(t("incidents.nothing")));
    } catch (error) {
      showErrors(filters, error);
      replace(results);
    }
  };
  filters.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  replace(root, h("h1", {}, t("incidents.title")), filters, results);
  await load();
}

export async function incidentView(root, incidentId) {
  const path = `tickets/incidents/${encodeURIComponent(incidentId)}`;
  const incident = await loadRecord(root, path, t("incident.not_found_title"), t("incident.not_found"),
    link("incidents", t("incident.back")));
  if (!incident) return;
  const linked = await api("tickets/tickets", { query: { incident_id: incident.id, limit: 50 } }).catch((error) => error);
  let resolve = null;
  if (can.manageIncidents(session.me) && incident.status === "open") {
    resolve = h("form", { class: "inline-form", "aria-labelledby": "resolve-incident-title" },
      h("h2", { id: "resolve-incident-title" }, t("incident.resolve")),
      h("p", { class: "hint" }, t("incident.resolve_hint", { count: number(incident.linked_tickets ?? 0) })),
      formAlert(),
      field("resolution", t("ticket.resolution"), h("textarea", { rows: 2 }), { required: true }),
      submitButton(t("incident.resolve")));
    onSubmit(resolve, async (values) => {
      const done = await api(`${path}/resolve`, { method: "POST", body: { resolution: values.resolution || "" } });
      toast(t("incident.resolved", { count: number(done.resolved_tickets) }));
      await incidentView(root, incidentId);
    });
  }
  replace(root,
    h("p", { class: "back" }, link("incidents", t("incident.back"))),
    h("div", { class: "title-row" }, h("h1", {}, incident.title),
      h("span", { class: `badge incident-${incident.status}` }, label("incident_status", incident.status))),
    panel("incident-details", t("incident.details"), definitionList([
      [t("incidents.place"), incidentPlace(incident)],
      [t("ticket.category"), incident.categories.map((c) => label("category", c)).join(", ")],
      [t("ticket.severity"), label("severity", incident.severity)],
      [t("incidents.reported"), `${dateTime(incident.created_at)} · ${incident.owner_name}`],
      [t("incident.reference"), incident.external_reference],
      [t("incidents.expected"), dateTime(incident.expected_resolution_at)],
      [t("ticket.description"), h("div", { class: "note" }, incident.description)],
      [t("ticket.resolution"), incident.resolution],
      [t("incident.resolved_at"), dateTime(incident.resolved_at)],
    ])),
    resolve ? h("div", { class: "panel" }, resolve) : null,
    panel("incident-tickets", t("incident.tickets", { count: number(incident.linked_tickets ?? 0) }),
      linked instanceof Error ? problemBox(linked)
        : linked.items.length ? ticketTable(linked.items, t("incident.tickets_caption")) : empty(t("incident.no_visible_tickets"))));
}

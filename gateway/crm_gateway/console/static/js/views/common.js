// What each role may do (the same rules the API applies; the API stays the judge) and small
// pieces shared by the screens.
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { problemText } from "../forms.js";
import { branchName, t } from "../i18n.js";

const WRITERS = new Set(["admin", "branch_agent", "branch_manager", "regional_manager"]);
const REASSIGNERS = new Set(["admin", "branch_manager", "regional_manager"]);

export const can = {
  readCustomers: (me) => me.role !== "hq_analyst",
  writeCustomers: (me) => WRITERS.has(me.role),
  logActivity: (me) => WRITERS.has(me.role) || me.role === "call_center_agent",
  // crm_orders.api.access: readers see personal records; writers are the staff writer roles
  readOrders: (me) => me.role !== "hq_analyst",
  writeOrders: (me) => WRITERS.has(me.role),
  reassign: (me) => REASSIGNERS.has(me.role),
  readStats: (me) => REASSIGNERS.has(me.role) || me.role === "hq_analyst",
  // crm_analytics.access: head office the whole country, a regional manager its region
  readAnalytics: (me) => ["admin", "hq_analyst", "regional_manager"].includes(me.role),
  administer: (me) => me.role === "admin",
  // crm_tickets.access: every role with personal data reads tickets (in its branch, region or the
  // whole country); the writer roles and the call centre work them; admins and regional managers
  // manage mass incidents
  readTickets: (me) => me.role !== "hq_analyst",
  workTickets: (me) => WRITERS.has(me.role) || me.role === "call_center_agent",
  manageIncidents: (me) => me.role === "admin" || me.role === "regional_manager",
  // crm_sales.access: privacy officers (and admins) erase a person's data on request
  erase: (me) => me.role === "privacy_officer" || me.role === "admin",
  // crm_sales.access.PRIVACY_ROLES: the subject-access export of everything held about a person
  exportPersonalData: (me) => me.role === "admin" || me.role === "privacy_officer",
};

export function problemBox(error) {
  return h("div", { class: "problem", role: "alert" }, problemText(error));
}

// The record a screen shows, or null once the screen says why there is none. A 404 means "not
// there, or not yours to see": the API does not tell the two apart, and neither does the page.
export async function loadRecord(root, path, title, notFound, back) {
  try {
    return await api(path);
  } catch (error) {
    replace(root, h("h1", {}, title),
      error.status === 404 ? h("p", { class: "problem", role: "alert" }, notFound) : problemBox(error), h("p", {}, back));
    return null;
  }
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

export function link(path, text, attrs = {}) {
  return h("a", { href: `#/${path}`, ...attrs }, text);
}

let branchesPromise = null;

// Reference branches (names in kk/ru/en; closed ones too, with `active: false`), fetched once per
// page load and again after invalidateBranches().
export function branches() {
  branchesPromise = branchesPromise || api("reference/branches").then((r) => r.items).catch(() => []);
  return branchesPromise;
}

// After an administrator opens, renames, closes or reopens a branch: the next screen fetches anew.
export function invalidateBranches() {
  branchesPromise = null;
}

// The branches something may be placed in: the open ones, and the record's own (`current`) even
// if it has closed since, so that editing the record does not silently move it.
export function placeableBranches(branchList, current = null) {
  return branchList.filter((b) => b.active !== false || b.code === current);
}

// A select option for a branch: "ALA-01 · name", marked when closed.
export function branchOption(branch) {
  const closed = branch.active === false ? ` (${t("branches.closed_mark")})` : "";
  return [branch.code, `${branch.code} · ${branchName(branch)}${closed}`];
}

let regionsPromise = null;

export function regions() {
  regionsPromise = regionsPromise || api("reference/regions").then((r) => r.items).catch(() => []);
  return regionsPromise;
}

export function table(columns, rows, { caption } = {}) {
  return h("table", {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows));
}

export function toast(text) {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

export function definitionList(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, value]) => value !== null && value !== undefined && value !== "")
    .map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

// A "Next page" pager over cursor pages; `load(cursor)` renders one page.
export function pager(load) {
  const stack = [];
  let current = null;
  const previous = h("button", { type: "button", disabled: true }, t("common.previous"));
  const next = h("button", { type: "button", disabled: true }, t("common.next"));
  const bar = h("div", { class: "pager" }, previous, next);
  let nextCursor = null;
  async function show(cursor) {
    current = cursor;
    nextCursor = await load(cursor);
    previous.disabled = stack.length === 0;
    next.disabled = !nextCursor;
  }
  previous.addEventListener("click", () => show(stack.pop() ?? null));
  next.addEventListener("click", () => { stack.push(current); show(nextCursor); });
  return { bar, reset: () => { stack.length = 0; return show(null); } };
}

// Head-office analytics: the overview of a period (customers, pipeline, orders and revenue, the
// installed base, tickets), each chart drawn here as SVG bars, each chart's table as a CSV download.
// Aggregates only; a regional manager's figures are its region's whatever the filter says (the API).
import { api, session } from "../api.js";
import { h, replace } from "../dom.js";
import { currentLanguage, label, money, number, t } from "../i18n.js";
import { empty, problemBox, regions } from "./common.js";

const SVG = "http://www.w3.org/2000/svg";
const LINES = ["internet", "tv", "mobile", "fixed_line", "bundle"];
// chart -> the column drawn as bars (the first column names the bars), money or a count
const CHARTS = [
  { section: "customers", chart: "customers_by_region", value: "new" },
  { section: "customers", chart: "customers_over_time", value: "new" },
  { section: "pipeline", chart: "pipeline_by_stage", value: "opportunities" },
  { section: "pipeline", chart: "won_lost_by_region", value: "won" },
  { section: "orders_revenue", chart: "revenue_by_product_line", value: "one_off_tiyn", money: true },
  { section: "orders_revenue", chart: "revenue_by_region", value: "recurring_tiyn", money: true },
  { section: "installed_base", chart: "installed_base_by_product_line", value: "active" },
  { section: "tickets", chart: "tickets_by_region", value: "opened" },
  { section: "tickets", chart: "tickets_by_category", value: "breached" },
];
const FIGURES = {
  customers: [["new", "n"], ["active", "n"], ["inactive", "n"]],
  pipeline: [["opportunities", "n"], ["won", "n"], ["lost", "n"], ["won_amount_tiyn", "money"]],
  orders_revenue: [["orders", "n"], ["completed", "n"], ["one_off_tiyn", "money"], ["recurring_tiyn", "money"]],
  installed_base: [["active", "n"], ["connected", "n"], ["disconnected", "n"], ["churn_rate", "pct"]],
  tickets: [["opened", "n"], ["resolved", "n"], ["sla_met_ratio", "pct"], ["breached", "n"], ["mean_hours_to_resolve", "h"], ["mass_incidents", "n"],
    ["csat_rated", "n"], ["csat_average_score", "score"], ["csat_satisfied_ratio", "pct"]],
};

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  for (const child of children.flat()) if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function shown(value, kind) {
  if (value === null || value === undefined) return "—";
  if (kind === "money") return money(value);
  if (kind === "pct") return `${number(Math.round(value * 1000) / 10)} %`;
  if (kind === "h") return t("analytics.hours", { hours: number(value) });
  if (kind === "score") return `${number(value)} / 5`;
  return number(value);
}

// Horizontal bars, one per row: the name at the left, the bar, the value at its end.
export function barChart(table, valueColumn, { asMoney = false, title = "" } = {}) {
  const at = table.columns.indexOf(valueColumn);
  const rows = table.rows.map((row) => [String(row[0] || "—"), Number(row[at]) || 0]);
  const max = Math.max(1, ...rows.map(([, value]) => value));
  const bar = 22, gap = 6, left = 130, width = 560, right = 150;
  const height = Math.max(1, rows.length) * (bar + gap);
  const chart = svg("svg", { viewBox: `0 0 ${left + width + right} ${height}`, role: "img", "aria-label": title, class: "bar-chart" },
    svg("title", {}, title),
    rows.map(([name, value], i) => {
      const y = i * (bar + gap);
      const length = Math.max(1, Math.round((value / max) * width));
      return svg("g", {},
        svg("text", { x: left - 8, y: y + bar * 0.7, "text-anchor": "end", class: "bar-label" }, name.replaceAll("_", " ")),
        svg("rect", { x: left, y, width: length, height: bar, rx: 3, class: "bar" }),
        svg("text", { x: left + length + 6, y: y + bar * 0.7, class: "bar-value" }, asMoney ? money(value) : number(value)));
    }));
  return rows.length ? chart : empty(t("common.none"));
}

async function download(chart, query, button) {
  button.disabled = true;
  try {
    const response = await fetch(`/api/v1/analytics/dashboards/charts/${chart}/export?${new URLSearchParams({ ...query, format: "csv" })}`,
      { headers: { Authorization: `Bearer ${session.token}`, "Accept-Language": currentLanguage() } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const url = URL.createObjectURL(await response.blob());
    const save = h("a", { href: url, download: `${chart}.csv`, hidden: true });
    document.body.append(save);
    save.click();
    save.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } finally {
    button.disabled = false;
  }
}

function filterForm(regionList, me, apply) {
  const today = new Date();
  const monthAgo = new Date(today.getTime() - 30 * 86400_000);
  const day = (d) => d.toISOString().slice(0, 10);
  const from = h("input", { type: "date", id: "analytics-from", value: day(monthAgo) });
  const to = h("input", { type: "date", id: "analytics-to", value: day(today) });
  const region = h("select", { id: "analytics-region", disabled: me.role === "regional_manager" },
    h("option", { value: "" }, t("analytics.every_region")),
    regionList.map((r) => h("option", { value: r.code, selected: r.code === me.region }, r.code)));
  const branch = h("input", { type: "text", id: "analytics-branch", placeholder: "ALA-01", size: 8 });
  const line = h("select", { id: "analytics-line" }, h("option", { value: "" }, t("analytics.every_line")),
    LINES.map((l) => h("option", { value: l }, label("product_line", l))));
  const form = h("form", { class: "filters analytics-filters", "aria-label": t("analytics.filters") },
    h("label", {}, t("analytics.from"), " ", from), h("label", {}, t("analytics.to"), " ", to),
    h("label", {}, t("analytics.region"), " ", region), h("label", {}, t("analytics.branch"), " ", branch),
    h("label", {}, t("analytics.line"), " ", line), h("button", { type: "submit" }, t("analytics.apply")));
  const query = () => {
    const end = new Date(`${to.value}T00:00:00Z`);
    end.setUTCDate(end.getUTCDate() + 1);  // the chosen day included
    return Object.fromEntries(Object.entries({
      from: `${from.value}T00:00:00Z`, to: end.toISOString().replace(".000Z", "Z"),
      region_code: region.value, branch_code: branch.value.trim(), product_line: line.value,
    }).filter(([, v]) => v));
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); apply(query()); });
  return { form, query };
}

export async function analyticsView(root) {
  const body = h("div", { "aria-live": "polite" });
  const regionList = await regions();
  const { form, query } = filterForm(regionList, session.me, (q) => show(q));
  replace(root, h("h1", {}, t("analytics.title")), form, body);

  async function show(q) {
    replace(body, h("p", { class: "loading" }, t("common.loading")));
    try {
      const data = await api("analytics/dashboards/overview", { query: q });
      replace(body, Object.keys(FIGURES).map((section) => h("section", { class: "card analytics-section", id: `analytics-${section}` },
        h("h2", {}, t(`analytics.${section}`)),
        h("dl", { class: "figures" }, FIGURES[section].map(([name, kind]) => [
          h("dt", {}, t(`analytics.${section}.${name}`)), h("dd", { class: "num" }, shown(data[section][name], kind))])),
        CHARTS.filter((c) => c.section === section).map((c) => {
          const table = data[section].charts[c.chart];
          const title = t(`analytics.chart.${c.chart}`);
          const button = h("button", { type: "button", class: "csv", onclick: () => download(c.chart, q, button) }, t("analytics.csv"));
          return h("figure", { class: "chart", dataset: { chart: c.chart } },
            h("figcaption", {}, title, " · ", button), barChart(table, c.value, { asMoney: c.money, title }));
        }))));
    } catch (error) {
      replace(body, problemBox(error));
    }
  }
  await show(query());
}

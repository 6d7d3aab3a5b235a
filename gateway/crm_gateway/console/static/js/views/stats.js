// Aggregates for analysts and managers: active customers per branch and kind (no personal data).
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { branchName, label, number, t } from "../i18n.js";
import { branches, empty, problemBox, table } from "./common.js";

export async function statsView(root) {
  const body = h("div");
  replace(root, h("h1", {}, t("stats.title")), body);
  try {
    const [counts, branchList] = await Promise.all([api("sales/stats/customers"), branches()]);
    const names = new Map(branchList.map((b) => [b.code, branchName(b)]));
    replace(body,
      h("p", {}, t("stats.total", { count: number(counts.total) })),
      counts.items.length ? table([t("users.region"), t("customer.branch"), t("customer.kind"), t("stats.count")],
        counts.items.map((row) => h("tr", {}, h("td", {}, row.region_code),
          h("td", {}, `${row.branch_code}${names.has(row.branch_code) ? ` · ${names.get(row.branch_code)}` : ""}`),
          h("td", {}, label("kind", row.kind)), h("td", { class: "num" }, number(row.count)))),
        { caption: t("stats.caption") }) : empty(t("common.none")));
  } catch (error) {
    replace(body, problemBox(error));
  }
}

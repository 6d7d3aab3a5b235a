// Branch screen: the customer list with filters and cursor paging (each page is one indexed
// query of the API however many customers there are).
import { api, session } from "../api.js";
import { h, replace } from "../dom.js";
import { checkbox, field, formAlert, formValues, selectInput, showErrors, textInput } from "../forms.js";
import { branchName, label, phone, t } from "../i18n.js";
import { branches, can, empty, link, pager, table } from "./common.js";
import { exportButton } from "./exports.js";

export async function customersView(root) {
  const me = session.me;
  const branchList = await branches();
  const visible = branchList.filter((b) => !me.branch || b.code === me.branch)
    .filter((b) => !me.region || me.branch || b.region_code === me.region);
  const filters = h("form", { class: "filters card", role: "search", "aria-label": t("customers.filters") },
    formAlert(),
    h("div", { class: "row" },
      field("q", t("customers.name"), textInput({ type: "search" })),
      field("phone", t("customer.phone"), textInput({ type: "tel" })),
      field("branch_code", t("customer.branch"), selectInput([["", t("common.all")],
        ...visible.map((b) => [b.code, `${b.code} · ${branchName(b)}`])], "")),
      field("kind", t("customer.kind"), selectInput([["", t("common.all")], ["individual", label("kind", "individual")],
        ["business", label("kind", "business")]], "")),
      field("status", t("customer.status"), selectInput(["active", "inactive", "merged", "any"].map((s) => [s, label("status", s)]), "active"))),
    h("div", { class: "row" },
      can.writeCustomers(me) ? checkbox("mine", t("customers.mine")) : null,
      h("button", { type: "submit", class: "primary" }, t("common.apply"))));
  const results = h("div", { "aria-live": "polite" });
  const listFilters = () => {
    const values = formValues(filters);
    return { q: values.q, phone: values.phone, branch_code: values.branch_code, kind: values.kind,
      status: values.status, owner_id: values.mine ? me.id : null };
  };
  const paging = pager(async (cursor) => {
    const query = { ...listFilters(), limit: 25, cursor };
    try {
      const page = await api("sales/customers", { query });
      replace(results, page.items.length ? table(
        [t("common.name"), t("customer.kind"), t("customer.phone"), t("customer.branch"), t("customer.owner"), t("customer.status")],
        page.items.map((c) => h("tr", {},
          h("td", {}, link(`customers/${c.id}`, c.display_name)), h("td", {}, label("kind", c.kind)),
          h("td", {}, phone(c.primary_phone)), h("td", {}, c.branch_code), h("td", {}, c.owner_name),
          h("td", {}, label("status", c.status)))),
        { caption: t("customers.caption") }) : empty(t("search.nothing")));
      return page.next_cursor;
    } catch (error) {
      showErrors(filters, error);
      replace(results);
      return null;
    }
  });
  filters.addEventListener("submit", (event) => { event.preventDefault(); paging.reset(); });
  replace(root,
    h("div", { class: "title-row" }, h("h1", {}, t("customers.title")),
      can.writeCustomers(me) ? h("span", { class: "actions" },
        link("customers/import", t("import.link"), { class: "button" }), " ",
        link("customers/new", t("customer.new_title"), { class: "button primary" })) : null),
    filters, exportButton("sales/customers", listFilters, "customers.csv"), results, paging.bar);
  await paging.reset();
}

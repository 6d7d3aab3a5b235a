// Administration: staff users (role, branch/region, language, active) and API keys of external
// systems (the secret is shown once, when the key is made).
import { api, idempotencyKey, session } from "../api.js";
import { h, replace } from "../dom.js";
import { checkbox, field, formAlert, onSubmit, selectInput, submitButton, textInput } from "../forms.js";
import { LANGUAGES, branchName, dateTime, label, t } from "../i18n.js";
import { branches, empty, pager, problemBox, regions, table, toast } from "./common.js";

const ROLES = ["admin", "branch_agent", "branch_manager", "regional_manager", "call_center_agent", "hq_analyst"];

function placementFields(branchList, regionList, user = null) {
  return [
    field("branch_code", t("customer.branch"), selectInput([["", "—"], ...branchList.map((b) => [b.code, `${b.code} · ${branchName(b)}`])],
      user?.branch_code || ""), { hint: t("users.branch_hint") }),
    field("region_code", t("users.region"), selectInput([["", "—"], ...regionList.map((r) => [r.code, `${r.code} · ${r.name[document.documentElement.lang] || r.name.en}`])],
      user?.region_code || ""), { hint: t("users.region_hint") }),
  ];
}

function userEditor(user, branchList, regionList, refresh) {
  const form = h("form", { class: "inline-form", "aria-label": t("users.edit", { name: user.username }) },
    formAlert(),
    h("div", { class: "row" },
      field("full_name", t("users.full_name"), textInput({ value: user.full_name })),
      field("role", t("users.role"), selectInput(ROLES.map((r) => [r, label("role", r)]), user.role)),
      field("language", t("common.language"), selectInput(LANGUAGES.map((l) => [l.code, l.name]), user.language))),
    h("div", { class: "row" }, placementFields(branchList, regionList, user)),
    checkbox("active", t("users.active"), user.active),
    submitButton(t("common.save")));
  onSubmit(form, async (values) => {
    const body = { version: user.version, full_name: values.full_name || "", role: values.role, language: values.language,
      active: values.active, branch_code: values.branch_code || null, region_code: values.branch_code ? null : values.region_code || null };
    if (values.branch_code) delete body.region_code;  // a branch brings its own region
    await api(`admin/users/${user.id}`, { method: "PATCH", body });
    toast(t("common.saved"));
    refresh();
  });
  const password = h("form", { class: "inline-form row", "aria-label": t("users.reset_password") },
    formAlert(),
    field("password", t("users.new_password"), h("input", { type: "password", autocomplete: "new-password" })),
    submitButton(t("users.reset_password")));
  onSubmit(password, async (values) => {
    await api(`admin/users/${user.id}/password`, { method: "POST", body: { password: values.password || "" } });
    password.reset();
    toast(t("users.password_set"));
  });
  return h("div", {}, form, password);
}

export async function usersView(root) {
  const [branchList, regionList] = await Promise.all([branches(), regions()]);
  const list = h("div", { "aria-live": "polite" });
  const paging = pager(async (cursor) => {
    try {
      const page = await api("admin/users", { query: { limit: 25, cursor } });
      replace(list, h("ul", { class: "cards" }, page.items.map((user) => {
        const details = h("details", { class: "card" },
          h("summary", {}, h("strong", {}, user.username), ` · ${user.full_name} · ${label("role", user.role)}`,
            user.branch_code || user.region_code ? ` · ${user.branch_code || user.region_code}` : "",
            ` · ${label("language", user.language)}`, user.active ? "" : ` · ${t("users.inactive")}`));
        details.addEventListener("toggle", () => {
          if (details.open && details.children.length === 1) details.append(userEditor(user, branchList, regionList, () => paging.reset()));
        });
        return h("li", {}, details);
      })));
      return page.next_cursor;
    } catch (error) {
      replace(list, problemBox(error));
      return null;
    }
  });
  const create = h("form", { class: "inline-form", "aria-labelledby": "new-user-title" },
    h("h2", { id: "new-user-title" }, t("users.new")),
    formAlert(),
    h("div", { class: "row" },
      field("username", t("signin.username"), textInput({ autocapitalize: "none" }), { required: true }),
      field("full_name", t("users.full_name"), textInput(), { required: true }),
      field("password", t("signin.password"), h("input", { type: "password", autocomplete: "new-password" }), { required: true })),
    h("div", { class: "row" },
      field("role", t("users.role"), selectInput(ROLES.map((r) => [r, label("role", r)]), "branch_agent")),
      field("language", t("common.language"), selectInput(LANGUAGES.map((l) => [l.code, l.name]), "ru"))),
    h("div", { class: "row" }, placementFields(branchList, regionList)),
    submitButton(t("users.create")));
  onSubmit(create, async (values) => {
    const body = { ...values, username: values.username || "", full_name: values.full_name || "", password: values.password || "" };
    await api("admin/users", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey() } });
    create.reset();
    toast(t("users.created"));
    paging.reset();
  });
  replace(root, h("h1", {}, t("users.title")), h("details", { class: "card" }, h("summary", {}, t("users.new")), create), list, paging.bar);
  await paging.reset();
}

export async function keysView(root) {
  const [branchList, regionList] = await Promise.all([branches(), regions()]);
  const list = h("div");
  const secret = h("div", { "aria-live": "assertive" });
  async function refresh() {
    try {
      const keys = (await api("admin/api-keys")).items;
      replace(list, keys.length ? table([t("keys.name"), t("keys.prefix"), t("keys.scopes"), t("keys.placement"), t("keys.created"),
        t("keys.last_used"), ""], keys.map((key) => h("tr", { class: key.active ? "" : "revoked" },
        h("td", {}, key.name), h("td", {}, h("code", {}, key.prefix)), h("td", {}, key.scopes.join(", ")),
        h("td", {}, key.branch_code || key.region_code || t("keys.national")), h("td", {}, dateTime(key.created_at)),
        h("td", {}, dateTime(key.last_used_at)),
        h("td", {}, key.active ? h("button", { type: "button", onclick: async () => {
          if (!confirm(t("keys.revoke_confirm", { name: key.name }))) return;
          await api(`admin/api-keys/${key.id}`, { method: "DELETE" });
          toast(t("keys.revoked"));
          refresh();
        } }, t("keys.revoke")) : t("keys.revoked_at", { at: dateTime(key.revoked_at) })))))
        : empty(t("common.none")));
    } catch (error) {
      replace(list, problemBox(error));
    }
  }
  const create = h("form", { class: "inline-form", "aria-labelledby": "new-key-title" },
    h("h2", { id: "new-key-title" }, t("keys.new")),
    formAlert(),
    h("div", { class: "row" },
      field("name", t("keys.name"), textInput(), { required: true }),
      field("scopes", t("keys.scopes"), textInput({ placeholder: "sales:read" }), { required: true, hint: t("keys.scopes_hint") })),
    h("div", { class: "row" }, placementFields(branchList, regionList)),
    submitButton(t("keys.create")));
  onSubmit(create, async (values) => {
    const scopes = (values.scopes || "").split(/[\s,]+/).filter(Boolean);
    const created = await api("admin/api-keys", { method: "POST", body: { name: values.name || "", scopes,
      branch_code: values.branch_code || null, region_code: values.branch_code ? null : values.region_code || null } });
    create.reset();
    const value = h("input", { type: "text", readonly: true, value: created.key, id: "new-key-value", class: "secret" });
    replace(secret, h("div", { class: "card secret-box", role: "status" },
      h("h2", {}, t("keys.shown_once")),
      h("label", { for: "new-key-value" }, t("keys.key_for", { name: created.name })), value,
      h("button", { type: "button", onclick: async () => {
        value.select();  // without the clipboard API (plain http), the key is selected for Ctrl+C
        if (navigator.clipboard) { await navigator.clipboard.writeText(created.key); toast(t("keys.copied")); }
      } }, t("keys.copy"))));
    value.focus();
    value.select();
    refresh();
  });
  replace(root, h("h1", {}, t("keys.title")), secret, create, list);
  await refresh();
}

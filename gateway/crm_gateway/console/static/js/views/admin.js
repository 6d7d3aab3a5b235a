// Administration: staff users (role, branch/region, language, e-mail, active), API keys of external
// systems (the secret is shown once, when the key is made) and the branch network (open, rename,
// close, reopen).
import { api, idempotencyKey, session } from "../api.js";
import { h, replace } from "../dom.js";
import { checkbox, field, formAlert, formValues, onSubmit, problemText, selectInput, submitButton, textInput } from "../forms.js";
import { LANGUAGES, currentLanguage, dateTime, label, number, t } from "../i18n.js";
import { branchOption, branches, empty, invalidateBranches, pager, placeableBranches, problemBox, regions, table, toast } from "./common.js";

const ROLES = ["admin", "branch_agent", "branch_manager", "regional_manager", "call_center_agent", "hq_analyst", "privacy_officer"];

function regionName(region) {
  return region ? region.name[currentLanguage()] || region.name.en : "";
}

// Staff and keys are placed in an open branch; a user's own branch stays on offer after it closed.
function placementFields(branchList, regionList, user = null) {
  return [
    field("branch_code", t("customer.branch"), selectInput([["", "—"], ...placeableBranches(branchList, user?.branch_code).map(branchOption)],
      user?.branch_code || ""), { hint: t("users.branch_hint") }),
    field("region_code", t("users.region"), selectInput([["", "—"], ...regionList.map((r) => [r.code, `${r.code} · ${regionName(r)}`])],
      user?.region_code || ""), { hint: t("users.region_hint") }),
  ];
}

function userEditor(user, branchList, regionList, refresh) {
  const form = h("form", { class: "inline-form", "aria-label": t("users.edit", { name: user.username }) },
    formAlert(),
    h("div", { class: "row" },
      field("full_name", t("users.full_name"), textInput({ value: user.full_name })),
      field("role", t("users.role"), selectInput(ROLES.map((r) => [r, label("role", r)]), user.role)),
      field("language", t("common.language"), selectInput(LANGUAGES.map((l) => [l.code, l.name]), user.language)),
      field("email", t("users.email"), h("input", { type: "email", value: user.email || "", autocomplete: "off" }), { hint: t("users.email_hint") })),
    h("div", { class: "row" }, placementFields(branchList, regionList, user)),
    checkbox("active", t("users.active"), user.active),
    submitButton(t("common.save")));
  onSubmit(form, async (values) => {
    const body = { version: user.version, full_name: values.full_name || "", role: values.role, language: values.language,
      email: values.email || null, active: values.active, branch_code: values.branch_code || null, region_code: values.branch_code ? null : values.region_code || null };
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
      field("language", t("common.language"), selectInput(LANGUAGES.map((l) => [l.code, l.name]), "ru")),
      field("email", t("users.email"), h("input", { type: "email", autocomplete: "off" }), { hint: t("users.email_hint") })),
    h("div", { class: "row" }, placementFields(branchList, regionList)),
    submitButton(t("users.create")));
  onSubmit(create, async (values) => {
    const body = { ...values, username: values.username || "", full_name: values.full_name || "", password: values.password || "" };
    if (!body.email) delete body.email;
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

// --- #/admin/branches: the branch network -----------------------------------------------------

const NAME_LABELS = { name_kk: "branches.name_kk", name_ru: "branches.name_ru", name_en: "branches.name_en" };

function branchNameIn(branch, language = currentLanguage()) {
  return branch[`name_${language}`] || branch.name_en;
}

function nameFields(branch = null) {
  return Object.entries(NAME_LABELS).map(([name, key]) =>
    field(name, t(key), textInput({ value: branch?.[name] || "", lang: name.slice(-2) }), { required: true }));
}

// City and names of one branch (its code and region never change), sent with its version.
function branchEditor(branch, done) {
  const form = h("form", { class: "inline-form", "aria-label": t("branches.edit_title", { code: branch.code }) },
    formAlert(),
    h("div", { class: "row" }, field("city", t("branches.city"), textInput({ value: branch.city }), { required: true }),
      nameFields(branch)),
    h("div", { class: "actions" }, submitButton(t("common.save")),
      h("button", { type: "button", onclick: () => done(null) }, t("common.cancel"))));
  onSubmit(form, async (values) => {
    const changes = {};
    for (const name of ["city", ...Object.keys(NAME_LABELS)]) {
      const value = values[name] ?? "";  // a cleared name is sent empty: the API says what it needs
      if (value !== branch[name]) changes[name] = value;
    }
    if (Object.keys(changes).length === 0) return done(null);
    await api(`admin/branches/${encodeURIComponent(branch.code)}`, { method: "PATCH", body: { ...changes, version: branch.version } });
    done(t("branches.saved", { code: branch.code }));
  });
  return form;
}

export async function branchesView(root) {
  const regionList = await regions();
  const regionsByCode = new Map(regionList.map((r) => [r.code, r]));
  const regionOptions = regionList.map((r) => [r.code, `${r.code} · ${regionName(r)}`]);
  const filters = h("form", { class: "filters card", role: "search", "aria-label": t("branches.filters") },
    formAlert(),
    h("div", { class: "row" },
      field("region_code", t("branches.region"), selectInput([["", t("branches.every_region")], ...regionOptions], "")),
      field("active", t("branches.state"), selectInput([["", t("common.all")], ["true", t("branches.open_ones")],
        ["false", t("branches.closed_ones")]], ""))));
  const list = h("div", { id: "branch-list", "aria-live": "polite" });

  // After a change: every screen's branch choices are fetched anew, the list shows the new state
  // and the keyboard stays on the branch it was working on.
  async function changed(message, code = null, focus = "") {
    invalidateBranches();
    toast(message);
    await refresh();
    if (code) list.querySelector(`tr[data-code="${CSS.escape(code)}"] ${focus}`)?.focus();
  }

  function branchRows(branch) {
    const detail = h("td", { colspan: 7 });
    const detailRow = h("tr", { class: "branch-detail", "data-detail-of": branch.code, hidden: true }, detail);
    const showDetail = (...children) => { replace(detail, ...children); detailRow.hidden = children.length === 0; };

    const editButton = h("button", { type: "button", class: "small edit-branch", "aria-expanded": "false" }, t("branches.edit"));
    editButton.addEventListener("click", () => {
      if (editButton.getAttribute("aria-expanded") === "true") {
        editButton.setAttribute("aria-expanded", "false");
        showDetail();
        return;
      }
      editButton.setAttribute("aria-expanded", "true");
      const editor = branchEditor(branch, (message) => {
        if (message) return changed(message, branch.code, ".edit-branch");
        editButton.setAttribute("aria-expanded", "false");
        showDetail();
        editButton.focus();
      });
      showDetail(editor);
      editor.querySelector("input")?.focus();
    });

    const stateButton = h("button", { type: "button", class: `small state-action${branch.active ? " danger" : ""}` },
      branch.active ? t("branches.close") : t("branches.reopen"));
    stateButton.addEventListener("click", async () => {
      const active = !branch.active;
      if (!active && !confirm(t("branches.close_confirm", { code: branch.code, name: branchNameIn(branch) }))) return;
      stateButton.disabled = true;
      try {
        await api(`admin/branches/${encodeURIComponent(branch.code)}`, { method: "PATCH", body: { active, version: branch.version } });
      } catch (error) {
        if (error.status === undefined) throw error;
        stateButton.disabled = false;
        // closing a branch where staff still work is refused (409): the API's words, and where to act on them
        const staffRemain = error.status === 409 && "active" in error.fieldErrors;
        showDetail(h("p", { class: "problem", role: "alert" }, problemText(error),
          staffRemain ? [" ", h("a", { href: "#/admin/users" }, t("branches.to_users"))] : null));
        return;
      }
      await changed(t(active ? "branches.reopened" : "branches.closed_toast", { code: branch.code }), branch.code, ".state-action");
    });

    const row = h("tr", { "data-code": branch.code, class: branch.active ? "" : "closed" },
      h("th", { scope: "row" }, h("code", {}, branch.code)),
      h("td", {}, branchNameIn(branch)),
      h("td", {}, branch.city),
      h("td", {}, regionName(regionsByCode.get(branch.region_code)) || branch.region_code),
      h("td", { class: "num" }, number(branch.active_users)),
      h("td", {}, h("span", { class: `badge branch-state ${branch.active ? "open" : "closed"}` },
        branch.active ? t("branches.open") : t("branches.closed"))),
      h("td", { class: "nowrap" }, h("div", { class: "actions" }, editButton, stateButton)));
    return [row, detailRow];
  }

  async function refresh() {
    const values = formValues(filters);
    try {
      const items = (await api("admin/branches", { query: { region_code: values.region_code, active: values.active } })).items;
      replace(list, items.length ? table([t("branches.code"), t("branches.name"), t("branches.city"), t("branches.region"),
        t("branches.staff"), t("branches.state"), t("branches.actions")], items.map(branchRows), { caption: t("branches.caption") })
        : empty(t("branches.nothing")));
    } catch (error) {
      replace(list, problemBox(error));
    }
  }
  filters.addEventListener("change", () => refresh());
  filters.addEventListener("submit", (event) => { event.preventDefault(); refresh(); });

  const create = h("form", { class: "inline-form", id: "new-branch", "aria-labelledby": "new-branch-title" },
    h("h2", { id: "new-branch-title" }, t("branches.new")),
    formAlert(),
    h("div", { class: "row" },
      field("code", t("branches.code"), textInput({ autocapitalize: "characters", spellcheck: "false" }),
        { required: true, hint: t("branches.code_hint") }),
      field("region_code", t("branches.region"), selectInput([["", "—"], ...regionOptions], ""),
        { required: true, hint: t("branches.region_hint") }),
      field("city", t("branches.city"), textInput(), { required: true })),
    h("div", { class: "row" }, nameFields()),
    submitButton(t("branches.create")));
  onSubmit(create, async (values) => {
    const body = { code: "", region_code: "", city: "", name_kk: "", name_ru: "", name_en: "", ...values };
    const created = await api("admin/branches", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey() } });
    create.reset();
    await changed(t("branches.created", { code: created.code }));
  });

  replace(root, h("h1", {}, t("branches.title")),
    h("details", { class: "card" }, h("summary", {}, t("branches.new")), create), filters, list);
  await refresh();
}

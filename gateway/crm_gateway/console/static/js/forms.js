// Labelled form fields, and the API's problem details shown where they belong: errors[].field
// next to the input of that name, anything else at the top of the form.
import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

let sequence = 0;

export function field(name, text, control, { hint, required } = {}) {
  const id = `field-${name.replace(/\W+/g, "-")}-${++sequence}`;
  control.id = id;
  control.name = name;
  if (required) control.required = true;
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-error-for": name, hidden: true });
  const described = [error.id];
  let hintNode = null;
  if (hint) {
    hintNode = h("p", { class: "hint", id: `${id}-hint` }, hint);
    described.push(hintNode.id);
  }
  control.setAttribute("aria-describedby", described.join(" "));
  return h("div", { class: "field", dataset: { field: name } },
    h("label", { for: id }, text, required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null),
    control, hintNode, error);
}

export function textInput(attrs = {}) {
  return h("input", { type: "text", autocomplete: "off", ...attrs });
}

export function selectInput(options, value, attrs = {}) {
  return h("select", attrs, options.map(([optionValue, text]) =>
    h("option", { value: optionValue, selected: optionValue === value }, text)));
}

export function checkbox(name, text, checked = false) {
  const id = `field-${name}-${++sequence}`;
  return h("div", { class: "field check", dataset: { field: name } },
    h("input", { type: "checkbox", id, name, checked, defaultChecked: checked }),
    h("label", { for: id }, text),
    h("p", { class: "field-error", "data-error-for": name, hidden: true }));
}

export function formAlert() {
  return h("div", { class: "form-alert", role: "alert", hidden: true });
}

export function clearErrors(form) {
  for (const node of form.querySelectorAll("[data-error-for]")) { node.hidden = true; node.textContent = ""; }
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const alert = form.querySelector(".form-alert");
  if (alert) { alert.hidden = true; alert.replaceChildren(); }
}

// Shows an ApiError on the form; returns true when at least one field got its message.
export function showErrors(form, error, { prefix = "" } = {}) {
  clearErrors(form);
  const unplaced = [];
  let first = null;
  for (const [fieldName, message] of Object.entries(error.fieldErrors || {})) {
    const name = prefix && fieldName.startsWith(prefix) ? fieldName.slice(prefix.length) : fieldName;
    const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (!slot) { unplaced.push(`${fieldName}: ${message}`); continue; }
    slot.textContent = message;
    slot.hidden = false;
    const control = form.elements.namedItem(name);
    if (control && control.setAttribute) {
      control.setAttribute("aria-invalid", "true");
      first = first || control;
    }
  }
  const alert = form.querySelector(".form-alert");
  const placed = first !== null;
  if (alert && (!placed || unplaced.length)) {
    alert.hidden = false;
    replace(alert, placed ? t("form.fix_fields") : problemText(error), unplaced.map((line) => h("div", {}, line)));
  } else if (alert && placed) {
    alert.hidden = false;
    replace(alert, t("form.fix_fields"));
  }
  (first || alert)?.focus?.();
  return placed;
}

export function problemText(error) {
  if (!error) return "";
  if (error.status === 0) return t("error.network");
  if (error.status === 403) return t("error.forbidden");
  if (error.status === 404) return t("error.not_found");
  if (error.status === 412) return t("error.stale");
  if (error.status === 429) return t("error.rate_limited");
  if (error.status >= 500) return t("error.unavailable");
  return error.message;
}

// The form's values: trimmed text, checkboxes as booleans, empty text left out.
export function formValues(form) {
  const values = {};
  for (const control of form.elements) {
    if (!control.name || control.disabled || control.closest("[hidden]")) continue;
    if (control.type === "checkbox") values[control.name] = control.checked;
    else if (control.value.trim() !== "") values[control.name] = control.value.trim();
  }
  return values;
}

export function submitButton(text) {
  return h("button", { type: "submit", class: "primary" }, text);
}

// Runs the form's action with the button disabled; API errors go next to the fields.
export function onSubmit(form, action, options = {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    clearErrors(form);
    try {
      await action(formValues(form));
    } catch (error) {
      if (error.status === undefined) throw error;
      showErrors(form, error, options);
    } finally {
      if (button) button.disabled = false;
    }
  });
  form.noValidate = true;  // the API validates; its messages are the ones shown, at their fields
  return form;
}

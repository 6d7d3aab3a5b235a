// "Export as CSV" beside a list: the API's `<list>/export` with the list's own filters (never its
// page size or cursor), saved as a file; the API streams it within the caller's visibility.
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { problemText } from "../forms.js";
import { t } from "../i18n.js";

// `path`: the list's API path (sales/customers); `filters()`: the list's current filters.
export function exportButton(path, filters, filename) {
  const status = h("span", { class: "hint", role: "status", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "export-csv", "data-export": path }, t("export.csv"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    replace(status, t("export.preparing"));
    try {
      const text = await api(`${path}/export`, { query: { ...filters(), format: "csv" }, headers: { Accept: "text/csv" } });
      // the byte-order mark again (the text lost it): spreadsheets then read Kazakh and Russian right
      const url = URL.createObjectURL(new Blob(["\ufeff", text], { type: "text/csv;charset=utf-8" }));
      const save = h("a", { href: url, download: filename, hidden: true });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      replace(status, t("export.done", { file: filename }));
    } catch (error) {
      replace(status, h("span", { class: "problem", role: "alert" }, problemText(error)));
    } finally {
      button.disabled = false;
    }
  });
  return h("span", { class: "export" }, button, " ", status);
}

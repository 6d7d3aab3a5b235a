// Customer CSV import: the file checked first (the dry run's report, every bad row by line and
// column), then imported in the background; the screen follows the job (polling) and shows its
// result with the errors by line. Recent imports of the user can be shown again.
import { api } from "../api.js";
import { h, replace } from "../dom.js";
import { problemText } from "../forms.js";
import { dateTime, label, number, t } from "../i18n.js";
import { empty, link, problemBox, table } from "./common.js";

const IMPORTS = "sales/customers/imports";
const POLL_MS = 1000;
const COLUMNS = "kind, iin, bin, last_name, first_name, middle_name, legal_name, legal_form, phone, email, language, branch_code, data_processing_consent, marketing_consent, city, street, building, apartment, postal_code";
const FINISHED = new Set(["completed", "failed"]);

function errorsTable(errors) {
  return table([t("import.line"), t("import.column"), t("import.message")],
    errors.map((e) => h("tr", {}, h("td", {}, String(e.line)), h("td", {}, h("code", {}, e.field)), h("td", {}, e.message))),
    { caption: t("import.errors_caption") });
}

function counts(pairs) {
  return h("dl", { class: "facts import-counts" }, pairs.map(([term, value, key]) =>
    [h("dt", {}, term), h("dd", { "data-count": key }, number(value))]));
}

function upload(file) {
  const body = new FormData();
  body.append("file", file, file.name);
  return body;
}

export async function customerImportView(root) {
  const fileInput = h("input", { type: "file", id: "import-file", name: "file", accept: ".csv,text/csv" });
  const alert = h("div", { class: "form-alert", role: "alert", hidden: true });
  const form = h("form", { class: "card import-form", "aria-labelledby": "import-title" },
    alert,
    h("div", { class: "field" }, h("label", { for: "import-file" }, t("import.file")), fileInput),
    h("button", { type: "submit", class: "primary" }, t("import.check")));
  const report = h("section", { class: "import-report", "aria-live": "polite" });
  const progress = h("section", { class: "import-progress", "aria-live": "polite" });
  const recent = h("section", { class: "import-recent" });
  let following = null;

  function showAlert(text) {
    replace(alert, text);
    alert.hidden = !text;
  }

  async function follow(jobId) {
    following = jobId;
    for (;;) {
      let job;
      try {
        job = await api(`${IMPORTS}/${encodeURIComponent(jobId)}`);
      } catch (error) {
        replace(progress, problemBox(error));
        return;
      }
      if (!root.isConnected || following !== jobId) return;
      showJob(job);
      if (FINISHED.has(job.status)) {
        await showRecent();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  function showJob(job) {
    const bar = h("progress", { max: String(Math.max(job.rows, 1)), value: String(job.processed), "aria-label": t("import.processed") });
    replace(progress,
      h("h2", {}, t("import.progress", { file: job.file_name || job.id })),
      h("p", { class: "import-status" }, h("strong", { "data-status": job.status }, label("import_status", job.status)),
        " · ", t("import.of", { done: number(job.processed), total: number(job.rows) })),
      bar,
      counts([[t("import.created"), job.created, "created"], [t("import.skipped"), job.skipped, "skipped"],
        [t("import.rejected"), job.rejected, "rejected"]]),
      job.failure ? h("p", { class: "problem", role: "alert" }, job.failure) : null,
      job.errors && job.errors.length ? errorsTable(job.errors) : null,
      job.errors_truncated ? h("p", { class: "hint" }, t("import.errors_truncated", { shown: job.errors.length, count: job.error_count })) : null);
  }

  async function showRecent() {
    let jobs;
    try {
      jobs = (await api(IMPORTS, { query: { limit: 10 } })).items;
    } catch {
      return; // the list is a convenience; the screen works without it
    }
    replace(recent, h("h2", {}, t("import.recent")), jobs.length ? table(
      [t("import.file"), t("import.started"), t("import.status"), t("import.created"), t("import.skipped"), t("import.rejected"), ""],
      jobs.map((job) => h("tr", {},
        h("td", {}, job.file_name || "—"), h("td", {}, dateTime(job.created_at)), h("td", {}, label("import_status", job.status)),
        h("td", {}, number(job.created)), h("td", {}, number(job.skipped)), h("td", {}, number(job.rejected)),
        h("td", {}, h("button", { type: "button", class: "link", onclick: () => follow(job.id) }, t("import.open")))))) : empty(t("import.none")));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    showAlert("");
    if (!file) return showAlert(t("import.no_file"));
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    following = null;
    replace(progress);
    replace(report, h("p", { class: "loading" }, t("import.checking")));
    try {
      const result = await api(IMPORTS, { method: "POST", query: { dry_run: "true" }, body: upload(file) });
      const start = h("button", { type: "button", class: "primary", "data-action": "start-import" }, t("import.start"));
      start.addEventListener("click", async () => {
        start.disabled = true;
        try {
          const job = await api(IMPORTS, { method: "POST", body: upload(file) });
          showJob(job);
          await follow(job.id);
        } catch (error) {
          start.disabled = false;
          replace(progress, problemBox(error));
        }
      });
      const badLines = new Set(result.errors.map((e) => e.line)).size;
      replace(report,
        h("h2", {}, t("import.report", { file: file.name })),
        counts([[t("import.rows"), result.rows, "rows"], [t("import.new"), result.new, "new"],
          [t("import.existing"), result.existing, "existing"], [t("import.bad_rows"), badLines, "bad"]]),
        result.errors.length ? errorsTable(result.errors) : h("p", { class: "ok" }, t("import.no_errors")),
        result.new + result.existing > 0 ? start : null);
    } catch (error) {
      replace(report);
      showAlert(problemText(error));
    } finally {
      button.disabled = false;
    }
  });

  replace(root,
    h("div", { class: "title-row" }, h("h1", { id: "import-title" }, t("import.title")), link("customers", t("customers.title"))),
    h("p", { class: "hint" }, t("import.hint", { columns: COLUMNS })),
    form, report, progress, recent);
  await showRecent();
}

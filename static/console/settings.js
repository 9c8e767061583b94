// Runtime settings (admins): one typed form per DB-overridable setting, built from its JSON schema.
"use strict";
(function () {
  const { api, el, attempt } = window.Console;

  function control(row, id) {
    const type = (row.schema || {}).type;
    if (type === "boolean") return el("input", { id, type: "checkbox", checked: row.value === true });
    if (type === "integer" || type === "number") {
      return el("input", { id, type: "number", value: row.value, min: row.schema.minimum, max: row.schema.maximum,
                           step: type === "integer" ? 1 : "any", required: true });
    }
    if (type === "array") return el("textarea", { id, rows: 3, "aria-describedby": id + "-help" }, (row.value || []).join("\n"));
    return el("input", { id, value: row.value ?? "" });
  }

  function read(row, input) {
    const type = (row.schema || {}).type;
    if (type === "boolean") return input.checked;
    if (type === "integer") return Number.parseInt(input.value, 10);
    if (type === "number") return Number(input.value);
    if (type === "array") return input.value.split("\n").map((s) => s.trim()).filter(Boolean);
    return input.value;
  }

  function runtimeForm(row) {
    const id = "s-" + row.key.replace(/[^a-z0-9]/gi, "-");
    const input = control(row, id);
    const form = el("form", { class: "setting", "data-key": row.key },
      el("label", { for: id }, row.key), input,
      el("div", { class: "row" }, el("button", { type: "submit", class: "primary" }, "Save"),
        row.overridden ? el("button", { type: "button", onclick: async () => {
          if (await attempt(() => api("DELETE", `/console/api/admin/settings/${encodeURIComponent(row.key)}`), `${row.key} reset`)) refresh();
        } }, "Reset to default") : null),
      el("p", { class: "help", id: id + "-help" }, `${row.help || ""} (${row.overridden ? "overridden here" : "default " + JSON.stringify(row.default)}; env ${row.env || "–"})`));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (await attempt(() => api("PUT", "/console/api/admin/settings", { [row.key]: read(row, input) }), `${row.key} saved`)) refresh();
    });
    return form;
  }

  async function refresh() {
    const rows = await attempt(() => api("GET", "/console/api/admin/settings"));
    if (!rows) return;
    document.getElementById("runtime").replaceChildren(...rows.filter((r) => r.runtime).map(runtimeForm));
    document.querySelector("#static-table tbody").replaceChildren(...rows.filter((r) => !r.runtime).map((r) => el("tr", {},
      el("td", {}, el("code", {}, r.key)), el("td", {}, r.env || ""), el("td", {}, JSON.stringify(r.value)), el("td", {}, r.help || ""))));
  }
  refresh();
})();

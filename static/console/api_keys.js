// API keys (admins): create with scopes (the secret is shown once), list, revoke.
"use strict";
(function () {
  const { api, el, when, confirmAction, formValues, attempt } = window.Console;
  const form = document.getElementById("create-key");

  async function refresh() {
    const keys = await attempt(() => api("GET", "/console/api/admin/api-keys"));
    if (!keys) return;
    document.querySelector("#key-table tbody").replaceChildren(...keys.map((key) => el("tr", { "data-prefix": key.prefix },
      el("td", {}, key.name), el("td", {}, el("code", {}, key.prefix)), el("td", {}, key.scopes.join(", ")),
      el("td", {}, key.app || ""), el("td", {}, when(key.created_at)), el("td", {}, when(key.last_used_at)),
      el("td", {}, key.revoked_at ? "revoked" : "active"),
      el("td", { class: "actions" }, key.revoked_at ? "" : el("button", { type: "button", class: "danger", onclick: async () => {
        if (await confirmAction(`Revoke ${key.name} (${key.prefix})? It stops working at once.`, "Revoke")
            && await attempt(() => api("DELETE", `/console/api/admin/api-keys/${key.id}`), `${key.name} revoked`)) refresh();
      } }, "Revoke")))));
  }

  async function loadUsers() {
    const users = await attempt(() => api("GET", "/console/api/admin/users"));
    if (users) document.getElementById("k-user").append(...users.map((u) => el("option", { value: u.id }, u.username)));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    values.scopes = [...form.querySelectorAll("input[name=scopes]:checked")].map((box) => box.value);
    const key = await attempt(() => api("POST", "/console/api/admin/api-keys", values), "Key created: copy it now");
    if (!key) return;
    document.getElementById("new-key").hidden = false;
    const shown = document.getElementById("new-key-value");
    shown.value = key.key;
    shown.focus();
    shown.select();
    form.reset();
    refresh();
  });
  loadUsers();
  refresh();
})();

// Users (admins): create, reset password, change e-mail, grant/remove admin, delete.
"use strict";
(function () {
  const { api, el, when, confirmAction, formValues, attempt, me } = window.Console;
  const form = document.getElementById("create-user");

  function inlineForm(label, type, submitLabel, send) {
    const id = "f" + Math.random().toString(36).slice(2, 8);
    const input = el("input", { id, type, required: true, minlength: type === "password" ? 8 : null, maxlength: 256,
                                autocomplete: type === "password" ? "new-password" : "off" });
    const box = el("form", { class: "row" }, el("label", { for: id }, label), input, el("button", { type: "submit" }, submitLabel));
    box.addEventListener("submit", async (event) => { event.preventDefault(); await send(input.value); });
    return box;
  }

  function row(user) {
    const base = `/console/api/admin/users/${user.id}`;
    const actions = el("td", { class: "actions" });
    const toggle = (node) => { const open = actions.querySelector("form"); if (open) open.remove(); if (node) actions.append(node); };
    actions.append(
      el("button", { type: "button", onclick: () => toggle(inlineForm(`New password for ${user.username}`, "password", "Set password",
        async (value) => { if (await attempt(() => api("PUT", base + "/password", { password: value }), `Password of ${user.username} changed`)) refresh(); })) }, "Reset password"),
      el("button", { type: "button", onclick: () => toggle(inlineForm(`New e-mail for ${user.username}`, "email", "Set e-mail",
        async (value) => { if (await attempt(() => api("PUT", base + "/email", { email: value }), `E-mail of ${user.username} changed`)) refresh(); })) }, "Change e-mail"),
      el("button", { type: "button", onclick: async () => {
        if (await attempt(() => api("PUT", base + "/status", { is_admin: !user.is_admin }),
                          `${user.username} is ${user.is_admin ? "no longer" : "now"} an admin`)) refresh();
      } }, user.is_admin ? "Remove admin" : "Make admin"),
      el("button", { type: "button", class: "danger", disabled: user.username === me, onclick: async () => {
        if (await confirmAction(`Delete ${user.username}? Their locks and tokens go with them.`, "Delete user")
            && await attempt(() => api("DELETE", base), `${user.username} deleted`)) refresh();
      } }, "Delete"));
    return el("tr", { "data-username": user.username }, el("td", {}, user.username), el("td", {}, user.email),
      el("td", {}, user.is_admin ? "yes" : "no"), el("td", {}, when(user.created_at)), actions);
  }

  async function refresh() {
    const users = await attempt(() => api("GET", "/console/api/admin/users"));
    if (users) document.querySelector("#user-table tbody").replaceChildren(...users.map(row));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    values.is_admin = form.elements.is_admin.checked;
    const user = await attempt(() => api("POST", "/console/api/admin/users", values), (u) => `User ${u.username} created`);
    if (user) { form.reset(); refresh(); }
  });
  refresh();
})();

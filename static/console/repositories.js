// Repositories (admins): create, restrict, delete; members with read or write access.
"use strict";
(function () {
  const { api, el, confirmAction, formValues, attempt } = window.Console;
  const form = document.getElementById("create-repo");

  function card(repo) {
    const base = `/console/api/admin/repositories/${encodeURIComponent(repo.name)}`;
    const id = "m-" + repo.name.replace(/[^a-z0-9]/g, "-");
    const add = el("form", { class: "filters" },
      el("div", {}, el("label", { for: id + "-user" }, "Username"), el("input", { id: id + "-user", name: "username", required: true, maxlength: 64 })),
      el("div", {}, el("label", { for: id + "-access" }, "Access"), el("select", { id: id + "-access", name: "access" },
        el("option", { value: "write" }, "write"), el("option", { value: "read" }, "read"))),
      el("div", { class: "actions" }, el("button", { type: "submit" }, "Add member")));
    add.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (await attempt(() => api("PUT", base + "/members", formValues(add)), "Member saved")) refresh();
    });
    const members = repo.members.map((m) => el("tr", {}, el("td", {}, m.username), el("td", {}, m.access),
      el("td", { class: "actions" }, el("button", { type: "button", onclick: async () => {
        if (await attempt(() => api("DELETE", `${base}/members/${encodeURIComponent(m.username)}`), `${m.username} removed`)) refresh();
      } }, "Remove"))));
    return el("section", { class: "card repo", "aria-label": `Repository ${repo.name}` },
      el("div", { class: "row spread" }, el("h2", {}, repo.name, " ", el("span", { class: "muted" }, repo.restricted ? "restricted" : "open to all")),
        el("div", { class: "row" },
          el("button", { type: "button", onclick: async () => {
            if (await attempt(() => api("PUT", base, { restricted: !repo.restricted }), `${repo.name} updated`)) refresh();
          } }, repo.restricted ? "Open to everyone" : "Restrict to members"),
          el("button", { type: "button", class: "danger", onclick: async () => {
            if (await confirmAction(`Delete ${repo.name} with its locks and objects?`, "Delete repository")
                && await attempt(() => api("DELETE", base), `${repo.name} deleted`)) refresh();
          } }, "Delete"))),
      el("div", { class: "table-wrap" }, el("table", { class: "data" }, el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "Member"), el("th", { scope: "col" }, "Access"), el("th", { scope: "col" }, "Actions"))),
        el("tbody", {}, members.length ? members : el("tr", {}, el("td", { colspan: 3 }, "No members."))))),
      add);
  }

  async function refresh() {
    const repos = await attempt(() => api("GET", "/console/api/admin/repositories"));
    if (repos) document.getElementById("repo-list").replaceChildren(...repos.map(card));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = { name: form.elements.name.value, restricted: form.elements.restricted.checked };
    if (await attempt(() => api("POST", "/console/api/admin/repositories", values), `Repository ${values.name} created`)) {
      form.reset();
      refresh();
    }
  });
  refresh();
})();

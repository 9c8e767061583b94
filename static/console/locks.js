// Lock board: filters, release / force-release / notify, the release audit; refreshed in place every 15 s.
"use strict";
(function () {
  const { api, say, el, when, confirmAction, formValues, attempt, isAdmin } = window.Console;
  const filters = document.getElementById("lock-filters");
  const body = document.querySelector("#lock-table tbody");
  const state = { page: 1, perPage: 50, total: 0 };

  async function loadRepos() {
    const select = document.getElementById("f-repo");
    const data = await api("GET", "/console/api/repos");
    if (data.all_allowed) select.append(el("option", { value: "*" }, "All repositories"));
    for (const repo of data.repos) select.append(el("option", { value: repo.name }, repo.name));
    if (!data.all_allowed) select.value = "default";
  }

  function query() {
    const params = new URLSearchParams(formValues(filters));
    params.set("page", state.page);
    params.set("per_page", state.perPage);
    return params;
  }

  function actions(lock) {
    const cell = el("td", { class: "actions" });
    const repo = encodeURIComponent(lock.repo || "default");
    const url = `/console/api/repos/${repo}/locks/${lock.id}`;
    if (lock.mine) {
      cell.append(el("button", { type: "button", "data-action": "release", onclick: async () => {
        if (await attempt(() => api("DELETE", url, { force: false }), `Released ${lock.asset_path}`)) refresh();
      } }, "Release"));
    } else {
      cell.append(el("button", { type: "button", "data-action": "notify", onclick: async () => {
        await attempt(() => api("POST", url + "/notify", {}), `${lock.owner} was notified`);
      } }, "Notify holder"));
      if (isAdmin) {
        cell.append(el("button", { type: "button", class: "danger", "data-action": "force-release", onclick: async () => {
          const ok = await confirmAction(`Release ${lock.asset_path}, locked by ${lock.owner}? They will be told by e-mail when mail is on.`,
                                         "Force release");
          if (ok && await attempt(() => api("DELETE", url, { force: true }), `Force-released ${lock.asset_path}`)) refresh();
        } }, "Force release"));
      }
    }
    return cell;
  }

  async function refresh() {
    const data = await attempt(() => api("GET", "/console/api/locks?" + query()));
    if (!data) return;
    state.total = data.total;
    body.replaceChildren(...data.items.map((lock) => el("tr", { class: lock.mine ? "mine" : null, "data-path": lock.asset_path },
      el("td", { class: "path" }, lock.asset_path), el("td", {}, lock.repo || ""), el("td", {}, lock.branch || ""),
      el("td", {}, lock.owner + (lock.mine ? " (you)" : "")), el("td", {}, when(lock.created_at)),
      el("td", {}, lock.comment || ""), actions(lock))));
    if (!data.items.length) body.append(el("tr", {}, el("td", { colspan: 7 }, "No locks match.")));
    const pages = Math.max(1, Math.ceil(data.total / state.perPage));
    document.getElementById("lock-total").textContent = `(${data.total})`;
    document.getElementById("page-info").textContent = `Page ${state.page} of ${pages}`;
    document.getElementById("prev").disabled = state.page <= 1;
    document.getElementById("next").disabled = state.page >= pages;
    document.getElementById("refreshed").textContent = new Date().toLocaleTimeString();
    if (isAdmin) refreshAudit();
  }

  const auditForm = document.getElementById("audit-filters");
  async function refreshAudit() {
    const params = new URLSearchParams(formValues(auditForm));
    const data = await attempt(() => api("GET", "/console/api/lock-releases?" + params));
    if (!data) return;
    document.querySelector("#audit-table tbody").replaceChildren(...data.items.map((row) => el("tr", {},
      el("td", { class: "path" }, row.asset_path), el("td", {}, row.repo || ""), el("td", {}, row.owner),
      el("td", {}, row.branch || ""), el("td", {}, when(row.locked_at)), el("td", {}, when(row.released_at)),
      el("td", {}, row.released_by || ""), el("td", {}, row.reason))));
  }

  filters.addEventListener("submit", (event) => { event.preventDefault(); state.page = 1; say(""); refresh(); });
  if (auditForm) auditForm.addEventListener("submit", (event) => { event.preventDefault(); refreshAudit(); });
  document.getElementById("prev").addEventListener("click", () => { state.page -= 1; refresh(); });
  document.getElementById("next").addEventListener("click", () => { state.page += 1; refresh(); });
  loadRepos().then(refresh, (error) => say(error.message, true));
  setInterval(() => { if (!document.hidden) refresh(); }, 15000);
})();

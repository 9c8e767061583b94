// Presence (admins): who is checked in now and for how many more minutes; refreshed every 30 s.
"use strict";
(function () {
  const { api, el, when, attempt } = window.Console;
  async function refresh() {
    const data = await attempt(() => api("GET", "/console/api/presence"));
    if (!data) return;
    document.getElementById("presence-count").textContent = data.count;
    document.getElementById("refreshed").textContent = new Date().toLocaleTimeString();
    const rows = data.items.map((item) => el("tr", {}, el("td", {}, item.name), el("td", {}, when(item.checked_in_at)),
      el("td", {}, when(item.expires_at)), el("td", {}, item.minutes_remaining)));
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 4 }, "Nobody is checked in.")));
    document.querySelector("#presence-table tbody").replaceChildren(...rows);
  }
  document.getElementById("refresh").addEventListener("click", refresh);
  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, 30000);
})();

// Analytics: one form (app, tracked user, IANA zone, date range) drives every report: tiles, the 7x24 heatmap,
// two uPlot charts, time-by-page bars and the page-stats table, each with its CSV download.
"use strict";
(function () {
  const { api, say, el, attempt } = window.Console;
  const form = document.getElementById("report-form");
  const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const charts = {};

  // Midnight of a local date in an IANA zone, as a UTC ISO string (the API's `from`/`to` are instants).
  function zonedMidnight(date, zone) {
    const [y, m, d] = date.split("-").map(Number);
    const guess = Date.UTC(y, m - 1, d);
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(guess)).map((p) => [p.type, p.value]));
    const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
    return new Date(guess - (wall - guess)).toISOString();
  }

  function nextDay(date) {
    const next = new Date(date + "T00:00:00Z");
    next.setUTCDate(next.getUTCDate() + 1);
    return next.toISOString().slice(0, 10);
  }

  function params() {
    const values = new FormData(form);
    const query = new URLSearchParams({ app: values.get("app").trim(), user: values.get("user").trim(), tz: values.get("tz") });
    if (values.get("from")) query.set("from", zonedMidnight(values.get("from"), values.get("tz")));
    if (values.get("to")) query.set("to", zonedMidnight(nextDay(values.get("to")), values.get("tz")));
    return query;
  }

  const seconds = (hhmmss) => hhmmss.split(":").reduce((total, part) => total * 60 + Number(part), 0);

  function tiles(summary, stats, active) {
    const items = [["Sessions", summary.total_sessions], ["Total time", summary.total_duration],
      ["Average session", summary.average_duration], ["Longest session", summary.longest_session],
      ["Shortest session", summary.shortest_session], ["Active days", stats.active_days],
      ["Busiest day", active.most_active_day || "–"],
      ["Busiest hour", active.most_active_hour === null ? "–" : `${active.most_active_hour}:00`]];
    document.getElementById("tiles").replaceChildren(...items.map(([label, value]) =>
      el("div", { class: "tile" }, el("div", { class: "label" }, label), el("div", { class: "value" }, value))));
  }

  function heatmap(data) {
    const weekly = data.weekly_hourly || {};
    let max = 0;
    for (const hours of Object.values(weekly)) for (const n of Object.values(hours)) max = Math.max(max, n);
    const head = el("tr", {}, el("th", { scope: "col" }, el("span", { class: "muted" }, "Day")),
      ...Array.from({ length: 24 }, (_, h) => el("th", { scope: "col" }, String(h))));
    const rows = WEEKDAYS.map((day, d) => el("tr", {}, el("th", { scope: "row" }, day.slice(0, 3)),
      ...Array.from({ length: 24 }, (_, h) => {
        const n = (weekly[String(d)] || {})[String(h)] || 0;
        const level = n === 0 ? 0 : Math.max(1, Math.ceil((n / max) * 4));
        return el("td", { "data-level": level, "data-day": d, "data-hour": h, title: `${day} ${h}:00 – ${n} sessions`,
                          "aria-label": `${day} ${h}:00: ${n} sessions` }, n ? String(n) : "");
      })));
    document.getElementById("heatmap").replaceChildren(el("caption", { class: "muted" },
      `${data.total_sessions} sessions on ${data.total_days_with_activity} days`), el("thead", {}, head), el("tbody", {}, rows));
  }

  function chart(id, label, series, color) {
    const box = document.getElementById(id);
    if (charts[id]) charts[id].destroy();
    box.replaceChildren();
    if (!series.length) { box.append(el("p", { class: "muted" }, "No data in this range.")); return; }
    const xs = series.map(([day]) => Date.parse(day + "T00:00:00Z") / 1000);
    const ys = series.map(([, value]) => value);
    const width = Math.max(280, box.clientWidth - 12);
    charts[id] = new uPlot({ width, height: 220, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      legend: { show: false }, cursor: { show: true },
      scales: { x: { time: true, range: (u, min, max) => [min - 43200, max + 43200] }, y: { range: (u, min, maxValue) => [0, Math.max(1, maxValue * 1.1)] } },
      axes: [{}, { size: 50 }],
      series: [{}, { label, stroke: color, fill: color + "55", width: 2, paths: uPlot.paths.bars({ size: [0.6, 40] }),
                     points: { show: false } }] }, [xs, ys], box);
    box.setAttribute("aria-label", `${label}: ` + series.map(([day, value]) => `${day} ${value}`).join(", "));
  }

  function pageBars(pageTime) {
    const rows = Object.entries(pageTime).map(([page, t]) => [page, seconds(t), t]).sort((a, b) => b[1] - a[1]);
    const max = rows.length ? rows[0][1] : 1;
    const list = document.getElementById("page-bars");
    list.replaceChildren(...rows.map(([page, s, t]) => el("li", {}, el("span", { class: "name", title: page }, page),
      el("meter", { min: 0, max: max || 1, value: s, "aria-label": `${page}: ${t}` }), el("span", {}, t))));
    if (!rows.length) list.append(el("li", {}, "No page visits in this range."));
  }

  function pageStats(stats) {
    const rows = Object.entries(stats).sort((a, b) => b[1].visits - a[1].visits);
    document.querySelector("#page-stats tbody").replaceChildren(...rows.map(([page, s]) => el("tr", {},
      el("td", { class: "path" }, page), el("td", {}, s.visits), el("td", {}, s.total_time), el("td", {}, s.average_time))));
  }

  async function show() {
    const query = params();
    localStorage.setItem("concierge.console.app", query.get("app"));
    const names = ["summary", "stats", "most-active", "heatmap", "daily-time-spent", "time-by-page", "page-stats"];
    const results = await attempt(() => Promise.all(names.map((name) => api("GET", `/console/api/reports/${name}?${query}`))));
    if (!results) return;
    const [summary, stats, active, heat, daily, byPage, pstats] = results;
    document.getElementById("report-body").hidden = false;
    for (const link of document.querySelectorAll("a[data-csv]")) {
      const csv = new URLSearchParams(query);
      csv.set("format", "csv");
      link.href = `/console/api/reports/${link.dataset.csv}?${csv}`;
      link.setAttribute("download", "");
    }
    tiles(summary, stats, active);
    heatmap(heat);
    chart("chart-daily", "Hours", Object.entries(daily.daily_time).sort()
      .map(([day, t]) => [day, Math.round(seconds(t) / 36) / 100]), "#1f4e79");
    chart("chart-sessions", "Sessions", Object.entries(heat.daily_sessions).sort(), "#1e6b3a");
    pageBars(byPage.page_time);
    pageStats(pstats.page_stats);
    say(`Showing ${query.get("app")} for ${query.get("user")} in ${query.get("tz")}.`);
  }

  async function start() {
    const zones = await attempt(() => api("GET", "/console/api/time-zones"));
    const select = document.getElementById("r-tz");
    const mine = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    if (zones) select.replaceChildren(...zones.zones.map((zone) => el("option", { value: zone }, zone)));
    select.value = zones && zones.zones.includes(mine) ? mine : "UTC";
    const app = document.getElementById("r-app");
    app.value = new URLSearchParams(window.location.search).get("app") || localStorage.getItem("concierge.console.app") || "";
    if (app.value) show();
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); say(""); show(); });
  start();
})();

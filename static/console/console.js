// Concierge console: shared helpers for every page (no framework, no build step).
"use strict";
(function () {
  const main = document.getElementById("main");

  function csrfToken() {
    const found = document.cookie.split("; ").find((c) => c.startsWith("csrf_access_token="));
    return found ? decodeURIComponent(found.split("=")[1]) : "";
  }

  // fetch JSON from a console endpoint; state changes carry the CSRF token (double submit).
  async function api(method, url, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-TOKEN"] = csrfToken();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, { method, headers, credentials: "same-origin",
                                        body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401) {
      window.location.assign("/console/login?next=" + encodeURIComponent(window.location.pathname));
      throw new Error("Signed out");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      let message = data.message || response.statusText;
      if (Array.isArray(data.details)) message += ": " + data.details.map((d) => (d.loc || []).join(".") + " " + d.msg).join("; ");
      throw new Error(message);
    }
    return data.data;
  }

  function say(message, isError) {
    const box = document.getElementById("status");
    box.textContent = message;
    box.classList.toggle("error", Boolean(isError));
  }

  // el("td", {class: "x"}, "text", child...): text is always text (never HTML).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return el("time", { datetime: iso, title: iso }, date.toLocaleString());
  }

  // A modal confirmation (native <dialog>: focus stays inside, Escape cancels).
  function confirmAction(text, okLabel) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm-ok").textContent = okLabel || "Confirm";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "cancel";
      dialog.showModal();
    });
  }

  function formValues(form) {
    const values = {};
    for (const [name, value] of new FormData(form).entries()) if (value !== "") values[name] = value;
    return values;
  }

  // Run an action; report success or the server's message in the live region.
  async function attempt(action, done) {
    try {
      const result = await action();
      if (done) say(typeof done === "function" ? done(result) : done);
      return result;
    } catch (error) {
      say(error.message, true);
      return undefined;
    }
  }

  window.Console = { api, say, el, when, confirmAction, formValues, attempt, csrfToken,
                     me: main.dataset.me, isAdmin: main.dataset.admin === "true" };
})();

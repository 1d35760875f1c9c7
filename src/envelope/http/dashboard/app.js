// The page: the admin key (kept in sessionStorage), tabs, the window, and a refresh
// every 10 s. Data comes only from /admin/dashboard/VIEW with the key as a Bearer token.

import { debugging } from "./debugging.js";
import { executive } from "./executive.js";
import { operations } from "./operations.js";
import { card, el } from "./widgets.js";

const VIEWS = { executive, operations, debugging };
const REFRESH_MS = 10000;
const KEY = "envelope.adminKey";
const WINDOW = "envelope.window";
const $ = (id) => document.getElementById(id);
let latest = 0; // the number of the newest load: only its answer is drawn
let inFlight = false;

function current() {
  const name = location.hash.slice(1);
  return name in VIEWS ? name : "executive";
}

function say(text, error = false) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

function showError(text) {
  say(text, true);
  const box = card("No data", null, el("p", { "data-error": "true" }, text));
  box.classList.add("error");
  $("view").replaceChildren(box);
}

async function fetchView(view, key, windowName) {
  const answer = await fetch(`/admin/dashboard/${view}?window=${encodeURIComponent(windowName)}`, {
    headers: { authorization: `Bearer ${key}` },
    cache: "no-store",
  });
  const body = await answer.json().catch(() => null);
  if (!answer.ok) {
    const detail = body && body.error ? body.error.message : answer.statusText;
    throw new Error(`${answer.status}: ${detail}`);
  }
  return body;
}

async function load() {
  const view = current();
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  const asked = ++latest;
  const key = sessionStorage.getItem(KEY);
  if (!key) {
    inFlight = false;
    $("view").replaceChildren();
    say("Enter an admin key to see the dashboards.");
    return;
  }
  const windowName = $("window").value;
  inFlight = true;
  try {
    const data = await fetchView(view, key, windowName);
    if (latest !== asked) return; // a newer load started while this was in flight
    const main = $("view");
    main.replaceChildren(...VIEWS[view](data));
    main.dataset.view = view;
    main.dataset.generatedAt = String(data.generated_at);
    const at = new Date(data.generated_at * 1000).toLocaleTimeString([], { hour12: false });
    say(`${view} · window ${data.window} · updated ${at} · refreshes every ${REFRESH_MS / 1000} s`);
  } catch (error) {
    if (latest === asked) showError(`Could not load the ${view} dashboard: ${error.message}`);
  } finally {
    if (latest === asked) inFlight = false;
  }
}

function start() {
  $("window").value = sessionStorage.getItem(WINDOW) || "1h";
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key").value.trim();
    if (key) sessionStorage.setItem(KEY, key);
    $("key").value = "";
    load();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    load();
  });
  $("window").addEventListener("change", () => {
    sessionStorage.setItem(WINDOW, $("window").value);
    load();
  });
  for (const tab of document.querySelectorAll("#tabs button")) {
    tab.addEventListener("click", () => {
      location.hash = tab.dataset.view;
    });
  }
  window.addEventListener("hashchange", load);
  setInterval(() => {
    if (!document.hidden && !inFlight) load(); // a slow answer is not stacked under new ones
  }, REFRESH_MS);
  load();
}

start();

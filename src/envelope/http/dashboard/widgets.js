// Page pieces (cards, figure tiles, tables, status pills) and number formats.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function card(title, note, ...content) {
  const about = note ? el("p", { class: "note" }, note) : null;
  return el("section", { class: "card" }, el("h2", {}, title), about, ...content);
}

export function wide(section) {
  section.classList.add("wide");
  return section;
}

// [{id, label, value, text}] → tiles; data-figure and data-value carry the raw figure.
export function tiles(items) {
  const tile = (f) => el(
    "div",
    { class: "tile", "data-figure": f.id, "data-value": f.value ?? "" },
    el("div", { class: "label" }, f.label),
    el("div", { class: "value" }, f.text),
  );
  return el("div", { class: "tiles" }, ...items.map(tile));
}

// The figures every view opens with (requests, error rate, p95), and `extra` tiles.
export function headline(f, extra = []) {
  return tiles([
    { id: "requests", label: "Requests", value: f.requests, text: fmt.int(f.requests) },
    { id: "error_rate", label: "Error rate (status ≥ 400)", value: f.error_rate, text: fmt.pct(f.error_rate) },
    { id: "p95_ms", label: "p95 latency", value: f.p95_ms, text: fmt.ms(f.p95_ms) },
    ...extra,
  ]);
}

export function pill(status, text = status) {
  return el("span", { class: `pill ${status}`, "data-status": status }, text.replace("_", " "));
}

export const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// Column definitions from titles; those from index `numeric` on are right-aligned numbers.
export const columns = (titles, numeric = Infinity) => titles.map((title, i) => ({ title, num: i >= numeric }));

// columns: [{title, num?}], rows: [[cell]]; a cell is text or a node.
export function table(id, cols, rows) {
  if (!rows.length) return empty("Nothing in this window.");
  const cell = (value, i) => el("td", { class: cols[i].num ? "num" : null }, value ?? "–");
  const head = el("tr", {}, ...cols.map((c) => el("th", { class: c.num ? "num" : null }, c.title)));
  const body = rows.map((r) => el("tr", {}, ...r.map(cell)));
  return el("table", { "data-table": id }, el("thead", {}, head), el("tbody", {}, ...body));
}

export function empty(text) {
  return el("p", { class: "empty" }, text);
}

export const fmt = {
  int: (v) => (v == null ? "–" : Math.round(v).toLocaleString("en-US")),
  pct: (v) => (v == null ? "–" : `${(v * 100).toFixed(v > 0 && v < 0.1 ? 1 : 0)}%`),
  ms: (v) => (v == null ? "–" : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`),
  usd: (v) => {
    if (v == null) return "–";
    if (v === 0) return "$0";
    const digits = v >= 100 ? 0 : v >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(v)));
    return `$${v.toFixed(digits)}`;
  },
  num: (v) => (v == null ? "–" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)),
  time: (t) => (t == null ? "–" : new Date(t * 1000).toLocaleString([], { hour12: false })),
};

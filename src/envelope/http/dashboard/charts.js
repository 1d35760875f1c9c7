// Charts drawn as inline SVG: line/area charts over time, horizontal and stacked bars,
// a budget meter and a timeline. Each returns an <svg class="chart" data-chart=ID>.

const NS = "http://www.w3.org/2000/svg";
const W = 640;
export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  node.append(...children);
  return node;
}

// A chart's canvas, `width` user units wide; drawn at most 1.25× that in pixels, so text
// stays readable in wide cards (CSSOM, not a style attribute: the CSP allows it).
function frame(id, height, width = W) {
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", "data-chart": id, role: "img" });
  chart.style.maxWidth = `${width * 1.25}px`;
  return chart;
}

function titled(node, text) {
  node.append(svg("title", {}, text));
  return node;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

const sum = (values) => values.reduce((a, b) => a + b, 0);

export function timeLabel(t, step) {
  const d = new Date(t * 1000);
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  return step >= 3600 ? `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${hm}` : hm;
}

// The named series of a time series ({t, step_s, series: [{name, values}]}).
export const only = (data, ...names) => ({ ...data, series: data.series.filter((s) => names.includes(s.name)) });

// Lines over time; null values break a line; `guides` are dashed levels (targets).
export function lineChart(id, data, { format = String, guides = [], area = false, height = 200 } = {}) {
  const [L, R, T, B] = [58, 12, 10, 24];
  const chart = frame(id, height);
  const values = data.series.flatMap((s) => s.values).filter((v) => v !== null);
  const top = niceMax(Math.max(0, ...values, ...guides.map((g) => g.value)));
  const n = data.t.length;
  const x = (i) => L + (n > 1 ? (i * (W - L - R)) / (n - 1) : (W - L - R) / 2);
  const y = (v) => T + (height - T - B) * (1 - v / top);
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    chart.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)));
  }
  const every = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += every) {
    const label = timeLabel(data.t[i], data.step_s);
    chart.append(svg("text", { x: x(i), y: height - 6, "text-anchor": "middle" }, label));
  }
  for (const g of guides) {
    chart.append(svg("line", { x1: L, x2: W - R, y1: y(g.value), y2: y(g.value), class: "guide", stroke: g.color }));
    chart.append(svg("text", { x: W - R, y: y(g.value) - 4, "text-anchor": "end" }, g.label));
  }
  data.series.forEach((line, k) => drawLine(chart, line, PALETTE[k % PALETTE.length], { x, y, area, format }));
  return chart;
}

// Stretches of consecutive non-null values, as [x, y, value] points.
function runs(values, x, y) {
  const found = [[]];
  values.forEach((v, i) => {
    if (v !== null) found[found.length - 1].push([x(i), y(v), v]);
    else if (found[found.length - 1].length) found.push([]);
  });
  return found.filter((run) => run.length);
}

function drawLine(chart, line, color, { x, y, area, format }) {
  const at = (p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`;
  for (const run of runs(line.values, x, y)) {
    const d = run.map((p, j) => `${j ? "L" : "M"}${at(p)}`).join(" ");
    if (area) {
      const base = y(0).toFixed(1);
      const shape = `M${run[0][0].toFixed(1)},${base} L${d.slice(1)} L${run[run.length - 1][0].toFixed(1)},${base} Z`;
      chart.append(svg("path", { d: shape, class: "area", fill: color }));
    }
    chart.append(svg("path", { d, class: "series", stroke: color, "data-series": line.name }));
    if (run.length > 2) continue;
    for (const p of run) {  // a lone point draws no line: mark it
      const dot = svg("circle", { cx: p[0], cy: p[1], r: 3, fill: color, class: "point" });
      chart.append(titled(dot, `${line.name}: ${format(p[2])}`));
    }
  }
}

export function legend(names, colors = PALETTE) {
  const box = document.createElement("div");
  box.className = "legend";
  names.forEach((name, k) => {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = colors[k % colors.length];
    item.append(swatch, name);
    box.append(item);
  });
  return box;
}

// Horizontal bars: items [{label, value, text?, color?, mark?}]; `mark` draws a tick (a limit, a target).
export function hbars(id, items, { format = String, max } = {}) {
  const [L, R, row] = [170, 130, 26];
  const chart = frame(id, items.length * row + 6);
  const top = max ?? niceMax(Math.max(0, ...items.map((i) => Math.max(i.value, i.mark ?? 0))));
  const scale = (v) => ((W - L - R) * Math.min(v, top)) / top;
  items.forEach((item, k) => {
    const y = 4 + k * row;
    const text = item.text ?? format(item.value);
    chart.append(svg("text", { x: L - 8, y: y + 14, "text-anchor": "end", class: "label" }, item.label));
    chart.append(svg("rect", { x: L, y, width: W - L - R, height: row - 8, class: "track" }));
    const bar = svg("rect", {
      x: L, y, width: scale(item.value), height: row - 8, class: "bar", fill: item.color || PALETTE[0],
    });
    chart.append(titled(bar, `${item.label}: ${text}`));
    if (item.mark != null) {
      const mx = L + scale(item.mark);
      chart.append(svg("line", { x1: mx, x2: mx, y1: y - 2, y2: y + row - 6, class: "guide", stroke: "#111827" }));
    }
    chart.append(svg("text", { x: W - R + 6, y: y + 14 }, text));
  });
  return chart;
}

// Stacked horizontal bars: rows [{label, parts: [number]}], one part per `names`.
export function stackedBars(id, rows, names, { format = String } = {}) {
  const [L, R, row] = [170, 90, 28];
  const chart = frame(id, rows.length * row + 6);
  const top = niceMax(Math.max(0, ...rows.map((r) => sum(r.parts))));
  rows.forEach((r, k) => {
    const y = 4 + k * row;
    let at = L;
    chart.append(svg("text", { x: L - 8, y: y + 15, "text-anchor": "end", class: "label" }, r.label));
    r.parts.forEach((v, j) => {
      const width = ((W - L - R) * v) / top;
      if (width <= 0) return;
      const fill = PALETTE[j % PALETTE.length];
      const part = svg("rect", { x: at, y, width, height: row - 8, class: "bar segment", fill, "data-part": names[j] });
      chart.append(titled(part, `${r.label} · ${names[j]}: ${format(v)}`));
      at += width;
    });
    chart.append(svg("text", { x: at + 6, y: y + 15 }, format(sum(r.parts))));
  });
  return chart;
}

// A budget: spent (coloured by status), the projection behind it, soft and hard marks.
export function budgetMeter(id, b, format, width = 1000) {
  const [L, R] = [10, 10];
  const chart = frame(id, 46, width);
  const top = niceMax(Math.max(b.spent_usd, b.projected_usd ?? 0, b.soft_usd ?? 0, b.hard_usd ?? 0));
  const x = (v) => L + ((width - L - R) * Math.min(v, top)) / top;
  const fill = { ok: "#16a34a", at_risk: "#d97706", soft: "#d97706", over: "#dc2626" }[b.status];
  const bar = (v, cls) => svg("rect", { x: L, y: 6, width: Math.max(x(v) - L, 0.5), height: 18, class: cls, fill });
  chart.append(svg("rect", { x: L, y: 6, width: width - L - R, height: 18, class: "track" }));
  if (b.projected_usd != null) {
    chart.append(titled(bar(b.projected_usd, "projected"), `projected ${format(b.projected_usd)}`));
  }
  chart.append(titled(bar(b.spent_usd, "bar spent"), `spent ${format(b.spent_usd)}`));
  for (const [value, name, stroke] of [[b.soft_usd, "soft", "#d97706"], [b.hard_usd, "hard", "#dc2626"]]) {
    if (value == null) continue;
    const at = x(value);
    chart.append(svg("line", { x1: at, x2: at, y1: 2, y2: 28, stroke, "stroke-width": 2, class: `limit ${name}` }));
    const anchor = at > width - 80 ? "end" : at < 80 ? "start" : "middle";
    chart.append(svg("text", { x: at, y: 41, "text-anchor": anchor }, `${name} ${format(value)}`));
  }
  return chart;
}

function marker(m, cx, y, row) {
  const down = m.direction === "down";
  const [tip, base] = down ? [y + 6, y - 2] : [y + row - 14, y + row - 6];
  const d = `M${cx - 5},${base} L${cx + 5},${base} L${cx},${tip} Z`;
  const mark = svg("path", { d, class: "mark", fill: down ? "#991b1b" : "#166534" });
  return titled(mark, `${m.direction} ${m.from_level}→${m.to_level}: ${m.reason}`);
}

// Spans of time below the normal level, one lane per scope, and transitions as marks.
export function timeline(id, { start, end, spans, marks }, width = 1200) {
  const [L, R, row] = [170, 12, 26];
  const lanes = [...new Set([...spans.map((s) => s.scope), ...marks.map((m) => m.scope)])].sort();
  const height = Math.max(lanes.length, 1) * row + 26;
  const chart = frame(id, height, width);
  const inner = width - L - R;
  const x = (t) => L + (inner * (Math.min(Math.max(t, start), end) - start)) / (end - start || 1);
  chart.append(svg("line", { x1: L, x2: width - R, y1: height - 20, y2: height - 20, class: "axis" }));
  for (let k = 0; k <= 6; k++) {
    const label = timeLabel(start + (k * (end - start)) / 6, end - start > 86400 ? 3600 : 60);
    chart.append(svg("text", { x: L + (inner * k) / 6, y: height - 6, "text-anchor": "middle" }, label));
  }
  if (!lanes.length) {
    chart.append(svg("text", { x: L + inner / 2, y: 18, "text-anchor": "middle" }, "no downgrades in this window"));
  }
  lanes.forEach((lane, k) => {
    const y = 4 + k * row;
    chart.append(svg("text", { x: L - 8, y: y + 14, "text-anchor": "end", class: "label" }, lane));
    chart.append(svg("rect", { x: L, y, width: inner, height: row - 8, class: "track" }));
    for (const s of spans.filter((s) => s.scope === lane)) {
      const fill = s.level > 1 ? "#dc2626" : "#d97706";
      const w = Math.max(x(s.end ?? end) - x(s.start), 2);
      const bar = svg("rect", { x: x(s.start), y, width: w, height: row - 8, class: "bar span", fill });
      chart.append(titled(bar, `${lane}: level ${s.level}${s.end == null ? " (still down)" : ""} — ${s.reason}`));
    }
    for (const m of marks.filter((m) => m.scope === lane)) chart.append(marker(m, x(m.ts), y, row));
  });
  return chart;
}

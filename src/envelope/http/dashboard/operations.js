// The operations view: error rate and latency over time, latency per route, limit
// utilisation and refusals, firing alerts, and the downgrade timeline.

import { hbars, legend, lineChart, only, timeline } from "./charts.js";
import { card, columns, el, empty, fmt, headline, pill, table, wide } from "./widgets.js";

const RISK = ["#16a34a", "#d97706", "#dc2626"];
const risk = (share) => RISK[share >= 0.9 ? 2 : share >= 0.7 ? 1 : 0];
const ROUTE_COLUMNS = columns(["Route", "Requests", "Errors", "p50", "p95", "p99", "p95 target", "Level"], 1);

function latency(d) {
  const targets = [...new Set(d.routes.map((r) => r.p95_target_ms).filter((v) => v))];
  const guides = targets.map((v) => ({ value: v, label: `p95 target ${fmt.ms(v)}`, color: "#6b7280" }));
  const chart = lineChart("latency", only(d.series, "p50_ms", "p95_ms", "p99_ms"), { format: fmt.ms, guides });
  const note = "End-to-end, per bucket (from the ledger's latency bins)";
  return card("Latency percentiles", note, chart, legend(["p50", "p95", "p99"]));
}

function routes(d) {
  const over = (r) => r.p95_target_ms && r.figures.p95_ms > r.p95_target_ms;
  const bars = d.routes.map((r) => ({
    label: r.route, value: r.figures.p95_ms ?? 0, text: fmt.ms(r.figures.p95_ms), mark: r.p95_target_ms,
    color: over(r) ? "#dc2626" : "#2563eb",
  }));
  const rows = d.routes.map((r) => {
    const f = r.figures;
    return [
      r.route, fmt.int(f.requests), fmt.pct(f.error_rate), fmt.ms(f.p50_ms), fmt.ms(f.p95_ms), fmt.ms(f.p99_ms),
      fmt.ms(r.p95_target_ms), String(d.levels[r.route] ?? 0),
    ];
  });
  const chart = bars.length ? hbars("route-p95", bars, { format: fmt.ms }) : empty("No routes.");
  const note = "p95 over the window; the tick is the route's p95 target";
  return card("Latency by route", note, chart, table("routes", ROUTE_COLUMNS, rows));
}

function utilisation(found) {
  if (!found.length) return [empty("No tenant, route or tier limits configured.")];
  const text = (u) => u.limit === "concurrency"
    ? `${fmt.num(u.peak)} / ${u.value} (now ${fmt.num(u.current)})`
    : `${fmt.int(u.peak)} / ${fmt.int(u.value)} (now ${fmt.int(u.current)})`;
  const items = found.map((u) => ({
    label: `${u.scope} ${u.name} ${u.limit}`, value: u.share, mark: 1, color: risk(u.share), text: text(u),
  }));
  return [hbars("utilisation", items, { format: fmt.pct, max: Math.max(1.25, ...found.map((u) => u.share)) })];
}

function rejections(found) {
  const title = el("p", { class: "note" }, "Refused by a limit (429), counted by this replica since it started");
  if (!found.length) return [title, empty("No request refused by a limit.")];
  const items = found.map((r) => ({ label: `${r.limit} (${r.tenant}/${r.route})`, value: r.count, color: "#dc2626" }));
  return [title, hbars("rejections", items, { format: fmt.int })];
}

function alerts(found) {
  if (!found.length) return empty("No alerts firing.");
  const labels = (a) => Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(" ");
  const rows = found.map((a) => [pill(a.severity), a.name, labels(a), a.summary ?? "", fmt.time(a.since)]);
  return table("alerts", columns(["Severity", "Alert", "Labels", "Summary", "Since"]), rows);
}

function transitions(found) {
  const rows = found.slice(-20).reverse().map((t) => [
    fmt.time(t.ts), t.scope, t.kind, `${t.direction} ${t.from_level}→${t.to_level}`, t.reason,
  ]);
  return table("transitions", columns(["When", "Scope", "Kind", "Change", "Why"]), rows);
}

export function operations(d) {
  const extra = [
    { id: "p99_ms", label: "p99 latency", value: d.figures.p99_ms, text: fmt.ms(d.figures.p99_ms) },
    { id: "alerts", label: "Alerts firing", value: d.alerts.length, text: fmt.int(d.alerts.length) },
  ];
  const errors = lineChart("error-rate", only(d.series, "error_rate"), { area: true, format: fmt.pct });
  const span = { start: d.start, end: d.generated_at, spans: d.spans, marks: d.transitions };
  return [
    wide(card("Now", null, headline(d.figures, extra))),
    card("Error rate", "Share of requests answered with status ≥ 400, per bucket", errors),
    latency(d),
    routes(d),
    card(
      "Limit utilisation",
      "Busiest minute of the window against each configured limit (tick = the limit); rates from the ledger "
        + "(refused requests included), concurrency as mean in flight",
      ...utilisation(d.utilisation),
      ...rejections(d.rejections),
    ),
    wide(card("Active alerts", "Firing now (SLO engine)", alerts(d.alerts))),
    wide(card(
      "Downgrade timeline",
      "Adaptive control: routes served from a lower tier, tenants in economy mode; ▼ down, ▲ up",
      timeline("downgrades", span),
      transitions(d.transitions),
    )),
  ];
}

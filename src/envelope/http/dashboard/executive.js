// The executive view: overall health, health per route, spend over time and against budget.

import { budgetMeter, legend, lineChart, only } from "./charts.js";
import { card, el, empty, fmt, headline, pill, plural, table, wide } from "./widgets.js";

const HEALTH_COLUMNS = [
  { title: "Route" }, { title: "Status" }, { title: "Why" }, { title: "Requests", num: true },
  { title: "Errors", num: true }, { title: "p95 / target", num: true }, { title: "Error budget left" },
];

function healthRow(r) {
  const target = r.p95_target_ms ? ` / ${fmt.ms(r.p95_target_ms)}` : "";
  const budgets = r.objectives.map((o) => `${o.objective} ${fmt.pct(o.budget_remaining)}`).join(", ");
  return [
    r.route, pill(r.status), r.reasons.join("; ") || "–", fmt.int(r.figures.requests),
    fmt.pct(r.figures.error_rate), `${fmt.ms(r.figures.p95_ms)}${target}`, budgets || "–",
  ];
}

function budgetBlock(t) {
  const b = t.budget;
  const used = b.used != null ? ` (${fmt.pct(b.used)})` : "";
  const head = el(
    "div",
    { class: "head" },
    el("span", {}, el("strong", {}, t.tenant), ` · ${b.period} · `, pill(b.status), b.economy ? " economy mode" : ""),
    el(
      "span",
      { "data-spent": t.tenant, "data-value": b.spent_usd },
      `${fmt.usd(b.spent_usd)} spent${used} · projected ${fmt.usd(b.projected_usd)}`,
    ),
  );
  return el("div", { class: "budget" }, head, budgetMeter(`budget-${t.tenant}`, b, fmt.usd));
}

function budgets(tenants) {
  const blocks = tenants.filter((t) => t.budget).map(budgetBlock);
  if (!blocks.length) blocks.push(empty("No tenant has a budget."));
  const rest = tenants.filter((t) => !t.budget).map((t) => [t.tenant, fmt.int(t.requests), fmt.usd(t.window_usd)]);
  const columns = [
    { title: "Tenant without a budget" }, { title: "Requests", num: true }, { title: "Spend (window)", num: true },
  ];
  if (rest.length) blocks.push(table("unbudgeted", columns, rest));
  return blocks;
}

export function executive(d) {
  const summary = `${plural(d.routes.length, "route")} · ${plural(d.alerts_firing, "alert")} firing`;
  const banner = el("div", { class: "banner" }, pill(d.status), summary);
  const spent = { id: "cost_usd", label: "Spend", value: d.figures.cost_usd, text: fmt.usd(d.figures.cost_usd) };
  const spend = lineChart("spend", only(d.series, "cost_usd"), { area: true, format: fmt.usd });
  const traffic = lineChart("traffic", only(d.series, "requests", "errors"), { area: true, format: fmt.num });
  return [
    wide(card("Health", null, banner, headline(d.figures, [spent]))),
    card("Traffic", "Requests and errors per bucket", traffic, legend(["requests", "errors"])),
    card("Spend", "USD per bucket (ledger cost)", spend),
    wide(card(
      "Route health",
      "Status from firing alerts, adaptive control and SLO error budgets",
      table("health", HEALTH_COLUMNS, d.routes.map(healthRow)),
    )),
    wide(card(
      "Spend vs budget",
      "This budget period, from the ledger; the pale bar is the forecast to the period's end (the recent spend rate and its trend)",
      ...budgets(d.tenants),
    )),
  ];
}

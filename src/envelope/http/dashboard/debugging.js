// The debugging view: per-stage latency, tokens, cache outcomes and hit rate, per model.

import { hbars, legend, lineChart, only, stackedBars } from "./charts.js";
import { card, columns, empty, fmt, table, tiles, wide } from "./widgets.js";

const STAGES = ["classify", "retrieval", "guard", "upstream", "gateway"];
const TOKENS = ["fresh input", "cached input", "output"];
const OUTCOMES = ["exact", "semantic", "coalesced", "miss", "bypass"];
const MODEL_COLUMNS = columns(
  ["Model", "Requests", "Share", "Errors", "p50", "p95", "Input tok", "Output tok", "Cost", "$/1k tok"], 1,
);
const NO_REQUESTS = "No requests in this window.";

function cacheTiles(d) {
  const all = d.cache[0];
  return tiles([
    { id: "hit_rate", label: "Cache hit rate", value: all.hit_rate, text: fmt.pct(all.hit_rate) },
    { id: "hits", label: "Cache hits", value: all.hits, text: fmt.int(all.hits) },
    { id: "lookups", label: "Cache lookups", value: all.lookups, text: fmt.int(all.lookups) },
    { id: "models", label: "Models used", value: d.models.length, text: fmt.int(d.models.length) },
  ]);
}

function stages(d) {
  const rows = d.stages.filter((s) => s.requests).map((s) => ({
    label: s.name, parts: STAGES.map((n) => s[`${n}_ms`]),
  }));
  const chart = rows.length ? stackedBars("stages", rows, STAGES, { format: fmt.ms }) : empty(NO_REQUESTS);
  const note = "Mean ms per request; gateway = the rest (admission, routing, cache, relay)";
  return card("Per-stage latency", note, chart, legend(STAGES));
}

function tokens(d) {
  const rows = d.models.map((m) => ({
    label: m.model, parts: [m.fresh_input_tokens, m.figures.cached_tokens, m.figures.output_tokens],
  }));
  const chart = rows.length ? stackedBars("tokens", rows, TOKENS, { format: fmt.int }) : empty(NO_REQUESTS);
  const note = "Input read from the provider's prompt cache is 'cached input'";
  return card("Token breakdown by model", note, chart, legend(TOKENS));
}

function outcomes(d) {
  const rows = d.cache.filter((c) => c.lookups + c.outcomes.bypass > 0).map((c) => ({
    label: `${c.name} ${fmt.pct(c.hit_rate)}`, parts: OUTCOMES.map((o) => c.outcomes[o] ?? 0),
  }));
  const chart = rows.length ? stackedBars("cache", rows, OUTCOMES, { format: fmt.int }) : empty("No route caches.");
  const note = "Lookups per outcome; the label shows the hit rate (exact + semantic + coalesced over lookups)";
  return card("Cache outcomes by route", note, chart, legend(OUTCOMES));
}

function models(d) {
  const rows = d.models.map((m) => {
    const f = m.figures;
    return [
      m.model, fmt.int(f.requests), fmt.pct(m.share), fmt.pct(f.error_rate), fmt.ms(f.p50_ms), fmt.ms(f.p95_ms),
      fmt.int(f.input_tokens), fmt.int(f.output_tokens), fmt.usd(f.cost_usd), fmt.usd(m.usd_per_1k_tokens),
    ];
  });
  const bars = d.models.map((m) => ({ label: m.model, value: m.figures.p95_ms ?? 0, text: fmt.ms(m.figures.p95_ms) }));
  return [
    card("p95 latency by model", null, bars.length ? hbars("model-p95", bars, { format: fmt.ms }) : empty(NO_REQUESTS)),
    wide(card(
      "Per model",
      "Cache hits are counted under the model the client asked for (e.g. auto)",
      table("models", MODEL_COLUMNS, rows),
    )),
  ];
}

export function debugging(d) {
  const hitRate = lineChart("hit-rate", only(d.series, "hit_rate"), { area: true, format: fmt.pct });
  const series = only(d.series, "input_tokens", "output_tokens", "cached_tokens");
  const tokenChart = lineChart("token-series", series, { format: fmt.num });
  return [
    wide(card("Cache", null, cacheTiles(d))),
    stages(d),
    tokens(d),
    outcomes(d),
    card("Cache hit rate over time", null, hitRate),
    card("Tokens over time", null, tokenChart, legend(["input", "output", "cached"])),
    ...models(d),
  ];
}

"""`envelope estimate`: the token burn and cost of a feature before it launches.

Sample prompts are routed offline with the gateway's own stages (`cost/planner.py`)
and priced at the serving model's prices; `cost/estimate.py` scales them to the QPS.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from envelope.cli.common import ConfigOption, console, err_console, load_config, open_store, read_ledger

if TYPE_CHECKING:
    from envelope.config.documents import ConfigSet, RouteDoc, TenantDoc
    from envelope.cost.estimate import BudgetOutlook, Burn, PromptPlan
    from envelope.cost.planner import Traffic
    from envelope.cost.samples import SamplePrompt

LEDGER_DAYS = 7
OUTPUT_MARK = {"given": "", "max_tokens": "*", "ledger": "~"}


def estimate(
    prompts: Annotated[Path, typer.Option(help="Sample prompts: .jsonl (see --help) or text, one prompt a line.")],
    qps: Annotated[float, typer.Option(help="Expected requests per second.")],
    route: Annotated[str | None, typer.Option(help="The route (default: the tenant's default route).")] = None,
    config: ConfigOption = None,
    tenant: Annotated[str | None, typer.Option(help="Tenant sending them: its mode, rules and budget.")] = None,
    feature: Annotated[str | None, typer.Option(help="Feature tag (default: the tenant's).")] = None,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="max_tokens sent with each request.")] = None,
    output_tokens: Annotated[
        int | None, typer.Option(min=0, help="Expected output tokens per answer (default: all of max_tokens).")
    ] = None,
    output_from_ledger: Annotated[
        bool, typer.Option(help=f"Expected output: the route's mean over the last {LEDGER_DAYS} days of the ledger.")
    ] = False,
    cache_hit_rate: Annotated[
        float, typer.Option(help="Share of requests answered from the cache (cost nothing). Default 0.")
    ] = 0.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Token burn and cost per day of a feature before launch, from sample prompts.

    The prompts are routed as the gateway would (the route's policy, the classifier,
    each model's tokenizer), then scaled to --qps: tokens, tier and model per prompt;
    requests, tokens and cost per day and month; the tier/model mix; and, with
    --tenant, the share of the tenant's budget.

    A .jsonl line holds "prompt" (and optionally "system") or "messages", and optionally
    "weight", "max_tokens", "output_tokens", "model", "mode", "latency_budget_ms",
    "cost_budget_usd". Nothing is sent upstream. Exit 2 on bad input, 1 when the ledger's
    database fails (--output-from-ledger).
    """
    from envelope.cost.estimate import burn, outlook
    from envelope.cost.planner import Traffic

    if qps <= 0:
        _usage(f"--qps must be positive, got {qps}")
    if not 0 <= cache_hit_rate < 1:
        _usage(f"--cache-hit-rate must be at least 0 and below 1, got {cache_hit_rate}")
    cfg = load_config(config)
    who = _tenant(cfg, tenant)
    where = _route(cfg, route, who)
    samples = _samples(prompts)
    traffic = Traffic(
        route=where,
        tenant=who,
        feature=feature if feature is not None else who.default_feature if who else None,
        max_tokens=max_tokens,
        output_tokens=output_tokens,
        ledger_output=read_ledger(_ledger_means(cfg, where.name), "estimate") if output_from_ledger else None,
    )
    plans, classified = _plan(cfg, traffic, samples)
    totals = burn(plans, qps=qps, cache_hit_rate=cache_hit_rate)
    budget = outlook(who.budget, totals.cost_per_day, now=time.time()) if who and who.budget else None
    if as_json:
        _print_json(traffic, plans, totals, budget, classified=classified)
    else:
        _print(traffic, plans, totals, budget, classified=classified)


def _usage(message: str) -> NoReturn:
    err_console.print(f"[red]cannot estimate[/red]: {escape(message)}")
    raise typer.Exit(2)


def _tenant(cfg: ConfigSet, name: str | None) -> TenantDoc | None:
    if name is None:
        return None
    found = next((t for t in cfg.tenants if t.name == name), None)
    if found is None:
        _usage(f"unknown tenant {name!r}; the config has {', '.join(t.name for t in cfg.tenants) or 'none'}")
    return found


def _route(cfg: ConfigSet, name: str | None, tenant: TenantDoc | None) -> RouteDoc:
    wanted = name if name is not None else tenant.default_route if tenant is not None else None
    if wanted is None:
        _usage("give --route (or --tenant, whose default route is then used)")
    found = next((r for r in cfg.routes if r.name == wanted), None)
    if found is None:
        _usage(f"unknown route {wanted!r}; the config has {', '.join(r.name for r in cfg.routes)}")
    return found


def _samples(path: Path) -> list[SamplePrompt]:
    from envelope.cost.samples import SampleError, parse_samples

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _usage(f"cannot read {path}: {exc}")
    try:
        return parse_samples(text, jsonl=path.suffix in (".jsonl", ".ndjson", ".json"))
    except SampleError as exc:
        _usage(f"{path}: {exc}")


async def _ledger_means(cfg: ConfigSet, route: str) -> dict[str | None, float]:
    """Mean output tokens per successful request of the route, per model and overall."""
    from envelope.cost.estimate import ledger_means

    since = time.time() - LEDGER_DAYS * 86400
    async with open_store(cfg) as store:
        lines = await store.rollup(["model"], since=since, where={"route": route})
    pairs: dict[str | None, tuple[int, int]] = {
        line.group[0]: (line.requests - line.errors, line.output_tokens) for line in lines
    }
    pairs[None] = (sum(ok for ok, _ in pairs.values()), sum(tokens for _, tokens in pairs.values()))
    return ledger_means(pairs)


def _plan(cfg: ConfigSet, traffic: Traffic, samples: list[SamplePrompt]) -> tuple[list[PromptPlan], str]:
    """The samples routed and priced; and whether the classifier ran (`model`), only its
    risk rules did (`rules_only`: the model could not be loaded) or the route has none (`off`)."""
    from envelope.core.classification import Classification
    from envelope.cost.planner import classified_texts, classifies, classify_all, plan_all

    verdicts: list[Classification | None] = [None] * len(samples)
    classified = "off"
    if classifies(cfg, traffic.route):
        with err_console.status("loading the classifier and classifying the prompts"):
            found, ran = classify_all(classified_texts(samples, cfg.gateway.classifier), cfg.gateway.classifier)
        verdicts, classified = list(found), "model" if ran else "rules_only"
    degradation = "classifier_unavailable" if classified == "rules_only" else None
    plans = asyncio.run(plan_all(cfg, traffic, samples, verdicts, degradation=degradation))
    return plans, classified


def _print_json(
    traffic: Traffic, plans: list[PromptPlan], totals: Burn, budget: BudgetOutlook | None, *, classified: str
) -> None:
    body = {
        "route": traffic.route.name,
        "tenant": traffic.tenant.name if traffic.tenant else None,
        "feature": traffic.feature,
        "classifier": classified,
        "prompts": [asdict(p) for p in plans],
        "totals": asdict(totals),
        "budget": asdict(budget) if budget else None,
    }
    print(json.dumps(body, indent=2))


def _print(
    traffic: Traffic, plans: list[PromptPlan], totals: Burn, budget: BudgetOutlook | None, *, classified: str
) -> None:
    console.print(_prompts_table(plans))
    console.print(_totals_table(totals))
    console.print(_mix_table(totals))
    if budget is not None:
        console.print(_budget_table(budget))
    for note in _notes(traffic, plans, totals, classified):
        console.print(f"[dim]· {escape(note)}[/dim]")


def _prompts_table(plans: list[PromptPlan]) -> Table:
    table = Table("#", "prompt", "in tok", "class", "policy", "model (tier)", "out tok", "$/request", "notes")
    for i, p in enumerate(plans, start=1):
        klass = f"{p.intent}/{p.complexity}/{p.risk:.2f}" if p.risk is not None else "-"
        served = f"{p.model} ({p.tier})" if p.model else "[red]refused[/red]"
        out = f"{p.output_tokens}{OUTPUT_MARK[p.output_source]}"
        notes = p.refused or ", ".join(d for d in p.degradations) or ""
        table.add_row(
            str(i),
            escape(p.preview),
            f"{p.input_tokens}{'' if p.tokens_exact else '≈'}",
            klass,
            p.policy_tier or "-",
            served,
            out,
            f"{p.cost_usd:.6f}",
            escape(notes),
        )
    return table


def _totals_table(totals: Burn) -> Table:
    table = Table(
        "per day at", "requests", "upstream", "input tokens", "output tokens", "$/request", "$/day", "$/month"
    )
    table.add_row(
        f"{totals.qps:g} qps",
        f"{totals.requests_per_day:,.0f}",
        f"{totals.upstream_per_day:,.0f}",
        f"{totals.input_tokens_per_day:,.0f}",
        f"{totals.output_tokens_per_day:,.0f}",
        f"{totals.cost_per_request:.6f}",
        f"{totals.cost_per_day:,.2f}",
        f"{totals.cost_per_month:,.2f}",
    )
    return table


def _mix_table(totals: Burn) -> Table:
    table = Table("tier", "model", "share", "upstream/day", "$/day", "share of cost")
    for line in totals.mix:
        cost_share = line.cost_per_day / totals.cost_per_day if totals.cost_per_day else 0.0
        table.add_row(
            line.tier or "-",
            line.model or "[red]refused[/red]",
            f"{line.share:.1%}",
            f"{line.requests_per_day:,.0f}",
            f"{line.cost_per_day:,.2f}",
            f"{cost_share:.1%}",
        )
    return table


def _budget_table(budget: BudgetOutlook) -> Table:
    table = Table(
        "budget", "hard $", "soft $", "this feature $/period", "share of hard", "days to hard", "days to soft"
    )

    def number(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    table.add_row(
        f"{budget.period} ({budget.period_days:g} d)",
        number(budget.hard_usd, ",.2f"),
        number(budget.soft_usd, ",.2f"),
        f"{budget.cost_per_period:,.2f}",
        number(budget.share_of_hard, ".1%"),
        number(budget.days_to_hard, ",.1f"),
        number(budget.days_to_soft, ",.1f"),
    )
    return table


def _notes(traffic: Traffic, plans: list[PromptPlan], totals: Burn, classified: str) -> list[str]:
    notes = [
        f"{len(plans)} sample prompts, each weighted equally unless it gives a weight; a month is 30 days",
        f"cache-hit rate {totals.cache_hit_rate:.0%} (assumed; --cache-hit-rate): hits cost nothing",
    ]
    upper = sum(1 for p in plans if p.refused is None and p.output_source == "max_tokens")
    if upper:
        notes.append(f"out tok*: {upper} prompt(s) assume all of max_tokens is used (an upper bound; --output-tokens)")
    if any(p.output_source == "ledger" for p in plans):
        notes.append(f"out tok~: the route's mean output over the last {LEDGER_DAYS} days of the ledger")
    if any(not p.tokens_exact for p in plans if p.refused is None):
        notes.append("in tok≈: an estimate (the model's tokenizer is unavailable or estimates)")
    if classified == "rules_only":
        notes.append("the classifier could not be loaded: risk rules only, as in the gateway (classifier_unavailable)")
    retrieval = traffic.route.retrieval
    if retrieval is not None:
        notes.append(f"not counted: retrieved context (up to {retrieval.context_tokens} tokens a request)")
    if totals.refused_share:
        notes.append(f"{totals.refused_share:.1%} of requests would be refused (cost 0)")
    return notes

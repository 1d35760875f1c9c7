"""The SLO engine: rolling statistics per route and per (route, tier), spend per tenant,
and an evaluation into a `Report` with objectives, error budgets and burn rates.

Pure: every method takes the time (`now`, wall-clock seconds) and nothing here does
I/O; `loop.py` is the shell that evaluates it periodically. `observe` runs on the
request path (see `window.py` for why it is O(1)).

Memory per route, with the defaults: fine counters 6 h × 10 s (≈ 0.2 MB), histograms
15 min × 10 s (≈ 0.1 MB), coarse counters 30 d × 5 min (≈ 0.8 MB); per (route, tier)
the fine counters and histograms for 15 min only. numpy zero pages are only paid for
once written, so a young or quiet route costs less.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from envelope.config.slo import BurnWindowDoc, SloSettingsDoc
from envelope.slo.bins import Bins
from envelope.slo.budget import budget_remaining, burn_rate
from envelope.slo.objectives import OBJECTIVES, Objective, RouteObjectives, Verdicts, verdicts
from envelope.slo.observation import Observation
from envelope.slo.report import Burn, ObjectiveReport, Rate, Report, RouteReport, SpendReport, WindowStats
from envelope.slo.spend import ALL, Spend
from envelope.slo.window import ATTEMPTS, CACHE_HITS, COUNTED, FALLBACKS, UPSTREAM, Totals, Vector, Window

NOT_COUNTED = verdicts(None, None, None)


class SloEngine:
    """Rolling SLO statistics. Build it once with the gateway's `slo` settings and the
    routes' objectives (`RouteObjectives.of(route.name, route.latency, route.slo)`)."""

    def __init__(
        self,
        settings: SloSettingsDoc,
        objectives_by_route: Mapping[str, RouteObjectives],
        *,
        bins: Bins | None = None,
    ) -> None:
        self.settings = settings
        self.bins = bins if bins is not None else Bins()
        self._objectives = dict(objectives_by_route)
        self._coarse_horizon_s = max(settings.period_s, *self._windows(self._objectives.values()))
        self._routes: dict[str, Window] = {}
        self._tiers: dict[tuple[str, str], Window] = {}
        cost = settings.cost_anomaly
        self._spend = Spend(bucket_s=settings.coarse_bucket_s, horizon_s=cost.window_s + cost.baseline_s)

    def _windows(self, objectives: Iterable[RouteObjectives]) -> list[float]:
        """Every window an evaluation reads, route overrides included."""
        s = self.settings
        pairs = [*s.burn.windows, *(w for o in objectives for w in o.slo.burn_windows or ())]
        return [
            s.rolling_window_s,
            s.cache_regression.window_s,
            s.cache_regression.baseline_s,
            s.fallback_rate.window_s,
            s.retry_amplification.window_s,
            *(w.long_s for w in pairs),
        ]

    def reconfigure(self, objectives_by_route: Mapping[str, RouteObjectives]) -> None:
        """New route objectives (a config apply); the statistics kept so far stay."""
        needed = max(self._windows(objectives_by_route.values()))
        if needed > self._coarse_horizon_s:
            raise ValueError(f"an SLO window of {needed}s is longer than the engine keeps ({self._coarse_horizon_s}s)")
        self._objectives = dict(objectives_by_route)

    def objectives(self, route: str) -> RouteObjectives:
        found = self._objectives.get(route)
        return found if found is not None else RouteObjectives(route=route)

    # --- the hot path -----------------------------------------------------------------

    def observe(self, obs: Observation) -> Verdicts:
        """Record a finished request; its verdicts (for `envelope_slo_events_total`)."""
        route = obs.route
        window = self._routes.get(route)
        if window is None:
            window = self._routes[route] = self._route_window()
        index = self.bins.index
        latency = obs.latency_s
        latency_bin = index(latency)
        ttft = obs.ttft_s
        ttft_bin = None if ttft is None else index(ttft)
        if obs.counted:
            target = self._objectives.get(route)
            if target is None:
                verdict = verdicts(obs.ok, None, None)
            else:
                p95, ttft_target = target.p95_s, target.ttft_s
                verdict = verdicts(
                    obs.ok,
                    None if p95 is None else latency <= p95,
                    None if ttft_target is None or ttft is None else ttft <= ttft_target,
                )
        else:
            verdict = NOT_COUNTED
        number = window.bucket(obs.ts)
        window.record(number, obs, verdict, latency_bin, ttft_bin)
        tier = obs.tier
        if tier is not None:
            tiers = self._tiers.get((route, tier))
            if tiers is None:
                tiers = self._tiers[route, tier] = self._tier_window()
            tiers.record(number, obs, verdict, latency_bin, ttft_bin)
        self._spend.record(obs.tenant, obs.ts, obs.cost_usd)
        return verdict

    def _route_window(self) -> Window:
        s = self.settings
        return Window(
            self.bins,
            bucket_s=s.bucket_s,
            horizon_s=s.fine_horizon_s,
            quantile_horizon_s=s.quantile_horizon_s,
            coarse_bucket_s=s.coarse_bucket_s,
            coarse_horizon_s=self._coarse_horizon_s,
        )

    def _tier_window(self) -> Window:
        s = self.settings
        return Window(
            self.bins, bucket_s=s.bucket_s, horizon_s=s.quantile_horizon_s, quantile_horizon_s=s.quantile_horizon_s
        )

    # --- queries ----------------------------------------------------------------------

    def stats(self, route: str, tier: str | None = None, *, window_s: float, now: float) -> WindowStats:
        """A route's (or its tier's) statistics over the window ending at `now`. Tier
        windows reach back `quantile_horizon_s`; route windows the SLO period."""
        window = self._routes.get(route) if tier is None else self._tiers.get((route, tier))
        if window is None:
            return WindowStats(window_s=window_s)
        histograms = window.histograms(window_s, now) if window_s <= window.quantile_horizon_s else None
        return WindowStats.of(window_s, window.totals(window_s, now), self.bins, histograms)

    def p95(self, route: str, tier: str | None, window_s: float, now: float) -> float | None:
        """p95 latency (seconds) of a route's traffic (from one tier, or all), None without
        requests. `window_s` must not exceed `settings.quantile_horizon_s` (ValueError)."""
        window = self._routes.get(route) if tier is None else self._tiers.get((route, tier))
        return None if window is None else window.quantile(0.95, window_s, now)

    def evaluate(self, now: float) -> Report:
        """Everything the alert rules and the controller read, at `now`."""
        s = self.settings
        names = dict.fromkeys([*self._objectives, *self._routes])
        routes = tuple(self._route_report(name, now) for name in names)
        self._spend.forget_idle(now)
        cost = s.cost_anomaly
        spend = []
        for tenant in self._spend.tenants():
            found = self._spend.window(tenant, window_s=cost.window_s, baseline_s=cost.baseline_s, now=now)
            spend.append(
                SpendReport(
                    tenant=None if tenant == ALL else tenant,
                    window_s=cost.window_s,
                    spent_usd=found.spent_usd,
                    baseline_usd=found.baseline_usd,
                    history_s=found.history_s,
                )
            )
        return Report(at=now, window_s=s.rolling_window_s, routes=routes, spend=tuple(spend))

    def _route_report(self, name: str, now: float) -> RouteReport:
        s = self.settings
        target = self.objectives(name)
        window = self._routes.get(name)
        if window is None:
            window = self._routes[name] = self._route_window()
        memo: dict[float, Vector] = {}

        def totals(window_s: float) -> Vector:
            if window_s not in memo:
                memo[window_s] = window.vector(window_s, now)
            return memo[window_s]

        rolling = WindowStats.of(
            s.rolling_window_s,
            Totals.of(totals(s.rolling_window_s)),
            self.bins,
            window.histograms(s.rolling_window_s, now),
        )
        pairs = target.slo.burn_windows if target.slo.burn_windows is not None else s.burn.windows
        objectives = tuple(
            self._objective_report(target, objective, pairs, totals)
            for objective in OBJECTIVES
            if target.has(objective)
        )
        cache = s.cache_regression
        fallback, attempts = s.fallback_rate.window_s, s.retry_amplification.window_s
        return RouteReport(
            route=name,
            targets=target,
            rolling=rolling,
            objectives=objectives,
            cache_recent=_rate(totals(cache.window_s), CACHE_HITS, COUNTED, cache.window_s),
            cache_baseline=_rate(totals(cache.baseline_s), CACHE_HITS, COUNTED, cache.baseline_s),
            fallback=_rate(totals(fallback), FALLBACKS, COUNTED, fallback),
            attempts=_rate(totals(attempts), ATTEMPTS, UPSTREAM, attempts),
            tiers=tuple(
                (tier, self.stats(name, tier, window_s=s.rolling_window_s, now=now))
                for (route, tier) in self._tiers
                if route == name
            ),
        )

    def _objective_report(
        self,
        target: RouteObjectives,
        objective: Objective,
        pairs: list[BurnWindowDoc],
        totals: Callable[[float], Vector],
    ) -> ObjectiveReport:
        fraction = target.target(objective)
        rolling = Totals.of(totals(self.settings.rolling_window_s))
        period = Totals.of(totals(self.settings.period_s))
        burns = []
        for window_s in sorted({w for pair in pairs for w in (pair.long_s, pair.short_s)}):
            seen = Totals.of(totals(window_s))
            events = seen.events(objective)
            burns.append(Burn(window_s, burn_rate(seen.bad_events(objective), events, fraction), events))
        bad = rolling.fraction_bad(objective)
        return ObjectiveReport(
            objective=objective,
            target=fraction,
            threshold_s=target.threshold_s(objective),
            good_fraction=None if bad is None else 1.0 - bad,
            budget_remaining=budget_remaining(period.bad_events(objective), period.events(objective), fraction),
            period_events=period.events(objective),
            burns=tuple(burns),
        )


def _rate(vector: Vector, part: int, whole: int, window_s: float) -> Rate:
    requests = float(vector[whole])
    return Rate(window_s, float(vector[part]) / requests if requests > 0 else None, requests)

"""The simulator's engine against queueing theory and against what batching, KV-cache
capacity and bounded queues must do."""

from __future__ import annotations

import random
import time

from envelope.sim.engine import Outcome, simulate
from envelope.sim.fleet import Fleet, Pool, Profile
from envelope.sim.plan import Plan
from envelope.sim.report import percentiles


def fleet(
    *,
    replicas: int = 1,
    max_batch: int = 1,
    kv: int = 10**9,
    queue: int = 10**6,
    base_ms: float = 1.0,
    per_seq_ms: float = 0.0,
    prefill: float = 1e12,
    extra: dict[str, Pool] | None = None,
) -> Fleet:
    profile = Profile(
        prefill_tokens_per_s=prefill,
        decode_base_ms=base_ms,
        decode_per_seq_ms=per_seq_ms,
        max_batch=max_batch,
        kv_cache_tokens=kv,
    )
    tiers = {"S": Pool(profile="p", replicas=replicas, queue=queue, max_wait_ms=1e12), **(extra or {})}
    return Fleet(profiles={"p": profile}, tiers=tiers)  # type: ignore[arg-type]


def job(t: float, output_tokens: int, input_tokens: int = 0, **options: object) -> Plan:
    """A plan for tier S with no deadline unless given."""
    values: dict[str, object] = {"tiers": ("S",), "deadline_ms": 1e12, **options}
    return Plan(t=t, input_tokens=input_tokens, output_tokens=output_tokens, **values)  # type: ignore[arg-type]


def poisson(rate: float, count: int, rng: random.Random, tokens: list[int]) -> list[Plan]:
    t, plans = 0.0, []
    for n in tokens[:count]:
        t += rng.expovariate(rate)
        plans.append(job(t, n))
    return plans


def mean_wait(outcome: Outcome) -> float:
    waits = [a - p.t for a, p in zip(outcome.admitted, outcome.plans, strict=True)]
    return sum(waits) / len(waits)


def test_mm1_mean_wait_matches_the_formula() -> None:
    """Batch size 1 and (near) exponential service: the mean wait is ρ/(μ−λ)."""
    rng = random.Random(7)
    lam, service_ms = 7.0, 100.0  # μ = 10/s, ρ = 0.7: Wq = 0.7 / 3 s ≈ 233 ms
    # Geometric numbers of 1 ms steps with mean 100: exponential to within half a percent.
    tokens = [1 + int(rng.expovariate(1 / service_ms)) for _ in range(60_000)]
    outcome = simulate(fleet(), poisson(lam, 60_000, rng, tokens))
    mu = 1000.0 / (sum(tokens) / len(tokens))
    expected = (lam / mu) / (mu - lam)
    assert abs(mean_wait(outcome) - expected) / expected < 0.10
    (stats,) = outcome.tiers.values()
    utilisation = stats.busy_s / outcome.horizon
    assert abs(utilisation - lam / mu) < 0.02


def test_an_idle_replica_serves_at_once_and_latency_is_prefill_plus_steps() -> None:
    f = fleet(prefill=1000.0, base_ms=10.0)  # 1 ms per input token
    outcome = simulate(f, [job(1.0, 30, 200)])
    assert outcome.status == ["served"]
    assert abs(outcome.first_token[0] - (1.0 + 0.2 + 0.01)) < 1e-9
    assert abs(outcome.done[0] - (1.0 + 0.2 + 0.3)) < 1e-9


def test_batching_raises_throughput() -> None:
    plans = [job(i * 0.01, 50, 10) for i in range(200)]
    one = simulate(fleet(base_ms=10.0, per_seq_ms=1.0), plans)
    eight = simulate(fleet(max_batch=8, base_ms=10.0, per_seq_ms=1.0), plans)
    assert all(s == "served" for s in one.status + eight.status)
    # one at a time: 200 × 50 steps of 11 ms; eight at a time: steps of 18 ms for 8 sequences
    assert 110.0 <= one.horizon < 111.0
    assert eight.horizon < one.horizon / 4
    p50_one = percentiles(d - p.t for d, p in zip(one.done, plans, strict=True)).p50
    p50_eight = percentiles(d - p.t for d, p in zip(eight.done, plans, strict=True)).p50
    assert p50_one is not None and p50_eight is not None and p50_eight < p50_one / 4


def test_a_request_joining_mid_run_waits_for_the_step_boundary_only() -> None:
    f = fleet(max_batch=4, base_ms=10.0)
    plans = [
        job(0.0, 100),
        job(0.105, 5),
    ]
    outcome = simulate(f, plans)
    assert abs(outcome.admitted[1] - 0.11) < 1e-9  # the boundary after 0.105: step 11 ends at 0.11
    assert abs(outcome.done[1] - 0.16) < 1e-9
    assert abs(outcome.done[0] - 1.0) < 1e-9  # its steps were not slowed (per_seq_ms = 0)


def test_kv_cache_capacity_limits_concurrency() -> None:
    plans = [job(0.0, 100, 900) for _ in range(16)]
    roomy = simulate(fleet(max_batch=16, kv=100_000), plans)
    tight = simulate(fleet(max_batch=16, kv=2_000), plans)  # two sequences of 1000 tokens at a time
    (roomy_stats,) = roomy.tiers.values()
    (tight_stats,) = tight.tiers.values()
    assert roomy_stats.batch_s / roomy_stats.busy_s > 15
    assert tight_stats.batch_s / tight_stats.busy_s <= 2.0 + 1e-9
    assert tight.horizon > 7 * roomy.horizon
    assert sorted(tight.admitted)[2] > 0  # the third one waited


def test_a_request_larger_than_the_kv_cache_is_rejected() -> None:
    outcome = simulate(fleet(kv=500), [job(0.0, 200, 400)])
    assert outcome.status == ["rejected"]
    assert outcome.tiers["S"].too_large == 1


def test_a_full_queue_sheds() -> None:
    plans = [job(0.0, 10) for _ in range(10)]
    outcome = simulate(fleet(queue=2), plans)
    assert outcome.status.count("served") == 3  # one on the replica, two waiting
    assert outcome.status.count("shed") == 7
    assert outcome.tiers["S"].shed == 7
    assert len(outcome.tiers["S"].queue_enter) == 2


def test_a_wait_is_bounded_then_the_next_tier_takes_it() -> None:
    other = Pool(profile="p", replicas=1)
    f = fleet(extra={"M": other})
    plans = [
        job(0.0, 1000, tiers=("S", "M")),  # holds S for 1 s
        job(0.0, 10, tiers=("S", "M"), steps=("wait", "next_tier"), wait_ms=200),
    ]
    outcome = simulate(f, plans)
    assert outcome.tier == ["S", "M"]
    assert outcome.rerouted == [False, True]
    assert abs(outcome.admitted[1] - 0.2) < 1e-9
    assert outcome.tiers["S"].rerouted_out == 1
    short = job(0.0, 10, tiers=("S", "M"), steps=("wait", "next_tier"), wait_ms=500, deadline_ms=100)
    hurried = simulate(fleet(extra={"M": Pool(profile="p", replicas=1)}), [plans[0], short])
    assert abs(hurried.admitted[1] - 0.1) < 1e-9  # the wait never runs past the deadline


def test_a_full_queue_reroutes_at_once_and_without_next_tier_the_wait_runs_out() -> None:
    f = fleet(queue=0, extra={"M": Pool(profile="p", replicas=1)})
    first = job(0.0, 1000, tiers=("S", "M"))
    rerouted = simulate(f, [first, job(0.1, 5, tiers=("S", "M"), steps=("wait", "next_tier"))])
    assert rerouted.tier[1] == "M" and rerouted.admitted[1] == 0.1
    shed = simulate(fleet(queue=5), [job(0.0, 1000), job(0.1, 5, deadline_ms=300)])
    assert shed.status == ["served", "shed"]  # its deadline ran out in the queue


def test_cached_requests_skip_the_fleet() -> None:
    plans = [job(2.0, 500, 500, cached=True)]
    outcome = simulate(fleet(), plans, cache_latency_ms=3.0)
    assert outcome.status == ["cached"]
    assert abs(outcome.done[0] - 2.003) < 1e-9
    assert outcome.tiers["S"].busy_s == 0


def test_the_same_plans_give_the_same_outcome() -> None:
    def run() -> Outcome:
        rng = random.Random(3)
        tokens = [rng.randint(1, 200) for _ in range(2000)]
        return simulate(fleet(replicas=3, max_batch=4, kv=500, queue=20, base_ms=5.0), poisson(50.0, 2000, rng, tokens))

    a, b = run(), run()
    assert [x for x in a.done if x == x] == [x for x in b.done if x == x]  # x == x: not NaN
    assert sum(s == "shed" for s in a.status) > 0
    assert a.status == b.status and a.tier == b.tier


def test_a_hundred_thousand_arrivals_take_seconds() -> None:
    rng = random.Random(1)
    tokens = [rng.randint(20, 300) for _ in range(100_000)]
    plans = poisson(40.0, 100_000, rng, tokens)  # 6,400 output tokens/s against about 9,000
    f = fleet(replicas=10, max_batch=32, kv=200_000, base_ms=20.0, per_seq_ms=0.5, prefill=5000.0, queue=500)
    started = time.perf_counter()
    outcome = simulate(f, plans)
    assert time.perf_counter() - started < 10.0  # about 1 s on a quiet core
    assert outcome.status.count("served") == 100_000

"""The discrete-event simulator: requests through tiers of replicas that batch continuously.

Each tier is a pool of identical replicas behind one FIFO wait queue. A replica runs
decode steps over every sequence it holds; at each step boundary finished sequences
leave (freeing their batch slot and the KV-cache tokens they reserved, input plus
output) and waiting requests join, their prefill making that step longer. A request
arriving while a replica has room joins the least loaded such replica at its next step
boundary; otherwise it follows its plan's capacity steps: wait in the tier's queue
(bounded in length and time), reroute to another tier that has room now, or be shed.

Time advances from event to event (a heap of step boundaries and wait deadlines,
merged with the sorted arrivals). Between two events nothing changes, so a replica's
run of identical steps up to its next completion is one event, not one per token; an
arrival that joins a replica mid-run moves that event to the next step boundary.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from envelope.config.documents import Tier
from envelope.core.rules import capacity_wait_s
from envelope.sim.fleet import Fleet, Pool, Profile
from envelope.sim.plan import Plan, Status

_NEW, _QUEUED, _PENDING, _ACTIVE, _DONE = range(5)
_STEP_END, _WAIT_END = 0, 1
_NAN = math.nan


@dataclass(slots=True)
class TierStats:
    """What happened on one tier over the run."""

    tier: Tier
    replicas: int
    busy_s: float = 0.0  # Σ over replicas of time with at least one sequence
    batch_s: float = 0.0  # Σ batch size × time: mean batch = batch_s / busy_s
    shed: int = 0  # refused at this tier (queue full or wait over, nowhere else to go)
    rerouted_out: int = 0  # sent on to another tier by a next_tier step
    too_large: int = 0  # input + output beyond one replica's KV cache
    queue_enter: list[float] = field(default_factory=list)
    queue_leave: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Per request (same order as the plans) and per tier; times in seconds, NaN if not reached."""

    plans: Sequence[Plan]
    status: list[Status]
    tier: list[Tier | None]
    admitted: list[float]
    first_token: list[float]
    done: list[float]
    rerouted: list[bool]
    tiers: dict[Tier, TierStats]
    horizon: float  # the last arrival or completion


class _Replica:
    __slots__ = (
        "active", "at_boundary", "batch", "d", "d0", "index", "kv", "pending", "planned", "pool", "running",
        "slots", "start", "steps_done", "version",
    )  # fmt: skip

    def __init__(self, index: int, pool: _Pool) -> None:
        self.index = index
        self.pool = pool
        self.active: list[tuple[int, int]] = []  # heap of (step at which it finishes, request)
        self.pending: list[int] = []  # joined, to be prefilled at the next step boundary
        self.slots = 0  # active + pending
        self.kv = 0  # KV-cache tokens reserved
        self.steps_done = 0
        self.running = False
        self.at_boundary = False
        self.version = 0  # bumped whenever the run's end event is replaced
        self.start = self.d0 = self.d = 0.0
        self.planned = self.batch = 0


class _Pool:
    __slots__ = ("bound", "kv_cap", "live", "max_batch", "max_wait_s", "profile", "queue", "replicas", "stats", "tier")

    def __init__(self, tier: Tier, pool: Pool, profile: Profile, first_index: int) -> None:
        self.tier = tier
        self.profile = profile
        self.max_batch = profile.max_batch
        self.kv_cap = profile.kv_cache_tokens
        self.bound = pool.queue
        self.max_wait_s = pool.max_wait_ms / 1000.0
        self.replicas = [_Replica(first_index + k, self) for k in range(pool.replicas)]
        self.queue: deque[tuple[int, int]] = deque()  # (request, its queue entry number); stale ones skipped
        self.live = 0  # requests really waiting in `queue`
        self.stats = TierStats(tier, pool.replicas)

    def roomiest(self, need: int) -> _Replica | None:
        """The least loaded replica with a free batch slot and `need` KV tokens free."""
        best = None
        for r in self.replicas:
            if r.slots < self.max_batch and r.kv + need <= self.kv_cap and (best is None or r.slots < best.slots):
                best = r
        return best


def simulate(fleet: Fleet, plans: Sequence[Plan], *, cache_latency_ms: float = 5.0) -> Outcome:
    """Run `plans` through `fleet`; deterministic (no randomness here)."""
    return _Engine(fleet, plans, cache_latency_ms / 1000.0).run()


class _Engine:
    def __init__(self, fleet: Fleet, plans: Sequence[Plan], cache_s: float) -> None:
        n = len(plans)
        self.plans = plans
        self.cache_s = cache_s
        self.pools: dict[Tier, _Pool] = {}
        self.replicas: list[_Replica] = []
        for tier, pool in fleet.tiers.items():
            built = _Pool(tier, pool, fleet.profiles[pool.profile], len(self.replicas))
            self.pools[tier] = built
            self.replicas.extend(built.replicas)
        self.need = [p.input_tokens + p.output_tokens for p in plans]
        self.status: list[Status] = ["shed"] * n
        self.tier: list[Tier | None] = [None] * n
        self.admitted = [_NAN] * n
        self.first = [_NAN] * n
        self.done = [_NAN] * n
        self.rerouted = [False] * n
        self.state = [_NEW] * n
        self.step_i = [0] * n  # the next capacity step to take
        self.qseq = [0] * n
        self.qenter = [0.0] * n
        self.events: list[tuple[float, int, int, int, int]] = []
        self.counter = 0

    def run(self) -> Outcome:
        plans, events = self.plans, self.events
        for i in sorted(range(len(plans)), key=lambda k: plans[k].t):
            t = plans[i].t
            while events and events[0][0] <= t:
                self._event(heapq.heappop(events))
            self._arrive(i, t)
        while events:
            self._event(heapq.heappop(events))
        last = max((p.t for p in plans), default=0.0)
        horizon = max([last, *(d for d in self.done if d == d)])  # d == d: not NaN
        stats = {tier: pool.stats for tier, pool in self.pools.items()}
        return Outcome(
            plans, self.status, self.tier, self.admitted, self.first, self.done, self.rerouted, stats, horizon
        )

    def _push(self, at: float, kind: int, a: int, b: int) -> None:
        self.counter += 1
        heapq.heappush(self.events, (at, self.counter, kind, a, b))

    def _event(self, event: tuple[float, int, int, int, int]) -> None:
        at, _, kind, a, b = event
        if kind == _STEP_END:
            replica = self.replicas[a]
            if replica.version == b:
                self._boundary(replica, at)
        elif self.state[a] == _QUEUED and self.qseq[a] == b:
            self._wait_over(a, at)

    # --- requests ------------------------------------------------------------------

    def _arrive(self, i: int, t: float) -> None:
        plan = self.plans[i]
        if plan.rejected is not None or not plan.tiers:
            self.status[i] = "rejected"
            return
        if plan.cached:
            self.status[i] = "cached"
            self.admitted[i] = t
            self.first[i] = self.done[i] = t + self.cache_s
            return
        pool = self.pools[plan.tiers[0]]
        if self.need[i] > pool.kv_cap:
            pool.stats.too_large += 1
            self.status[i] = "rejected"
            return
        if not self._place(i, pool, t):
            self._next_step(i, t)

    def _place(self, i: int, pool: _Pool, now: float) -> bool:
        """Onto a replica with room now, unless others are waiting for one already."""
        if pool.live > 0 or self.need[i] > pool.kv_cap:
            return False
        replica = pool.roomiest(self.need[i])
        if replica is None:
            return False
        self.tier[i] = pool.tier
        self._assign(replica, i, now)
        return True

    def _next_step(self, i: int, now: float) -> None:
        """The first tier has no room: the plan's capacity steps, in order, then shed."""
        plan = self.plans[i]
        home = self.pools[plan.tiers[0]]
        steps = plan.steps
        while self.step_i[i] < len(steps):
            step = steps[self.step_i[i]]
            self.step_i[i] += 1
            if step == "wait":
                if home.live >= home.bound:
                    continue
                left = plan.deadline_ms / 1000.0 - (now - plan.t)
                wait = capacity_wait_s(left, plan.wait_ms, last=self.step_i[i] == len(steps))
                bound = min(wait, home.max_wait_s)
                if bound > 0:
                    self._enqueue(i, home, now, bound)
                    return
            else:
                for tier in plan.tiers[1:]:
                    if self._place(i, self.pools[tier], now):
                        self.rerouted[i] = True
                        home.stats.rerouted_out += 1
                        return
        home.stats.shed += 1
        self.status[i] = "shed"

    def _enqueue(self, i: int, pool: _Pool, now: float, bound: float) -> None:
        seq = self.qseq[i] + 1
        self.qseq[i] = seq
        self.state[i] = _QUEUED
        self.qenter[i] = now
        pool.queue.append((i, seq))
        pool.live += 1
        self._push(now + bound, _WAIT_END, i, seq)

    def _leave_queue(self, i: int, pool: _Pool, now: float) -> None:
        pool.live -= 1
        pool.stats.queue_enter.append(self.qenter[i])
        pool.stats.queue_leave.append(now)

    def _wait_over(self, i: int, now: float) -> None:
        pool = self.pools[self.plans[i].tiers[0]]
        self._leave_queue(i, pool, now)
        self.state[i] = _NEW
        self._drain(pool, now)  # it may have blocked the head of the queue
        self._next_step(i, now)

    def _drain(self, pool: _Pool, now: float) -> None:
        """Waiting requests, oldest first, onto replicas with room, until the oldest does not fit."""
        queue, state, qseq = pool.queue, self.state, self.qseq
        while queue:
            i, seq = queue[0]
            if state[i] != _QUEUED or qseq[i] != seq:
                queue.popleft()
                continue
            replica = pool.roomiest(self.need[i])
            if replica is None:
                return
            queue.popleft()
            self._leave_queue(i, pool, now)
            self.tier[i] = pool.tier
            self._assign(replica, i, now)

    # --- replicas ------------------------------------------------------------------

    def _assign(self, r: _Replica, i: int, now: float) -> None:
        """`i` joins `r` at its next step boundary."""
        self.state[i] = _PENDING
        r.pending.append(i)
        r.slots += 1
        r.kv += self.need[i]
        if r.at_boundary:
            return  # the boundary being handled starts the next run with it
        if not r.running:
            self._start(r, now)
            return
        elapsed = now - r.start
        if elapsed <= r.d0:
            steps, at = 1, r.start + r.d0
        else:
            j = math.ceil((elapsed - r.d0) / r.d)
            steps, at = 1 + j, r.start + r.d0 + j * r.d
        if steps < r.planned:
            r.planned = steps
            r.version += 1
            self._push(at, _STEP_END, r.index, r.version)

    def _start(self, r: _Replica, now: float) -> None:
        """A run of steps with the same batch, up to the next completion."""
        active, pending = r.active, r.pending
        if not pending and not active:
            r.running = False
            return
        profile = r.pool.profile
        d = profile.step_ms(r.slots) / 1000.0
        d0 = d + sum(profile.prefill_ms(self.plans[i].input_tokens) for i in pending) / 1000.0
        first = now + d0
        for i in pending:
            self.state[i] = _ACTIVE
            self.admitted[i] = now
            self.first[i] = first
            heapq.heappush(active, (r.steps_done + max(1, self.plans[i].output_tokens), i))
        pending.clear()
        steps = active[0][0] - r.steps_done
        r.start, r.d0, r.d, r.planned, r.batch = now, d0, d, steps, r.slots
        r.running = True
        r.version += 1
        self._push(now + d0 + (steps - 1) * d, _STEP_END, r.index, r.version)

    def _boundary(self, r: _Replica, now: float) -> None:
        pool = r.pool
        r.steps_done += r.planned
        pool.stats.busy_s += now - r.start
        pool.stats.batch_s += r.batch * (now - r.start)
        r.running = False
        r.at_boundary = True
        active = r.active
        while active and active[0][0] <= r.steps_done:
            _, i = heapq.heappop(active)
            self.done[i] = now
            self.status[i] = "served"
            self.state[i] = _DONE
            r.slots -= 1
            r.kv -= self.need[i]
        self._drain(pool, now)
        r.at_boundary = False
        self._start(r, now)

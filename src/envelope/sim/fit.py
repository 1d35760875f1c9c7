"""A throughput profile fitted to measured requests of a one-at-a-time server.

Served alone, a request takes `overhead + input / prefill_rate + output × decode_step`
in the simulator's model (batch size 1), which is linear in the token counts; a least
squares fit over requests of varied lengths gives the three numbers (a negative
overhead is read as a prompt prefix the server had cached). Pure: the
measuring is `calibrate.py`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envelope.sim.fleet import Profile


class CalibrationError(Exception):
    """The measurements do not determine a profile."""


@dataclass(frozen=True, slots=True)
class Measurement:
    """One request served alone: its token counts and its latency, end to end."""

    input_tokens: int
    output_tokens: int
    latency_ms: float


def fit_profile(samples: Sequence[Measurement], *, kv_cache_tokens: int) -> Profile:
    """The batch-size-1 profile that best explains `samples` (least squares)."""
    if len(samples) < 3:
        raise CalibrationError(f"need at least 3 measurements, got {len(samples)}")
    ins = np.array([s.input_tokens for s in samples], dtype=float)
    outs = np.array([s.output_tokens for s in samples], dtype=float)
    latency = np.array([s.latency_ms for s in samples], dtype=float)
    if np.ptp(ins) == 0 or np.ptp(outs) == 0:
        raise CalibrationError("the measurements need varied input and output lengths")
    overhead, per_input, per_output = _solve(np.column_stack([np.ones_like(ins), ins, outs]), latency)
    if per_input <= 0 or per_output <= 0:
        raise CalibrationError(
            f"the fit is not physical (ms per input token {per_input:.3f}, per output token {per_output:.3f}): "
            "the measurements are too noisy; measure again on a quieter machine"
        )
    # Below zero, the fixed cost is prompt tokens the server did not prefill: llama.cpp
    # keeps the last prompt's KV cache, and every chat prompt opens with the same system prompt.
    cached = max(0, min(round(-overhead / per_input), int(ins.min())))
    return Profile(
        prefill_tokens_per_s=round(1000.0 / per_input, 1),
        decode_base_ms=round(per_output, 3),
        decode_per_seq_ms=0.0,
        overhead_ms=round(max(overhead, 0.0), 1),
        cached_prefix_tokens=cached,
        max_batch=1,
        kv_cache_tokens=kv_cache_tokens,
    )


def _solve(x: np.ndarray, y: np.ndarray) -> list[float]:
    coefficients, *_ = np.linalg.lstsq(x, y, rcond=None)
    return [float(c) for c in coefficients]


def predict_ms(profile: Profile, input_tokens: int, output_tokens: int) -> float:
    """A request's latency served alone on one replica of `profile`."""
    return profile.prefill_ms(input_tokens) + max(1, output_tokens) * profile.step_ms(1)

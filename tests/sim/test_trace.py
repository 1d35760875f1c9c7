"""Traces: JSONL in and out, ledger exports, generated arrivals, and clear errors."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from envelope.sim import trace
from envelope.sim.trace import Arrival, TraceError


def test_jsonl_round_trip(tmp_path: Path) -> None:
    rows = [
        Arrival(ts=0.0, input_tokens=120, output_tokens=40),
        Arrival(ts=0.5, input_tokens=80, output_tokens=9, route="docs", tenant="acme", tier="L", mode="fast"),
        Arrival(ts=2.25, input_tokens=7, output_tokens=1, intent="faq", complexity="low", risk=0.1, cache="exact"),
    ]
    path = tmp_path / "t.jsonl"
    trace.save(rows, path)
    assert trace.load(path) == rows
    first = json.loads(path.read_text().splitlines()[0])
    assert first == {"ts": 0.0, "output_tokens": 40, "input_tokens": 120}  # defaults left out


def test_a_ledger_export_loads_as_it_is(tmp_path: Path) -> None:
    ledger_row = {
        "request_id": "r1", "ts": 1718000000.5, "tenant": "acme", "key_id": "k", "route": "default",
        "feature": None, "operation": "chat", "model": "smollm2", "deployment": "d", "tier": "S", "mode": "balanced",
        "stream": False, "status": 200, "input_tokens": 50, "output_tokens": 20, "cache": "miss", "latency_ms": 812.0,
    }  # fmt: skip
    embedding = {**ledger_row, "ts": 1718000001.0, "operation": "embeddings"}
    later = {**ledger_row, "ts": 1718000003.0, "cache": "semantic"}
    path = tmp_path / "ledger.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (later, ledger_row, embedding)) + "\n\n")
    rows = trace.load(path)
    assert [r.ts for r in rows] == [0.0, 2.5]  # sorted, from 0, embeddings skipped
    assert rows[0].tenant == "acme" and rows[0].tier == "S" and not rows[0].cache_hit
    assert rows[1].cache_hit


def test_input_tokens_from_the_prompt(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"ts": 3, "prompt": "x" * 41, "output_tokens": 5}) + "\n")
    (row,) = trace.load(path)
    assert row.input_tokens == 11 and row.input_chars == 41


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('{"ts": 1, "input_tokens": 5}', "line 2: Object missing required field `output_tokens`"),
        ('{"ts": 1, "input_tokens": "many", "output_tokens": 3}', "line 2: Expected `int | null`, got `str`"),
        ('{"ts": 1, "output_tokens": 3}', "line 2: needs input_tokens (or prompt"),
        ('{"ts": 1, "input_tokens": -1, "output_tokens": 3}', "line 2: token counts must not be negative"),
        (
            '{"ts": 1, "input_tokens": 1, "output_tokens": 3, "tier": "XL"}',
            "line 2: Invalid enum value 'XL' - at `$.tier`",
        ),
        ("not json", "line 2: JSON is malformed"),
    ],
)
def test_a_bad_line_is_named(tmp_path: Path, line: str, said: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"ts": 0, "input_tokens": 1, "output_tokens": 1}\n' + line + "\n")
    with pytest.raises(TraceError) as caught:
        trace.load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert said in str(caught.value)


def test_missing_and_empty_traces(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        trace.load(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(TraceError, match="no chat requests"):
        trace.load(empty)


def test_generated_arrivals_follow_the_spec() -> None:
    spec = trace.parse_spec("rate=50,duration=200,input_mean=300,output_mean=100,routes=a:3/b:1,modes=fast:1")
    rows = trace.generate(spec, random.Random(1))
    assert abs(len(rows) / 200 - 50) < 2.5
    assert all(0 <= r.ts < 200 for r in rows) and rows == sorted(rows, key=lambda r: r.ts)
    assert abs(sum(r.tokens_in for r in rows) / len(rows) - 300) < 15
    assert abs(sum(r.output_tokens for r in rows) / len(rows) - 100) < 5
    share = sum(r.route == "a" for r in rows) / len(rows)
    assert abs(share - 0.75) < 0.03
    assert {r.mode for r in rows} == {"fast"}


def test_bursts_raise_the_rate_while_they_last() -> None:
    spec = trace.parse_spec("rate=10,duration=300,burst_every=60,burst_length=10,burst_factor=5")
    rows = trace.generate(spec, random.Random(2))
    inside = sum(1 for r in rows if r.ts % 60 < 10)
    outside = len(rows) - inside
    assert abs(inside / 50 - 50) < 6  # 5 bursts of 10 s at 50/s
    assert abs(outside / 250 - 10) < 1.5
    assert len(rows) == len(trace.generate(spec, random.Random(2)))  # the seed decides


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("rate=fast", "rate='fast' is not a number"),
        ("speed=3", "'speed=3' is not KEY=VALUE"),
        ("rate", "'rate' is not KEY=VALUE"),
        ("rate=0", "rate and duration must be above 0"),
        ("burst_every=10,burst_length=20,burst_factor=2", "burst_length must be above 0 and at most burst_every"),
        ("burst_every=10,burst_length=2,burst_factor=0", "burst_factor must be above 0"),
        ("routes=:1", "needs a name"),
        ("modes=quick:1", "quick is not fast, balanced or precise"),
        ("rate=-1", "must be a finite number ≥ 0"),
    ],
)
def test_a_bad_spec_is_explained(text: str, said: str) -> None:
    with pytest.raises(TraceError) as caught:
        trace.parse_spec(text)
    assert said in str(caught.value)

"""`envelope bench` runs end to end and prints its figures (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys


def test_bench_prints_figures_for_each_mode() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "envelope.cli.main", "bench", "--duration", "0.5", "--warmup", "20",
         "--connections", "8", "--rate", "200", "--semantic-sizes", "2000,5000", "--json"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout)
    rows = figures["rows"]
    assert [r["mode"] for r in rows] == [
        "non-streaming",
        "streaming (20 chunks)",
        "non-streaming at 200 req/s",
        "non-streaming, exact-cache hits",
        "non-streaming + classifier",
    ]
    for row in rows:
        for side in ("direct", "gateway"):
            assert row[side]["count"] > 0 and row[side]["errors"] == 0
            assert 0 < row[side]["p50_ms"] <= row[side]["p99_ms"]
        assert row["gateway_cpu_ms"] > 0
    assert rows[1]["gateway"]["ttft_p50_ms"] is not None
    costs = figures["classifier"]
    assert [c["runtime"] for c in costs] == ["onnx", "numpy"]
    cost = costs[0]
    assert cost["prompts"] > 100
    assert 0 < cost["heads_and_rules_us"] < 1000 * cost["embed_single_p50_ms"]
    assert 0 < cost["embed_single_p50_ms"] <= cost["embed_single_p99_ms"]
    lookups = figures["semantic"]
    assert [c["entries"] for c in lookups] == [2000, 5000]
    for c in lookups:
        assert 0 < c["lookup_p50_us"] <= c["lookup_p99_us"] and c["lookup_cpu_us"] > 0
        assert c["recall"] > 0.9  # a paraphrase probe finds its own entry first

"""`envelope simulate` as a user runs it (typer's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from envelope.cli.main import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["simulate", *args])
    return result.exit_code, result.stdout, " ".join(result.stderr.split())


def test_a_generated_trace_prints_tiers_routes_and_cost(tmp_path: Path) -> None:
    saved = tmp_path / "trace.jsonl"
    code, out, err = run("--generate", "rate=8,duration=60,modes=balanced:3/precise:1", "--save-trace", str(saved))
    assert code == 0, err
    assert "by tier" in out and "by route" in out and "small-gpu" in out and "USD per 1k requests" in out
    assert "default" in out and "all" in out
    lines = saved.read_text().splitlines()
    assert 380 < len(lines) < 600
    again = run("--trace", str(saved), "--json")
    first = run("--generate", "rate=8,duration=60,modes=balanced:3/precise:1", "--json")
    assert again[0] == first[0] == 0
    replayed, generated = json.loads(again[1]), json.loads(first[1])
    assert replayed["overall"] == generated["overall"]  # the saved trace is the generated one
    assert replayed["overall"]["requests"] == len(lines)
    assert {t["tier"] for t in replayed["tiers"]} == {"S", "M", "L"}
    assert 0 < replayed["tiers"][0]["utilisation"] < 1


def test_the_seed_decides_and_cache_hits_cut_cost() -> None:
    base = ("--generate", "rate=20,duration=30", "--json")
    a, b, c = (json.loads(run(*base, "--seed", seed)[1]) for seed in ("1", "1", "2"))
    assert a["overall"] == b["overall"] and a["overall"] != c["overall"]
    cached = json.loads(run(*base, "--seed", "1", "--cache-hit-rate", "0.5")[1])
    assert 0.4 < cached["overall"]["cached"] / cached["overall"]["requests"] < 0.6
    assert cached["overall"]["cost_usd"] < 0.7 * a["overall"]["cost_usd"]


def test_a_small_fleet_sheds_and_reroutes(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(
        "profiles:\n"
        "  slow: {prefill_tokens_per_s: 2000, decode_base_ms: 20, max_batch: 2, kv_cache_tokens: 4000}\n"
        "tiers:\n"
        "  S: {profile: slow, queue: 4, prices: {input_per_1m: 1, output_per_1m: 2}}\n"
        "  M: {profile: slow, queue: 4, prices: {input_per_1m: 1, output_per_1m: 2}}\n"
    )
    code, out, err = run("--generate", "rate=20,duration=30", "--fleet", str(fleet), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["overall"]["shed"] > 0 and report["overall"]["rerouted"] > 0
    assert report["tiers"][0]["max_queue"] == 4


def test_bad_input_exits_2_with_the_reason(tmp_path: Path) -> None:
    bad_trace = tmp_path / "bad.jsonl"
    bad_trace.write_text('{"ts": 0, "input_tokens": 3}\n')
    bad_fleet = tmp_path / "fleet.yaml"
    bad_fleet.write_text("profiles: {}\ntiers: {}\n")
    unknown_route = tmp_path / "route.jsonl"
    unknown_route.write_text('{"ts": 0, "input_tokens": 3, "output_tokens": 2, "route": "ghost"}\n')
    cases = [
        ((), "give one of --trace FILE or --generate SPEC"),
        (("--trace", str(bad_trace), "--generate", "rate=1"), "give one of --trace FILE or --generate SPEC"),
        (("--trace", str(bad_trace)), "line 1: Object missing required field `output_tokens`"),
        (("--trace", str(tmp_path / "none.jsonl")), "cannot read"),
        (("--generate", "rate=x"), "rate='x' is not a number"),
        (("--generate", "rate=1", "--fleet", str(bad_fleet)), "profiles: Dictionary should have at least 1 item"),
        (("--trace", str(unknown_route)), "routes the config does not have: ghost"),
        (("--generate", "rate=1", "--config", str(tmp_path / "none.yaml")), "invalid config"),
        (("--generate", "rate=1", "--save-trace", str(tmp_path / "no" / "such" / "t.jsonl")), "--save-trace"),
    ]
    for args, said in cases:
        code, _, err = run(*args)
        assert code == 2, (args, err)
        assert said in err, (args, err)
        assert "Traceback" not in err

"""`envelope eval` as a user runs it: a real gateway process in front of the scripted
upstream (tests/support/scripted.py), the CLI in its own process. A baseline is saved,
the upstream's answers are changed so an item regresses, and the gate must fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envelope.cli.main import app
from tests.support.processes import Gateway, free_port, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

CAPITAL = "The capital of France is Paris."
GOLDEN_FAQ = """intent: faq
items:
  - id: faq-capital
    prompt: What is the capital of France?
    max_tokens: 32
    expect:
      - contains: Paris
      - judge: Answers politely and names Paris.
  - id: faq-week
    prompt: How many days are in a week?
    route: judging
    expect:
      - regex: "\\\\b(7|seven)\\\\b"
"""
GOLDEN_MATH = (
    '{"intent": "math"}\n{"id": "math-add", "prompt": "What is 2 + 2?", "expect": [{"regex": "\\\\b4\\\\b"}]}\n'
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        # The judge's prompt quotes the item's question: its rules come first.
        scripted.rules.update(
            {
                "Rubric: Answers politely": "GRADE: 5\nREASON: polite and names Paris.",
                "Rubric: Replies in haiku": "What a lovely answer, I would say 5 out of 5!",
                "capital of France": CAPITAL,
                "days are in a week": "There are 7 days in a week.",
                "2 + 2": "2 + 2 = 4.",
            }
        )
        yield scripted


@pytest.fixture(scope="module")
def gateway(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    model = {
        "name": "m",
        "tokenizer": {"type": "tiktoken"},
        "prices": {"input_per_1m": 1.0, "output_per_1m": 2.0},
        "deployments": [{"name": "m-0", "provider": {"type": "openai", "base_url": upstream.url, "model": "x"}}],
    }
    document = {
        "models": [model],
        # An exact cache on the default route: the eval must not be answered from it.
        "routes": [{"name": "default", "cache": {"exact": True}}, {"name": "judging"}],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(tmp_path_factory.mktemp("eval-gateway"), document)
    yield gw
    gw.stop()


@pytest.fixture
def golden(tmp_path: Path) -> list[str]:
    faq, math = tmp_path / "faq.yaml", tmp_path / "math.jsonl"
    faq.write_text(GOLDEN_FAQ)
    math.write_text(GOLDEN_MATH)
    return [str(faq), str(math)]


def envelope_eval(gateway: Gateway | None, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENVELOPE_")}
    if gateway is not None:
        env["ENVELOPE_BASE_URL"] = gateway.base_url
        env["ENVELOPE_API_KEY"] = key or gateway.key
    return subprocess.run(
        [sys.executable, "-m", "envelope.cli.main", "eval", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def flat(text: str) -> str:
    """Output with table borders and wrapping undone: one space for any run of whitespace."""
    return " ".join(text.replace("│", " ").split())


def test_baseline_then_a_regression_fails_the_gate(
    gateway: Gateway, upstream: ScriptedUpstream, golden: list[str], tmp_path: Path
) -> None:
    baseline, first = tmp_path / "baseline.json", tmp_path / "first.json"
    out = envelope_eval(
        gateway, *golden, "--judge-route", "judging", "--save-baseline", str(baseline), "--output", str(first)
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no baseline: report only" in out.stdout
    assert "baseline saved" in out.stderr and baseline.exists()
    run = json.loads(first.read_text())
    assert run["overall"]["pass_rate"] == 1.0 and set(run["intents"]) == {"faq", "math"}
    items = {item["id"]: item for item in run["items"]}
    capital = items["faq-capital"]
    assert capital["answer"] == CAPITAL and capital["model"] == "m" and capital["cost_usd"] > 0
    assert capital["headers"]["x-envelope-route"] == "default"
    assert items["faq-week"]["headers"]["x-envelope-route"] == "judging"  # the item's route header
    judge = next(c for c in capital["checks"] if c["scorer"] == "judge")
    assert judge["passed"] and judge["detail"] == "grade 5/5 (min 4): polite and names Paris."
    assert run["intents"]["faq"]["scorers"] == {"contains": 1.0, "judge": 1.0, "regex": 1.0}
    judged = [b for b in upstream.received if "GRADE: N" in str(b["messages"][0].get("content"))]
    assert len(judged) == 1 and CAPITAL in judged[0]["messages"][1]["content"]
    table = flat(out.stdout)
    assert "faq 2 100.0% (2/2)" in table and "math 1 100.0% (1/1)" in table

    same = envelope_eval(gateway, *golden, "--judge-route", "judging", "--baseline", str(baseline))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no regression against the baseline" in same.stdout and "+0.0 pp" in same.stdout

    upstream.rules["capital of France"] = "I am not sure, maybe Lyon?"
    saved = baseline.read_bytes()
    try:
        worse = envelope_eval(
            gateway, *golden, "--judge-route", "judging", "--baseline", str(baseline), "--save-baseline", str(baseline)
        )
    finally:
        upstream.rules["capital of France"] = CAPITAL
    assert worse.returncode == 1, worse.stdout + worse.stderr
    text = flat(worse.stdout)
    assert "REGRESSION" in text
    assert "item faq-capital (faq) passed in the baseline, fails now: contains: missing 'Paris'" in text
    assert "faq: pass rate 100.0% → 50.0%" in text and "-50.0 pp" in text
    assert "faq: mean contains score 1.000 → 0.000" in text
    assert "math" not in " ".join(line for line in worse.stdout.splitlines() if "passed in the baseline" in line)
    assert "baseline not saved" in worse.stderr and baseline.read_bytes() == saved


def test_a_malformed_judge_reply_fails_its_item(gateway: Gateway, tmp_path: Path) -> None:
    path = tmp_path / "haiku.yaml"
    path.write_text(
        "- {id: haiku, intent: creative, prompt: 'What is the capital of France?',"
        " expect: [{judge: Replies in haiku., min_grade: 1}]}\n"
    )
    output = tmp_path / "run.json"
    out = envelope_eval(gateway, str(path), "--output", str(output))
    assert out.returncode == 0, out.stdout + out.stderr  # no baseline, no minimum: a report
    (item,) = json.loads(output.read_text())["items"]
    (check,) = item["checks"]
    assert not item["passed"] and not check["passed"] and "not `GRADE: 1-5`" in check["error"]
    assert "1 failed item(s)" in out.stdout
    strict = envelope_eval(gateway, str(path), "--min-pass-rate", "0.5")
    assert strict.returncode == 1
    assert "overall pass rate 0.0% is below the minimum 50.0%" in flat(strict.stdout)


def test_usage_errors_exit_2(gateway: Gateway, golden: list[str], tmp_path: Path) -> None:
    runner = CliRunner()

    def run(*args: str, key: str | None = gateway.key, url: str = gateway.base_url) -> tuple[int, str]:
        env = {"ENVELOPE_API_KEY": key, "ENVELOPE_BASE_URL": url}
        result = runner.invoke(app, ["eval", *args], env=env)
        return result.exit_code, flat(result.stderr)

    bad = tmp_path / "bad.yaml"
    bad.write_text("intent: faq\nitems:\n  - id: typo\n    prompt: hi\n    expect:\n      - contain: hi\n")
    code, said = run(str(bad))
    assert code == 2 and f"{bad}:3: item 'typo': expect[0]: a check names exactly one scorer" in said
    code, said = run(*golden, key="sk-env-not-a-key")
    assert code == 2 and "refused the API key" in said
    code, said = run(*golden, url=f"http://127.0.0.1:{free_port()}/v1")
    assert code == 2 and "cannot connect" in said
    code, said = run(*golden, key=None)
    assert code == 2 and "no API key" in said
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    code, said = run(*golden, "--baseline", str(junk))
    assert code == 2 and "not an eval results file" in said
    assert run(*golden, "--max-drop", "2")[0] == 2
    assert run()[0] == 2  # no golden files


def test_the_shipped_samples_load(gateway: Gateway, tmp_path: Path) -> None:
    """The sample sets run end to end (the scripted model fails most of them: a report)."""
    samples = Path(__file__).parents[2] / "src" / "envelope" / "sample" / "golden"
    output = tmp_path / "samples.json"
    out = envelope_eval(gateway, str(samples), "--output", str(output), "--concurrency", "8")
    assert out.returncode == 0, out.stdout + out.stderr
    run: dict[str, Any] = json.loads(output.read_text())
    assert len(run["intents"]) == 11 and run["overall"]["items"] >= 33
    assert all(item["status"] == 200 for item in run["items"])

"""Retrieval through a real gateway: a knowledge base ingested with the real CLI (real
MiniLM embeddings, real faiss indexes), context added within its token budget, skipped
when the latency budget is short, re-ingest picked up by the running gateway and its
cached answers dropped, groundedness of answers checked. The upstream is scripted
(tests/support/scripted.py, a stand-in on real HTTP) so the test reads what it was sent."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.processes import Gateway, start_gateway
from tests.support.scripted import ScriptedUpstream, scripted_upstream

EXPENSES = """# Expenses

Meals on business trips are reimbursed up to 45 euros per day. Keep every receipt and
submit it within thirty days of the trip.

Taxis are reimbursed when no public transport runs after 22:00.
"""

TRAVEL = """<html><head><title>Travel policy</title></head><body>
<h1>Travel policy</h1>
<p>Employees book economy class for flights shorter than six hours.</p>
<p>Business class is allowed for flights longer than six hours, with a manager's approval.</p>
<script>var tracking = "not text";</script>
</body></html>"""

SECURITY = """Security rules. Passwords are rotated every ninety days. Laptops are encrypted
with a full-disk key. Lost badges are reported to the front desk at once."""


def kb_ingest(directory: Path, *paths: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "envelope.cli.main", "kb", "ingest", "handbook", *map(str, paths),
         "--directory", str(directory)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def upstream() -> Iterator[ScriptedUpstream]:
    with scripted_upstream() as scripted:
        scripted.rules.update(
            {
                "ungrounded:": "The moon is made of green cheese. Penguins fly over the Sahara every winter.",
                "grounded:": "Meals on business trips are reimbursed up to 45 euros per day.",
            }
        )
        yield scripted


@pytest.fixture(scope="module")
def site(upstream: ScriptedUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Path]]:
    root = tmp_path_factory.mktemp("retrieval")
    docs = root / "docs"
    docs.mkdir()
    (docs / "expenses.md").write_text(EXPENSES)
    (docs / "travel.html").write_text(TRAVEL)
    (docs / "security.txt").write_text(SECURITY)
    out = kb_ingest(root / "knowledge", docs)
    assert "version 1" in out and "3 added" in out
    model = {
        "name": "m",
        "tokenizer": {"type": "tiktoken"},
        "deployments": [{"name": "m-0", "provider": {"type": "openai", "base_url": upstream.url, "model": "x"}}],
    }
    rag = {"knowledge_base": "handbook", "top_k": 3, "context_tokens": 120, "min_score": 0.2}
    doc = {
        "gateway": {"knowledge": {"directory": str(root / "knowledge"), "poll_interval_s": 0.2}},
        "models": [model],
        "routes": [
            {"name": "default", "retrieval": rag, "cache": {"exact": True}},
            {"name": "accurate", "retrieval": {**rag, "index": "accurate", "rerank_below_ms": 3_600_000}},
            {
                "name": "grounded",
                "retrieval": rag,
                "guards": {"groundedness": {"action": "refuse", "min_score": 0.5}, "refusal": "Not in the handbook."},
            },
        ],
        "tenants": [{"name": "acme"}],
    }
    gw = start_gateway(root / "gateway", doc)
    yield gw, docs
    gw.stop()


def ask(gw: Gateway, text: str, route: str = "default", **headers: str) -> Any:
    c = openai.OpenAI(
        base_url=gw.base_url,
        api_key=gw.key,
        max_retries=0,
        timeout=20,
        default_headers={"x-envelope-route": route, **headers},
    )
    return c.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": text}])


def system_sent(upstream: ScriptedUpstream) -> str:
    first = upstream.received[-1]["messages"][0]
    return str(first["content"]) if first["role"] == "system" else ""


def test_the_context_reaches_the_model_within_its_budget(
    site: tuple[Gateway, Path], upstream: ScriptedUpstream
) -> None:
    gw, _ = site
    raw = ask(gw, "How much are meals reimbursed per day on a business trip?")
    sent = system_sent(upstream)
    assert sent.startswith("Answer using the context below.")
    assert "45 euros per day" in sent and "(source: Expenses)" in sent
    assert raw.headers["x-envelope-retrieval"] == "used"
    assert raw.headers["x-envelope-knowledge-base"] == "handbook"
    assert 0 < int(raw.headers["x-envelope-context-tokens"]) <= 120
    row = gw.ledger_row(raw.headers["x-envelope-request-id"])
    assert row["retrieval"] == "handbook@1:fast:used" and row["retrieval_ms"] > 0
    assert 0 < row["context_tokens"] <= 120


def test_html_is_read_as_text(site: tuple[Gateway, Path], upstream: ScriptedUpstream) -> None:
    gw, _ = site
    ask(gw, "Which class do employees fly on long flights?")
    sent = system_sent(upstream)
    assert "Business class is allowed" in sent and "tracking" not in sent


def test_a_short_latency_budget_skips_retrieval(site: tuple[Gateway, Path], upstream: ScriptedUpstream) -> None:
    gw, _ = site
    raw = ask(gw, "How often are passwords rotated?", **{"x-envelope-latency-budget-ms": "500"})
    assert system_sent(upstream) == ""
    assert raw.headers["x-envelope-retrieval"] == "skipped:late"
    assert "retrieval_skipped:late" in raw.headers["x-envelope-degradations"]


def test_the_accurate_index_skips_re_ranking_when_late(site: tuple[Gateway, Path], upstream: ScriptedUpstream) -> None:
    gw, _ = site
    raw = ask(gw, "How often are passwords rotated?", route="accurate")
    assert "ninety days" in system_sent(upstream)
    row = gw.ledger_row(raw.headers["x-envelope-request-id"])
    assert row["retrieval"] == "handbook@1:accurate_unranked:used"


def test_groundedness_refuses_answers_the_context_does_not_support(site: tuple[Gateway, Path]) -> None:
    gw, _ = site
    good = ask(gw, "grounded: what is the meal allowance per day?", route="grounded")
    assert "45 euros" in good.parse().choices[0].message.content
    assert float(good.headers["x-envelope-groundedness"]) >= 0.5
    bad = ask(gw, "ungrounded: what is the meal allowance per day?", route="grounded")
    assert bad.parse().choices[0].message.content == "Not in the handbook."
    assert bad.headers["x-envelope-guard"] == "groundedness:refuse"
    row = gw.ledger_row(bad.headers["x-envelope-request-id"])
    assert row["groundedness"] < 0.5 and row["guard"] == "groundedness:refuse"


def test_re_ingesting_updates_the_context_and_drops_cached_answers(
    site: tuple[Gateway, Path], upstream: ScriptedUpstream
) -> None:
    gw, docs = site
    question = "What is the daily limit for meals when travelling for work?"
    assert ask(gw, question).headers["x-envelope-cache"] == "miss"
    assert ask(gw, question).headers["x-envelope-cache"] == "exact"
    (docs / "expenses.md").write_text(EXPENSES.replace("45 euros", "60 euros"))
    out = kb_ingest(gw.directory.parent / "knowledge", docs)
    assert "version 2" in out and "1 updated" in out and "2 unchanged" in out
    deadline = time.monotonic() + 10
    while True:  # the gateway polls every 0.2 s; its cached answer goes with the old version
        raw = ask(gw, question)
        if raw.headers["x-envelope-cache"] == "miss" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert raw.headers["x-envelope-cache"] == "miss"
    assert "60 euros" in system_sent(upstream) and "45 euros" not in system_sent(upstream)
    assert gw.ledger_row(raw.headers["x-envelope-request-id"])["retrieval"] == "handbook@2:fast:used"

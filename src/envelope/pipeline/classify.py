"""Classify: intent, complexity and risk of a chat request, for the route's policy.

Runs only on routes that ask for it (`classify: true`) or whose policy has a rule on
intent, complexity, risk or risk flags. The text classified is the last user message
(cut to `classifier.max_chars`); it is embedded with MiniLM (micro-batched with other
requests, in a worker thread) and read by three logistic-regression heads, then the
risk rules raise the risk score where they fire (`envelope/classifier/`).

Verdicts are remembered per text (`classifier.cache_entries`, least recently used out):
a prompt seen again — an FAQ, a retry — costs a dictionary lookup, not a forward pass.
On routes with a semantic cache the question's embedding is usually there already.

If the embedding cannot be had within `classifier.timeout_ms` (or the model is
missing), the request goes on with the risk rules' verdict alone — intent and
complexity `unknown`, so no rule on them matches — and says so
(`classifier_unavailable`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Collection

from envelope.classifier import risk
from envelope.classifier.model import Classifier
from envelope.config.documents import ClassifierDoc, PolicyDoc, RouteDoc
from envelope.core.classification import Classification
from envelope.embeddings.embedder import Embedder
from envelope.pipeline.context import RequestContext
from envelope.wire import ChatRequest, message_text

log = logging.getLogger("envelope.classify")
UNKNOWN = "unknown"


class Classify:
    name = "classify"

    def __init__(self, classifier: Classifier, embedder: Embedder, settings: ClassifierDoc, routes: Collection[str]):
        self._classifier = classifier
        self._embedder = embedder
        self._settings = settings
        self._routes = frozenset(routes)
        self._seen: OrderedDict[str, Classification] = OrderedDict()

    async def run(self, ctx: RequestContext) -> None:
        if ctx.route_name not in self._routes:
            return
        assert ctx.chat is not None
        text = classified_text(ctx.chat, self._settings.max_chars)
        started = time.perf_counter()
        known = self._seen.get(text)
        if known is not None:
            self._seen.move_to_end(text)
            ctx.classification = dataclasses.replace(known, ms=(time.perf_counter() - started) * 1000.0)
            return
        budget = min(self._settings.timeout_ms / 1000.0, max(ctx.remaining_s(), 0.0))
        looked = ctx.semantic  # the semantic cache embedded this very text already
        try:
            if looked is not None and looked.vector is not None and looked.question == text:
                vector = looked.vector
            else:
                async with asyncio.timeout(budget):
                    vector = (await self._embedder.embed([text]))[0].vector
            verdict = self._classifier.classify(vector, text)
            self._remember(text, verdict)
        except (TimeoutError, OSError, RuntimeError, ValueError, KeyError) as exc:
            if not isinstance(exc, TimeoutError):
                log.warning("classifier unavailable: %s", exc)
            verdict = rules_only(text)
            ctx.degradations.append("classifier_unavailable")
        ctx.classification = dataclasses.replace(verdict, ms=(time.perf_counter() - started) * 1000.0)

    def _remember(self, text: str, verdict: Classification) -> None:
        if self._settings.cache_entries == 0:
            return
        self._seen[text] = verdict
        if len(self._seen) > self._settings.cache_entries:
            self._seen.popitem(last=False)


def rules_only(text: str) -> Classification:
    """The verdict when the model cannot run: the risk rules' score and flags alone."""
    score, flags = risk.apply(text, 0.0)
    return Classification(intent=UNKNOWN, complexity=UNKNOWN, risk=score, flags=flags, ms=0.0)


def route_classifies(route: RouteDoc, policy: PolicyDoc | None) -> bool:
    """Whether the gateway classifies the requests of `route` (whose policy is `policy`):
    as the route says, else when its policy reads the classifier's verdict."""
    if route.classify is not None:
        return route.classify
    return policy is not None and policy.needs_classifier()


def classified_text(request: ChatRequest, max_chars: int) -> str:
    """The last user message (else the last message), cut to `max_chars`."""
    messages = request.messages
    chosen = next((m for m in reversed(messages) if m.role == "user"), messages[-1])
    return message_text(chosen)[:max_chars]

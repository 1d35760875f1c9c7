"""The order of the pipeline, and nothing else: the one place stages are sequenced.

    chat:        authenticate → parse → bind → [guard_input] → cache → [classify] → decide
                 → [retrieve] → route → admit → infer → settle → [guard_output]
                 … then cache (store), release, account
    embeddings:  authenticate → parse → bind → admit → infer → settle   … then release, account

A stage that answers the request itself (a cache hit) sets `ctx.answered`; the stages
after it are skipped, the finishers still run.
Classify is in the chain only when some route needs it (its policy has rules on the
classifier's verdict, or it sets `classify: true`); so are the guards (some route has
`guards`) and retrieve (some route has `retrieval`).
The input guard comes before the cache and the classifier: nothing reads or keeps the
prompt's PII. Decide (the policy) comes before retrieve, which obeys `retrieval: skip`;
retrieve comes before route, which fits the request — context included — onto a model.
The output guard comes after settle: a re-ask adds to a priced attempt.
Bind sets the envelope and deadline first: every later stage spends from the budget.
Route chooses the model and fits the request onto it. Admission
comes after it because it reserves the worst-case cost of the chosen model (and of
the alternates the policy may fall back to).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from envelope.pipeline.context import Operation, RequestContext
from envelope.pipeline.stage import Finisher, Stage
from envelope.telemetry.tracing import Tracing


class Chain:
    def __init__(self, stages: Sequence[Stage], finishers: Sequence[Finisher], tracing: Tracing) -> None:
        self.stages = tuple(stages)
        self.finishers = tuple(finishers)
        self._tracing = tracing

    async def run(self, ctx: RequestContext) -> None:
        self._tracing.begin(ctx)
        if ctx.sampled:
            for stage in self.stages:
                with self._tracing.stage(ctx, stage.name):
                    await stage.run(ctx)
                if ctx.answered:
                    return
        else:
            for stage in self.stages:
                await stage.run(ctx)
                if ctx.answered:
                    return

    async def finish(self, ctx: RequestContext) -> None:
        if ctx.finished_at is not None:
            return
        ctx.finished_at = time.perf_counter()
        for finisher in self.finishers:
            await finisher.finish(ctx)


def build_chains(
    *,
    authenticate: Stage,
    parse_chat: Stage,
    parse_embeddings: Stage,
    bind_chat: Stage,
    guard_input: Stage | None,
    cache: Stage,
    classify: Stage | None,
    decide: Stage,
    retrieve: Stage | None,
    route: Stage,
    bind_embeddings: Stage,
    admit: Stage,
    infer: Stage,
    settle: Stage,
    guard_output: Stage | None,
    finishers: Sequence[Finisher],
    tracing: Tracing,
) -> dict[Operation, Chain]:
    return {
        "chat": Chain(
            [
                authenticate,
                parse_chat,
                bind_chat,
                *([guard_input] if guard_input else []),
                cache,
                *([classify] if classify else []),
                decide,
                *([retrieve] if retrieve else []),
                route,
                admit,
                infer,
                settle,
                *([guard_output] if guard_output else []),
            ],
            finishers,
            tracing,
        ),
        "embeddings": Chain(
            [authenticate, parse_embeddings, bind_embeddings, admit, infer, settle], finishers, tracing
        ),
    }

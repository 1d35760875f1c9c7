"""The order of the pipeline, and nothing else: the one place stages are sequenced.

    chat:        authenticate → parse → bind → cache → [classify] → route → admit → infer → settle
                 … then cache (store), release, account
    embeddings:  authenticate → parse → bind → admit → infer → settle   … then release, account

A stage that answers the request itself (a cache hit) sets `ctx.answered`; the stages
after it are skipped, the finishers still run.
Classify is in the chain only when some route needs it (its policy has rules on the
classifier's verdict, or it sets `classify: true`).
Bind sets the envelope and deadline first: every later stage spends from the budget.
Route chooses the model and fits the request onto it. Admission
comes after it because it reserves the worst-case cost of the chosen model (and of
the alternates the policy may fall back to). Later stages (cache, retrieve, guard)
slot in here.
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
    cache: Stage,
    classify: Stage | None,
    route: Stage,
    bind_embeddings: Stage,
    admit: Stage,
    infer: Stage,
    settle: Stage,
    finishers: Sequence[Finisher],
    tracing: Tracing,
) -> dict[Operation, Chain]:
    return {
        "chat": Chain(
            [
                authenticate,
                parse_chat,
                bind_chat,
                cache,
                *([classify] if classify else []),
                route,
                admit,
                infer,
                settle,
            ],
            finishers,
            tracing,
        ),
        "embeddings": Chain(
            [authenticate, parse_embeddings, bind_embeddings, admit, infer, settle], finishers, tracing
        ),
    }

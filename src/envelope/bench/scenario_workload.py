"""The seed scenario's workload: who asks what, and when. Deterministic for a seed.

Three routes, as a product team would set them up, each with its own tenant:

- `support` (tenant `retail`, 60 % of requests): a customer-support bot. Most
  questions (80 %) come from a set of FAQ *families*: a question and a paraphrase of it
  written by hand, from the semantic cache's labelled pairs (`cache/data/pairs.jsonl`,
  the `test` half, paraphrase kinds only: the cache's threshold was tuned on the other
  half). A few families are asked often and most rarely (Zipf, s = 1.1, over
  `FAQ_FAMILIES` families drawn by the seed); each ask is the family's first wording
  (60 %) or its paraphrase (40 %), so the exact cache meets repeats and the semantic
  cache meets rewordings. The rest are one-off support messages from the classifier's
  labelled prompts: low-risk greetings, FAQs and support requests (12 %), and high-risk
  complaints and support requests (8 %: escalations, threats to sue, card numbers…).
- `assistant` (tenant `studio`, 28 %): complex tasks. A labelled prompt of medium or
  high complexity (coding, math, how-to, creative, transform…) and low risk, made
  multi-step ("Work through it step by step: …"); half of them also carry two or three
  passages of the benchmark corpus (`bench/corpus.py`) as notes to use, so prompts are
  long (up to ≈ 2,000 characters). Larger `max_tokens`.
- `risk` (tenant `clinic`, 12 %): high-risk intents — the labelled legal and medical
  prompts of high risk. The envelope config serves this route on tier L only.

Labelled prompts are dealt from a shuffled deck (repeated only once every one was used).

Arrivals are open-loop: a Poisson process at `rate` requests per second, with bursts —
windows during which the rate is `burst_factor` times higher (by default two, each
`burst_share` of the run long, starting at 30 % and 65 % of it). Requests are sent at
their time whatever the state of earlier ones, so queueing shows in latency.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from envelope.bench import corpus
from envelope.cache import evaluation
from envelope.classifier import dataset

ROUTE_MIX: Final = (("support", 0.60), ("assistant", 0.28), ("risk", 0.12))
SUPPORT_MIX: Final = (("faq", 0.80), ("support", 0.12), ("escalation", 0.08))
ROUTE_KIND: Final = {"assistant": "complex", "risk": "high_risk"}  # support's kinds: SUPPORT_MIX
TENANTS: Final = {"support": "retail", "assistant": "studio", "risk": "clinic"}
MAX_TOKENS: Final = {"support": 256, "assistant": 700, "risk": 400}
FAQ_FAMILIES: Final = 60
FAQ_ZIPF_S: Final = 1.1
FAQ_FIRST_WORDING: Final = 0.6
CONTEXT_SHARE: Final = 0.5

_STEPS: Final = (
    "Work through it step by step: restate the problem, list what you need to know, then give the answer and check it.",
    "Plan first: break the task into numbered steps, do each one, then summarise the result in three bullet points.",
    "Think it through in stages: outline an approach, carry it out, point out any assumptions, and finish with "
    "a short recommendation.",
)


@dataclass(frozen=True, slots=True)
class Burst:
    """A window of the run with `factor` times the base rate."""

    start_s: float
    length_s: float
    factor: float

    def covers(self, t: float) -> bool:
        return self.start_s <= t < self.start_s + self.length_s


@dataclass(frozen=True, slots=True)
class WorkloadSettings:
    duration_s: float = 45.0
    rate: float = 6.0  # base arrivals per second
    seed: int = 7
    burst_factor: float = 3.0
    burst_share: float = 0.12  # length of each burst, as a share of the run
    burst_starts: tuple[float, ...] = (0.30, 0.65)  # as shares of the run

    def bursts(self) -> tuple[Burst, ...]:
        length = self.burst_share * self.duration_s
        return tuple(Burst(at * self.duration_s, length, self.burst_factor) for at in self.burst_starts)


@dataclass(frozen=True, slots=True)
class ScenarioRequest:
    """One request of the workload: when it is due, where it goes and what it says."""

    index: int
    at_s: float
    route: str
    tenant: str
    kind: str  # faq | support | escalation | complex | high_risk
    text: str
    max_tokens: int
    high_risk: bool  # labelled high risk (ground truth, not the classifier's verdict)
    family: int | None = None  # FAQ family, for faq requests
    in_burst: bool = False


def arrivals(settings: WorkloadSettings, rng: random.Random) -> list[float]:
    """Arrival times in [0, duration): Poisson at the base rate, `factor` times it in bursts
    (by thinning a Poisson process at the highest rate)."""
    bursts = settings.bursts()
    peak = settings.rate * max([1.0, *(b.factor for b in bursts)])
    times: list[float] = []
    t = 0.0
    while True:
        t += rng.expovariate(peak)
        if t >= settings.duration_s:
            return times
        rate = settings.rate * max([1.0, *(b.factor for b in bursts if b.covers(t))])
        if rng.random() < rate / peak:
            times.append(t)


class _Deck:
    """Draws without replacement; reshuffles once every item was dealt."""

    def __init__(self, items: Sequence[str], rng: random.Random) -> None:
        if not items:
            raise ValueError("an empty deck")
        self._items = list(items)
        self._rng = rng
        self._left: list[str] = []

    def deal(self) -> str:
        if not self._left:
            self._left = self._items[:]
            self._rng.shuffle(self._left)
        return self._left.pop()


@dataclass(frozen=True, slots=True)
class Sources:
    """The texts the workload draws from (all shipped with the project)."""

    families: tuple[tuple[str, str], ...]  # (first wording, paraphrase)
    support: tuple[str, ...]
    escalations: tuple[str, ...]
    tasks: tuple[str, ...]
    risky: tuple[str, ...]
    passages: tuple[str, ...]


def load_sources(seed: int) -> Sources:
    """Read the labelled sets; choose the FAQ families and passages with the seed."""
    pairs = [p for p in evaluation.load() if p.same and p.split == "test"]
    rng = random.Random(seed)
    chosen = rng.sample(pairs, min(FAQ_FAMILIES, len(pairs)))
    prompts = dataset.load()
    low = [p for p in prompts if p.risk == "low"]
    high = [p for p in prompts if p.risk == "high"]
    return Sources(
        families=tuple((p.cached, p.query) for p in chosen),
        support=tuple(p.text for p in low if p.intent in ("greeting", "faq", "support") and p.complexity == "low"),
        escalations=tuple(p.text for p in high if p.intent in ("complaint", "support")),
        tasks=tuple(
            p.text
            for p in low
            if p.complexity in ("medium", "high") and p.intent in ("coding", "math", "how_to", "creative", "transform")
        ),
        risky=tuple(p.text for p in high if p.intent in ("legal", "medical")),
        passages=tuple(p.text for p in corpus.passages(200, seed=seed)),
    )


def zipf_weights(n: int, s: float) -> list[float]:
    return [1.0 / (rank**s) for rank in range(1, n + 1)]


def build(settings: WorkloadSettings, sources: Sources | None = None) -> list[ScenarioRequest]:
    """The whole run's requests, in arrival order."""
    sources = sources or load_sources(settings.seed)
    rng = random.Random(settings.seed)
    times = arrivals(settings, rng)
    content = random.Random(settings.seed + 1)  # the texts: not the arrivals' stream
    draw = _Drawer(sources, content)
    bursts = settings.bursts()
    requests = []
    for index, at in enumerate(times):
        route = _pick(ROUTE_MIX, content)
        kind = _pick(SUPPORT_MIX, content) if route == "support" else ROUTE_KIND[route]
        text, family = draw.text(kind)
        requests.append(
            ScenarioRequest(
                index=index,
                at_s=at,
                route=route,
                tenant=TENANTS[route],
                kind=kind,
                text=text,
                max_tokens=MAX_TOKENS[route],
                high_risk=kind in ("escalation", "high_risk"),
                family=family,
                in_burst=any(b.covers(at) for b in bursts),
            )
        )
    return requests


class _Drawer:
    def __init__(self, sources: Sources, rng: random.Random) -> None:
        self._sources = sources
        self._rng = rng
        self._weights = zipf_weights(len(sources.families), FAQ_ZIPF_S)
        self._decks = {
            "support": _Deck(sources.support, rng),
            "escalation": _Deck(sources.escalations, rng),
            "complex": _Deck(sources.tasks, rng),
            "high_risk": _Deck(sources.risky, rng),
        }

    def text(self, kind: str) -> tuple[str, int | None]:
        if kind == "faq":
            family = self._rng.choices(range(len(self._sources.families)), self._weights)[0]
            first, paraphrase = self._sources.families[family]
            return (first if self._rng.random() < FAQ_FIRST_WORDING else paraphrase), family
        text = self._decks[kind].deal()
        if kind == "complex":
            text = self._task(text)
        return text, None

    def _task(self, task: str) -> str:
        steps = self._rng.choice(_STEPS)
        if self._rng.random() >= CONTEXT_SHARE:
            return f"{task}\n\n{steps}"
        notes = self._rng.sample(self._sources.passages, self._rng.randint(2, 3))
        context = "\n".join(f"- {note}" for note in notes)
        return f"Use these notes where they help:\n{context}\n\nTask: {task}\n\n{steps}"


def _pick(mix: Sequence[tuple[str, float]], rng: random.Random) -> str:
    names = [name for name, _ in mix]
    return rng.choices(names, [share for _, share in mix])[0]

"""The labelled prompt set: loading with validation, and the fixed held-out split.

The split is a pure function of each text (its SHA-256), so it never changes when
rows are added or reordered, and a held-out prompt can never leak into training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("data") / "prompts.jsonl"

INTENTS = (
    "greeting",
    "faq",
    "how_to",
    "coding",
    "math",
    "transform",
    "creative",
    "support",
    "complaint",
    "legal",
    "medical",
)
COMPLEXITIES = ("low", "medium", "high")
RISKS = ("low", "high")
LABELS: dict[str, tuple[str, ...]] = {"intent": INTENTS, "complexity": COMPLEXITIES, "risk": RISKS}

HELD_OUT_PERCENT = 20
_FIELDS = frozenset({"text", *LABELS})


@dataclass(frozen=True, slots=True)
class Prompt:
    """One labelled prompt."""

    text: str
    intent: str
    complexity: str
    risk: str

    def label(self, head: str) -> str:
        """The label for `head` ("intent", "complexity" or "risk")."""
        value: str = getattr(self, head)
        return value


@dataclass(frozen=True, slots=True)
class Split:
    """The prompts used for fitting and the ones kept aside for measuring."""

    train: tuple[Prompt, ...]
    held_out: tuple[Prompt, ...]


def load(path: Path = DEFAULT_PATH) -> list[Prompt]:
    """Read a JSONL file of prompts; any malformed line raises ValueError naming it."""
    with path.open(encoding="utf-8") as lines:
        return [_parse(line, f"{path}:{number}") for number, line in enumerate(lines, 1) if line.strip()]


def _parse(line: str, where: str) -> Prompt:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not JSON ({error})") from error
    if not isinstance(row, dict) or set(row) != _FIELDS:
        raise ValueError(f"{where}: expected exactly the fields {sorted(_FIELDS)}")
    if not isinstance(row["text"], str) or not row["text"].strip():
        raise ValueError(f"{where}: text must be a non-empty string")
    for head, labels in LABELS.items():
        if row[head] not in labels:
            raise ValueError(f"{where}: unknown {head} {row[head]!r}, expected one of {labels}")
    return Prompt(row["text"], row["intent"], row["complexity"], row["risk"])


def is_held_out(text: str) -> bool:
    """Whether `text` belongs to the held-out fifth, decided by its SHA-256 alone."""
    return _hash(text, salt="") % 100 < HELD_OUT_PERCENT


def fold(text: str, folds: int) -> int:
    """A stable fold number in [0, folds) for cross-validation inside the train split."""
    return _hash(text, salt="fold:") % folds


def _hash(text: str, *, salt: str) -> int:
    digest = hashlib.sha256((salt + text).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


def split(prompts: Iterable[Prompt]) -> Split:
    """Hold out about 20 %; ValueError if some intent ends up with no held-out prompt."""
    train: list[Prompt] = []
    held_out: list[Prompt] = []
    for prompt in prompts:
        (held_out if is_held_out(prompt.text) else train).append(prompt)
    missing = sorted(set(INTENTS) - {p.intent for p in held_out})
    if missing:
        raise ValueError(f"no held-out prompt for intent(s) {missing}; add prompts for them")
    return Split(tuple(train), tuple(held_out))


def texts_digest(prompts: Sequence[Prompt]) -> str:
    """SHA-256 over the sorted texts: identifies the exact set a model was fitted on."""
    digest = hashlib.sha256()
    for text in sorted(p.text for p in prompts):
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()

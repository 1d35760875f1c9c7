"""Loading the labelled prompts, and the held-out split."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from envelope.classifier import dataset
from envelope.classifier.dataset import Prompt


def _write(path: Path, *rows: object) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


GOOD = {"text": "hi", "intent": "greeting", "complexity": "low", "risk": "low"}


def test_shipped_set_loads_with_every_label_present() -> None:
    prompts = dataset.load()
    assert len(prompts) == 631
    assert len({p.text for p in prompts}) == len(prompts)  # a duplicate could straddle the split
    for head, labels in dataset.LABELS.items():
        assert set(Counter(p.label(head) for p in prompts)) == set(labels)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({**GOOD, "intent": "chitchat"}, "unknown intent 'chitchat'"),
        ({**GOOD, "complexity": "extreme"}, "unknown complexity 'extreme'"),
        ({**GOOD, "risk": "HIGH"}, "unknown risk 'HIGH'"),
        ({**GOOD, "text": "  "}, "text must be a non-empty string"),
        ({**GOOD, "source": "web"}, "expected exactly the fields"),
        ({k: v for k, v in GOOD.items() if k != "risk"}, "expected exactly the fields"),
    ],
)
def test_bad_rows_are_rejected_naming_the_line(tmp_path: Path, row: dict[str, str], message: str) -> None:
    path = _write(tmp_path / "p.jsonl", GOOD, row)
    with pytest.raises(ValueError, match=f"p.jsonl:2: {message}"):
        dataset.load(path)


def test_invalid_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(GOOD) + "\n\n{oops\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"p.jsonl:3: not JSON"):
        dataset.load(path)


def test_split_is_a_fixed_fifth_covering_every_intent() -> None:
    prompts = dataset.load()
    parts = dataset.split(prompts)
    assert len(parts.train) + len(parts.held_out) == len(prompts)
    assert 0.15 < len(parts.held_out) / len(prompts) < 0.25
    assert {p.intent for p in parts.held_out} == set(dataset.INTENTS)
    # decided by each text alone: order and the other rows do not matter
    assert dataset.split(reversed(prompts)).held_out == tuple(reversed(parts.held_out))
    assert all(dataset.is_held_out(p.text) for p in parts.held_out)


def test_split_refuses_when_an_intent_has_nothing_held_out() -> None:
    train_only = [p for p in dataset.load() if not (p.intent == "math" and dataset.is_held_out(p.text))]
    with pytest.raises(ValueError, match="math"):
        dataset.split(train_only)


def test_digest_identifies_the_set_not_its_order() -> None:
    a, b = Prompt("a", "faq", "low", "low"), Prompt("b", "faq", "low", "low")
    assert dataset.texts_digest([a, b]) == dataset.texts_digest([b, a]) != dataset.texts_digest([a])

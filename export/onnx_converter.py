"""ONNX conversion of a model's description: float32 by tf2onnx, int8 by onnxruntime's quantization.

float32: tf2onnx converts the encoder and decoder step of `export.graphs` (the encoder's Keras LSTM
becomes a native ONNX `LSTM` op, or unrolled cells for a hard-sigmoid model; the step is the LSTM
cell's equations and the dense layer's logits), and onnx.checker checks both graphs. int8:
onnxruntime's dynamic quantization of those graphs (int8 weights, per tensor for the encoder's LSTM
op and per channel for matrix products, activations quantized on the fly; the encoder LSTM becomes
DynamicQuantizeLSTM, or an unrolled encoder's input projections
MatMulInteger, the decoder's input projection MatMulInteger); every product of a recurrent state (the decoder's `h @ U` and logits, an
unrolled encoder's `h @ U`) stays float32, with int8 weights when a quantization-aware run put them
on the grid and the weight has that one use.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import onnx
import onnxruntime
import tensorflow as tf
import tf2onnx
from onnx import helper, numpy_helper
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.registry import IntegerOpsRegistry

from runtime import __version__
from runtime.bundle import FAMILIES
from runtime.errors import S2SError
from runtime.vocab import END, START
from trainer.quantize import int8_levels, int8_scale, on_grid
from trainer.spec import Seq2SeqSpec

from .graphs import EdgeGraphs, native_lstm
from .greedy_loop import build_greedy_loop
from .source import Source, UsageError

DEFAULT_OPSET = 17  # tf2onnx 1.17 converts opsets 13-18
PRECISIONS = {"none": "float32", "int8": "int8"}  # --quantize names -> manifest precisions
# Dynamic quantization scales activations per tensor, i.e. across the batch.
BATCH_DEPENDENT = {"int8"}


class ExportError(S2SError, RuntimeError):
    """The conversion produced a graph that is not what the bundle contract requires."""


def convert_float32(spec: Seq2SeqSpec, opset: int = DEFAULT_OPSET) -> dict[str, bytes]:
    """The serialized ONNX encoder and decoder step of `spec`."""
    # The encoder's Keras LSTMs become native ONNX LSTM ops when its activations are the op's
    # defaults; otherwise the encoder is unrolled over max_source_length (the runtime's length).
    graphs = EdgeGraphs(spec, unrolled=not all(native_lstm(lstm) for lstm in spec.encoders))
    functions = {"encoder": (graphs.encode, graphs.encoder_signature),
                 "decoder_step": (graphs.step, graphs.step_signature)}
    out = {}
    for role, (fn, signature) in functions.items():
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=opset)
        proto.producer_name = f"s2s-edge {__version__} (tf2onnx {tf2onnx.__version__})"
        names_in = [i.name for i in proto.graph.input]
        names_out = [o.name for o in proto.graph.output]
        wanted_in, wanted_out = spec.io[role]
        if sorted(names_in) != sorted(wanted_in) or sorted(names_out) != sorted(wanted_out):
            raise ExportError(
                f"{role}: converted graph has inputs {names_in} and outputs {names_out}, "
                f"expected {list(wanted_in)} and {list(wanted_out)}"
            )
        onnx.checker.check_model(proto, full_check=True)
        out[role] = proto.SerializeToString()
    return out


# Ops that only move or reshape a tensor: what they make of a one-hot input is still one-hot.
_SHAPE_OPS = {"Slice", "Squeeze", "Unsqueeze", "Gather", "Transpose", "Reshape", "Identity", "Split"}


def float_state_path(model) -> list[str]:
    """The MatMuls that read the recurrent state rather than a one-hot input: the decoder step's
    `state_h @ U` and the logits' `next_state_h @ dense`, an unrolled encoder's `h @ U` at every
    step, and the attention family's products (the memory's projections in the encoder; the scores,
    the weighted values, `h @ query rows` and the logits of the combination in the step).
    Quantizing their activations (8 bits, one scale per tensor) is what flips greedy decodes:
    measured on the seed-settings model, 500 held-out sentences, per-channel weights: everything
    quantized 80.0% identical to float32, the decoder's two kept float 93.4%. A one-hot input
    quantizes exactly (0 and 1 are on its grid), so its product keeps int8."""
    one_hot = set()
    for node in model.graph.node:  # topological order
        if node.op_type == "OneHot" or (node.op_type in _SHAPE_OPS and node.input and node.input[0] in one_hot):
            one_hot.update(node.output)
    return [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[0] not in one_hot]


def store_grid_weights_int8(model) -> int:
    """Weight-only int8 for the float state path: a MatMul weight there that already lies on the
    per-column int8 grid (a `trainer.qat` run) is stored as int8 times a float32 scale per column,
    so the product is still float32 and equal, and the weight takes a quarter of the bytes. Weights
    off the grid (a plain run) stay float: rounding them is what costs greedy decodes.

    Cast and Mul, not DequantizeLinear: onnxruntime fuses DequantizeLinear + MatMul into
    MatMulNBits, which flipped 4.2% more greedy decodes of the seed-settings QAT model (94.2% vs
    98.4% identical to Keras); Cast and Mul of constants are folded back to the float weight when
    the session loads. Returns the count."""
    initializers = {i.name: i for i in model.graph.initializer}
    taken = set(initializers) | {o for n in model.graph.node for o in n.output}
    uses = Counter(name for node in model.graph.node for name in node.input)
    path = set(float_state_path(model))
    converted = []
    for node in model.graph.node:
        weight = node.input[1] if node.name in path else None
        if weight not in initializers or uses[weight] != 1:
            continue
        w = numpy_helper.to_array(initializers[weight])
        if w.dtype != np.float32 or w.ndim != 2 or not on_grid(w):
            continue  # off the grid (a plain run): keep float
        names = [f"{weight}_s2s_{x}" for x in ("int8", "scale", "float", "dequantized")]
        if taken & set(names):
            raise ExportError(f"cannot store {weight} as int8: the graph already has a name among {names}")
        q_name, scale_name, cast_name, w_name = names
        model.graph.initializer.remove(initializers[weight])
        model.graph.initializer.extend([
            numpy_helper.from_array(int8_levels(w).astype(np.int8), q_name),
            numpy_helper.from_array(int8_scale(w)[0], scale_name),
        ])
        converted += [
            helper.make_node("Cast", [q_name], [cast_name], to=onnx.TensorProto.FLOAT,
                             name=f"{node.name}_s2s_cast"),
            helper.make_node("Mul", [cast_name, scale_name], [w_name], name=f"{node.name}_s2s_scale"),
        ]
        node.input[1] = w_name
    for op in reversed(converted):  # they read initializers only: first in topological order
        model.graph.node.insert(0, op)
    return len(converted) // 2


def quantize_int8(graph: bytes) -> bytes:
    """onnxruntime's dynamic int8 quantization of one serialized graph: int8 weights, per output
    channel for matrix products and per tensor for the encoder's native LSTM op; the products of a
    recurrent state stay float32 (see `float_state_path`), with int8 weights when they lie on the
    grid (see `store_grid_weights_int8`).

    Per-channel weights of onnxruntime's DynamicQuantizeLSTM moved the encoder's final states 3-14x
    more than per-tensor ones (max |difference| from float32, 60-minute models of docs/results.md:
    seed 0.66 against 0.20, attention 0.47 against 0.03, bidirectional attention 0.20 against 0.05),
    and cost greedy decodes identical to Keras: 90.4% against 93.2%, 95.6% against 95.8%, 74.4%
    against 94.2%. It does so even for weights on the per-channel grid (`trainer.qat`), which it
    stores exactly: the error is in its per-channel kernel, not in the weights."""
    with tempfile.TemporaryDirectory() as tmp:
        src, mid, dst = (Path(tmp) / f"{name}.onnx" for name in ("float32", "lstm_int8", "int8"))
        src.write_bytes(graph)
        model = onnx.load_from_string(graph)
        keep_float = float_state_path(model)
        has_lstm = any(n.op_type == "LSTM" for n in model.graph.node)
        # It logs advice to run quant_pre_process first; on these graphs that changes nothing
        # (measured: same sizes), so keep the export's output readable.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            if has_lstm:  # first the LSTM ops alone, per tensor
                quantize_dynamic(src, mid, op_types_to_quantize=["LSTM"], weight_type=QuantType.QInt8,
                                 per_channel=False)
                src = mid
            others = [op for op in IntegerOpsRegistry if op != "LSTM"]
            quantize_dynamic(src, dst, op_types_to_quantize=others, weight_type=QuantType.QInt8,
                             per_channel=True, nodes_to_exclude=keep_float)
        finally:
            root.setLevel(level)
        model = onnx.load(str(dst))
        store_grid_weights_int8(model)
        onnx.checker.check_model(model, full_check=True)
        return model.SerializeToString()


def make_converter(opset: int = DEFAULT_OPSET, greedy_loop: bool = True):
    """convert(source, precision) -> {role: bytes}; int8 quantizes the float32 graphs (made once).
    With `greedy_loop`, each precision also gets the "greedy" graph built from its two graphs."""
    cache: dict[str, dict[str, bytes]] = {}

    def convert(source: Source, precision: str) -> dict[str, bytes]:
        if "float32" not in cache:
            cache["float32"] = convert_float32(source.spec, opset)
        if precision == "float32":
            graphs = dict(cache["float32"])
        elif precision == "int8":
            graphs = {role: quantize_int8(g) for role, g in cache["float32"].items()}
        else:
            raise UsageError(f"unknown ONNX precision {precision!r}")
        if greedy_loop:
            spec = source.spec
            graphs["greedy"] = build_greedy_loop(
                graphs["encoder"], graphs["decoder_step"], spec.target_vocab.id(START),
                spec.target_vocab.id(END), spec.max_target_length, FAMILIES[spec.family])
        return graphs

    return convert


def producer_versions(opset: int) -> dict[str, str]:
    return {
        "s2s_edge": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__, "opset": str(opset),
    }

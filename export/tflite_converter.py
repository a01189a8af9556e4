"""Converting the encoder and the single-step decoder to TFLite with builtin ops only.

A Keras LSTM layer converts to a TensorList while-loop that needs Flex (SELECT_TF_OPS) ops once
the batch axis is dynamic, and the LiteRT interpreter cannot run those. So the graphs here are
written for the converter (`export.graphs` with `unrolled=True, gather_one_hot=True`):
- the encoder unrolls the encoder cell over exactly `max_source_length` steps (the runtime
  pads every source to that length anyway), so it is straight-line builtin ops and the batch stays
  dynamic (or fixed, `make_converter(batch=N)`: every shape static, as TFLite Micro needs);
- the decoder step is the decoder cell once, then the dense layer without its softmax
  (logits: a quantized softmax loses the argmax);
- one-hot inputs are a GATHER from an identity matrix: the same values, and unlike ONE_HOT or
  EMBEDDING_LOOKUP it has int16x8 kernels;
- in the dynamic-range decoder step, the products of the recurrent state (h @ U, the logits, and
  attention's h @ query kernel) keep int8 weights on disk but compute in float (`dequantize_state_path`): TFLite's hybrid kernels
  quantize h to 8 bits at every step, and a decoder feeds each resulting near-tie flip into the rest
  of the sentence (measured on a quantization-aware seed-settings model: 94.6% of greedy decodes
  equal Keras with hybrid state products, 98.4% without; 0.47 vs 0.71 ms a sentence, float32
  1.27). The encoder keeps the hybrid kernels; the ONNX int8 export keeps the same path in float.
Two files, like the ONNX bundle: each role is calibrated on its own inputs, and the manifest keeps
one (backend, precision, role) -> file mapping for every backend.
"""

from __future__ import annotations

import warnings
from typing import Callable, Iterable, Iterator

import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.tools import flatbuffer_utils

from runtime import __version__
from runtime.bundle import SOURCE_IDS, TOKEN_IDS
from runtime.decoding import StepModel
from runtime.errors import S2SError
from trainer.pipeline import encode_pairs
from trainer.spec import Seq2SeqSpec

from .graphs import EdgeGraphs
from .source import Source, UsageError

# --quantize names -> manifest precision names
PRECISIONS = {
    "none": "float32",
    "float16": "float16",
    "dynamic": "dynamic",
    "int8": "int8",
    "int16x8": "int16x8",
}


class FlexOpError(S2SError, RuntimeError):
    """A converted model needs TensorFlow (Flex) or custom ops that LiteRT cannot run."""


# The integer type of a full-integer precision's activations (`integer_io`).
INTEGER_IO = {"int8": tf.int8, "int16x8": tf.int16}


def convert(
    module, fn, precision: str, representative: Callable[[], Iterator[dict]] | None = None,
    integer_io: bool = False,
) -> bytes:
    """One tf.function of `module` as a .tflite flatbuffer in `precision`; builtin ops only.
    `integer_io` (int8 and int16x8 only): the float inputs and outputs (state, logits) are the
    activations' integer type with their scale and zero point, not float32."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # never Flex
    if precision != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if precision == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif precision in ("int8", "int16x8"):
        if representative is None:
            raise ValueError(f"{precision} quantization needs a representative dataset")
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8
            if precision == "int8"
            else tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
        if integer_io:
            converter.inference_input_type = converter.inference_output_type = INTEGER_IO[precision]
    elif precision not in ("float32", "dynamic"):
        raise ValueError(f"unknown TFLite precision {precision!r}")
    if integer_io and precision not in INTEGER_IO:
        raise ValueError(f"integer inputs and outputs need a full-integer precision, not {precision!r}")
    with warnings.catch_warnings():
        # The converter calibrates with tf.lite.Interpreter, which warns about its own deprecation.
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        data = converter.convert()
    require_builtin_ops(data)
    return data


# The converter's dynamic-range quantization leaves weights with fewer elements in float.
DYNAMIC_MIN_ELEMENTS = 1024


def hybrid_state_products(spec: Seq2SeqSpec) -> int:
    """How many hybrid FULLY_CONNECTED ops of the dynamic-range step read the state (h @ U, the
    logits, attention's h @ query kernel): those whose weights the converter quantizes."""
    kernels = [spec.decoder.recurrent_kernel, spec.dense.kernel]
    if spec.attention is not None:
        kernels.append(spec.attention.combine_kernel[spec.latent_dim :])
    return sum(k.size >= DYNAMIC_MIN_ELEMENTS for k in kernels)


def _builtin(code) -> int:
    """A model's operator code as a BuiltinOperator (codes above 127 live in builtinCode only)."""
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _opcode(m, op: int) -> int:
    """The index of builtin `op` among the model's operator codes, added if it has none."""
    found = next((i for i, c in enumerate(m.operatorCodes) if _builtin(c) == op), None)
    if found is None:
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = op
        m.operatorCodes.append(code)
        found = len(m.operatorCodes) - 1
    return found


def _add_tensor(graph, like, kind: int, scale: float, zero_point: int, suffix: bytes) -> int:
    """A new activation tensor of `like`'s shape, of type `kind` with one scale and zero point."""
    new = schema.TensorT()
    new.shape, new.shapeSignature, new.type, new.buffer = like.shape, like.shapeSignature, kind, 0
    new.name = like.name + suffix
    new.quantization = schema.QuantizationParametersT()
    new.quantization.scale, new.quantization.zeroPoint = [scale], [zero_point]
    graph.tensors.append(new)
    return len(graph.tensors) - 1


def _quantize_op(m, source: int, target: int):
    """A QUANTIZE op from tensor `source` to `target` (between integer types: a requantization)."""
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = _opcode(m, schema.BuiltinOperator.QUANTIZE), [source], [target]
    return op


_MOVES = {schema.BuiltinOperator.DEQUANTIZE, schema.BuiltinOperator.RESHAPE, schema.BuiltinOperator.SQUEEZE,
          schema.BuiltinOperator.EXPAND_DIMS}


def dequantize_state_path(model: bytes, expected: int) -> bytes:
    """The dynamic-range step with its recurrent-state products in float, weights still int8.

    Every hybrid FULLY_CONNECTED whose input is not the one-hot GATHER (h @ U, the logits, and the
    attention family's h @ query kernel) gets its int8 weights through a DEQUANTIZE op instead, and
    becomes a plain float FULLY_CONNECTED. `expected` is how many the step has
    (`hybrid_state_products`): another count means the converter laid the step out differently.
    """
    ops = schema.BuiltinOperator
    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    dequantize = _opcode(m, ops.DEQUANTIZE)
    # Version 5 is DEQUANTIZE of per-channel int8 (the existing code may be the one-hot's, v2).
    m.operatorCodes[dequantize].version = max(m.operatorCodes[dequantize].version or 1, 5)
    changed = 0
    for graph in m.subgraphs:
        one_hot = set()  # the GATHER's output, and what only moves or dequantizes it
        for op in graph.operators:
            code = _builtin(m.operatorCodes[op.opcodeIndex])
            if code == ops.GATHER or (code in _MOVES and len(op.inputs) and op.inputs[0] in one_hot):
                one_hot.update(op.outputs)
        rewritten = []
        for op in graph.operators:
            fully_connected = _builtin(m.operatorCodes[op.opcodeIndex]) == ops.FULLY_CONNECTED
            weights = graph.tensors[op.inputs[1]] if fully_connected else None
            if (weights is not None and weights.type == schema.TensorType.INT8
                    and graph.tensors[op.inputs[0]].type == schema.TensorType.FLOAT32
                    and op.inputs[0] not in one_hot):
                floats = schema.TensorT()
                floats.shape, floats.type, floats.buffer = list(weights.shape), schema.TensorType.FLOAT32, 0
                floats.name = weights.name + b"/dequantized"
                graph.tensors.append(floats)
                step = schema.OperatorT()
                step.opcodeIndex, step.inputs, step.outputs = dequantize, [op.inputs[1]], [len(graph.tensors) - 1]
                rewritten.append(step)
                op.inputs = [op.inputs[0], len(graph.tensors) - 1, *op.inputs[2:]]
                changed += 1
            rewritten.append(op)
        graph.operators = rewritten
    if changed != expected:
        raise RuntimeError(
            f"the dynamic-range decoder step should have {expected} hybrid FULLY_CONNECTED ops reading "
            f"a state, found {changed}: this TensorFlow's converter lays the step out differently"
        )
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def int8_lookups(model: bytes) -> bytes:
    """An int16x8 model whose one-hot lookups run in int8: TFLite Micro has no int16 GATHER.

    Each GATHER of a constant int16 table of its own (no other op or tensor reads it) whose values
    int8 holds exactly (the one-hot's identity matrix: 0 and 1; widened back, the same int16
    integers) gathers from an int8 copy of it instead, and a QUANTIZE op requantizes the rows it
    picks to the int16 tensor the rest of the graph reads, so every value stays the same.
    """
    ops, types = schema.BuiltinOperator, schema.TensorType
    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    buffer_users: dict[int, int] = {}
    for graph in m.subgraphs:
        for t in graph.tensors:
            buffer_users[t.buffer] = buffer_users.get(t.buffer, 0) + 1
    for graph in m.subgraphs:
        readers: dict[int, int] = {}
        for op in graph.operators:
            for i in op.inputs:
                readers[i] = readers.get(i, 0) + 1
        rewritten = []
        for op in graph.operators:
            rewritten.append(op)
            if _builtin(m.operatorCodes[op.opcodeIndex]) != ops.GATHER:
                continue
            table_index, out_index = op.inputs[0], op.outputs[0]
            table = graph.tensors[table_index]
            data = m.buffers[table.buffer].data if table.buffer else None
            if (table.type != types.INT16 or data is None or len(data) == 0 or readers[table_index] != 1
                    or buffer_users[table.buffer] != 1 or len(table.quantization.scale) != 1):
                continue  # only a table of its own, read by this GATHER alone
            q = table.quantization
            wide = np.frombuffer(bytes(data), np.int16).astype(np.int64) - q.zeroPoint[0]
            step = max(int(np.abs(wide).max()), 1) / 127  # int16 steps in one int8 step
            narrow = np.round(wide / step)
            if (np.round(narrow * step) != wide).any():
                continue  # int8 would change the table: leave this GATHER as it is
            scale = float(q.scale[0]) * step
            m.buffers[table.buffer].data = narrow.astype(np.int8).tobytes()
            table.type = types.INT8
            table.quantization.scale, table.quantization.zeroPoint = [scale], [0]
            op.outputs = [_add_tensor(graph, graph.tensors[out_index], types.INT8, scale, 0, b"/int8")]
            rewritten.append(_quantize_op(m, op.outputs[0], out_index))
        graph.operators = rewritten
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def integer_grids(model: bytes, names: Iterable[str]) -> dict[str, tuple[float, int]]:
    """For each named signature tensor of a full-integer file with float inputs and outputs, the
    (scale, zero point) of the integer tensor behind it (the one its QUANTIZE makes, or its
    DEQUANTIZE reads)."""
    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    return {name: _integer_tensor(m, name)[2:] for name in names}


def _integer_tensor(m, name: str):
    graph, signature = m.subgraphs[0], m.signatureDefs[0]
    ends = {t.name.decode(): (t.tensorIndex, t in signature.outputs) for t in [*signature.inputs, *signature.outputs]}
    if name not in ends:
        raise ValueError(f"the file has no input or output named {name!r}; it has {', '.join(sorted(ends))}")
    index, is_output = ends[name]
    edge = schema.BuiltinOperator.DEQUANTIZE if is_output else schema.BuiltinOperator.QUANTIZE
    ops = [op for op in graph.operators if _builtin(m.operatorCodes[op.opcodeIndex]) == edge
           and index in (op.outputs if is_output else op.inputs)]
    if graph.tensors[index].type != schema.TensorType.FLOAT32 or len(ops) != 1:
        raise ValueError(f"{name!r} is not a float tensor with one {'DEQUANTIZE' if is_output else 'QUANTIZE'} "
                         "at the file's edge: give a full-integer file with float inputs and outputs")
    behind = ops[0].inputs[0] if is_output else ops[0].outputs[0]
    q = graph.tensors[behind].quantization
    return graph, behind, float(q.scale[0]), int(q.zeroPoint[0])


def through_int8(model: bytes, grids: dict[str, tuple[float, int]]) -> bytes:
    """A research probe (benchmarks/integer_layouts.py): `model`, an int16x8 file with float inputs and
    outputs, in which each named signature tensor's int16 tensor passes through int8 at the given
    (scale, zero point): a QUANTIZE to int8 right after the op that makes it, and one back to int16.
    Every op that reads it (h also feeds the dense layer) reads the rounded value; nothing else
    changes. With the grids of an int8 file of the same model (`integer_grids`), the tensor is
    rounded as full int8 rounds it."""
    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    for name, (scale, zero_point) in grids.items():
        graph, index, _, _ = _integer_tensor(m, name)
        tensor = graph.tensors[index]
        if tensor.type != schema.TensorType.INT16:
            raise ValueError(f"{name!r} is not an int16 tensor: give an int16x8 file")
        at = next(k for k, op in enumerate(graph.operators) if index in op.outputs)
        made = _add_tensor(graph, tensor, schema.TensorType.INT16, float(tensor.quantization.scale[0]),
                           int(tensor.quantization.zeroPoint[0]), b"/int16")
        narrow = _add_tensor(graph, tensor, schema.TensorType.INT8, scale, zero_point, b"/int8")
        graph.operators[at].outputs = [made if k == index else k for k in graph.operators[at].outputs]
        graph.operators[at + 1 : at + 1] = [_quantize_op(m, made, narrow), _quantize_op(m, narrow, index)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def _is_builtin_name(name: str) -> bool:
    builtin = {k for k in vars(schema.BuiltinOperator) if not k.startswith("_")}
    return name in builtin and name not in ("CUSTOM", "DELEGATE")


def operator_names(model: bytes) -> set[str]:
    """Names of the operators a .tflite model uses (custom and Flex ops by their custom code)."""
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    root = schema.Model.GetRootAs(model, 0)
    found = set()
    for i in range(root.OperatorCodesLength()):
        code = root.OperatorCodes(i)
        custom = code.CustomCode()
        if custom:
            found.add(custom.decode())
        else:
            # Codes above 127 live in BuiltinCode; older ones in DeprecatedBuiltinCode.
            found.add(names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "UNKNOWN"))
    return found


def require_builtin_ops(model: bytes) -> None:
    foreign = sorted(n for n in operator_names(model) if not _is_builtin_name(n))
    if foreign:
        raise FlexOpError(
            f"the converted model needs ops that the LiteRT interpreter cannot run: {', '.join(foreign)}"
        )


CALIBRATION_PAIRS = 256
CALIBRATION_BATCH = 16  # pairs a calibration batch, for a dynamic batch


def representative_inputs(
    model: StepModel, encoder_ids: np.ndarray, decoder_ids: np.ndarray, batch: int = CALIBRATION_BATCH
) -> tuple[Callable[[], Iterable[dict]], Callable[[], Iterable[dict]]]:
    """Calibration data for both graphs, from training pairs.

    The decoder step is calibrated on what it sees in use: the float32 encoder's states, then each
    teacher-forced step's token and incoming states.
    Every batch has the same size (the calibrator cannot prepare the attention step for a second
    batch size): the pairs past the last full batch are left out, unless there are fewer than
    `batch` in all.
    """
    batch = min(batch, len(encoder_ids))
    starts = range(0, len(encoder_ids) - batch + 1, batch)

    def encoder_data():
        for i in starts:
            yield {SOURCE_IDS: encoder_ids[i : i + batch]}

    def decoder_data():
        for i in starts:
            state = model.encode(encoder_ids[i : i + batch])
            for t in range(decoder_ids.shape[1]):
                tokens = decoder_ids[i : i + batch, t]
                yield {TOKEN_IDS: tokens, **state}
                _, state = model.step(tokens, state)

    return encoder_data, decoder_data


def make_converter(calibration_pairs: int = CALIBRATION_PAIRS, batch: int | None = None, integer_io: bool = False):
    """convert(source, precision) -> {role: bytes}; int8 and int16x8 calibrate on up to
    `calibration_pairs` of the source's training pairs. `batch` fixes the graphs' batch size (see
    `EdgeGraphs`); calibration then runs in batches of that size. `integer_io` gives the int8 and
    int16x8 files integer inputs and outputs (`convert`); the other precisions keep float ones."""
    if batch is not None and batch < 1:
        raise UsageError(f"the batch size must be at least 1, got {batch}")
    state: dict = {}

    def convert_run(source: Source, precision: str) -> dict[str, bytes]:
        if "graphs" not in state:
            state["graphs"] = EdgeGraphs(source.spec, unrolled=True, gather_one_hot=True, batch=batch)
            state["data"] = _calibration_data(source, state["graphs"], calibration_pairs, batch)
        graphs = state["graphs"]
        enc_data, dec_data = state["data"] if precision in ("int8", "int16x8") else (None, None)
        io = integer_io and precision in INTEGER_IO
        files = {"encoder": convert(graphs, graphs.encode, precision, enc_data, io),
                 "decoder_step": convert(graphs, graphs.step, precision, dec_data, io)}
        if precision == "dynamic":
            files["decoder_step"] = dequantize_state_path(files["decoder_step"], hybrid_state_products(source.spec))
        elif precision == "int16x8":  # the same values, and files that TFLite Micro loads
            files = {role: int8_lookups(data) for role, data in files.items()}
        return files

    return convert_run


def _calibration_data(source: Source, graphs: EdgeGraphs, limit: int, batch: int | None):
    spec = source.spec
    pairs = source.calibration_pairs[:limit]
    if not pairs:
        raise UsageError(f"{source.name} has no training pairs (train_sample.tsv) to calibrate "
                         "int8/int16x8 with: retrain it with this version of trainer.fit")
    if batch is not None and len(pairs) < batch:
        raise UsageError(f"a fixed batch of {batch} needs at least {batch} calibration pairs, "
                         f"{source.name} has {len(pairs)}: use a smaller --fixed-batch")
    enc, dec, _ = encode_pairs(pairs, spec.source_vocab, spec.target_vocab,
                               spec.max_source_length, spec.max_target_length, spec.source_form)
    return representative_inputs(graphs.step_model(), enc, dec, batch or CALIBRATION_BATCH)


def producer_versions() -> dict[str, str]:
    try:
        from ai_edge_litert import __version__ as litert
    except ImportError:  # older wheels have no __version__
        litert = "unknown"
    return {"s2s_edge": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "ai_edge_litert": litert}

"""python -m export.to_onnx --run DIR --out BUNDLE: encoder + single-step decoder to ONNX.

float32: tf2onnx converts the trained Keras layers (the encoder LSTM becomes a native ONNX LSTM op;
the step decoder is the LSTM cell's equations and the dense layer's logits), onnx.checker checks
both graphs. int8: onnxruntime's dynamic quantization of those graphs (int8 weights per channel,
activations quantized on the fly; the encoder LSTM becomes DynamicQuantizeLSTM, the decoder's input
projection MatMulInteger; the decoder's recurrent and logits products stay float32, their weights
int8 when a quantization-aware run put them on the grid). Each precision is then validated
against Keras (see export.validate) before the bundle is renamed into place.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path
from typing import Sequence

from runtime import __version__
from runtime.cli import add_verbose, positive_int, run_main
from runtime.errors import S2SError

from .pipeline import Loaded, UsageError, export_bundle, parse_min_agreement

DEFAULT_OPSET = 17  # tf2onnx 1.17 converts opsets 13-18
QUANTIZE = {"none": "float32", "int8": "int8"}


class ExportError(S2SError, RuntimeError):
    """The conversion produced a graph that is not what the bundle contract requires."""


def convert_float32(functions, opset: int = DEFAULT_OPSET) -> dict[str, bytes]:
    """The serialized ONNX encoder and decoder step of `functions` (trainer.model.InferenceFunctions)."""
    import onnx
    import tf2onnx

    from runtime import bundle as b

    graphs = {
        "encoder": (functions.encode_fn, functions.encoder_signature, [b.STATE_H, b.STATE_C]),
        "decoder_step": (
            functions.step_fn, functions.step_signature, [b.LOGITS, b.NEXT_STATE_H, b.NEXT_STATE_C]
        ),
    }
    out = {}
    for role, (fn, signature, outputs) in graphs.items():
        proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=opset)
        proto.producer_name = f"s2s-edge {__version__} (tf2onnx {tf2onnx.__version__})"
        names_in = [i.name for i in proto.graph.input]
        names_out = [o.name for o in proto.graph.output]
        wanted_in = [s.name for s in signature]
        if sorted(names_in) != sorted(wanted_in) or sorted(names_out) != sorted(outputs):
            raise ExportError(
                f"{role}: converted graph has inputs {names_in} and outputs {names_out}, "
                f"expected {wanted_in} and {outputs}"
            )
        onnx.checker.check_model(proto, full_check=True)
        out[role] = proto.SerializeToString()
    return out


def float_state_path(model) -> list[str]:
    """The decoder step's MatMuls that read the recurrent state: `state_h @ U` and the logits'
    `next_state_h @ dense`. Quantizing their activations (8 bits, one scale per tensor) is what flips
    greedy decodes: measured on the seed-settings model, 500 held-out sentences, per-channel weights:
    everything quantized 80.0% identical to float32, these two kept float 93.4%."""
    from runtime import bundle as b

    return [n.name for n in model.graph.node
            if n.op_type == "MatMul" and ({b.STATE_H, b.NEXT_STATE_H} & set(n.input))]


def store_grid_weights_int8(model) -> int:
    """Weight-only int8 for the float state path: a MatMul weight there that already lies on the
    per-column int8 grid (a `trainer.qat` run) is stored as int8 times a float32 scale per column,
    so the product is still float32 and equal, and the weight takes a quarter of the bytes. Weights
    off the grid (a plain run) stay float: rounding them is what costs greedy decodes.

    Cast and Mul, not DequantizeLinear: onnxruntime fuses DequantizeLinear + MatMul into
    MatMulNBits, which flipped 4.2% more greedy decodes of the seed-settings QAT model (94.2% vs
    98.4% identical to Keras); Cast and Mul of constants are folded back to the float weight when
    the session loads. Returns the count."""
    from collections import Counter

    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    from trainer.qat import int8_grid, int8_levels, int8_scale

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
        if w.dtype != np.float32 or w.ndim != 2 or not np.array_equal(w, int8_grid(w)):
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
    """onnxruntime's dynamic int8 quantization of one serialized graph: int8 weights per output
    channel; the decoder's state-path products stay float32 (see `float_state_path`), with int8
    weights when they lie on the grid (see `store_grid_weights_int8`)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "float32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(graph)
        keep_float = float_state_path(onnx.load_from_string(graph))
        # It logs advice to run quant_pre_process first; on these graphs that changes nothing
        # (measured: same sizes), so keep the export's output readable.
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True,
                             nodes_to_exclude=keep_float)
        finally:
            root.setLevel(level)
        model = onnx.load(str(dst))
        store_grid_weights_int8(model)
        onnx.checker.check_model(model, full_check=True)
        return model.SerializeToString()


def make_converter(opset: int):
    cache: dict[str, dict[str, bytes]] = {}

    def convert(loaded: Loaded, precision: str) -> dict[str, bytes]:
        if "float32" not in cache:
            cache["float32"] = convert_float32(loaded.functions, opset)
        if precision == "float32":
            return cache["float32"]
        if precision == "int8":
            return {role: quantize_int8(g) for role, g in cache["float32"].items()}
        raise UsageError(f"unknown ONNX precision {precision!r}")

    return convert


def producer_versions(opset: int) -> dict[str, str]:
    import keras
    import onnx
    import onnxruntime
    import tensorflow as tf
    import tf2onnx

    return {
        "s2s_edge": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
        "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__, "opset": str(opset),
    }


def export_onnx(
    run: str | Path,
    out: str | Path,
    *,
    quantize: Sequence[str] = ("none",),
    opset: int = DEFAULT_OPSET,
    num_decodes: int = 500,
    min_agreement: dict[str, float] | None = None,
    log=print,
):
    """Export a run to ONNX in each `quantize` mode; returns (Manifest, [ParityReport])."""
    if not 13 <= opset <= 18:
        raise UsageError(f"opset must be between 13 and 18 (tf2onnx 1.17), got {opset}")
    precisions = [_precision(q) for q in dict.fromkeys(quantize)]
    return export_bundle(
        run, out, "onnx", precisions, make_converter(opset), "onnx", producer_versions(opset),
        num_decodes=num_decodes, min_agreement=min_agreement,
        # Dynamic quantization scales activations per tensor, i.e. across the batch.
        batch_dependent={"int8"}, log=log,
    )


def _precision(mode: str) -> str:
    if mode not in QUANTIZE:
        raise UsageError(f"unknown --quantize mode {mode!r}: choose from {', '.join(QUANTIZE)}")
    return QUANTIZE[mode]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m export.to_onnx",
        description="Convert a training run's encoder and single-step decoder to ONNX, validate them "
        "against Keras and write a bundle (manifest.json + model files). Other backends and "
        "precisions of the same model already in the bundle are kept.",
    )
    p.add_argument("--run", required=True, help="run directory written by trainer.fit")
    p.add_argument("--out", required=True, help="bundle directory to write (updated atomically)")
    p.add_argument("--quantize", nargs="+", default=["none"], choices=list(QUANTIZE),
                   help="precisions to export: none (float32), int8 (dynamic int8) (default: none)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset, 13-18 (default: %(default)s)")
    p.add_argument("--num-decodes", type=positive_int, default=500,
                   help="held-out sentences whose greedy decodes are compared with Keras (default: %(default)s)")
    p.add_argument("--min-agreement", nargs="*", metavar="PRECISION=FRACTION",
                   help="override the share of decodes that must equal Keras (float32 always needs 1.0 "
                   "by default; int8 0.9)")
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    export_onnx(args.run, args.out, quantize=args.quantize, opset=args.opset,
                num_decodes=args.num_decodes, min_agreement=parse_min_agreement(args.min_agreement))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m export.to_onnx"))

"""python -m export.to_onnx --run DIR --out BUNDLE: encoder + single-step decoder to ONNX.

The two graphs are converted with tf2onnx from the trained Keras layers (the LSTM becomes a native
ONNX LSTM op; the step decoder is the LSTM cell's equations), checked with onnx.checker, written to a
staged bundle, validated against Keras (states and probabilities within 1e-5, identical greedy
decodes), and only then renamed into place.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

from runtime import __version__
from runtime.bundle import sha256_file
from runtime.cli import add_verbose, run_main
from runtime.errors import S2SError

DEFAULT_OPSET = 17  # tf2onnx 1.17 converts opsets 13-18
FILES = {"encoder": "encoder.onnx", "decoder_step": "decoder_step.onnx"}


class ExportError(S2SError, RuntimeError):
    """The conversion produced a graph that is not what the bundle contract requires."""


def convert(functions, opset: int = DEFAULT_OPSET) -> dict[str, bytes]:
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
    opset: int = DEFAULT_OPSET,
    num_decodes: int = 256,
    tolerance: float = 1e-5,
    log=print,
):
    """Export a run to an ONNX bundle at `out`; returns (Manifest, ParityReport).

    Raises ParityError (and leaves `out` as it was) when the artifacts do not match Keras.
    """
    from trainer.decode import keras_translator
    from trainer.model import InferenceFunctions
    from trainer.run import MODEL_FILE, load_model, read_heldout, read_run

    from .bundle_writer import write_bundle
    from .validate import check_parity, require_parity

    run = Path(run)
    info = read_run(run)
    model = load_model(run)
    functions = InferenceFunctions(model)
    started = time.perf_counter()
    log(f"converting {run / MODEL_FILE} to ONNX (opset {opset}) ...")
    graphs = convert(functions, opset)
    log(f"converted in {time.perf_counter() - started:.1f}s: "
        + ", ".join(f"{FILES[r]} {len(d) / 1024:.0f} KiB" for r, d in graphs.items()))

    pairs = read_heldout(run)
    reference = keras_translator(run)
    reports = []

    def validate(staged: Path) -> dict:
        log(f"validating against Keras on up to {num_decodes} held-out sentences ...")
        report = check_parity(staged, model, reference, info, pairs, num_decodes=num_decodes)
        log(report.table())
        require_parity(report, tolerance)
        reports.append(report)
        return {"onnx/float32": report.to_json()}

    manifest = write_bundle(
        out, info, model_id=sha256_file(run / MODEL_FILE),
        files={("onnx", "float32", role): (FILES[role], data) for role, data in graphs.items()},
        producer=producer_versions(opset), validate=validate,
    )
    log(f"bundle written to {out}")
    return manifest, reports[0]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m export.to_onnx",
        description="Convert a training run's encoder and single-step decoder to ONNX, validate them "
        "against Keras and write a bundle (manifest.json + model files).",
    )
    p.add_argument("--run", required=True, help="run directory written by trainer.fit")
    p.add_argument("--out", required=True, help="bundle directory to write (replaced atomically)")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset, 13-18 (default: %(default)s)")
    p.add_argument("--num-decodes", type=int, default=256,
                   help="held-out sentences whose greedy decodes must match Keras (default: %(default)s)")
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 13 <= args.opset <= 18:
        raise ExportError(f"--opset must be between 13 and 18 (tf2onnx 1.17), got {args.opset}")
    export_onnx(args.run, args.out, opset=args.opset, num_decodes=args.num_decodes)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m export.to_onnx"))

"""python -m export.to_tflite --run DIR --out BUNDLE --quantize none float16 dynamic int8 int16x8

Converts the encoder and the single-step decoder to TFLite (builtin ops only, dynamic batch; see
export.tflite), validates each precision against Keras and adds the files to the bundle beside
any ONNX artifacts of the same model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from runtime import __version__
from runtime.cli import add_verbose, positive_int, run_main

from .pipeline import Loaded, UsageError, export_bundle, parse_min_agreement
from .tflite import PRECISIONS, convert, dequantize_state_path, edge_graphs, representative_inputs

CALIBRATION_PAIRS = 256


def make_converter(calibration_pairs: int = CALIBRATION_PAIRS):
    state: dict = {}

    def convert_run(loaded: Loaded, precision: str) -> dict[str, bytes]:
        if "graphs" not in state:
            state["graphs"] = edge_graphs(loaded.model, loaded.info.max_source_length)
            state["data"] = _calibration_data(loaded, calibration_pairs)
        graphs = state["graphs"]
        enc_data, dec_data = state["data"] if precision in ("int8", "int16x8") else (None, None)
        step = convert(graphs, graphs.step, precision, dec_data)
        return {
            "encoder": convert(graphs, graphs.encode, precision, enc_data),
            "decoder_step": dequantize_state_path(step) if precision == "dynamic" else step,
        }

    return convert_run


def _calibration_data(loaded: Loaded, limit: int):
    from trainer.fit import encode_pairs
    from trainer.run import TRAIN_SAMPLE_TSV, read_heldout

    from .validate import usable_pairs

    info = loaded.info
    pairs = usable_pairs(read_heldout(loaded.path, TRAIN_SAMPLE_TSV), info)[:limit]
    if not pairs:
        raise UsageError(
            f"{loaded.path} has no {TRAIN_SAMPLE_TSV} to calibrate int8/int16x8 with: "
            "retrain it with this version of trainer.fit"
        )
    enc, dec, _ = encode_pairs(pairs, info.source_vocab, info.target_vocab,
                               info.max_source_length, info.max_target_length)
    return representative_inputs(loaded.functions, enc, dec)


def producer_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    try:
        from ai_edge_litert import __version__ as litert
    except ImportError:  # older wheels have no __version__
        litert = "unknown"
    return {"s2s_edge": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
            "ai_edge_litert": litert}


def export_tflite(
    run: str | Path,
    out: str | Path,
    *,
    quantize: Sequence[str] = ("none",),
    num_decodes: int = 500,
    min_agreement: dict[str, float] | None = None,
    calibration_pairs: int = CALIBRATION_PAIRS,
    log=print,
):
    """Export a run to TFLite in each `quantize` mode; returns (Manifest, [ParityReport])."""
    for mode in quantize:
        if mode not in PRECISIONS:
            raise UsageError(f"unknown --quantize mode {mode!r}: choose from {', '.join(PRECISIONS)}")
    precisions = [PRECISIONS[q] for q in dict.fromkeys(quantize)]
    return export_bundle(
        run, out, "tflite", precisions, make_converter(calibration_pairs), "tflite",
        producer_versions(), num_decodes=num_decodes, min_agreement=min_agreement, log=log,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m export.to_tflite",
        description="Convert a training run's encoder and single-step decoder to TFLite (builtin "
        "ops only, dynamic batch), validate each precision against Keras and add them to a bundle.",
    )
    p.add_argument("--run", required=True, help="run directory written by trainer.fit")
    p.add_argument("--out", required=True, help="bundle directory to write (updated atomically)")
    p.add_argument("--quantize", nargs="+", default=["none"], choices=list(PRECISIONS),
                   help="none (float32), float16, dynamic (int8 weights), int8 (full integer, "
                   "calibrated on training pairs), int16x8 (default: none)")
    p.add_argument("--num-decodes", type=positive_int, default=500,
                   help="held-out sentences whose greedy decodes are compared with Keras (default: %(default)s)")
    p.add_argument("--calibration-pairs", type=positive_int, default=CALIBRATION_PAIRS,
                   help="training pairs for int8/int16x8 calibration (default: %(default)s)")
    p.add_argument("--min-agreement", nargs="*", metavar="PRECISION=FRACTION",
                   help="override the share of decodes that must equal Keras (defaults: float32 1.0, "
                   "float16 and dynamic 0.98, int8 and int16x8 0.9)")
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    export_tflite(args.run, args.out, quantize=args.quantize, num_decodes=args.num_decodes,
                  min_agreement=parse_min_agreement(args.min_agreement),
                  calibration_pairs=args.calibration_pairs)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m export.to_tflite"))

"""python -m export.to_tflite --run DIR --out BUNDLE --quantize none float16 dynamic int8 int16x8

Converts the encoder and the single-step decoder to TFLite (builtin ops only, dynamic batch or, with
`--fixed-batch`, a fixed one; see `export.tflite_converter`), validates each precision against Keras
and adds the files to the bundle beside any ONNX artifacts of the same model.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from runtime.golden import DEFAULT_GOLDEN
from runtime.cli import positive_int, run_main

from .cli import export_parser, parse_min_agreement, precisions_of
from .pipeline import export_bundle
from .source import UsageError
from .tflite_converter import CALIBRATION_PAIRS, INTEGER_IO, PRECISIONS, make_converter, producer_versions


def export_tflite(
    run: str | Path,
    out: str | Path,
    *,
    quantize: Sequence[str] = ("none",),
    num_decodes: int = 500,
    min_agreement: dict[str, float] | None = None,
    golden: int = DEFAULT_GOLDEN,
    calibration_pairs: int = CALIBRATION_PAIRS,
    fixed_batch: int | None = None,
    integer_io: bool = False,
    log=print,
):
    """Export a run to TFLite in each `quantize` mode; returns (Manifest, [ParityReport]).
    `fixed_batch` fixes the files' batch (every shape static, as TFLite Micro needs); None keeps it
    dynamic. The runtime runs a fixed-batch file in pieces of its size. `integer_io` gives the int8
    and int16x8 files integer inputs and outputs (the state, memory and logits, with their scale and
    zero point), which the runtime (de)quantizes."""
    precisions = precisions_of(quantize, PRECISIONS)
    if integer_io and not set(precisions) & set(INTEGER_IO):
        raise UsageError("integer inputs and outputs are for full-integer files: add int8 or int16x8 "
                         "to --quantize, or leave out --integer-io")
    return export_bundle(
        run, out, "tflite", precisions, make_converter(calibration_pairs, fixed_batch, integer_io),
        "tflite", producer_versions(), num_decodes=num_decodes, min_agreement=min_agreement, golden=golden,
        # int8 rounds differently on LiteRT's two kernel sets: full-integer files must pass on both.
        other_kernels={precision: ("builtin",) for precision in INTEGER_IO}, log=log,
    )


def build_parser():
    p = export_parser(
        "python -m export.to_tflite",
        "Convert a training run's encoder and single-step decoder to TFLite (builtin ops only, dynamic "
        "or fixed batch), validate each precision against Keras and add them to a bundle.",
        PRECISIONS, "none (float32), float16, dynamic (int8 weights), int8 (full integer, calibrated on "
        "training pairs), int16x8",
    )
    p.add_argument("--calibration-pairs", type=positive_int, default=CALIBRATION_PAIRS,
                   help="training pairs for int8/int16x8 calibration (default: %(default)s)")
    p.add_argument("--fixed-batch", type=positive_int, default=None, metavar="N",
                   help="fix the files' batch size, so that every shape is static: 1 for TFLite Micro "
                        "(microcontrollers); the runtime runs other batches in pieces (default: dynamic)")
    p.add_argument("--integer-io", action="store_true",
                   help="int8 and int16x8 files take and return their float tensors (state, memory, logits) "
                        "as integers (scale and zero point in the file), for accelerators that run no float; "
                        "the runtime quantizes and dequantizes them (default: float inputs and outputs)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    export_tflite(args.run, args.out, quantize=args.quantize, num_decodes=args.num_decodes,
                  min_agreement=parse_min_agreement(args.min_agreement), golden=args.golden,
                  calibration_pairs=args.calibration_pairs, fixed_batch=args.fixed_batch,
                  integer_io=args.integer_io)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m export.to_tflite"))

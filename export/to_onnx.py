"""python -m export.to_onnx --run DIR --out BUNDLE: encoder + single-step decoder to ONNX.

Converts the run's model (`export.onnx_converter`: float32 by tf2onnx, int8 by onnxruntime's
dynamic quantization; with each precision, the whole greedy decode as one graph, `export.greedy_loop`),
validates each precision against Keras (`export.validate`) and writes or
extends the bundle atomically (`export.pipeline`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from runtime.golden import DEFAULT_GOLDEN
from runtime.cli import run_main

from .cli import export_parser, parse_min_agreement, precisions_of
from .onnx_converter import BATCH_DEPENDENT, DEFAULT_OPSET, PRECISIONS, make_converter, producer_versions
from .pipeline import export_bundle
from .source import UsageError


def export_onnx(
    run: str | Path,
    out: str | Path,
    *,
    quantize: Sequence[str] = ("none",),
    opset: int = DEFAULT_OPSET,
    num_decodes: int = 500,
    min_agreement: dict[str, float] | None = None,
    golden: int = DEFAULT_GOLDEN,
    greedy_loop: bool = True,
    log=print,
):
    """Export a run to ONNX in each `quantize` mode; returns (Manifest, [ParityReport]).
    `greedy_loop` adds the one-graph greedy decoder of each precision (the "greedy" role)."""
    if not 13 <= opset <= 18:
        raise UsageError(f"opset must be between 13 and 18 (tf2onnx 1.17), got {opset}")
    precisions = precisions_of(quantize, PRECISIONS)
    return export_bundle(
        run, out, "onnx", precisions, make_converter(opset, greedy_loop), "onnx", producer_versions(opset),
        num_decodes=num_decodes, min_agreement=min_agreement, golden=golden, batch_dependent=BATCH_DEPENDENT, log=log,
    )


def build_parser():
    p = export_parser(
        "python -m export.to_onnx",
        "Convert a training run's encoder and single-step decoder to ONNX, validate them against Keras "
        "and write a bundle (manifest.json + model files). Other backends and precisions of the same "
        "model already in the bundle are kept.",
        PRECISIONS, "none (float32), int8 (dynamic int8)",
    )
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset, 13-18 (default: %(default)s)")
    p.add_argument("--no-greedy-loop", dest="greedy_loop", action="store_false",
                   help="leave out the one-graph greedy decoder (greedy.PRECISION.onnx, about the size of "
                        "the other two files together; runtimes then step the decoder for greedy too)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    export_onnx(args.run, args.out, quantize=args.quantize, opset=args.opset,
                num_decodes=args.num_decodes, min_agreement=parse_min_agreement(args.min_agreement), golden=args.golden,
                greedy_loop=args.greedy_loop)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m export.to_onnx"))

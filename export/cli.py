"""The command-line surface that `python -m export.to_onnx` and `python -m export.to_tflite` share."""

from __future__ import annotations

import argparse
from typing import Sequence

from runtime.cli import ArgumentParser, add_verbose, non_negative_int, positive_int
from runtime.golden import DEFAULT_GOLDEN, MAX_GOLDEN_SENTENCES

from .source import UsageError
from .validate import CHRF_P, MAX_CONFIDENT_DEPARTURES, NEAR_TIE


def export_parser(prog: str, description: str, quantize: dict[str, str],
                  quantize_help: str) -> argparse.ArgumentParser:
    """A parser with the flags every exporter takes (`quantize`: --quantize modes -> precisions);
    each exporter adds its own before parsing."""
    p = ArgumentParser(prog=prog, description=description)
    p.add_argument("--run", required=True, help="run directory written by trainer.fit")
    p.add_argument("--out", required=True, help="bundle directory to write (updated atomically)")
    p.add_argument("--quantize", nargs="+", default=["none"], choices=list(quantize),
                   help=f"precisions to export: {quantize_help} (default: none)")
    p.add_argument("--num-decodes", type=positive_int, default=500,
                   help="held-out sentences whose greedy decodes are compared with Keras (default: %(default)s)")
    p.add_argument("--min-agreement", nargs="*", metavar="PRECISION=FRACTION",
                   help="judge PRECISION by its share of greedy decodes identical to Keras: at least FRACTION "
                        "on every kernel set checked. Without it float32 needs every decode identical, and a "
                        f"quantized precision is refused when more than {100 * MAX_CONFIDENT_DEPARTURES:g}%% "
                        f"of the decodes depart where Keras was confident (top-2 margin >= {NEAR_TIE:g} nats) "
                        f"or its chrF is lower than Keras's with p < {CHRF_P:g} (docs/export.md)")
    p.add_argument("--golden", type=non_negative_int, default=DEFAULT_GOLDEN, metavar="N",
                   help=f"record N held-out sentences (at most --num-decodes, and {MAX_GOLDEN_SENTENCES}) with each "
                        "artifact's decodes in the bundle's golden.json, which every runtime can check with "
                        "--self-check; 0 records none (and drops those of the artifacts the bundle keeps), so that "
                        "runtimes older than format version 4 read the bundle (default: %(default)s)")
    add_verbose(p)
    return p


def parse_min_agreement(values: Sequence[str] | None) -> dict[str, float]:
    """`PRECISION=FRACTION` flags -> {precision: fraction}."""
    out = {}
    for item in values or []:
        precision, sep, value = item.partition("=")
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not sep or not 0.0 <= fraction <= 1.0:
            raise UsageError(f"--min-agreement takes PRECISION=FRACTION (e.g. int8=0.85), got {item!r}")
        out[precision] = fraction
    return out


def precisions_of(quantize: Sequence[str], names: dict[str, str]) -> list[str]:
    """--quantize modes -> manifest precisions, each once, in order."""
    for mode in quantize:
        if mode not in names:
            raise UsageError(f"unknown --quantize mode {mode!r}: choose from {', '.join(names)}")
    return [names[mode] for mode in dict.fromkeys(quantize)]

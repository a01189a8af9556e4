"""python -m trainer.decode --run DIR [TEXT ...]: the Keras reference translation.

The seed's greedy `decode_sequence`, batched: the trained Keras layers run the encoder and one
decoder step at a time, and the runtime's own greedy loop and input policy drive them. Exported
artifacts are judged against this.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from runtime.__main__ import add_decoding, translate_cli
from runtime.cli import add_verbose, positive_int, run_main
from runtime.translator import Translator
from runtime.vocab import ON_OVERFLOW, ON_UNKNOWN

from .run import load_model, read_run


def keras_translator(
    run: str | Path, *, max_batch_size: int = 64, on_unknown: str = "error", on_overflow: str = "error"
) -> Translator:
    """A Translator whose steps run on the run's Keras model."""
    info = read_run(run)  # first: it names a missing or foreign run directory
    return step_translator(load_model(run), info, max_batch_size=max_batch_size,
                           on_unknown=on_unknown, on_overflow=on_overflow)


def step_translator(model, info, **options) -> Translator:
    """A Translator whose steps run on `model` (float32, the run's layers) with `info`'s vocabularies."""
    from .model import InferenceFunctions

    return Translator.from_step_model(InferenceFunctions(model), info, **options)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trainer.decode",
        description="Translate with a run's Keras model (the reference for exported bundles). "
        "Without TEXT, reads stdin: one input line, one output line.",
    )
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--run", required=True, help="run directory written by trainer.fit")
    p.add_argument("--batch-size", type=positive_int, default=64, help="default: %(default)s")
    p.add_argument("--on-unknown", default="error", choices=ON_UNKNOWN, help="default: %(default)s")
    p.add_argument("--on-overflow", default="error", choices=ON_OVERFLOW, help="default: %(default)s")
    add_decoding(p)
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    translator = keras_translator(
        args.run, max_batch_size=args.batch_size, on_unknown=args.on_unknown, on_overflow=args.on_overflow
    )
    return translate_cli(translator, args.texts, args.batch_size, args=args)


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m trainer.decode"))

"""python -m trainer.decode --run DIR [TEXT ...]: the Keras reference translation.

The seed's greedy `decode_sequence`, batched: the trained Keras layers run the encoder and one
decoder step at a time, and the runtime's own decoding loops and input policy drive them
(`trainer.reference`). Exported artifacts are judged against this.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from runtime.cli import ArgumentParser, add_decoding, add_input_policy, add_verbose, run_main, translate_cli

from .reference import keras_translator


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m trainer.decode",
        description="Translate with a run's Keras model (the reference for exported bundles). "
        "Without TEXT, reads stdin: one input line, one output line.",
    )
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--run", required=True, help="run directory written by trainer.fit")
    add_input_policy(p)
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

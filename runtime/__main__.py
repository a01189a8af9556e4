"""python -m runtime --bundle DIR [TEXT ...]: translate arguments, or stdin line by line;
`--self-check` decodes the bundle's golden translations and compares them with the export's."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .backends import BACKENDS
from .backends.onnx import DEVICES
from .backends.tflite import KERNELS
from .cli import (ArgumentParser, add_decoding, add_input_policy, add_verbose, greedy_graph_pays, positive_int, run_main,
                  translate_cli)
from .errors import S2SError
from .translator import Translator


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m runtime",
        description="Translate English to French with an exported s2s-edge bundle "
        "(no TensorFlow needed). Without TEXT, reads stdin: one input line, one output line "
        "(N lines with --num-hypotheses N).",
    )
    p.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to translate")
    p.add_argument("--bundle", required=True, help="bundle directory (holds manifest.json)")
    p.add_argument("--backend", default="onnx", choices=BACKENDS, help="default: %(default)s")
    p.add_argument("--precision", default="float32", help="default: %(default)s")
    p.add_argument("--device", default="cpu", choices=DEVICES,
                   help="cpu, cuda (onnxruntime-gpu; an error if absent) or auto (cuda when present)")
    p.add_argument("--kernels", default="default", choices=KERNELS,
                   help="LiteRT's kernel set for TFLite artifacts: default (with its XNNPACK delegate) or builtin")
    p.add_argument("--self-check", action="store_true",
                   help="decode the bundle's golden translations and compare them with the decodes recorded at "
                        "export for this backend, precision and kernel set: prints k/N identical; exit 0 when "
                        "all are, 1 otherwise")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="intra-op threads per model (default: 1; more can help large batches on big CPUs)")
    add_input_policy(p)
    p.add_argument("--echo", action="store_true", help="print SOURCE<TAB>TRANSLATION per line")
    add_decoding(p)
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_check and args.texts:
        raise S2SError("--self-check translates the bundle's golden sentences: give no TEXT")
    if args.kernels != "default" and args.backend != "tflite":
        raise S2SError(f"--kernels {args.kernels}: kernel sets are LiteRT's, for --backend tflite only")
    translator = Translator(
        args.bundle, backend=args.backend, device=args.device, precision=args.precision,
        threads=args.threads, max_batch_size=args.batch_size,
        on_unknown=args.on_unknown, on_overflow=args.on_overflow,
        greedy_loop=None if args.self_check or greedy_graph_pays(args) else False, kernels=args.kernels,
    )
    if args.self_check:
        check = translator.self_check()
        sys.stdout.reconfigure(encoding="utf-8")
        print(check.summary(), flush=True)
        return 0 if check.passed else 1
    return translate_cli(translator, args.texts, args.batch_size, echo=args.echo, args=args)


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m runtime"))

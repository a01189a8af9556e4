"""python -m runtime --bundle DIR [TEXT ...]: translate arguments, or stdin line by line."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .backends import BACKENDS
from .backends.onnx import DEVICES
from .cli import add_verbose, positive_int, run_main
from .errors import InputDecodingError, S2SError
from .vocab import ON_OVERFLOW, ON_UNKNOWN, prepare_source


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m runtime",
        description="Translate English to French with an exported s2s-edge bundle "
        "(no TensorFlow needed). Without TEXT, reads stdin: one input line, one output line.",
    )
    p.add_argument("texts", nargs="*", metavar="TEXT", help="sentences to translate")
    p.add_argument("--bundle", required=True, help="bundle directory (holds manifest.json)")
    p.add_argument("--backend", default="onnx", choices=BACKENDS, help="default: %(default)s")
    p.add_argument("--precision", default="float32", help="default: %(default)s")
    p.add_argument("--device", default="cpu", choices=DEVICES, help="default: %(default)s")
    p.add_argument("--threads", type=positive_int, default=None, help="intra-op threads (default: onnxruntime's)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="sentences per batch (default: %(default)s)")
    p.add_argument(
        "--on-unknown", default="error", choices=ON_UNKNOWN,
        help="characters outside the vocabulary: fail, or drop them (default: %(default)s)",
    )
    p.add_argument(
        "--on-overflow", default="error", choices=ON_OVERFLOW,
        help="inputs longer than the model's maximum: fail, or cut them (default: %(default)s)",
    )
    p.add_argument("--echo", action="store_true", help="print SOURCE<TAB>TRANSLATION per line")
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .translator import Translator

    translator = Translator(
        args.bundle, backend=args.backend, device=args.device, precision=args.precision,
        threads=args.threads, max_batch_size=args.batch_size,
        on_unknown=args.on_unknown, on_overflow=args.on_overflow,
    )
    return translate_cli(translator, args.texts, args.batch_size, echo=args.echo)


def translate_cli(translator, texts: Sequence[str], batch_size: int, echo: bool = False) -> int:
    """Translate TEXT arguments, or stdin line by line when there are none (both CLIs use this)."""
    if texts:
        for source, line in zip(texts, translator.translate(list(texts))):
            print(f"{source}\t{line}" if echo else line)
        return 0
    sys.stdin.reconfigure(encoding="utf-8", errors="strict")
    sys.stdout.reconfigure(encoding="utf-8")
    return translate_stream(translator, sys.stdin, sys.stdout, batch_size, echo=echo)


def translate_stream(translator, lines, out, batch_size: int, echo: bool = False) -> int:
    """Translate `lines` in batches, writing each batch as soon as it is done."""
    batch: list[str] = []
    first_line = 1
    for line in _decoded(lines, first_line):
        batch.append(line.rstrip("\r\n"))
        if len(batch) == batch_size:
            _flush(translator, batch, first_line, out, echo)
            first_line += len(batch)
            batch = []
    _flush(translator, batch, first_line, out, echo)
    return 0


def _decoded(lines, first_line: int):
    number = first_line - 1
    iterator = iter(lines)
    while True:
        try:
            line = next(iterator)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise InputDecodingError(
                f"stdin line {number + 1} is not valid UTF-8 ({exc.reason} at byte {exc.start})"
            ) from None
        number += 1
        yield line


def _flush(translator, batch: list[str], first_line: int, out, echo: bool) -> None:
    if not batch:
        return
    # Check the input policy line by line first, so an error names its line.
    m = translator.manifest
    for offset, text in enumerate(batch):
        try:
            prepare_source(text, m.source_vocab, m.max_source_length,
                           translator.on_unknown, translator.on_overflow)
        except S2SError as exc:
            raise type(exc)(f"stdin line {first_line + offset}: {exc}") from None
    results = translator.translate(batch)
    if echo:
        results = [f"{src}\t{r}" for src, r in zip(batch, results)]
    out.write("".join(r + "\n" for r in results))
    out.flush()


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m runtime"))

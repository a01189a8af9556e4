"""python -m runtime --bundle DIR [TEXT ...]: translate arguments, or stdin line by line."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .backends import BACKENDS
from .backends.onnx import DEVICES
from .cli import add_verbose, non_negative_int, positive_int, run_main
from .errors import InputDecodingError, S2SError
from .vocab import ON_OVERFLOW, ON_UNKNOWN, prepare_source


def add_decoding(p: argparse.ArgumentParser) -> None:
    """Decoding options shared by every translating CLI (names as in Translator.hypotheses)."""
    g = p.add_argument_group("decoding (default: greedy)")
    g.add_argument("--beam-size", type=positive_int, default=1, help="beam search width (1: greedy)")
    g.add_argument("--num-hypotheses", type=positive_int, default=1,
                   help="print the N best outputs of each input, one per line (needs --beam-size >= N)")
    g.add_argument("--length-penalty", type=float, default=1.0,
                   help="beam ranking: score / length ** this (0: plain log-probability; default 1)")
    g.add_argument("--top-k", type=non_negative_int, default=1,
                   help="sample among the K most likely characters (0: all; 1: greedy, the default)")
    g.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (with --top-k)")
    g.add_argument("--seed", type=non_negative_int, default=None, help="makes sampling reproducible")
    g.add_argument("--scores", action="store_true", help="print SCORE<TAB>TEXT (log-probability)")
    g.add_argument("--stream", action="store_true",
                   help="print characters as they are decoded (greedy or sampling; one input at a time)")


def decoding_options(args) -> dict:
    return dict(beam_size=args.beam_size, num_hypotheses=args.num_hypotheses,
                length_penalty=args.length_penalty, top_k=args.top_k, temperature=args.temperature,
                seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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
    p.add_argument("--threads", type=positive_int, default=None, help="intra-op threads per model (default: 1; more can help large batches on big CPUs)")
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
    add_decoding(p)
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
    return translate_cli(translator, args.texts, args.batch_size, echo=args.echo, args=args)


class Output:
    """Formats results: one line per hypothesis, optionally with its source and score."""

    def __init__(self, translator, out, echo: bool, args=None) -> None:
        self.translator, self.out, self.echo = translator, out, echo
        self.options = decoding_options(args) if args is not None else {}
        self.scores = bool(args is not None and args.scores)
        self.stream = bool(args is not None and args.stream)
        if self.stream:
            if self.options["beam_size"] > 1 or self.options["num_hypotheses"] > 1:
                raise S2SError("--stream works with greedy decoding and sampling, not with beam search")
            if self.scores:
                raise S2SError("--stream prints characters as they come: drop --scores")
        # Options are checked before any input is read.
        translator.hypotheses([], **self.options)

    def write(self, sources: list[str]) -> None:
        if self.stream:
            for source in sources:
                if self.echo:
                    self.out.write(f"{source}\t")
                stream_options = {k: self.options[k] for k in ("top_k", "temperature", "seed")}
                for char in self.translator.translate_stream(source, **stream_options):
                    self.out.write(char)
                    self.out.flush()
                self.out.write("\n")
            self.out.flush()
            return
        lines = []
        for source, hyps in zip(sources, self.translator.hypotheses(sources, **self.options)):
            for h in hyps:
                text = f"{h.score:.4f}\t{h.text}" if self.scores else h.text
                lines.append(f"{source}\t{text}" if self.echo else text)
        self.out.write("".join(line + "\n" for line in lines))
        self.out.flush()


def translate_cli(translator, texts: Sequence[str], batch_size: int, echo: bool = False, args=None) -> int:
    """Translate TEXT arguments, or stdin line by line when there are none (both CLIs use this)."""
    sys.stdout.reconfigure(encoding="utf-8")
    output = Output(translator, sys.stdout, echo, args)
    if texts:
        output.write(list(texts))
        return 0
    sys.stdin.reconfigure(encoding="utf-8", errors="strict")
    return translate_stream(translator, sys.stdin, output, batch_size)


def translate_stream(translator, lines, output: Output, batch_size: int) -> int:
    """Translate `lines` in batches, writing each batch as soon as it is done (each line at once
    when streaming)."""
    batch: list[str] = []
    first_line = 1
    size = 1 if output.stream else batch_size
    for line in _decoded(lines, first_line):
        batch.append(line.rstrip("\r\n"))
        if len(batch) == size:
            _flush(translator, batch, first_line, output)
            first_line += len(batch)
            batch = []
    _flush(translator, batch, first_line, output)
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


def _flush(translator, batch: list[str], first_line: int, output: Output) -> None:
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
    output.write(batch)


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m runtime"))

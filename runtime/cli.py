"""What every s2s-edge command line shares.

- `run_main`: user errors as one line on stderr and exit status 2, Ctrl-C as 130 (and any
  KeyboardInterrupt subclass with an `exit_status`, such as a training stop on SIGTERM, as that);
- argument types and `--verbose`;
- the translating commands' decoding flags and their input loop (`python -m runtime` and
  `python -m trainer.decode`): arguments, or stdin line by line in streamed batches.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from .errors import InputDecodingError, S2SError
from .vocab import ON_OVERFLOW, ON_UNKNOWN, prepare_source

# Errors caused by the user's input or files, not by a bug: reported without a traceback.
USER_ERRORS = (S2SError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def _whole_number(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    return _whole_number(text, 1)


def non_negative_float(text: str) -> float:
    """argparse type: a finite number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or a positive number, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer of at least 0."""
    return _whole_number(text, 0)


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of errors")


def run_main(
    main: Callable[[Sequence[str] | None], int], prog: str, argv: Sequence[str] | None = None
) -> int:
    """Call `main`, turning user errors into `PROG: error: MESSAGE` and exit status 2, and Ctrl-C
    into status 130 (a KeyboardInterrupt that carries `exit_status` and `message` exits with them)."""
    verbose = "--verbose" in (sys.argv[1:] if argv is None else argv)
    try:
        return main(argv)
    except KeyboardInterrupt as exc:
        print(getattr(exc, "message", "interrupted"), file=sys.stderr)
        return getattr(exc, "exit_status", 130)
    except USER_ERRORS as exc:
        if verbose:
            raise
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into `head`
        return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    return " ".join(text.split())


def add_input_policy(p: argparse.ArgumentParser) -> None:
    """Batching and the input policy, shared by every translating CLI (names as in Translator)."""
    p.add_argument("--batch-size", type=positive_int, default=64,
                   help="sentences per batch (default: %(default)s)")
    p.add_argument(
        "--on-unknown", default="error", choices=ON_UNKNOWN,
        help="characters outside the vocabulary: fail, or drop them (default: %(default)s)",
    )
    p.add_argument(
        "--on-overflow", default="error", choices=ON_OVERFLOW,
        help="inputs longer than the model's maximum: fail, or cut them (default: %(default)s)",
    )


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

"""What every s2s-edge command line shares.

- `run_main`: user errors as one line on stderr and exit status 2, Ctrl-C as 130 (and any
  KeyboardInterrupt subclass with an `exit_status`, such as a training stop on SIGTERM, as that);
- argument types and `--verbose`;
- the translating commands' decoding flags and their input loop (`python -m runtime` and
  `python -m trainer.decode`): arguments, or stdin line by line in streamed batches.
"""

from __future__ import annotations

import argparse
import codecs
import math
import sys
from typing import BinaryIO, Callable, Iterable, Iterator, Sequence

from .errors import DecodingOptionError, InputDecodingError, InputPolicyError, InputTooLongError, S2SError
from .translator import GREEDY_LOOP_MAX_BATCH
from .vocab import ON_OVERFLOW, ON_UNKNOWN, prepare_source

# Errors caused by the user's input or files, not by a bug: reported without a traceback.
USER_ERRORS = (S2SError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser whose errors are one line on stderr (`PROG: error: MESSAGE`), exit status 2,
    as every other user error; the usage is for --help."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


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


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0."""
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
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
    # A command line's user is told of its flags, not of the Python API's keyword arguments.
    text = (exc.command_line_message() if isinstance(exc, (InputPolicyError, DecodingOptionError)) else str(exc)) \
        or type(exc).__name__
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
    g.add_argument("--length-penalty", type=non_negative_float, default=1.0,
                   help="beam ranking: score / length ** this (0: plain log-probability; default 1)")
    g.add_argument("--top-k", type=non_negative_int, default=1,
                   help="sample among the K most likely characters (0: all; 1: greedy, the default)")
    g.add_argument("--temperature", type=finite_float, default=1.0, help="sampling temperature (with --top-k)")
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
        if not self.scores and self.options.get("num_hypotheses", 1) == 1:
            # No scores asked: `translate` (the one-graph greedy decoder where the bundle has one).
            results = [[text] for text in self.translator.translate(list(sources), **self.options)]
        else:
            results = [[f"{h.score:.4f}\t{h.text}" if self.scores else h.text for h in hyps]
                       for hyps in self.translator.hypotheses(sources, **self.options)]
        lines = [f"{source}\t{text}" if self.echo else text
                 for source, texts in zip(sources, results) for text in texts]
        self.out.write("".join(line + "\n" for line in lines))
        self.out.flush()


def greedy_graph_pays(args) -> bool:
    """Whether a translating CLI loads the bundle's one-graph greedy decoder: only to read stdin in
    batches that the graph takes whole (GREEDY_LOOP_MAX_BATCH), plain greedy, no scores. Loading it
    costs about what it saves on a few sentences, and larger batches step the decoder
    (docs/performance.md, benchmarks/bench_cli_greedy.py)."""
    greedy = args.beam_size == 1 and args.top_k == 1 and args.num_hypotheses == 1
    return (not args.texts and greedy and not args.scores and not args.stream
            and args.batch_size <= GREEDY_LOOP_MAX_BATCH)


# A line of stdin is read up to this many bytes: a line's cost stays bounded whatever arrives. A
# longer line is refused, or cut with --on-overflow truncate (the model reads far fewer characters).
MAX_LINE_BYTES = 1 << 20


def translate_cli(translator, texts: Sequence[str], batch_size: int, echo: bool = False, args=None) -> int:
    """Translate TEXT arguments, or stdin line by line when there are none (both CLIs use this)."""
    sys.stdout.reconfigure(encoding="utf-8")
    output = Output(translator, sys.stdout, echo, args)
    if texts:
        _flush(translator, list(texts), 1, output, "argument")
        return 0
    return translate_stream(translator, stdin_lines(sys.stdin.buffer, translator.on_overflow), output,
                            batch_size)


def stdin_lines(stream: BinaryIO, on_overflow: str = "error") -> Iterator[str]:
    """The lines of a byte stream, each decoded as strict UTF-8, without its line ending; a line is
    read up to MAX_LINE_BYTES (its rest is dropped with on_overflow="truncate", else refused)."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        final = True
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            if on_overflow != "truncate":
                raise InputTooLongError(
                    f"stdin line {number} is longer than {MAX_LINE_BYTES} bytes, far more than the model's "
                    "maximum", remedy="shorten it", option="on_overflow", value="truncate")
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            raw, final = raw[:MAX_LINE_BYTES], False  # a character cut at the end is dropped
        try:
            text = codecs.getincrementaldecoder("utf-8")("strict").decode(raw, final=final)
        except UnicodeDecodeError:
            raise InputDecodingError(f"stdin line {number} is not valid UTF-8") from None
        yield text.rstrip("\r\n")


def translate_stream(translator, lines: Iterable[str], output: Output, batch_size: int) -> int:
    """Translate `lines` in batches, writing each batch as soon as it is done (each line at once
    when streaming). A line that fails comes after every line before it is written."""
    batch: list[str] = []
    first_line = 1
    size = 1 if output.stream else batch_size
    iterator = iter(lines)
    while True:
        try:
            line = next(iterator)
        except StopIteration:
            break
        except S2SError:  # a line that cannot be read: the ones before it first
            _flush(translator, batch, first_line, output)
            raise
        batch.append(line)
        if len(batch) == size:
            _flush(translator, batch, first_line, output)
            first_line += len(batch)
            batch = []
    _flush(translator, batch, first_line, output)
    return 0


def _flush(translator, batch: list[str], first_line: int, output: Output, what: str = "stdin line") -> None:
    """Write the translations of `batch`; the input policy is checked line by line first, so an error
    names its line and comes after the lines before it are written."""
    m = translator.manifest
    for offset, text in enumerate(batch):
        try:
            prepare_source(text, m.source_vocab, m.max_source_length,
                           translator.on_unknown, translator.on_overflow, m.source_form)
        except InputPolicyError as exc:
            if offset:
                output.write(batch[:offset])
            raise exc.at(f"{what} {first_line + offset}") from None
    if batch:
        output.write(batch)

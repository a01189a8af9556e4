"""What every s2s-edge command line shares: user errors as one line on stderr, exit code 2."""

from __future__ import annotations

import argparse
import signal
import sys
from typing import Callable, Sequence

from .errors import S2SError

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


class Terminated(KeyboardInterrupt):
    """A SIGTERM that a long job turned into an exception at a safe point (trainer.fit: at a batch
    boundary), so that it unwinds as from Ctrl-C and keeps its finished work."""


def run_main(
    main: Callable[[Sequence[str] | None], int], prog: str, argv: Sequence[str] | None = None
) -> int:
    """Call `main`, turning user errors into `PROG: error: MESSAGE` and exit status 2, Ctrl-C into
    status 130 and a `Terminated` into 143."""
    verbose = "--verbose" in (sys.argv[1:] if argv is None else argv)
    try:
        return main(argv)
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
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

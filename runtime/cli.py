"""What every s2s-edge command line shares: user errors as one line on stderr, exit code 2."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
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


def positive_float(text: str) -> float:
    """argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer of at least 0."""
    return _whole_number(text, 0)


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of errors")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that it unwinds as from Ctrl-C: temporary files
    are removed and finished work (a training run's epochs) is kept."""


def raise_terminated(signum=None, frame=None):
    """The SIGTERM handler of every CLI."""
    raise Terminated


def run_main(
    main: Callable[[Sequence[str] | None], int], prog: str, argv: Sequence[str] | None = None
) -> int:
    """Call `main`, turning user errors into `PROG: error: MESSAGE` and exit status 2, Ctrl-C into
    status 130 and SIGTERM (schedulers, `kill`) into 143 after the same cleanup."""
    verbose = "--verbose" in (sys.argv[1:] if argv is None else argv)
    # Only where SIGTERM still kills outright: an application embedding us keeps its own handler.
    own = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    if own:
        signal.signal(signal.SIGTERM, raise_terminated)
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
    finally:
        if own:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}"
    return " ".join(text.split())

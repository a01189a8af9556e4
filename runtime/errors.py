"""Errors the runtime raises on purpose; all bad values are ValueError subclasses."""

from __future__ import annotations

import copy
import re


class S2SError(Exception):
    """Base of the errors that s2s-edge raises on purpose (user errors, not bugs)."""


class BundleError(S2SError, ValueError):
    """A bundle is missing, of an unknown format, or does not match its manifest."""


class InputPolicyError(S2SError, ValueError):
    """An input that the input policy refuses. When a setting lets it through, the error names it
    (`option`, `value`) in the caller's terms: `on_unknown='skip'` from Python, `--on-unknown skip`
    on a command line (`command_line_message`). `at("stdin line 3")` is the error, located."""

    def __init__(self, problem: str, *, remedy: str | None = None, option: str | None = None,
                 value: str | None = None, where: str = "") -> None:
        self.problem, self.remedy, self.option, self.value, self.where = problem, remedy, option, value, where
        super().__init__(self._text(f"{option}={value!r}"))

    def _text(self, setting: str) -> str:
        where = f"{self.where}: " if self.where else ""
        if self.option is None:
            return where + self.problem
        return f"{where}{self.problem}; {self.remedy} or pass {setting}"

    def command_line_message(self) -> str:
        return self._text(f"--{self.option.replace('_', '-')} {self.value}" if self.option else "")

    def at(self, where: str) -> "InputPolicyError":
        located = copy.copy(self)
        located.where = where
        located.args = (located._text(f"{self.option}={self.value!r}"),)
        return located


class UnknownCharacterError(InputPolicyError):
    """The input holds characters outside the model's vocabulary (`characters` lists them)."""

    def __init__(self, problem: str, characters: list[str] | None = None, **kwargs) -> None:
        super().__init__(problem, **kwargs)
        self.characters = list(characters or [])


class InputTooLongError(InputPolicyError):
    """The input is longer than the encoder's maximum length."""


class InputDecodingError(S2SError, ValueError):
    """Input bytes are not valid UTF-8."""


class BackendUnavailableError(S2SError, RuntimeError):
    """The requested backend or device cannot be used on this machine."""


class DecodingOptionError(S2SError, ValueError):
    """Decoding options that are out of range or do not combine (beam size, top_k, ...);
    `command_line_message` names them as the command lines' flags (`--top-k`)."""

    def command_line_message(self) -> str:
        return re.sub(r"\b(beam_size|num_hypotheses|length_penalty|top_k|temperature|seed)\b",
                      lambda m: "--" + m.group(1).replace("_", "-"), str(self))

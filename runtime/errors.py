"""Errors the runtime raises on purpose; all bad values are ValueError subclasses."""

from __future__ import annotations


class S2SError(Exception):
    """Base of the errors that s2s-edge raises on purpose (user errors, not bugs)."""


class BundleError(S2SError, ValueError):
    """A bundle is missing, of an unknown format, or does not match its manifest."""


class UnknownCharacterError(S2SError, ValueError):
    """The input holds characters outside the model's vocabulary."""

    def __init__(self, message: str, characters: list[str] | None = None) -> None:
        super().__init__(message)
        self.characters = list(characters or [])


class InputTooLongError(S2SError, ValueError):
    """The input is longer than the encoder's maximum length."""


class InputDecodingError(S2SError, ValueError):
    """Input bytes are not valid UTF-8."""


class BackendUnavailableError(S2SError, RuntimeError):
    """The requested backend or device cannot be used on this machine."""


class DecodingOptionError(S2SError, ValueError):
    """Decoding options that are out of range or do not combine (beam size, top_k, ...)."""

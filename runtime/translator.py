"""`Translator`: load a bundle once, translate strings with batched greedy decoding."""

from __future__ import annotations

import os
from typing import Protocol, Sequence, overload

from .backends import load_backend
from .bundle import read_artifact, read_manifest
from .decoding import StepModel, greedy_decode
from .vocab import END, ON_OVERFLOW, ON_UNKNOWN, START, Vocabulary, prepare_source


class ModelSpec(Protocol):
    """What decoding needs to know of a model (a bundle's Manifest is one)."""

    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_source_length: int
    max_target_length: int


class Translator:
    """Translate English to French with an exported bundle.

    Input policy (per call, defaults set here):
    - `on_unknown="error"`: characters outside the vocabulary raise `UnknownCharacterError` (a
      ValueError) naming them; `"skip"` drops them.
    - `on_overflow="error"`: inputs longer than the encoder's maximum raise `InputTooLongError` (a
      ValueError); `"truncate"` cuts them.
    - `""` (also after skipping) translates to `""`; a non-string is a `TypeError`.

    Outputs stop at the end token or after the bundle's `max_target_length` characters.
    A Translator holds two onnxruntime sessions, whose `run` is thread-safe; the decoding state lives
    in each call, so one instance may serve several threads.
    """

    def __init__(
        self,
        bundle: str | os.PathLike[str],
        backend: str = "onnx",
        device: str = "cpu",
        precision: str = "float32",
        *,
        threads: int | None = None,
        max_batch_size: int = 64,
        on_unknown: str = "error",
        on_overflow: str = "error",
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        _check_choice("on_unknown", on_unknown, ON_UNKNOWN)
        _check_choice("on_overflow", on_overflow, ON_OVERFLOW)
        self.bundle = os.fspath(bundle)
        self.manifest = read_manifest(bundle)
        artifacts = self.manifest.select(backend, precision)
        # Hashes are checked on the bytes that are then loaded: nothing is read twice.
        encoder = read_artifact(bundle, artifacts["encoder"])
        decoder = read_artifact(bundle, artifacts["decoder_step"])
        self.model = load_backend(backend, encoder, decoder, device=device, threads=threads)
        self.backend, self.precision = backend, precision
        self.max_batch_size = max_batch_size
        # A batch-dependent model would make a sentence's translation depend on its batch-mates.
        self.batch_invariant = all(a.batch_invariant for a in artifacts.values())
        self.on_unknown, self.on_overflow = on_unknown, on_overflow

    @classmethod
    def from_step_model(
        cls,
        model: StepModel,
        spec: ModelSpec,
        *,
        max_batch_size: int = 64,
        on_unknown: str = "error",
        on_overflow: str = "error",
    ) -> "Translator":
        """A Translator over any StepModel (the Keras reference decoder uses this)."""
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        _check_choice("on_unknown", on_unknown, ON_UNKNOWN)
        _check_choice("on_overflow", on_overflow, ON_OVERFLOW)
        self = cls.__new__(cls)
        self.bundle, self.manifest, self.model = None, spec, model
        self.backend, self.precision = type(model).__name__, "float32"
        self.max_batch_size = max_batch_size
        self.batch_invariant = True
        self.on_unknown, self.on_overflow = on_unknown, on_overflow
        return self

    @property
    def max_input_length(self) -> int:
        return self.manifest.max_source_length

    @overload
    def translate(self, texts: str, *, on_unknown: str | None = ..., on_overflow: str | None = ...) -> str: ...
    @overload
    def translate(
        self, texts: Sequence[str], *, on_unknown: str | None = ..., on_overflow: str | None = ...
    ) -> list[str]: ...

    def translate(self, texts, *, on_unknown=None, on_overflow=None):
        """Translate one string (returns a str) or a list of strings (returns a list, same order)."""
        if isinstance(texts, str):
            return self.translate_batch([texts], on_unknown=on_unknown, on_overflow=on_overflow)[0]
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"expected a str or a list of str, got {type(texts).__name__}")
        return self.translate_batch(texts, on_unknown=on_unknown, on_overflow=on_overflow)

    def translate_batch(
        self, texts: Sequence[str], *, on_unknown: str | None = None, on_overflow: str | None = None
    ) -> list[str]:
        m = self.manifest
        sources = [
            prepare_source(
                t,
                m.source_vocab,
                m.max_source_length,
                on_unknown or self.on_unknown,
                on_overflow or self.on_overflow,
            )
            for t in texts
        ]
        results = [""] * len(sources)
        todo = [i for i, s in enumerate(sources) if s]
        start, end = m.target_vocab.id(START), m.target_vocab.id(END)
        batch = self.max_batch_size if self.batch_invariant else 1
        for lo in range(0, len(todo), batch):
            chunk = todo[lo : lo + batch]
            ids = m.source_vocab.encode([sources[i] for i in chunk], m.max_source_length)
            decoded = greedy_decode(self.model, ids, start, end, m.max_target_length)
            for i, out in zip(chunk, decoded):
                results[i] = m.target_vocab.decode(out)
        return results


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

"""Character vocabularies and padding: the one definition shared by training and inference.

The convention is the keras.io "lstm_seq2seq" one: each side's alphabet is the sorted set of its
characters, targets are wrapped in START ("\\t") and END ("\\n"), and every sequence is padded on the
right up to the side's maximum length. The encoder's final state is the state after reading the
padding, so inference must pad exactly as training did. A vocabulary pads in one of two ways:
- "space" (the keras.io script, this project's own models): with the space character's id; the
  model learns that spaces follow END;
- "zero" (the 2017 Keras example): with the one-hot row of all zeros, written as the id
  `len(vocabulary)`, one past the alphabet, which every one-hot encoding here maps to zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from .errors import InputTooLongError, UnknownCharacterError

START = "\t"
END = "\n"
PAD = " "

PADDINGS = ("space", "zero")
ON_UNKNOWN = ("error", "skip")
ON_OVERFLOW = ("error", "truncate")


@dataclass(frozen=True)
class SourceForm:
    """What the encoder reads of a user's text, beyond the characters themselves: a model trained on
    lowercased text reads the text lowercased (Python's `str.lower` on the whole string: full case
    mappings and the Greek final sigma); one whose script wrapped its inputs like its targets reads
    START + text + END. Models trained here read the text as it is (`PLAIN`)."""

    lowercase: bool = False
    wrap: bool = False

    @property
    def overhead(self) -> int:
        """Characters the form adds to the text: the encoder's maximum less the user's."""
        return 2 if self.wrap else 0

    def apply(self, text: str) -> str:
        """What the encoder reads of `text` (a text of the model's alphabet, within its length)."""
        text = text.lower() if self.lowercase else text
        return START + text + END if self.wrap else text

    def to_json(self) -> dict:
        return {"lowercase": self.lowercase, "wrap": self.wrap}

    @classmethod
    def from_json(cls, value: object) -> "SourceForm | None":
        """The form `value` describes, or None unless it is exactly {"lowercase": BOOLEAN, "wrap": BOOLEAN}."""
        if not isinstance(value, dict) or sorted(value) != ["lowercase", "wrap"] or not all(
                isinstance(v, bool) for v in value.values()):
            return None
        return cls(value["lowercase"], value["wrap"])


PLAIN = SourceForm()


@dataclass(frozen=True)
class Vocabulary:
    """An ordered alphabet; a character's id is its position. `padding` is how `encode` pads."""

    chars: tuple[str, ...]
    padding: str = "space"  # one of PADDINGS
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        chars = tuple(self.chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in chars):
            raise ValueError("a vocabulary holds single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("a vocabulary must not repeat characters")
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {self.padding!r}")
        object.__setattr__(self, "chars", chars)
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(chars)})

    @classmethod
    def from_texts(cls, texts: Iterable[str], extra: str = PAD) -> "Vocabulary":
        alphabet: set[str] = set(extra)
        for text in texts:
            alphabet.update(text)
        return cls(tuple(sorted(alphabet)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, char: object) -> bool:
        return char in self._index

    def id(self, char: str) -> int:
        return self._index[char]

    @property
    def pad_id(self) -> int:
        """The id that pads: PAD's id, or `len(self)` (the all-zero one-hot row) for zero padding."""
        if self.padding == "zero":
            return len(self.chars)
        if PAD not in self._index:
            raise ValueError("a space-padded vocabulary needs the space character")
        return self._index[PAD]

    def unknown(self, text: str) -> list[str]:
        """Characters of `text` outside the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._index))

    def encode(self, texts: Sequence[str], length: int) -> np.ndarray:
        """Ids of `texts`, right-padded with `pad_id` to `length` (int32, shape [len(texts), length]).

        Callers check characters and lengths first (see `prepare_source`); this only encodes.
        """
        ids = np.full((len(texts), length), self.pad_id, dtype=np.int32)
        for row, text in enumerate(texts):
            if len(text) > length:
                raise InputTooLongError(f"text of {len(text)} characters exceeds length {length}")
            ids[row, : len(text)] = [self._index[c] for c in text]
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in ids)


def wrap_target(text: str) -> str:
    """The decoder's view of a target sentence: START + text + END."""
    return START + text + END


def prepare_source(
    text: object,
    vocab: Vocabulary,
    max_length: int,
    on_unknown: str = "error",
    on_overflow: str = "error",
    form: SourceForm = PLAIN,
) -> str:
    """Apply the input policy to one source text and return the text the encoder will read.

    - a non-string is a TypeError;
    - with `form.lowercase` the text is lowercased first, so a policy applies to what the encoder reads;
    - characters outside the vocabulary are an UnknownCharacterError naming them, or are dropped
      with on_unknown="skip";
    - a text longer than `max_length` (less the form's START and END) is an InputTooLongError, or is
      cut with on_overflow="truncate";
    - with `form.wrap` the result is START + text + END.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected a str to translate, got {type(text).__name__}")
    if on_unknown not in ON_UNKNOWN:
        raise ValueError(f"on_unknown must be one of {ON_UNKNOWN}, got {on_unknown!r}")
    if on_overflow not in ON_OVERFLOW:
        raise ValueError(f"on_overflow must be one of {ON_OVERFLOW}, got {on_overflow!r}")
    if form.lowercase:
        text = text.lower()
    max_length -= form.overhead
    unknown = vocab.unknown(text)
    if unknown:
        if on_unknown == "error":
            shown = ", ".join(repr(c) for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise UnknownCharacterError(
                f"characters not in the model's vocabulary: {shown}{more} (in {_preview(text)})",
                unknown, remedy="remove them", option="on_unknown", value="skip",
            )
        text = "".join(c for c in text if c in vocab)
    if len(text) > max_length:
        if on_overflow == "error":
            raise InputTooLongError(
                f"input of {len(text)} characters is longer than the model's maximum of "
                f"{max_length} ({_preview(text)})",
                remedy="shorten it", option="on_overflow", value="truncate",
            )
        text = text[:max_length]
    return START + text + END if form.wrap else text


def _preview(text: str, width: int = 40) -> str:
    return repr(text if len(text) <= width else text[: width - 3] + "...")

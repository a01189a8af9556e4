"""The script's data procedure: the pairs and vocabularies it derived from its data file (`script_data`,
laid out as `DataLayout` says), or the vocabularies it saved beside the model."""

from __future__ import annotations

import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

from runtime.vocab import END, PLAIN, START, SourceForm, Vocabulary

from ..data import Pair
from .core import KerasIoError

# The script's settings, which decide its vocabularies and its validation split.
NUM_SAMPLES = 10_000
VALIDATION_SPLIT = 0.2
VOCAB_FILES = ("input_vocab.json", "target_vocab.json")  # the Hub repo's names


@dataclass(frozen=True)
class ScriptData:
    """The pairs and vocabularies the script derived from its data file."""

    pairs: list[Pair]  # (English as a user types it, French as the model writes it), in file order
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_source_length: int  # of what the encoder reads (form applied)
    max_target_length: int  # START + French + END
    form: SourceForm = PLAIN  # what the script did to the English before its encoder read it


@dataclass(frozen=True)
class DataLayout:
    """How the script split its data file into pairs. The keras.io script: tab-separated, English
    first, no header; variants seen in the field use another separator (`^`, a comma), a header line,
    or the columns the other way round. Each line is split as the scripts' `str.split(delimiter)` did
    (no CSV quoting)."""

    delimiter: str = "\t"
    header_lines: int = 0
    swap_columns: bool = False
    lowercase: bool = False  # both sides lowercased (str.lower) as the script read them
    wrap_source: bool = False  # the English wrapped in START ... END, as the targets are

    @property
    def form(self) -> SourceForm:
        return SourceForm(self.lowercase, self.wrap_source)

    def __post_init__(self) -> None:
        if not self.delimiter or "\n" in self.delimiter:
            raise KerasIoError(f"the delimiter must be one or more characters other than a newline, got "
                               f"{self.delimiter!r}")
        if self.header_lines < 0:
            raise KerasIoError(f"header-lines must be 0 or more, got {self.header_lines}")

    def to_json(self) -> dict:
        return {"delimiter": self.delimiter, "header_lines": self.header_lines, "swap_columns": self.swap_columns,
                "lowercase": self.lowercase, "wrap_source": self.wrap_source}


def script_data(data: str | Path, num_samples: int = NUM_SAMPLES, layout: DataLayout = DataLayout()) -> ScriptData:
    """The first `num_samples` lines of `data` (after `layout.header_lines`) read as the script read them:
    the source and the target are the first two fields split by `layout.delimiter` (the target first
    with `layout.swap_columns`); the target is START + text + END; the vocabularies are the sorted
    character sets."""
    data = Path(data)
    if not data.is_file():
        raise KerasIoError(f"data file not found: {data}")
    try:
        lines = data.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise KerasIoError(f"{data} is not UTF-8 text ({exc.reason} at byte {exc.start}), which the script reads")
    if num_samples < 1:
        raise KerasIoError(f"num-samples must be at least 1, got {num_samples}")
    header = layout.header_lines
    lines = lines[header:]
    pairs = []
    source_column, target_column = (1, 0) if layout.swap_columns else (0, 1)
    for number, line in enumerate(lines[: min(num_samples, len(lines) - 1)], start=header + 1):
        fields = line.split(layout.delimiter)
        if len(fields) < 2:
            shown = "TAB" if layout.delimiter == "\t" else repr(layout.delimiter)
            raise KerasIoError(f"{data}, line {number}: expected two fields separated by {shown}, as the script "
                               "reads it: give the script's --delimiter, or --header-lines for a header")
        target = fields[target_column]
        pairs.append((fields[source_column], target.lower() if layout.lowercase else target))
    if not pairs:
        raise KerasIoError(f"{data} holds no lines to rebuild the vocabularies from"
                           + (f" after its {header} header lines" if header else ""))
    form = layout.form
    read = [form.apply(en) for en, _ in pairs]
    source = sorted({c for en in read for c in en})
    target = sorted({c for _, fr in pairs for c in START + fr + END})
    return ScriptData(pairs, Vocabulary(tuple(source)), Vocabulary(tuple(target)),
                      max(len(en) for en in read), max(len(START + fr + END) for _, fr in pairs), form)


def read_vocab_files(directory: Path) -> tuple[Vocabulary, Vocabulary] | None:
    """The Hub repo's `input_vocab.json` and `target_vocab.json`, when `directory` holds both."""
    files = [directory / name for name in VOCAB_FILES]
    if not all(f.is_file() for f in files):
        return None
    vocabs = []
    for f in files:
        try:
            vocabs.append(Vocabulary(tuple(_chars_in_id_order(json.loads(f.read_text(encoding="utf-8"))))))
        except (ValueError, TypeError) as exc:
            raise KerasIoError(f"{f} is not a vocabulary (a list of characters in id order, or a map between "
                               f"characters and ids): {exc}") from None
    return vocabs[0], vocabs[1]


MAX_VOCAB_FILE = 1 << 20


class _NoGlobals(pickle.Unpickler):
    """An unpickler that builds only pickle's own types (dicts, lists, strings, numbers): any class or
    function a file names, and so any code it would run, is refused."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"it names {module}.{name}; a vocabulary holds only characters and ids")


def read_vocab_file(path: str | Path) -> Vocabulary:
    """One side's vocabulary from `path`: JSON (a list of characters in id order, the script's
    `{char: id}` index or its reverse) or a pickle of the script's `{char: id}` dict or of a list of
    characters, read without running anything the file names."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KerasIoError(f"cannot read the vocabulary file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_VOCAB_FILE:
        raise KerasIoError(f"{path} is {len(raw)} bytes, too large for a character vocabulary")
    pickled = raw[:1] == b"\x80" or path.suffix in (".pkl", ".pickle")
    try:
        if pickled:
            data = _NoGlobals(io.BytesIO(raw)).load()
            if isinstance(data, dict) and not all(
                    isinstance(k, str) and len(k) == 1 and type(v) is int for k, v in data.items()):
                raise ValueError("a pickled dict must map one-character strings to ints")
        else:
            data = json.loads(raw.decode("utf-8"))
        chars = _chars_in_id_order(data)
        if not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("its entries must be single characters")
        return Vocabulary(tuple(chars))
    except (pickle.UnpicklingError, EOFError, UnicodeDecodeError, ValueError, TypeError, IndexError,
            KeyError, AttributeError, MemoryError, RecursionError) as exc:
        kind = "pickled" if pickled else "JSON"
        raise KerasIoError(f"{path} is not a {kind} vocabulary (a list of characters in id order, or the script's "
                           f"{{char: id}} dict): {exc}") from None


def _chars_in_id_order(data) -> list[str]:
    """A list of characters in id order; or the script's token index ({char: id}) or its reverse
    ({id: char}, JSON keys being strings)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if all(isinstance(v, int) for v in data.values()):
            pairs = sorted((v, k) for k, v in data.items())
        else:
            pairs = sorted((int(k), v) for k, v in data.items())
        if [i for i, _ in pairs] != list(range(len(pairs))):
            raise ValueError("its ids are not 0, 1, 2, ...")
        return [c for _, c in pairs]
    raise TypeError(f"expected a list or an object, got {type(data).__name__}")

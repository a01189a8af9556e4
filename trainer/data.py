"""Reading Anki/Tatoeba pair files and splitting them for training.

The format is one pair a line, `English<TAB>French`, optionally followed by a third attribution
column (newer downloads of fra.txt). Malformed lines are reported with their line numbers: skipped
and counted by default, fatal with `strict=True`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

from runtime.errors import S2SError
from runtime.vocab import END, START, Vocabulary, wrap_target

# Characters that would break the vocabulary's conventions if they appeared inside a sentence.
_RESERVED = {START: "tab", END: "newline"}

# Pairs files hold English<TAB>French (the Anki format of manythings.org, and the built-in corpus):
# the languages a bundle declares (BCP 47 codes).
LANGUAGES = {"source": "en", "target": "fr"}

Pair = tuple[str, str]


class DataError(S2SError, ValueError):
    """The data file is unusable (missing, empty, or malformed in strict mode)."""


@dataclass
class ReadReport:
    path: str
    lines: int = 0
    pairs: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    too_long: int = 0  # well-formed pairs left out by the length limits

    def summary(self, limit: int = 5) -> str:
        text = f"{self.path}: {self.pairs} pairs from {self.lines} lines"
        if self.skipped:
            shown = "; ".join(f"line {n}: {why}" for n, why in self.skipped[:limit])
            more = f"; ... {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
            text += f", {len(self.skipped)} malformed lines skipped ({shown}{more})"
        if self.too_long:
            text += f", {self.too_long} pairs over the length limits left out"
        return text


def parse_line(raw: bytes) -> Pair:
    """One pair from one raw line (without its line ending); ValueError says what is wrong."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8 at byte {exc.start}") from None
    line = line.lstrip("\ufeff")  # a byte-order mark, usually on line 1
    if "\t" not in line:
        raise ValueError("no tab between English and French")
    columns = line.split("\t")
    if len(columns) > 3:
        raise ValueError(f"{len(columns)} tab-separated columns, expected 2 or 3")
    english, french = columns[0].strip(), columns[1].strip()
    if not english or not french:
        raise ValueError("empty " + ("English" if not english else "French") + " side")
    for text in (english, french):
        for char, name in _RESERVED.items():
            if char in text:
                raise ValueError(f"a {name} character inside a sentence")
    return english, french


def vocabularies(pairs: list[Pair]) -> tuple[Vocabulary, Vocabulary]:
    """The (source, target) alphabets a run trains on: every English character and the padding;
    every French character, START and END, and the padding."""
    return (Vocabulary.from_texts(en for en, _ in pairs),
            Vocabulary.from_texts(wrap_target(fr) for _, fr in pairs))


def within(pair: Pair, max_input_length: int | None, max_output_length: int | None) -> bool:
    en, fr = pair
    return (max_input_length is None or len(en) <= max_input_length) and (
        max_output_length is None or len(fr) <= max_output_length
    )


def _lines(f):
    """Lines without their endings, whichever of \n, \r\n or a lone \r ends them."""
    for chunk in f:
        pieces = chunk.rstrip(b"\n").split(b"\r")
        if len(pieces) > 1 and pieces[-1] == b"":
            pieces.pop()  # the \r of \r\n
        yield from pieces


def read_pairs(
    path: str | Path,
    num_samples: int | None = None,
    strict: bool = False,
    max_input_length: int | None = None,
    max_output_length: int | None = None,
) -> tuple[list[Pair], ReadReport]:
    """The first `num_samples` pairs of an Anki-format file (all of them if None).

    Pairs whose English or French side is longer than the limits are left out (and counted);
    `num_samples` counts the pairs kept.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    report = ReadReport(str(path))
    pairs: list[Pair] = []
    with open(path, "rb") as f:
        for number, raw in enumerate(_lines(f), start=1):
            if num_samples is not None and len(pairs) >= num_samples:
                break
            report.lines = number
            if not raw.strip():
                continue  # blank lines are not data
            try:
                pair = parse_line(raw)
            except ValueError as exc:
                if strict:
                    raise DataError(f"{path}, line {number}: {exc}") from None
                report.skipped.append((number, str(exc)))
                continue
            if within(pair, max_input_length, max_output_length):
                pairs.append(pair)
            else:
                report.too_long += 1
    report.pairs = len(pairs)
    if not pairs:
        raise DataError(f"{path} holds no usable English<TAB>French pairs ({report.summary()})")
    return pairs, report


# How a run's pairs are split (recorded in run.json). "hashed": each English sentence's side is a hash
# of (seed, sentence), so one sentence falls on the same side in every run with that seed, whatever
# other pairs the run reads, and a smaller fraction holds out a subset of a larger one: runs on
# different subsets of one file share their held-out sentences and can be compared on them.
# "ordered": the first split, drawn over the run's sorted sentences; runs written before
# `split` was recorded used it, and rebuild their split with it.
SPLITS = ("hashed", "ordered")
DEFAULT_SPLIT = "hashed"  # new runs
UNRECORDED_SPLIT = "ordered"  # runs whose run.json names no split


def split_pairs(pairs: list[Pair], validation_split: float, seed: int,
                method: str = DEFAULT_SPLIT) -> tuple[list[Pair], list[Pair]]:
    """A deterministic train/validation split, grouped by English sentence.

    All French variants of one English sentence fall on the same side, so validation measures
    translation of unseen English, not recall of a sibling pair. Order within each side is kept.
    `hashed` holds out about `validation_split` of the distinct English sentences, `ordered` about
    that share of the pairs (see SPLITS).
    """
    if not 0.0 <= validation_split < 1.0:
        raise DataError(f"validation split must be in [0, 1), got {validation_split}")
    if method not in SPLITS:
        raise DataError(f"unknown split {method!r}: expected one of {', '.join(SPLITS)}")
    if validation_split == 0.0:
        return list(pairs), []
    groups = sorted({en for en, _ in pairs})
    if method == "hashed":
        held = _hashed_heldout(groups, validation_split, seed)
    else:
        held = _ordered_heldout(pairs, groups, validation_split, seed)
    train = [p for p in pairs if p[0] not in held]
    valid = [p for p in pairs if p[0] in held]
    if not train or not valid:
        raise DataError(
            f"cannot split {len(pairs)} pairs ({len(groups)} distinct English sentences) "
            f"with validation split {validation_split}: use more data or another split"
        )
    return train, valid


def sentence_draw(sentence: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, sentence): the sentence's place in a hashed split."""
    digest = hashlib.blake2b(sentence.encode("utf-8"), digest_size=8, key=str(seed).encode()).digest()
    return int.from_bytes(digest, "big") / 2**64


def _hashed_heldout(groups: list[str], fraction: float, seed: int) -> set[str]:
    draws = {en: sentence_draw(en, seed) for en in groups}
    held = {en for en, u in draws.items() if u < fraction}
    # Too few sentences for the draw to land on both sides: the lowest draw goes, the highest stays.
    if not held and len(groups) > 1:
        held = {min(groups, key=draws.__getitem__)}
    if len(held) == len(groups) > 1:
        held.discard(max(groups, key=draws.__getitem__))
    return held


def _ordered_heldout(pairs, groups: list[str], fraction: float, seed: int) -> set[str]:
    groups = list(groups)
    random.Random(seed).shuffle(groups)
    counts: dict[str, int] = {}
    for en, _ in pairs:
        counts[en] = counts.get(en, 0) + 1
    target = fraction * len(pairs)
    held: set[str] = set()
    taken = 0
    for en in groups:
        if taken >= target:
            break
        held.add(en)
        taken += counts[en]
    return held

"""The run directory: what training leaves for decoding and export.

    run.json       vocabularies, maximum lengths, padding, settings, data report, best epoch
    model.keras    the Keras model of the best validation epoch
    history.json   per-epoch metrics, seconds and peak memory
    curves.png     training and validation loss and accuracy per epoch
    heldout.tsv    the validation pairs (English<TAB>French), for export checks and evaluation
    train_sample.tsv  up to 1,000 training pairs, to calibrate quantized exports

    last.keras     the model and optimizer state after the latest epoch
    progress.json  that epoch's number and the best so far

Training writes into a hidden staging directory beside the run and renames it into place when
done, so an interrupted run never leaves a directory that looks complete. The staging directory
holds `last.keras` and `progress.json` from the first finished epoch on: `trainer.fit --resume`
continues an interrupted run from there, and a finished run (in a new staging directory) the same
way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runtime.errors import S2SError
from runtime.vocab import PAD, PLAIN, SourceForm, Vocabulary

from .data import LANGUAGES, DataError, Pair, split_pairs, vocabularies
from .fileio import atomic_write_bytes
from .settings import Settings, load_pairs

RUN_FORMAT = "s2s-edge-run"
# Version 2 adds zero padding ("padding": {"char": null}); version 3 the source's form ("source_form":
# lowercasing and wrapping, imported models only). A run is written in the lowest version that holds it.
RUN_FORMAT_VERSION = 3
RUN_READ_VERSIONS = (1, 2, 3)
RUN_JSON, MODEL_FILE, HISTORY_JSON = "run.json", "model.keras", "history.json"
HELDOUT_TSV, TRAIN_SAMPLE_TSV = "heldout.tsv", "train_sample.tsv"
CURVES_PNG = "curves.png"
LAST_CHECKPOINT, PROGRESS_JSON = "last.keras", "progress.json"  # for --resume


class RunError(S2SError, ValueError):
    """A run directory is missing, incomplete or of an unknown format."""


@dataclass
class RunInfo:
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_source_length: int  # encoder length: inputs are padded to this (see source_vocab.padding)
    max_target_length: int  # decoder length in training (START + French + END); decode steps at most
    latent_dim: int
    settings: Settings
    data: dict[str, Any]
    best: dict[str, Any]
    # what the model translates from and to (language codes; the bundle's manifest carries them)
    languages: dict[str, str] = field(default_factory=lambda: dict(LANGUAGES))
    # how a user's text becomes what the encoder reads (imported models may lowercase or wrap it)
    source_form: SourceForm = PLAIN

    @property
    def provenance(self) -> dict[str, Any] | None:
        """What a bundle's manifest says of this run's making: for an imported model, the file's name
        (not its path) and format and how the import was proven; None for a model trained here."""
        imported = self.settings.extra.get("imported")
        if not imported:
            return None
        kept = {k: v for k, v in imported.items() if k not in ("from", "decoder_from")}
        names = [Path(imported[k]).name for k in ("from", "decoder_from") if imported.get(k)]
        return {"imported": {"files": names, **kept}}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": RUN_FORMAT,
            "format_version": 3 if self.source_form != PLAIN else 1 if self.source_vocab.padding == "space" else 2,
            "source_vocab": "".join(self.source_vocab.chars),
            "target_vocab": "".join(self.target_vocab.chars),
            # char null: the one-hot row of all zeros pads (the 2017 Keras example's models)
            "padding": {"char": PAD if self.source_vocab.padding == "space" else None, "side": "right"},
            "max_source_length": self.max_source_length,
            "max_target_length": self.max_target_length,
            "latent_dim": self.latent_dim,
            "settings": self.settings.to_json(),
            "data": self.data,
            "best": self.best,
            "languages": dict(self.languages),
            **({"source_form": self.source_form.to_json()} if self.source_form != PLAIN else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunInfo":
        padding = data.get("padding", {"char": PAD})
        char = padding.get("char", PAD) if isinstance(padding, dict) else "malformed"
        if char not in ((PAD, None) if data.get("format_version", 1) >= 2 else (PAD,)):
            raise ValueError(f"padding {padding!r} is not supported")
        padding = "space" if char == PAD else "zero"
        return cls(
            source_vocab=Vocabulary(tuple(data["source_vocab"]), padding),
            target_vocab=Vocabulary(tuple(data["target_vocab"]), padding),
            max_source_length=int(data["max_source_length"]),
            max_target_length=int(data["max_target_length"]),
            latent_dim=int(data["latent_dim"]),
            settings=Settings.from_json(data.get("settings", {})),
            data=data.get("data", {}),
            best=data.get("best", {}),
            # runs written before it was recorded are the built-in English to French
            languages=check_languages(data.get("languages", LANGUAGES)),
            source_form=_source_form(data.get("source_form")),
        )


def _source_form(value: Any) -> SourceForm:
    if value is None:
        return PLAIN
    form = SourceForm.from_json(value)
    if form is None:
        raise ValueError(f"source_form must be {{\"lowercase\": BOOLEAN, \"wrap\": BOOLEAN}}, got {value!r}")
    return form


# A language code as BCP 47 writes one: a 2- or 3-letter language, then optional subtags (pt-BR, sr-Latn).
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def check_languages(languages: Any) -> dict[str, str]:
    """{"source": CODE, "target": CODE}, each a language code (ISO 639-1 or -3, BCP 47 subtags allowed)."""
    if not (isinstance(languages, dict) and set(languages) == {"source", "target"}
            and all(isinstance(v, str) and LANGUAGE_CODE.fullmatch(v) for v in languages.values())):
        raise ValueError(f"languages must be {{\"source\": CODE, \"target\": CODE}} with codes such as en, fr or "
                         f"pt-BR, got {languages!r}")
    return dict(languages)


def read_run(run: str | Path) -> RunInfo:
    run = Path(run)
    if not run.is_dir():
        raise RunError(f"run directory not found: {run} (train one with python -m trainer.fit)")
    for name in (RUN_JSON, MODEL_FILE):
        if not (run / name).is_file():
            raise RunError(f"{run} is not a complete training run: {name} is missing")
    return read_run_json(run)


def read_run_json(run: str | Path) -> RunInfo:
    run = Path(run)
    try:
        data = json.loads((run / RUN_JSON).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"{run / RUN_JSON} is not valid JSON: {exc}") from None
    if data.get("format") != RUN_FORMAT or data.get("format_version") not in RUN_READ_VERSIONS:
        raise RunError(f"{run / RUN_JSON} is not an s2s-edge run of a version this s2s-edge reads "
                       f"({', '.join(map(str, RUN_READ_VERSIONS))}): upgrade s2s-edge or train it again")
    try:
        return RunInfo.from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"{run / RUN_JSON} is malformed: {exc}") from None


def write_pairs(path: str | Path, pairs) -> None:
    """Write `pairs` as English<TAB>French lines (heldout.tsv, train_sample.tsv), atomically."""
    atomic_write_bytes(path, "".join(f"{en}\t{fr}\n" for en, fr in pairs).encode("utf-8"))


def read_heldout(run: str | Path, name: str = HELDOUT_TSV) -> list[tuple[str, str]]:
    path = Path(run) / name
    if not path.is_file():
        return []
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        en, _, fr = line.partition("\t")
        pairs.append((en, fr))
    return pairs


def training_split(info: RunInfo, log=lambda *a: None) -> tuple[list[Pair], list[Pair]]:
    """The (train, validation) pairs of a run, rebuilt from its settings and data file."""
    source = info.data.get("source")
    data = None if source == "builtin" else source
    if data is not None and not Path(data).is_file():
        raise RunError(f"cannot rebuild the run's training split: its data file {data} is missing")
    pairs, _ = load_pairs(data, info.settings, log)
    s = info.settings
    return split_pairs(pairs, s.validation_split, s.seed, s.split)


def _same_alphabets(rebuilt: tuple[Vocabulary, Vocabulary], info: RunInfo) -> bool:
    # A zero-padded run (an imported 2017 model) has no padding character in its alphabets.
    if info.source_vocab.padding == "space":
        return rebuilt == (info.source_vocab, info.target_vocab)
    return all(set(new.chars) - {PAD} == set(old.chars) - {PAD}
               for new, old in zip(rebuilt, (info.source_vocab, info.target_vocab)))


def same_training_split(info: RunInfo, who: str, consequence: str, log=lambda *a: None):
    """`training_split`, refused unless it rebuilds exactly the pairs and vocabularies of `info`
    (training more on a changed data file would mix two datasets)."""
    train, valid = training_split(info, log)
    pairs = train + valid
    if not _same_alphabets(vocabularies(pairs), info) or len(pairs) != info.data.get("pairs"):
        raise DataError(f"{info.data.get('source')} no longer gives the pairs {who} trained on: {consequence}")
    return train, valid

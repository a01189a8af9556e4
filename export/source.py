"""What a converter receives from the export flow, and the errors of a bad export request."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from runtime.errors import S2SError
from trainer.data import Pair
from trainer.run import TRAIN_SAMPLE_TSV, read_heldout
from trainer.spec import Seq2SeqSpec


class UsageError(S2SError, ValueError):
    """A bad command-line value."""


@dataclass(frozen=True)
class Source:
    """What a converter receives: the model's description and training pairs it can calibrate on."""

    name: str  # for messages: the run directory
    spec: Seq2SeqSpec
    calibration_pairs: list[Pair]  # usable training pairs (train_sample.tsv)


def run_source(run: Path, spec: Seq2SeqSpec) -> Source:
    """The Source of a run directory and its model's description: its usable training pairs."""
    return Source(str(run), spec, usable_pairs(read_heldout(run, TRAIN_SAMPLE_TSV), spec))


# convert(source, precision) -> {"encoder": bytes, "decoder_step": bytes}
Converter = Callable[[Source, str], dict[str, bytes]]


def usable_pairs(pairs: Sequence[Pair], spec: Seq2SeqSpec) -> list[Pair]:
    """The pairs the model can take as they are (known characters, within the maximum lengths; the
    source as the encoder reads it, in the model's `source_form`)."""
    return [
        (en, fr)
        for en, fr, read in ((en, fr, spec.source_form.apply(en)) for en, fr in pairs)
        if len(read) <= spec.max_source_length
        and len(fr) + 2 <= spec.max_target_length
        and not spec.source_vocab.unknown(read)
        and not spec.target_vocab.unknown(fr)
    ]

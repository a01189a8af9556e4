"""The proof of an import: does the imported model, with the vocabularies and padding the import
chose, predict the user's own training pairs as a trained model does (`score`, `judge`), and does it
give what the user's file gives (`compare_with_original`)?

The data score is teacher-forced next-character accuracy on up to `PROOF_PAIRS` of the pairs the
script trained on, counting the real target positions only (each French character and the END).
Two rules judge it, because a wrong vocabulary has no correct twin to compare with:
- the target side must beat the unigram baseline (always the most frequent target character) by
  `OVER_UNIGRAM`: a shifted target vocabulary feeds the decoder other characters than it learnt
  (the fixtures: 0.45 to 0.75 over it when right, 0.02 to 0.04 under it when shifted);
- the source must matter where the decoder has little of its own output to go on: on the first
  `EARLY` characters of each translation, the accuracy with the source withheld (the encoder reading
  padding only) must be lower by `SOURCE_GAIN`. Over whole sentences the decoder alone predicts much
  of the next character, so the gain there separates poorly (a weak genuine fixture gains 0.028, a
  shifted vocabulary up to 0.076); on the first three characters genuine fixtures gain 0.15 to 0.41
  and vocabularies shifted from the capitals on lose 0.02 to 0.12 (docs/import.md has the table).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from runtime.vocab import END, PLAIN, START, SourceForm, Vocabulary

from ..data import Pair
from .core import KerasIoError

PROOF_PAIRS = 500
OVER_UNIGRAM = 0.10
EARLY = 3
SOURCE_GAIN = 0.08
ORIGINAL_PAIRS = 50
PROBABILITY_TOLERANCE = 1e-4
TF_KERAS_STEP = "pip install --no-deps tf-keras==2.21.*"

# probabilities [batch, time, target tokens] for source ids [batch, S] and decoder input ids [batch, T]
Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Score:
    """Teacher-forced next-character accuracy of one candidate import."""

    padding: str
    accuracy: float  # every target position
    source_withheld: float  # the same with the encoder reading padding only
    early: float  # the first EARLY target positions of each pair
    early_withheld: float
    unigram: float
    pairs: int
    positions: int

    @property
    def source_gain(self) -> float:
        return self.early - self.early_withheld

    def passes(self) -> bool:
        return self.accuracy - self.unigram >= OVER_UNIGRAM and self.source_gain >= SOURCE_GAIN

    def to_json(self) -> dict:
        return {key: round(getattr(self, key), 4)
                for key in ("accuracy", "source_withheld", "early", "early_withheld", "source_gain")}


def proof_pairs(train: Sequence[Pair]) -> list[Pair]:
    """Up to PROOF_PAIRS of the training pairs, spread over the whole training part."""
    if len(train) <= PROOF_PAIRS:
        return list(train)
    step = len(train) / PROOF_PAIRS
    return [train[int(i * step)] for i in range(PROOF_PAIRS)]


def _target_ids(pairs: Sequence[Pair], target_vocab: Vocabulary) -> tuple[np.ndarray, np.ndarray]:
    texts = [START + fr + END for _, fr in pairs]
    ids = target_vocab.encode(texts, max(len(t) for t in texts))
    lengths = np.array([len(t) - 1 for t in texts])  # predicted positions: the French and END
    mask = np.arange(ids.shape[1] - 1)[None, :] < lengths[:, None]
    return ids, mask


def score(predict: Predict, pairs: Sequence[Pair], source_vocab: Vocabulary, target_vocab: Vocabulary,
          max_source_length: int, form: SourceForm = PLAIN) -> Score:
    """Teacher-forced accuracy of `predict` on `pairs` (the English read in `form`), with the source
    and with it withheld."""
    source = source_vocab.encode([form.apply(en) for en, _ in pairs], max_source_length)
    target, mask = _target_ids(pairs, target_vocab)
    inputs, wanted = target[:, :-1], target[:, 1:]

    def accuracy(source_ids: np.ndarray) -> tuple[float, float]:
        right = (predict(source_ids, inputs).argmax(-1) == wanted) & mask
        return float(right.sum() / mask.sum()), float(right[:, :EARLY].sum() / mask[:, :EARLY].sum())

    counts = np.bincount(wanted[mask], minlength=len(target_vocab) + 1)
    (accuracy_, early), (withheld, early_withheld) = (
        accuracy(source), accuracy(np.full_like(source, source_vocab.pad_id)))
    return Score(source_vocab.padding, accuracy_, withheld, early, early_withheld,
                 float(counts.max() / mask.sum()), len(pairs), int(mask.sum()))


def refusal(best: Score) -> str:
    """The one-line refusal of an import whose best candidate fails the rules."""
    found = (f"teacher-forced accuracy {best.accuracy:.3f} on {best.pairs} of its training pairs against a "
             f"unigram baseline of {best.unigram:.3f} ({OVER_UNIGRAM} more needed); on their first {EARLY} "
             f"characters {best.early:.3f}, {best.early_withheld:.3f} with the source withheld "
             f"({best.source_gain:+.3f}, {SOURCE_GAIN} needed)")
    return (f"the model does not read these vocabularies as it was trained to ({found}): the characters' ids "
            "differ from the script's; likely causes are another release of the data file, lowercased text "
            "(--lowercase), another --num-samples, or another separator or column order (--delimiter, "
            "--swap-columns, --header-lines); give the script's vocabularies (--source-vocab, --target-vocab) "
            "if it saved them")


def greedy(predict: Predict, source: np.ndarray, target_vocab: Vocabulary, max_length: int) -> list[str]:
    """Greedy decodes by repeated full forward passes (any model that maps a whole prefix to
    probabilities will do): up to `max_length` characters, END excluded."""
    start, end = target_vocab.id(START), target_vocab.id(END)
    prefix = np.full((len(source), 1), start, dtype=np.int32)
    done = np.zeros(len(source), dtype=bool)
    out: list[list[int]] = [[] for _ in source]
    for _ in range(max_length + 1):
        nxt = predict(source, prefix)[:, -1].argmax(-1).astype(np.int32)
        for row, token in enumerate(nxt):
            if not done[row]:
                if token == end or len(out[row]) >= max_length:
                    done[row] = True
                else:
                    out[row].append(int(token))
        if done.all():
            break
        prefix = np.concatenate([prefix, nxt[:, None]], axis=1)
    return [target_vocab.decode(ids) for ids in out]


def tf_keras_available() -> bool:
    return importlib.util.find_spec("tf_keras") is not None


def load_original(model_path: Path, decoder_path: Path | None, kind: str) -> tuple[Callable, str]:
    """The user's file loaded by its own Keras, as a function of one-hot inputs -> probabilities,
    and what loaded it. Keras 3 reads `.keras` files and the `.h5` files it wrote; tf_keras (Keras 2)
    the rest. Raises KerasIoError when that Keras is missing or cannot read the file."""
    if kind == "keras":
        import keras as loader
        name = f"keras {loader.__version__}"
        load = lambda p: loader.saving.load_model(p, compile=False, safe_mode=True)  # noqa: E731
    else:
        if not tf_keras_available():
            raise KerasIoError(f"tf_keras is not installed ({TF_KERAS_STEP})")
        import tf_keras as loader
        name = f"tf_keras {loader.__version__}"
        load = lambda p: loader.models.load_model(p, compile=False)  # noqa: E731
    try:
        first = load(str(model_path))
        second = load(str(decoder_path)) if decoder_path is not None else None
    except Exception as exc:  # each Keras raises many types for a file it cannot read
        raise KerasIoError(f"{name} cannot load it: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                           ) from None

    if second is None:
        def run(source, target):
            return np.asarray(first([source, target], training=False))
    else:
        def run(source, target):
            states = first(source, training=False)
            return np.asarray(second([target, *states], training=False)[0])
    return run, name


def one_hot(predict_onehot: Callable, source_width: int, target_width: int) -> Predict:
    """`predict_onehot` fed ids: the script's one-hot rows, the zero padding id an all-zero row."""
    source_eye = np.eye(source_width + 1, source_width, dtype=np.float32)
    target_eye = np.eye(target_width + 1, target_width, dtype=np.float32)
    return lambda source, target: predict_onehot(source_eye[source], target_eye[target])


def compare_with_original(original: Predict, imported: Predict, pairs: Sequence[Pair],
                          source_vocab: Vocabulary, target_vocab: Vocabulary, max_source_length: int,
                          max_target_length: int, form: SourceForm = PLAIN) -> dict:
    """The original's probabilities and greedy decodes against the imported model's, on up to
    ORIGINAL_PAIRS of `pairs`."""
    pairs = list(pairs)[:ORIGINAL_PAIRS]
    source = source_vocab.encode([form.apply(en) for en, _ in pairs], max_source_length)
    target, mask = _target_ids(pairs, target_vocab)
    # up to each sentence's END, as the export compares: past it the decoder reads padding it never
    # learnt from, and float differences grow there although no decode reaches them
    gap = np.abs(original(source, target[:, :-1]) - imported(source, target[:, :-1])).max(axis=-1)
    difference = float(gap[mask].max())
    ours = greedy(imported, source, target_vocab, max_target_length)
    theirs = greedy(original, source, target_vocab, max_target_length)
    same = sum(a == b for a, b in zip(ours, theirs))
    return {"pairs": len(pairs), "max_probability_difference": float(f"{difference:.3g}"),
            "tolerance": PROBABILITY_TOLERANCE, "greedy_decodes_identical": same,
            "passed": difference <= PROBABILITY_TOLERANCE and same == len(pairs)}

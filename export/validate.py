"""Parity of an exported bundle with the Keras model it came from.

Three checks, each on real inputs (the run's held-out pairs):
1. encoder states: the bundle's encoder against the Keras encoder (the training model's own
   encoder LSTM outputs);
2. next-token probabilities: the bundle's encoder + single-step decoder, stepped along the
   teacher-forced target, against the Keras training model's softmax output for the whole sequence;
3. greedy decodes: the runtime's Translator on the bundle against the Keras reference decoder.
A difference beyond tolerance, or any differing decode, raises ParityError.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from runtime.backends import load_backend
from runtime.bundle import read_artifact, read_manifest
from runtime.errors import S2SError
from runtime.translator import Translator
from trainer.fit import encode_pairs
from trainer.run import RunInfo


class ParityError(S2SError, RuntimeError):
    """An exported artifact does not reproduce the Keras model."""


@dataclass
class ParityReport:
    backend: str
    precision: str
    max_abs_diff_state: float
    max_abs_diff_prob: float
    decodes_compared: int
    decodes_identical: int
    mismatches: list[tuple[str, str, str]] = field(default_factory=list)  # (source, keras, bundle)

    @property
    def agreement(self) -> float:
        return self.decodes_identical / self.decodes_compared if self.decodes_compared else 1.0

    def to_json(self) -> dict:
        return {
            "max_abs_diff_state": self.max_abs_diff_state,
            "max_abs_diff_prob": self.max_abs_diff_prob,
            "decodes_compared": self.decodes_compared,
            "decodes_identical": self.decodes_identical,
        }

    def table(self) -> str:
        return (
            f"{'artifact':<16} {'max|Δstate|':>12} {'max|Δprob|':>12} {'identical decodes':>18}\n"
            f"{self.backend + '/' + self.precision:<16} {self.max_abs_diff_state:>12.2e} "
            f"{self.max_abs_diff_prob:>12.2e} "
            f"{f'{self.decodes_identical}/{self.decodes_compared}':>18}"
        )


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def teacher_forced_probs(step_model, encoder_ids: np.ndarray, decoder_ids: np.ndarray):
    """Encoder states and the [batch, time, vocab] probabilities of stepping along decoder_ids."""
    h, c = step_model.encode(encoder_ids)
    states = (h, c)
    probs = []
    for t in range(decoder_ids.shape[1]):
        logits, h, c = step_model.step(decoder_ids[:, t], h, c)
        probs.append(softmax(np.asarray(logits, dtype=np.float64)))
    return states, np.stack(probs, axis=1)


def keras_reference(model, encoder_ids: np.ndarray, decoder_ids: np.ndarray):
    """The training model's encoder states and softmax outputs, straight from Keras."""
    import keras

    encoder = keras.Model(model.inputs[0], model.get_layer("encoder_lstm").output[1:])
    h, c = (np.asarray(x) for x in encoder(encoder_ids, training=False))
    probs = np.asarray(model([encoder_ids, decoder_ids], training=False))
    return (h, c), probs


def usable_pairs(pairs: Sequence[tuple[str, str]], info: RunInfo) -> list[tuple[str, str]]:
    """The pairs the model can take as they are (known characters, within the maximum lengths)."""
    return [
        (en, fr)
        for en, fr in pairs
        if len(en) <= info.max_source_length
        and len(fr) + 2 <= info.max_target_length
        and not info.source_vocab.unknown(en)
        and not info.target_vocab.unknown(fr)
    ]


def check_parity(
    bundle: Path,
    model,
    reference: Translator,
    info: RunInfo,
    pairs: Sequence[tuple[str, str]],
    *,
    backend: str = "onnx",
    precision: str = "float32",
    num_decodes: int = 256,
    num_teacher_forced: int = 64,
) -> ParityReport:
    manifest = read_manifest(bundle)
    arts = manifest.select(backend, precision)
    step_model = load_backend(
        backend, read_artifact(bundle, arts["encoder"]), read_artifact(bundle, arts["decoder_step"])
    )
    usable = usable_pairs(pairs, info)
    if not usable:
        raise ParityError("no usable pairs to validate the export with")
    tf_pairs = usable[:num_teacher_forced]
    enc, dec, _ = encode_pairs(tf_pairs, info.source_vocab, info.target_vocab,
                               info.max_source_length, info.max_target_length)
    (kh, kc), kprobs = keras_reference(model, enc, dec)
    (bh, bc), bprobs = teacher_forced_probs(step_model, enc, dec)
    d_state = float(max(np.abs(kh - bh).max(), np.abs(kc - bc).max()))
    d_prob = float(np.abs(kprobs - bprobs).max())

    sources = list(dict.fromkeys(en for en, _ in usable))[:num_decodes]
    translator = Translator(bundle, backend=backend, precision=precision)
    expected = reference.translate(sources)
    got = translator.translate(sources)
    mismatches = [(s, e, g) for s, e, g in zip(sources, expected, got) if e != g]
    return ParityReport(backend, precision, d_state, d_prob, len(sources),
                        len(sources) - len(mismatches), mismatches)


def require_parity(report: ParityReport, tolerance: float = 1e-5, min_agreement: float = 1.0) -> None:
    problems = []
    if report.max_abs_diff_state > tolerance:
        problems.append(f"encoder states differ by {report.max_abs_diff_state:.3g} (> {tolerance:g})")
    if report.max_abs_diff_prob > tolerance:
        problems.append(f"probabilities differ by {report.max_abs_diff_prob:.3g} (> {tolerance:g})")
    if report.agreement < min_agreement:
        src, exp, got = report.mismatches[0]
        problems.append(
            f"{report.decodes_compared - report.decodes_identical}/{report.decodes_compared} greedy "
            f"decodes differ, e.g. {src!r}: Keras {exp!r}, {report.backend} {got!r}"
        )
    if problems:
        raise ParityError(
            f"{report.backend}/{report.precision} export does not match the Keras model: "
            + "; ".join(problems)
        )

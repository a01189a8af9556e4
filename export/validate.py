"""Parity of exported artifacts with the Keras model they came from.

The Keras side (`Baseline`) is computed once, on the run's held-out pairs:
1. encoder states, from the training model's own encoder LSTM;
2. next-token probabilities of the training model (teacher forcing, its softmax output), at the
   positions up to END (the ones decoding uses);
3. greedy decodes of the Keras reference decoder (trainer.decode), and their chrF.
Each artifact is then run through the runtime's backend and compared: max abs differences of
the encoder's outputs (its states, and the attention family's memory) and of probabilities (the
artifact stepped along the same teacher-forced targets), the share of greedy decodes identical to
Keras, and chrF against the reference translations (sacrebleu). When the artifacts include the
one-graph greedy decoder, its decodes must equal the stepped decoder's on every sentence.

For each decode that differs from Keras, the report also says where it first departs: the step
(the first character that differs) and Keras's top-2 margin there, the gap between the log
probabilities of its first and second choice. A small margin is a near-tie that any rounding may
flip; a large one is an artifact that computes something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from runtime.decoding import softmax
from runtime.errors import S2SError
from runtime.vocab import START
from runtime.translator import GREEDY_LOOP_MAX_BATCH, Translator
from trainer.metrics import chrf, group_references
from trainer.model import keras_reference
from trainer.pipeline import encode_pairs
from trainer.spec import Seq2SeqSpec

from .source import Pair, usable_pairs

FLOAT_TOLERANCE = 1e-5
# A departure whose Keras top-2 margin is below this (log-probability gap, nats) is a near-tie:
# Keras's first choice was at most ~10% more likely than its second.
NEAR_TIE = 0.1
# Share of greedy decodes that must equal Keras, by precision (float32 must also be within 1e-5).
MIN_AGREEMENT = {
    "float32": 1.0,
    "float16": 0.98,
    "dynamic": 0.98,
    "int8": 0.90,
    "int16x8": 0.90,
}


class ParityError(S2SError, RuntimeError):
    """An exported artifact does not reproduce the Keras model."""


@dataclass
class ParityReport:
    backend: str
    precision: str
    size: int  # bytes of encoder + decoder step
    max_abs_diff_state: float
    max_abs_diff_prob: float
    decodes_compared: int
    decodes_identical: int
    chrf: float
    mismatches: list[tuple[str, str, str]] = field(default_factory=list)  # (source, keras, artifact)
    # The one-graph greedy decoder, when present: its size, and its decodes that differ from stepping.
    greedy_size: int | None = None
    greedy_differences: list[tuple[str, str, str]] = field(default_factory=list)  # (source, steps, graph)
    # Where each of `mismatches` first departs from Keras: (step, Keras's top-2 margin there).
    departures: list[tuple[int, float]] = field(default_factory=list)
    # Decodes identical to Keras on the backend's other kernel sets (LiteRT's built-in kernels), by set.
    other_kernels: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.backend}/{self.precision}"

    @property
    def agreement(self) -> float:
        return self.decodes_identical / self.decodes_compared if self.decodes_compared else 0.0

    @property
    def worst_identical(self) -> int:
        """The fewest decodes identical to Keras over the kernel sets checked."""
        return min([self.decodes_identical, *self.other_kernels.values()])

    @property
    def near_ties(self) -> int:
        return sum(margin < NEAR_TIE for _, margin in self.departures)

    def departure_summary(self) -> dict:
        if not self.departures:
            return {}
        steps, margins = zip(*self.departures)
        return {"median_step": float(np.median(steps)), "median_keras_margin": round(float(np.median(margins)), 4),
                "near_ties": self.near_ties}

    def to_json(self) -> dict:
        return {
            "size": self.size,
            "max_abs_diff_state": self.max_abs_diff_state,
            "max_abs_diff_prob": self.max_abs_diff_prob,
            "decodes_compared": self.decodes_compared,
            "decodes_identical": self.decodes_identical,
            "chrf": round(self.chrf, 2),
            **({"first_departure": self.departure_summary()} if self.departures else {}),
            **({"identical_by_kernels": dict(self.other_kernels)} if self.other_kernels else {}),
            **({"greedy_size": self.greedy_size,
                "greedy_identical_to_steps": self.decodes_compared - len(self.greedy_differences)}
               if self.greedy_size is not None else {}),
        }


def format_table(reports: Sequence[ParityReport], keras_chrf: float | None = None) -> str:
    """The export's parity table. "first departure" is, over the decodes that differ from Keras, the
    median step where they first differ, the median top-2 margin of Keras there (nats), and how many
    of them were near-ties (margin < NEAR_TIE). A line "  on K" under an artifact gives its decodes
    identical to Keras on kernel set K (TFLite's full-integer files: LiteRT's built-in kernels)."""
    head = (f"{'artifact':<16} {'size':>9} {'max|Δstate|':>12} {'max|Δprob|':>11} {'identical decodes':>20} "
            f"{'chrF':>6}  first departure: step, margin, near-ties")
    rows = [head, "-" * len(head)]
    if keras_chrf is not None:
        rows.append(f"{'keras (reference)':<16} {'':>9} {'':>12} {'':>11} {'':>20} {keras_chrf:>6.1f}")
    for r in reports:
        agree = f"{r.decodes_identical}/{r.decodes_compared} ({100 * r.agreement:.1f}%)"
        departs = ""
        if r.departures:
            d = r.departure_summary()
            departs = f"  {d['median_step']:g}, {d['median_keras_margin']:.3f}, {r.near_ties}/{len(r.departures)}"
        rows.append(
            f"{r.name:<16} {r.size / 1024:>7.0f}Ki {r.max_abs_diff_state:>12.2e} "
            f"{r.max_abs_diff_prob:>11.2e} {agree:>20} {r.chrf:>6.1f}{departs}"
        )
        for kernels, identical in r.other_kernels.items():  # the same files on another kernel set
            agree = f"{identical}/{r.decodes_compared} ({100 * identical / r.decodes_compared:.1f}%)"
            rows.append(f"{'  on ' + kernels:<16} {'':>9} {'':>12} {'':>11} {agree:>20}")
    return "\n".join(rows)


def first_departures(reference: Translator, mismatches: Sequence[tuple[str, str, str]]) -> list[tuple[int, float]]:
    """For each (source, Keras decode, artifact decode): the first step where the two differ, and
    the gap between Keras's two most likely characters at that step (log probabilities)."""
    if not mismatches:
        return []
    m = reference.manifest
    steps = [next((i for i, (a, b) in enumerate(zip(keras, got)) if a != b), min(len(keras), len(got)))
             for _, keras, got in mismatches]
    # Keras, teacher-forced along its own decode up to the departure: START + its first `step` characters.
    prefixes = [START + keras[:k] for (_, keras, _), k in zip(mismatches, steps)]
    encoder_ids = m.source_vocab.encode([src for src, _, _ in mismatches], m.max_source_length)
    decoder_ids = m.target_vocab.encode(prefixes, max(len(p) for p in prefixes))
    _, probs = teacher_forced_probs(reference.model, encoder_ids, decoder_ids)
    out = []
    for row, k in enumerate(steps):
        top2 = np.sort(np.log(np.maximum(probs[row, k], 1e-30)))[-2:]
        out.append((k, float(top2[1] - top2[0])))
    return out


def teacher_forced_probs(step_model, encoder_ids: np.ndarray, decoder_ids: np.ndarray):
    """The encoder's outputs by name (the family's state and context) and the [batch, time, vocab]
    probabilities of stepping along decoder_ids."""
    state = step_model.encode(encoder_ids)
    encoded = {name: np.asarray(value) for name, value in state.items()}
    probs = []
    for t in range(decoder_ids.shape[1]):
        logits, state = step_model.step(decoder_ids[:, t], state)
        probs.append(softmax(logits))
    return encoded, np.stack(probs, axis=1)


def decode_sentences(usable: Sequence[Pair], num_decodes: int) -> tuple[list[str], list[list[str]]]:
    """The sentences whose greedy decodes validation compares (each distinct sentence once, up to
    `num_decodes`), each with its first reference for chrF: (sources, [[reference], ...])."""
    sources, references = group_references(usable)
    return sources[:num_decodes], [[refs[0]] for refs in references[:num_decodes]]


class Baseline:
    """What Keras says on the validation inputs, computed once for all artifacts."""

    def __init__(
        self,
        model,
        reference: Translator,
        spec: Seq2SeqSpec,
        pairs: Sequence[Pair],
        num_decodes: int = 500,
        num_teacher_forced: int = 64,
    ) -> None:
        if num_decodes < 1 or num_teacher_forced < 1:
            raise ParityError("validation needs at least one sentence to decode and compare")
        usable = usable_pairs(pairs, spec)
        if not usable:
            raise ParityError("no usable held-out pairs to validate the export with")
        tf_pairs = usable[:num_teacher_forced]
        self.encoder_ids, self.decoder_ids, _ = encode_pairs(
            tf_pairs, spec.source_vocab, spec.target_vocab, spec.max_source_length, spec.max_target_length
        )
        self.encoded, self.probs = keras_reference(model, self.encoder_ids, self.decoder_ids)
        # Compare the positions decoding uses: up to the step that predicts END. Past END the
        # decoder reads padding it was never trained on (no loss there), its state can grow large,
        # and float rounding differences grow with it, although no decode ever reaches them.
        lengths = np.array([len(fr) + 2 for _, fr in tf_pairs])
        self.real = np.arange(self.decoder_ids.shape[1])[None, :] < (lengths - 1)[:, None]
        self.sources, self.references = decode_sentences(usable, num_decodes)
        self.reference = reference
        self.expected = reference.translate(self.sources)
        self.chrf = chrf(self.expected, self.references)

    def compare(self, bundle: Path, backend: str, precision: str, other_kernels: Sequence[str] = ()) -> ParityReport:
        """`backend`/`precision` of the staged bundle against Keras; its greedy decodes also on each of
        `other_kernels` (`runtime.backends.load_backend`'s kernel sets)."""
        translator = Translator(bundle, backend=backend, precision=precision, greedy_loop=False)
        arts = translator.manifest.select(backend, precision)
        encoded, probs = teacher_forced_probs(translator.model, self.encoder_ids, self.decoder_ids)
        got = translator.translate(self.sources)
        mismatches = [(s, e, g) for s, e, g in zip(self.sources, self.expected, got) if e != g]
        identical_by_kernels = {}
        for kernels in other_kernels:
            other = Translator(bundle, backend=backend, precision=precision, greedy_loop=False, kernels=kernels)
            identical_by_kernels[kernels] = sum(e == g for e, g in zip(self.expected, other.translate(self.sources)))
        differences = []
        if "greedy" in arts:
            # The graph runs batches of up to GREEDY_LOOP_MAX_BATCH rows: check it at both ends.
            loop = Translator(bundle, backend=backend, precision=precision, greedy_loop=True)
            if loop.model.greedy is None:
                raise ParityError(f"{backend}/{precision}: the bundle's greedy graph was not loaded")
            differing: dict[int, tuple[str, str, str]] = {}
            for batch in sorted({1, GREEDY_LOOP_MAX_BATCH}):
                loop.max_batch_size = batch
                for i, (s, a, b) in enumerate(zip(self.sources, got, loop.translate(self.sources))):
                    if a != b:
                        differing.setdefault(i, (s, a, b))
            differences = list(differing.values())
        return ParityReport(
            backend=backend,
            precision=precision,
            size=arts["encoder"].size + arts["decoder_step"].size,
            max_abs_diff_state=float(max(np.abs(self.encoded[name] - encoded[name]).max()
                                         for name in self.encoded)),
            max_abs_diff_prob=float(np.abs(self.probs - probs)[self.real].max()),
            decodes_compared=len(self.sources),
            decodes_identical=len(self.sources) - len(mismatches),
            chrf=chrf(got, self.references),
            mismatches=mismatches,
            greedy_size=arts["greedy"].size if "greedy" in arts else None,
            greedy_differences=differences,
            departures=first_departures(self.reference, mismatches),
            other_kernels=identical_by_kernels,
        )


def require_parity(report: ParityReport, min_agreement: float | None = None) -> None:
    """Raise ParityError when `report` misses its precision's bar."""
    if min_agreement is None:
        min_agreement = MIN_AGREEMENT.get(report.precision, 1.0)
    problems = []
    if report.precision == "float32":
        if report.max_abs_diff_state > FLOAT_TOLERANCE:
            problems.append(
                f"encoder states differ by {report.max_abs_diff_state:.3g} (> {FLOAT_TOLERANCE:g})"
            )
        if report.max_abs_diff_prob > FLOAT_TOLERANCE:
            problems.append(
                f"probabilities differ by {report.max_abs_diff_prob:.3g} (> {FLOAT_TOLERANCE:g})"
            )
    if report.greedy_differences:
        src, steps, graph = report.greedy_differences[0]
        problems.append(
            f"the one-graph greedy decoder differs from the stepped decoder on "
            f"{len(report.greedy_differences)} sentences, e.g. {src!r}: {steps!r} vs {graph!r} "
            "(export with --no-greedy-loop to leave it out)")
    compared = report.decodes_compared
    if compared == 0:
        problems.append("no greedy decodes were compared")
    for kernels, identical in {"default": report.decodes_identical, **report.other_kernels}.items():
        if compared and identical / compared < min_agreement:
            example = ""
            if kernels == "default" and report.mismatches:
                src, exp, got = report.mismatches[0]
                example = f", e.g. {src!r}: Keras {exp!r}, {report.name} {got!r}"
            problems.append(
                (f"on the {kernels} kernels " if report.other_kernels else "")
                + f"{compared - identical}/{compared} greedy decodes differ "
                f"({100 * identical / compared:.1f}% identical, needs {100 * min_agreement:g}%){example}"
            )
    if problems:
        hint = ""
        if report.precision != "float32" and compared and report.worst_identical / compared < min_agreement:
            hint = (f" (quantization-aware fine-tuning, python -m trainer.qat, raises the agreement; "
                    f"--min-agreement {report.precision}=FRACTION accepts a lower one)")
        raise ParityError(f"{report.name} export does not match the Keras model: " + "; ".join(problems) + hint)

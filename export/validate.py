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

The gate (`judge`, `require_parity`): float32 must give every decode identical to Keras, within
FLOAT_TOLERANCE. A quantized precision is judged on what its differences cost, on every kernel set
checked: it is refused when more than MAX_CONFIDENT_DEPARTURES of the decodes depart where Keras was
confident (top-2 margin >= NEAR_TIE), or when its chrF is lower than Keras's with paired-bootstrap
p < CHRF_P (`trainer.metrics.paired_test`). `min_agreement` (`--min-agreement P=F`) judges precision P
by its share of decodes identical to Keras instead (at least F on every kernel set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from runtime.decoding import softmax
from runtime.errors import S2SError
from runtime.golden import GOLDEN_BATCH, GoldenArtifact, GoldenDecodes, engine, machine
from runtime.vocab import START, prepare_source
from runtime.translator import GREEDY_LOOP_MAX_BATCH, Translator
from trainer.metrics import chrf, group_references, paired_test
from trainer.model import keras_reference
from trainer.pipeline import encode_pairs
from trainer.spec import Seq2SeqSpec

from .source import Pair, usable_pairs

FLOAT_TOLERANCE = 1e-5
# A departure whose Keras top-2 margin is below this (log-probability gap, nats) is a near-tie:
# Keras's first choice was at most ~10% more likely than its second.
NEAR_TIE = 0.1
# The quantized precisions' default gate, on every kernel set checked: at most this share of the
# decodes may depart from Keras where Keras was confident (its top-2 margin >= NEAR_TIE there) ...
MAX_CONFIDENT_DEPARTURES = 0.01
# ... and chrF may not be lower than Keras's with a paired-bootstrap p below this.
CHRF_P = 0.05
# float32's gate: every decode identical to Keras (and within FLOAT_TOLERANCE).
EXACT = "float32"
# What to do when a quantized artifact's decodes are refused, by rule.
HINTS = {
    "quality": "quantization-aware fine-tuning, python -m trainer.qat, brings a quantized model closer to Keras; "
               "--min-agreement {precision}=FRACTION judges it by its share of decodes identical to Keras instead",
    "identical": "quantization-aware fine-tuning, python -m trainer.qat, raises the agreement; "
                 "--min-agreement {precision}=FRACTION accepts a lower one",
}


class ParityError(S2SError, RuntimeError):
    """An exported artifact does not reproduce the Keras model."""


@dataclass
class KernelDecodes:
    """An artifact's greedy decodes on one kernel set, against Keras's."""

    identical: int
    chrf: float | None = None
    # (step, Keras's top-2 margin) where each differing decode first departs; None: not measured
    departures: list[tuple[int, float]] | None = None
    p_chrf: float | None = None  # paired-bootstrap p of chrF against Keras's, where lower
    examples: list[tuple[str, str, str]] = field(default_factory=list)  # (source, keras, artifact)

    def confident(self, compared: int) -> int:
        """Differing decodes that do not first depart at a near-tie of Keras's. A decode whose
        departure was not measured counts as confident."""
        return compared - self.identical - sum(m < NEAR_TIE for _, m in self.departures or ())


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
    # Keras's chrF on the same sentences, and the paired-bootstrap p of this artifact's chrF against it
    # (computed where the artifact's is lower; None otherwise).
    keras_chrf: float | None = None
    p_chrf: float | None = None
    # The other kernel sets' decodes in full (chrF, p, departures), by set, as for the default set.
    other_kernel_decodes: dict[str, "KernelDecodes"] = field(default_factory=dict)
    # The golden translations of this artifact (the bundle's golden.json), when asked for.
    golden: GoldenArtifact | None = None

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

    def kernel_sets(self) -> dict[str, "KernelDecodes"]:
        """The decodes on each kernel set checked, the default set first."""
        default = KernelDecodes(self.decodes_identical, self.chrf, list(self.departures), self.p_chrf,
                                self.mismatches)
        others = {kernels: self.other_kernel_decodes.get(kernels, KernelDecodes(identical))
                  for kernels, identical in self.other_kernels.items()}
        return {"default": default, **others}

    def departure_summary(self) -> dict:
        return departure_summary(self.departures)

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


def departure_summary(departures: Sequence[tuple[int, float]]) -> dict:
    """Median step and Keras margin of first departures, and how many were near-ties."""
    if not departures:
        return {}
    steps, margins = zip(*departures)
    return {"median_step": float(np.median(steps)), "median_keras_margin": round(float(np.median(margins)), 4),
            "near_ties": sum(margin < NEAR_TIE for margin in margins)}


def format_table(reports: Sequence[ParityReport], keras_chrf: float | None = None,
                 min_agreement: dict[str, float] | None = None) -> str:
    """The export's parity table. "p(chrF)" is the paired-bootstrap p of the artifact's chrF against Keras's
    (where it is lower). "confident" counts the decodes that depart from Keras where Keras was
    confident (top-2 margin >= NEAR_TIE, or not measured). "gate" says which rule judged the artifact
    (`judge`: exact, quality, or identical >= F) and whether it passed. "first departure" is, over
    the decodes that differ from Keras, the median step where they first differ, the median top-2
    margin of Keras there (nats), and how many of them were near-ties (margin < NEAR_TIE). A line
    "  on K" under an artifact gives the same for its decodes on kernel set K (TFLite's full-integer
    files: LiteRT's built-in kernels)."""
    head = (f"{'artifact':<16} {'size':>9} {'max|Δstate|':>12} {'max|Δprob|':>11} {'identical decodes':>20} "
            f"{'chrF':>6} {'p(chrF)':>7} {'confident':>12}  {'gate':<24}  first departure: step, margin, near-ties")
    rows = [head, "-" * len(head)]
    if keras_chrf is None:
        keras_chrf = next((r.keras_chrf for r in reports if r.keras_chrf is not None), None)
    if keras_chrf is not None:
        rows.append(f"{'keras (reference)':<16} {'':>9} {'':>12} {'':>11} {'':>20} {keras_chrf:>6.1f}")
    for r in reports:
        verdict = judge(r, (min_agreement or {}).get(r.precision))
        compared = r.decodes_compared
        for kernels, decodes in r.kernel_sets().items():
            if kernels == "default":
                lead = (f"{r.name:<16} {r.size / 1024:>7.0f}Ki {r.max_abs_diff_state:>12.2e} "
                        f"{r.max_abs_diff_prob:>11.2e}")
            else:  # the same files on another kernel set
                lead = f"{'  on ' + kernels:<16} {'':>9} {'':>12} {'':>11}"
            share = 100 * decodes.identical / compared if compared else 0.0
            agree = f"{decodes.identical}/{compared} ({share:.1f}%)"
            chrf_ = f"{decodes.chrf:.1f}" if decodes.chrf is not None else "-"
            p = f"{decodes.p_chrf:.3f}" if decodes.p_chrf is not None else "-"
            confident = decodes.confident(compared)
            confident = f"{confident} ({100 * confident / compared:.1f}%)" if compared else "-"
            departs = ""
            if decodes.departures:
                d = departure_summary(decodes.departures)
                departs = (f"  {d['median_step']:g}, {d['median_keras_margin']:.3f}, "
                           f"{d['near_ties']}/{len(decodes.departures)}")
            rows.append(f"{lead} {agree:>20} {chrf_:>6} {p:>7} {confident:>12}  "
                        f"{verdict.label(kernels):<24}{departs}".rstrip())
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
    encoder_ids = m.source_vocab.encode([prepare_source(src, m.source_vocab, m.max_source_length, form=m.source_form)
                                         for src, _, _ in mismatches], m.max_source_length)
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
            tf_pairs, spec.source_vocab, spec.target_vocab, spec.max_source_length, spec.max_target_length,
            spec.source_form)
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

    def compare(self, bundle: Path, backend: str, precision: str, other_kernels: Sequence[str] = (),
                golden: int = 0) -> ParityReport:
        """`backend`/`precision` of the staged bundle against Keras; its greedy decodes also on each of
        `other_kernels` (`runtime.backends.load_backend`'s kernel sets). With `golden` N, the report
        also holds the golden translations of the first N sentences: the artifact's decodes of them on
        each kernel set, made as a runtime's `self_check` makes them."""
        translator = Translator(bundle, backend=backend, precision=precision, greedy_loop=False,
                                max_batch_size=GOLDEN_BATCH)
        arts = translator.manifest.select(backend, precision)
        encoded, probs = teacher_forced_probs(translator.model, self.encoder_ids, self.decoder_ids)
        got = translator.translate(self.sources)
        default = self.judge_decodes(got)
        decodes_by_kernels = {}
        translators = {"default": translator}
        for kernels in other_kernels:
            other = translators[kernels] = Translator(bundle, backend=backend, precision=precision,
                                                      greedy_loop=False, max_batch_size=GOLDEN_BATCH,
                                                      kernels=kernels)
            decodes_by_kernels[kernels] = self.judge_decodes(other.translate(self.sources))
        golden_artifact = None
        if golden > 0:
            # Decoded as a runtime's self-check decodes them: stepping, batches of up to GOLDEN_BATCH.
            sources = self.sources[:golden]
            name, version = engine(backend)
            golden_artifact = GoldenArtifact(
                backend, precision, tuple(sources), tuple(self.expected[: len(sources)]),
                tuple(GoldenDecodes(kernels, name, version, tuple(t.translate(list(sources))), machine())
                      for kernels, t in translators.items()))
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
            decodes_identical=default.identical,
            chrf=default.chrf,
            mismatches=default.examples,
            greedy_size=arts["greedy"].size if "greedy" in arts else None,
            greedy_differences=differences,
            departures=default.departures,
            other_kernels={kernels: d.identical for kernels, d in decodes_by_kernels.items()},
            keras_chrf=self.chrf,
            p_chrf=default.p_chrf,
            other_kernel_decodes=decodes_by_kernels,
            golden=golden_artifact,
        )

    def judge_decodes(self, got: Sequence[str]) -> KernelDecodes:
        """An artifact's greedy decodes of `self.sources` against Keras's: how many are identical, their
        chrF (with its paired-bootstrap p against Keras's where lower), and where each differing one
        first departs (examples: every differing decode)."""
        mismatches = [(s, e, g) for s, e, g in zip(self.sources, self.expected, got) if e != g]
        score = chrf(got, self.references)
        p = paired_test(self.expected, got, self.references)[0] if score < self.chrf else None
        return KernelDecodes(identical=len(self.sources) - len(mismatches), chrf=score,
                             departures=first_departures(self.reference, mismatches), p_chrf=p,
                             examples=mismatches)


@dataclass
class Verdict:
    """Which rule judged an artifact, and what it found wrong, by kernel set ("default" also holds
    what concerns the artifact as a whole: float tolerances, the one-graph greedy decoder)."""

    rule: str  # "exact" (float32), "quality" (the quantized default) or "identical >= F" (--min-agreement)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (kernel set, what is wrong)
    decodes_refused: bool = False  # whether the rule refused the decodes (not only tolerances or the graph)

    def passed(self, kernels: str | None = None) -> bool:
        return not any(kernels is None or k == kernels for k, _ in self.problems)

    def label(self, kernels: str | None = None) -> str:
        return f"{'passed' if self.passed(kernels) else 'REFUSED'}: {self.rule}"


def judge(report: ParityReport, min_agreement: float | None = None) -> Verdict:
    """The gate of `report`'s precision, on each of its kernel sets:
    - float32: every decode identical to Keras, states and probabilities within FLOAT_TOLERANCE;
    - a quantized precision: at most MAX_CONFIDENT_DEPARTURES of the decodes depart where Keras was
      confident (top-2 margin >= NEAR_TIE), and chrF not lower than Keras's with p < CHRF_P;
    - `min_agreement` F (--min-agreement): at least a share F of the decodes identical to Keras, in
      place of either rule's decode criteria (float32 keeps its tolerances).
    The one-graph greedy decoder, when present, must equal stepping on every sentence."""
    exact = report.precision == EXACT
    if min_agreement is not None:
        rule = f"identical >= {100 * min_agreement:g}%"
    else:
        rule = "exact" if exact else "quality"
    problems: list[tuple[str, str]] = []
    if exact:
        if report.max_abs_diff_state > FLOAT_TOLERANCE:
            problems.append(("default", f"encoder states differ by {report.max_abs_diff_state:.3g} "
                                        f"(> {FLOAT_TOLERANCE:g})"))
        if report.max_abs_diff_prob > FLOAT_TOLERANCE:
            problems.append(("default", f"probabilities differ by {report.max_abs_diff_prob:.3g} "
                                        f"(> {FLOAT_TOLERANCE:g})"))
    if report.greedy_differences:
        src, steps, graph = report.greedy_differences[0]
        problems.append(("default",
                         f"the one-graph greedy decoder differs from the stepped decoder on "
                         f"{len(report.greedy_differences)} sentences, e.g. {src!r}: {steps!r} vs {graph!r} "
                         "(export with --no-greedy-loop to leave it out)"))
    compared = report.decodes_compared
    if compared == 0:
        problems.append(("default", "no greedy decodes were compared"))
        return Verdict(rule, problems, decodes_refused=True)
    artifact_problems = len(problems)
    sets = report.kernel_sets()
    on = (lambda kernels: f"on the {kernels} kernels ") if len(sets) > 1 else (lambda kernels: "")
    for kernels, decodes in sets.items():
        example = ""
        if decodes.examples:
            src, exp, got = decodes.examples[0]
            example = f", e.g. {src!r}: Keras {exp!r}, {report.name} {got!r}"
        if min_agreement is not None or exact:
            bar = 1.0 if min_agreement is None else min_agreement
            if decodes.identical / compared < bar:
                problems.append((kernels, on(kernels) + f"{compared - decodes.identical}/{compared} greedy decodes "
                                 f"differ ({100 * decodes.identical / compared:.1f}% identical, needs "
                                 f"{100 * bar:g}%){example}"))
            continue
        confident = decodes.confident(compared)
        if confident > MAX_CONFIDENT_DEPARTURES * compared:
            problems.append((kernels, on(kernels) + f"{confident}/{compared} greedy decodes "
                             f"({100 * confident / compared:.1f}%) depart from Keras where it was confident "
                             f"(top-2 margin >= {NEAR_TIE:g} nats; at most {100 * MAX_CONFIDENT_DEPARTURES:g}% "
                             f"may){example}"))
        keras = report.keras_chrf
        if decodes.chrf is None or keras is None:
            problems.append((kernels, on(kernels) + "chrF was not compared with Keras's"))
        elif decodes.chrf < keras and (decodes.p_chrf is None or decodes.p_chrf < CHRF_P):
            p = "untested" if decodes.p_chrf is None else f"paired bootstrap p = {decodes.p_chrf:.3f} < {CHRF_P:g}"
            problems.append((kernels, on(kernels) + f"chrF {decodes.chrf:.1f} is lower than Keras's {keras:.1f} "
                             f"({p})"))
    return Verdict(rule, problems, decodes_refused=len(problems) > artifact_problems)


def require_parity(report: ParityReport, min_agreement: float | None = None) -> Verdict:
    """Raise ParityError when `report` fails its precision's gate (`judge`); the verdict otherwise."""
    verdict = judge(report, min_agreement)
    if verdict.problems:
        hint = ""
        if report.precision != EXACT and verdict.decodes_refused:
            rule = "quality" if verdict.rule == "quality" else "identical"
            hint = f" ({HINTS[rule].format(precision=report.precision)})"
        raise ParityError(f"{report.name} export does not match the Keras model ({verdict.rule} rule): "
                          + "; ".join(m for _, m in verdict.problems) + hint)
    return verdict

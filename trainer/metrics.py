"""Translation quality: chrF and BLEU (sacrebleu), exact match, the length-limit share, and
sacrebleu's paired bootstrap test between two systems on the same sentences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest


@dataclass
class Comparison:
    baseline: "Scores"
    # Paired bootstrap: how often resampled sentences show a difference this large by chance alone
    # (1.0 for equal scores, where sacrebleu's own formula gives its smallest value).
    p_chrf: float
    p_bleu: float


@dataclass
class Scores:
    sentences: int
    chrf: float
    bleu: float
    exact: float  # share of outputs equal to one of their references
    length_limit: float  # share of outputs that ran to the maximum length
    versus: Comparison | None = None  # with a baseline run

    def row(self, name: str = "") -> str:
        return (f"{name:<12}{self.sentences:>9} {self.chrf:>6.1f} {self.bleu:>6.1f} "
                f"{100 * self.exact:>6.1f}% {100 * self.length_limit:>12.1f}%")

    def table(self) -> str:
        header = f"{'':<12}{'sentences':>9} {'chrF':>6} {'BLEU':>6} {'exact':>7} {'length-limit':>13}"
        if self.versus is None:
            return f"{header}\n{self.row()}"
        v = self.versus
        # differences of the rounded scores: what the two rows above show
        chrf, bleu = (round(a, 1) - round(b, 1)
                      for a, b in ((self.chrf, v.baseline.chrf), (self.bleu, v.baseline.bleu)))
        return (f"{header}\n{v.baseline.row('baseline')}\n{self.row('this run')}\n"
                f"{'difference':<22}{chrf:>+6.1f} {bleu:>+6.1f}\n"
                f"{'p (paired)':<22}{v.p_chrf:>6.3f} {v.p_bleu:>6.3f}")


def group_references(pairs: Sequence[tuple[str, str]]) -> tuple[list[str], list[list[str]]]:
    """Distinct sources in order, each with all its references."""
    refs: dict[str, list[str]] = {}
    for en, fr in pairs:
        refs.setdefault(en, []).append(fr)
    return list(refs), list(refs.values())


def score(hypotheses: Sequence[str], references: Sequence[Sequence[str]], max_length: int,
          cut: Sequence[bool] | None = None) -> Scores:
    """Corpus metrics of `hypotheses` against their (possibly several) references. `cut` flags the
    outputs that hit the length limit without END (by default: those of `max_length` characters)."""
    if not hypotheses:
        raise ValueError("nothing to score")
    return Scores(
        sentences=len(hypotheses),
        chrf=chrf(hypotheses, references),
        bleu=float(sacrebleu.corpus_bleu(list(hypotheses), _streams(references)).score),
        exact=sum(h in r for h, r in zip(hypotheses, references)) / len(hypotheses),
        length_limit=(sum(cut) if cut is not None else sum(len(h) >= max_length for h in hypotheses))
        / len(hypotheses),
    )


def _streams(references: Sequence[Sequence[str]]) -> list[list[str]]:
    """sacrebleu's reference *streams*, of equal length: each sentence's list is padded with its
    first reference, which changes neither BLEU (clipped counts use the max over references) nor
    chrF (the best reference)."""
    width = max(len(r) for r in references)
    return [[r[min(k, len(r) - 1)] for r in references] for k in range(width)]


def paired_test(baseline: Sequence[str], hypotheses: Sequence[str],
                references: Sequence[Sequence[str]]) -> tuple[float, float]:
    """p-values of the chrF and BLEU differences between two systems' outputs for the same
    sentences: sacrebleu's paired bootstrap resampling, 1,000 resamples, its fixed seed."""
    def p_value(metric) -> float:
        test = PairedTest([("baseline", list(baseline)), ("system", list(hypotheses))], {"metric": metric},
                          references=_streams(references), test_type="bs", n_samples=1000)
        _, results = test()
        (key,) = (k for k in results if k != "System")  # sacrebleu's own name for the metric
        base, system = results[key]
        # sacrebleu counts resamples whose difference *exceeds* the observed one: none can when
        # the scores are equal, so it reports its smallest p; no difference is no evidence.
        return 1.0 if system.score == base.score else float(system.p_value)

    return p_value(CHRF()), p_value(BLEU())


def translate_scored(translator, sources, references, max_length: int, beam_size: int = 1,
                     length_penalty: float = 1.0) -> tuple[list[str], Scores]:
    """`translator`'s best hypothesis for each source, and their scores against `references`."""
    results = translator.hypotheses(sources, beam_size=beam_size, length_penalty=length_penalty,
                                    on_unknown="skip", on_overflow="truncate")
    hypotheses = [r[0].text for r in results]
    return hypotheses, score(hypotheses, references, max_length, cut=[not r[0].finished for r in results])


def chrf(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """Corpus chrF of `hypotheses` against their (possibly several) references."""
    return float(sacrebleu.corpus_chrf(list(hypotheses), _streams(references)).score)

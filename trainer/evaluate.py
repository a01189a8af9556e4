"""python -m trainer.evaluate --run DIR [--bundle BUNDLE]: quality on the run's held-out split.

Translates the held-out English sentences (each distinct sentence once; its French variants are all
references) with the Keras model, or with an exported bundle, and reports chrF and BLEU (sacrebleu),
the exact-match rate (the output equals one of the references) and the share of decodes that hit
the length limit without emitting the end token (the symptom of a model that never learned to
stop), with a few sample translations.

`--baseline RUN` also translates the same sentences with another run's model, leaving out those that
either run trained on, and tests the differences in chrF and BLEU with sacrebleu's paired bootstrap
resampling (1,000 resamples): on a few hundred short sentences, a few chrF points can be chance.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from runtime.cli import add_verbose, positive_int, run_main

from .run import RunError, read_heldout, read_run


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
    import sacrebleu

    if not hypotheses:
        raise ValueError("nothing to score")
    streams = _streams(references)
    return Scores(
        sentences=len(hypotheses),
        chrf=float(sacrebleu.corpus_chrf(list(hypotheses), streams).score),
        bleu=float(sacrebleu.corpus_bleu(list(hypotheses), streams).score),
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
    from sacrebleu.metrics import BLEU, CHRF
    from sacrebleu.significance import PairedTest

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


def evaluate(run: str | Path, bundle: str | Path | None = None, *, backend: str = "onnx",
             precision: str = "float32", limit: int | None = None, samples: int = 5,
             beam_size: int = 1, length_penalty: float = 1.0, pairs: str | Path | None = None,
             baseline: str | Path | None = None, log=print) -> Scores:
    """Score the run's model (or `bundle`) on the run's held-out split.

    With `pairs` (a TSV of English<TAB>French: a test set shared by several runs), score on those
    of its pairs whose English this run never trained on (its training split is rebuilt from its
    settings and data file). With `baseline` (another run), also score its Keras model on the same
    sentences, leaving out those it trained on too, and test the differences (`Scores.versus`).
    """
    info = read_run(run)
    heldout = read_heldout(run)
    if info.data.get("heldout_is_training_sample"):
        log("warning: this run has no validation split; heldout.tsv holds training pairs")
    source = pairs if pairs is not None else f"{run}'s held-out split"
    if baseline is not None and pairs is None and info.data.get("heldout_is_training_sample"):
        raise RunError(f"{run} has no held-out split to compare on: give a test set with --pairs")
    if pairs is not None:
        heldout = _untrained(_read_tsv(pairs), run, info, pairs, log)
    if baseline is not None:
        heldout = _untrained(heldout, baseline, read_run(baseline), source, log)
    sources, references = group_references(heldout)
    sources, references = sources[:limit], references[:limit]
    if bundle is None:
        from .decode import keras_translator

        translator, name = keras_translator(run), "keras"
    else:
        from runtime import Translator

        translator, name = Translator(bundle, backend=backend, precision=precision), f"{backend}/{precision}"
    search = f"beam {beam_size}, length penalty {length_penalty}" if beam_size > 1 else "greedy"
    log(f"translating {len(sources)} held-out sentences with {name} ({search}) ...")
    hypotheses, scores = translate_scored(translator, sources, references, info.max_target_length,
                                          beam_size, length_penalty)
    if baseline is not None:
        from .decode import keras_translator

        log(f"translating them with the baseline {baseline} (its Keras model, {search}) ...")
        baseline_hypotheses, baseline_scores = translate_scored(
            keras_translator(baseline), sources, references, read_run(baseline).max_target_length,
            beam_size, length_penalty)
        scores.versus = Comparison(baseline_scores, *paired_test(baseline_hypotheses, hypotheses, references))
    log(scores.table())
    for src, hyp, refs in list(zip(sources, hypotheses, references))[:samples]:
        log(f"  {src!r} -> {hyp!r}  (reference {refs[0]!r})")
    return scores


def translate_scored(translator, sources, references, max_length: int, beam_size: int = 1,
                     length_penalty: float = 1.0) -> tuple[list[str], Scores]:
    """`translator`'s best hypothesis for each source, and their scores against `references`."""
    results = translator.hypotheses(sources, beam_size=beam_size, length_penalty=length_penalty,
                                    on_unknown="skip", on_overflow="truncate")
    hypotheses = [r[0].text for r in results]
    return hypotheses, score(hypotheses, references, max_length, cut=[not r[0].finished for r in results])


def _untrained(pairs: list[tuple[str, str]], run, info, source, log) -> list[tuple[str, str]]:
    """The pairs whose English `run` never trained on (its split rebuilt from its settings)."""
    from .fit import training_split

    trained = {en for en, _ in training_split(info)[0]}
    kept = [(en, fr) for en, fr in pairs if en not in trained]
    log(f"{source}: {len(kept)} of its {len(pairs)} pairs have English {run} never trained on")
    if not kept:
        raise RunError(f"every pair of {source} has English that {run} trained on: nothing to score")
    return kept


def _read_tsv(path: str | Path) -> list[tuple[str, str]]:
    from .data import read_pairs

    pairs, _ = read_pairs(path, num_samples=None)
    return pairs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trainer.evaluate",
        description="Score a run's model (Keras) or an exported bundle on the run's held-out split: "
        "chrF, BLEU, exact match, share of decodes hitting the length limit.",
    )
    p.add_argument("--run", required=True, help="run directory written by trainer.fit")
    p.add_argument("--bundle", help="evaluate this exported bundle instead of the Keras model")
    p.add_argument("--backend", default="onnx", help="with --bundle (default: %(default)s)")
    p.add_argument("--precision", default="float32", help="with --bundle (default: %(default)s)")
    p.add_argument("--limit", type=positive_int, help="evaluate the first N distinct sentences")
    p.add_argument("--samples", type=int, default=5, help="sample translations to show (default: 5)")
    p.add_argument("--beam-size", type=positive_int, default=1, help="beam search width (default: greedy)")
    p.add_argument("--length-penalty", type=float, default=1.0, help="beam ranking exponent (default: 1)")
    p.add_argument("--pairs", help="score on the pairs of this TSV (English<TAB>French) whose English "
                   "the run never trained on: a test set shared by several runs")
    p.add_argument("--baseline", metavar="RUN", help="also score this run's Keras model on the same "
                   "sentences (less those it trained on) and test the differences (paired bootstrap)")
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    evaluate(args.run, args.bundle, backend=args.backend, precision=args.precision,
             limit=args.limit, samples=args.samples, beam_size=args.beam_size,
             length_penalty=args.length_penalty, pairs=args.pairs, baseline=args.baseline)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m trainer.evaluate"))

"""python -m trainer.evaluate --run DIR [--bundle BUNDLE]: quality on the run's held-out split.

Translates the held-out English sentences (each distinct sentence once; its French variants are all
references) with the Keras model, or with an exported bundle, and reports chrF and BLEU (sacrebleu),
the exact-match rate (the output equals one of the references) and the share of decodes that hit
the length limit without emitting the end token (the symptom of a model that never learned to
stop), with a few sample translations.

`--baseline RUN` also translates the same sentences with another run's model, leaving out those that
either run trained on, and tests the differences in chrF and BLEU with sacrebleu's paired bootstrap
resampling (1,000 resamples): on a few hundred short sentences, a few chrF points can be chance.
`--decodes-out FILE` keeps the decodes (JSON lines: source, decode), and `--baseline FILE` compares
with such a file instead of a run, on the sentences it has: a run's decodes of its own held-out
sentences stand for the run, without its model, and carry what it trained on (none of them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

from runtime import Translator
from runtime.cli import ArgumentParser, add_verbose, positive_int, run_main

from .data import read_pairs
from .fileio import atomic_write_bytes
from .metrics import Comparison, Scores, group_references, paired_test, score, translate_scored
from .reference import keras_translator
from .run import RunError, read_heldout, read_run, training_split


def evaluate(run: str | Path, bundle: str | Path | None = None, *, backend: str = "onnx",
             precision: str = "float32", limit: int | None = None, samples: int = 5,
             beam_size: int = 1, length_penalty: float = 1.0, pairs: str | Path | None = None,
             baseline: str | Path | None = None, decodes_out: str | Path | None = None, log=print) -> Scores:
    """Score the run's model (or `bundle`) on the run's held-out split.

    With `pairs` (a TSV of English<TAB>French: a test set shared by several runs), score on those
    of its pairs whose English this run never trained on (its training split is rebuilt from its
    settings and data file). With `baseline` (another run), also score its Keras model on the same
    sentences, leaving out those it trained on too, and test the differences (`Scores.versus`); a
    `baseline` file of decodes (`decodes_out`) stands for its run, on the sentences it has.
    `decodes_out` writes this evaluation's decodes there.
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
    baseline_decodes = None
    if baseline is not None and Path(baseline).is_file():
        baseline_decodes = read_decodes(baseline)
        kept = [(en, fr) for en, fr in heldout if en in baseline_decodes]
        log(f"{source}: {len(kept)} of its {len(heldout)} pairs have English that {baseline} decodes")
        if not kept:
            raise RunError(f"{baseline} decodes none of the sentences of {source}: nothing to compare")
        heldout = kept
    elif baseline is not None:
        heldout = _untrained(heldout, baseline, read_run(baseline), source, log)
    sources, references = group_references(heldout)
    sources, references = sources[:limit], references[:limit]
    if bundle is None:
        translator, name = keras_translator(run), "keras"
    else:
        translator, name = Translator(bundle, backend=backend, precision=precision), f"{backend}/{precision}"
    search = f"beam {beam_size}, length penalty {length_penalty}" if beam_size > 1 else "greedy"
    log(f"translating {len(sources)} held-out sentences with {name} ({search}) ...")
    hypotheses, scores = translate_scored(translator, sources, references, info.max_target_length,
                                          beam_size, length_penalty)
    if decodes_out is not None:
        write_decodes(decodes_out, sources, hypotheses)
    if baseline_decodes is not None:
        baseline_hypotheses = [baseline_decodes[en] for en in sources]
        baseline_scores = score(baseline_hypotheses, references, info.max_target_length)
    if baseline is not None and baseline_decodes is None:
        log(f"translating them with the baseline {baseline} (its Keras model, {search}) ...")
        baseline_hypotheses, baseline_scores = translate_scored(
            keras_translator(baseline), sources, references, read_run(baseline).max_target_length,
            beam_size, length_penalty)
    if baseline is not None:
        scores.versus = Comparison(baseline_scores, *paired_test(baseline_hypotheses, hypotheses, references))
    log(scores.table())
    for src, hyp, refs in list(zip(sources, hypotheses, references))[:samples]:
        log(f"  {src!r} -> {hyp!r}  (reference {refs[0]!r})")
    return scores


def write_decodes(path: str | Path, sources: Sequence[str], hypotheses: Sequence[str]) -> None:
    """JSON lines, one {"source", "decode"} per sentence, written atomically."""
    lines = (json.dumps({"source": s, "decode": h}, ensure_ascii=False) + "\n" for s, h in zip(sources, hypotheses))
    atomic_write_bytes(path, "".join(lines).encode("utf-8"))


def read_decodes(path: str | Path) -> dict[str, str]:
    """A `write_decodes` file: source sentence -> decode."""
    out: dict[str, str] = {}
    try:
        # split("\n"), not splitlines(): a decode may hold U+2028 and kin, which JSON leaves unescaped.
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").split("\n"), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not (isinstance(row, dict) and isinstance(row.get("source"), str)
                    and isinstance(row.get("decode"), str)):
                raise ValueError(f"line {number} is not an object with string source and decode")
            out[row["source"]] = row["decode"]
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RunError(f"{path} is not a file of decodes (JSON lines written by --decodes-out): {e}") from None
    return out


def _untrained(pairs: list[tuple[str, str]], run, info, source, log) -> list[tuple[str, str]]:
    """The pairs whose English `run` never trained on (its split rebuilt from its settings)."""
    trained = {en for en, _ in training_split(info)[0]}
    kept = [(en, fr) for en, fr in pairs if en not in trained]
    log(f"{source}: {len(kept)} of its {len(pairs)} pairs have English {run} never trained on")
    if not kept:
        raise RunError(f"every pair of {source} has English that {run} trained on: nothing to score")
    return kept


def _read_tsv(path: str | Path) -> list[tuple[str, str]]:
    pairs, _ = read_pairs(path, num_samples=None)
    return pairs


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
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
                   "sentences (less those it trained on) and test the differences (paired bootstrap); "
                   "or a file written by --decodes-out, on the sentences it decodes")
    p.add_argument("--decodes-out", metavar="FILE", help="write the decodes here (JSON lines: source, "
                   "decode), e.g. a run's held-out decodes to compare later runs with (--baseline FILE)")
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    evaluate(args.run, args.bundle, backend=args.backend, precision=args.precision,
             limit=args.limit, samples=args.samples, beam_size=args.beam_size,
             length_penalty=args.length_penalty, pairs=args.pairs, baseline=args.baseline,
             decodes_out=args.decodes_out)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m trainer.evaluate"))

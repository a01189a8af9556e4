"""chrF of several runs on the same held-out pairs, split by source length, with bootstrap intervals
of each margin and of how a margin changes with length. A table, not a test (pytest skips this file).

    python benchmarks/quality_by_length.py --pairs heldout.tsv --runs seed=runs/seed40 att=runs/att40 \
        [--compare att:seed] [--edges 16 24 32 40] [--resamples 1000] [--cache hyps.json]

Every distinct English sentence of --pairs (English<TAB>French; several references per sentence
count as one sentence) is translated once by each run's Keras model (greedy, as `trainer.evaluate`
does) and the sentences are grouped by English length: up to the first edge, then between edges,
and the whole range past the first edge. For each comparison A:B (default: every run against the
first), each group gets A's chrF minus B's with a 95% interval and the share of resamples at or
below 0 (paired: both runs' outputs for the same resampled sentences), and the change of the margin
from the first group, resampled the same way. `--cache` keeps the translations between calls.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    from benchmarks.tables import print_table
    from runtime.cli import positive_int

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", required=True, type=Path, help="held-out pairs: English<TAB>French")
    p.add_argument("--runs", required=True, nargs="+", metavar="NAME=RUN", help="runs to compare, named")
    p.add_argument("--compare", nargs="*", metavar="A:B",
                   help="margins to report (default: each run against the first)")
    p.add_argument("--edges", nargs="+", type=positive_int, default=[16, 24, 32, 40],
                   help="English length groups: up to the first edge, then between edges")
    p.add_argument("--resamples", type=positive_int, default=1000)
    p.add_argument("--cache", type=Path, help="JSON file that keeps each run's translations")
    args = p.parse_args(argv)

    import numpy as np
    from sacrebleu.metrics import CHRF

    from trainer.evaluate import _read_tsv
    from trainer.metrics import _streams, group_references
    from trainer.reference import keras_translator

    runs = dict(item.split("=", 1) for item in args.runs)
    names = list(runs)
    compare = [tuple(c.split(":", 1)) for c in args.compare] if args.compare else [(n, names[0]) for n in names[1:]]
    sources, references = group_references(_read_tsv(args.pairs))
    cache = json.loads(args.cache.read_text()) if args.cache and args.cache.exists() else {}
    for name, run in runs.items():
        key = f"{Path(run).resolve()}|{args.pairs.resolve()}"
        if key not in cache:
            print(f"translating {len(sources)} sentences with {run} ...", flush=True)
            cache[key] = keras_translator(run, max_batch_size=256, on_unknown="skip",
                                          on_overflow="truncate").translate(sources)
            if args.cache:
                args.cache.write_text(json.dumps(cache))
    chrf = CHRF()
    # chrF's sufficient statistics per sentence: a corpus score is a function of their sum
    stats = {name: np.array(chrf._extract_corpus_statistics(cache[f"{Path(run).resolve()}|{args.pairs.resolve()}"],
                                                            _streams(references)))
             for name, run in runs.items()}

    def score(rows) -> float:
        return chrf._compute_score_from_stats(list(rows.sum(axis=0))).score

    lengths = np.array([len(s) for s in sources])
    edges = sorted(args.edges)
    groups = [(f"<= {edges[0]}", 0, edges[0])]
    groups += [(f"{lo + 1}-{hi}", lo + 1, hi) for lo, hi in zip(edges, edges[1:])]
    if len(edges) > 2:
        groups.append((f"{edges[0] + 1}-{edges[-1]}", edges[0] + 1, edges[-1]))
    rng = np.random.default_rng(0)
    table, margins = [], {}
    for label, lo, hi in groups:
        rows = np.flatnonzero((lengths >= lo) & (lengths <= hi))
        if len(rows) == 0:
            continue
        draws = rows[rng.integers(0, len(rows), size=(args.resamples, len(rows)))]
        table.append((label, len(rows), *(f"{score(stats[n][rows]):.1f}" for n in names)))
        for a, b in compare:
            observed = score(stats[a][rows]) - score(stats[b][rows])
            resampled = np.array([score(stats[a][d]) - score(stats[b][d]) for d in draws])
            margins[(a, b, label)] = (observed, resampled)

    print()
    print_table(("English characters", "sentences", *names), table)
    first = table[0][0]
    for a, b in compare:
        rows = []
        for label, *_ in table:
            observed, resampled = margins[(a, b, label)]
            lo, hi = np.percentile(resampled, [2.5, 97.5])
            change = ""
            if label != first:  # resampled independently of the first group: their difference
                diff = resampled - margins[(a, b, first)][1]
                d_lo, d_hi = np.percentile(diff, [2.5, 97.5])
                change = f"{observed - margins[(a, b, first)][0]:+.1f} [{d_lo:+.1f}, {d_hi:+.1f}]"
            rows.append((label, f"{observed:+.1f} [{lo:+.1f}, {hi:+.1f}]", f"{np.mean(resampled <= 0):.3f}", change))
        print_table((f"{a} over {b}", "chrF margin [95%]", "resamples <= 0", f"margin minus {first}'s [95%]"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

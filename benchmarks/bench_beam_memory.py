"""Beam search on an attention bundle: the memory left in place while beams reorder within their
sentences, against moving it at every step. A table, not a test (pytest skips this file).

    python benchmarks/bench_beam_memory.py --bundle BUNDLE --run RUN [--precision float32] [--beam-size 4]

The same backend decodes the same held-out sentences both ways: as it is (the loop knows, from the
backend's `family`, which tensors are per-sentence context), and seen without its family (the loop
then re-indexes every tensor at every step, the memory included). One runtime thread; each round
times both rows in turn; medians of --repeats rounds; the decodes must be identical.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class WithoutFamily:
    """A backend as the loop sees it when it cannot tell the context from the state."""

    def __init__(self, model) -> None:
        self.encode, self.step = model.encode, model.step


def main(argv=None) -> int:
    from runtime import Translator
    from runtime.cli import positive_int
    from trainer.run import read_heldout

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--run", required=True, type=Path, help="the run the bundle came from: its held-out sentences")
    p.add_argument("--precision", default="float32")
    p.add_argument("--beam-size", type=positive_int, default=4)
    p.add_argument("--batch", type=positive_int, default=32, help="sentences a batch")
    p.add_argument("--sentences", type=positive_int, default=64)
    p.add_argument("--repeats", type=positive_int, default=5)
    args = p.parse_args(argv)

    sentences = list(dict.fromkeys(en for en, _ in read_heldout(args.run)))[: args.sentences]
    translator = Translator(args.bundle, precision=args.precision, threads=1, max_batch_size=args.batch)
    if not translator.model.family.context:
        raise SystemExit(f"{args.bundle} holds a model without per-sentence context (the seed family)")
    models = {"memory left in place": translator.model, "memory moved every step": WithoutFamily(translator.model)}
    times: dict[str, list[float]] = {name: [] for name in models}
    outputs = {}
    for _ in range(args.repeats):
        for name, model in models.items():
            translator.model = model
            started = time.perf_counter()
            outputs[name] = translator.translate(sentences, beam_size=args.beam_size)
            times[name].append(time.perf_counter() - started)
    if len({tuple(v) for v in outputs.values()}) != 1:
        raise SystemExit("the two rows decoded differently")
    base = statistics.median(times["memory moved every step"])
    print(f"{args.precision}, beam {args.beam_size}, batch {args.batch}, {len(sentences)} sentences, "
          f"median of {args.repeats}")
    print(f"{'row':26s} {'ms a sentence':>14s} {'speed-up':>9s}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:26s} {1000 * median / len(sentences):14.2f} {base / median:8.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

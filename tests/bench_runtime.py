"""Runtime speed on a bundle: a table, not a test (pytest does not collect this file).

    python tests/bench_runtime.py --bundle bundles/fra --run runs/fra [--repeats 5]

For every artifact in the bundle: per-sentence latency at batch 1 (p50, p95 over the held-out
sentences), throughput at batch 32 and 256 (sentences/s), and cold start (a fresh interpreter
importing the runtime and loading the bundle). With --run, the Keras reference decoder
(tf.function steps) is measured the same way. Each figure is the median of --repeats runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sentences_of(run: Path | None, bundle: Path, limit: int) -> list[str]:
    from runtime import Translator

    src = run / "heldout.tsv" if run else None
    if src is None or not src.is_file():
        raise SystemExit("--run DIR with a heldout.tsv is needed for real sentences")
    t = Translator(bundle)
    out = []
    for line in src.read_text(encoding="utf-8").splitlines():
        en = line.split("\t")[0]
        if len(en) <= t.max_input_length and not t.manifest.source_vocab.unknown(en):
            out.append(en)
    return list(dict.fromkeys(out))[:limit]


def latency(translator, texts: list[str]) -> tuple[float, float]:
    times = []
    for text in texts:
        start = time.perf_counter()
        translator.translate(text)
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def throughput(translator, texts: list[str], batch: int) -> float:
    n = max(batch, len(texts))
    work = (texts * (n // len(texts) + 1))[:n]
    translator.max_batch_size = batch
    start = time.perf_counter()
    translator.translate(work)
    return n / (time.perf_counter() - start)


def cold_start(bundle: Path, backend: str, precision: str) -> float:
    code = (
        "import time; s = time.perf_counter(); from runtime import Translator; "
        f"Translator({str(bundle)!r}, backend={backend!r}, precision={precision!r}); "
        "print(time.perf_counter() - s)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def median_of(repeats: int, fn):
    values = [fn() for _ in range(repeats)]
    if isinstance(values[0], tuple):
        return tuple(statistics.median(v[i] for v in values) for i in range(len(values[0])))
    return statistics.median(values)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--run", type=Path, help="the run the bundle came from (sentences, Keras row)")
    p.add_argument("--sentences", type=int, default=100)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--no-keras", action="store_true")
    args = p.parse_args()

    from runtime import Translator, read_manifest

    texts = sentences_of(args.run, args.bundle, args.sentences)
    rows = []
    models = sorted({(a.backend, a.precision) for a in read_manifest(args.bundle).artifacts})
    candidates = [(f"{b}/{q}", lambda b=b, q=q: Translator(args.bundle, backend=b, precision=q), (b, q))
                  for b, q in models]
    if args.run and not args.no_keras:
        from trainer.decode import keras_translator

        candidates.insert(0, ("keras tf.function", lambda: keras_translator(args.run), None))
    for name, make, which in candidates:
        print(f"measuring {name} ...", file=sys.stderr)
        t = make()
        t.translate(texts[:4])  # warm up
        p50, p95 = median_of(args.repeats, lambda: latency(t, texts))
        b32 = median_of(args.repeats, lambda: throughput(t, texts, 32))
        b256 = median_of(args.repeats, lambda: throughput(t, texts, 256))
        cold = median_of(args.repeats, lambda: cold_start(args.bundle, *which)) if which else float("nan")
        rows.append((name, p50, p95, 1 / p50, b32, b256, cold))

    base = rows[0][1]
    print(f"{len(texts)} held-out sentences, medians of {args.repeats} runs")
    print(f"{'model':<18} {'p50 ms':>8} {'p95 ms':>8} {'x first':>8} {'b1 sent/s':>10} "
          f"{'b32 sent/s':>11} {'b256 sent/s':>12} {'cold s':>7}")
    for name, p50, p95, b1, b32, b256, cold in rows:
        print(f"{name:<18} {p50 * 1e3:>8.2f} {p95 * 1e3:>8.2f} {base / p50:>8.1f} {b1:>10.0f} "
              f"{b32:>11.0f} {b256:>12.0f} {cold:>7.2f}")


if __name__ == "__main__":
    main()

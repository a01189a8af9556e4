"""The C library's CLI beside the Python runtime's TFLite backend, and the numpy floor, on one bundle.

    python benchmarks/bench_native.py --bundle bundles/fra --run runs/fra [--precision dynamic] [--sentences 100] [--repeats 3]

Each row runs a command line in fresh processes, its input the run's held-out English sentences on
stdin: `native/build/s2s-translate` (bash scripts/build-native) and `python -m runtime --backend
tflite`, both on LiteRT's default kernels, one thread. "cold start" is the wall time of a process
that translates one sentence (start, load, translate, exit); "ms a sentence, batch 1" is the extra
wall time of --sentences sentences in batches of 1 over that, per sentence; "sentences/s, batch 256"
the same for 4x as many sentences in batches of 256; "peak RSS" the largest resident set of those
processes (/usr/bin/time). Medians of --repeats runs, the rows interleaved in each round; the ratio
is Python's over C's (above 1: C is faster or smaller). The floor is bench_runtime.py's: one decoder
step's matrix products timed with numpy, times the steps of an average sentence.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_runtime import floor, sentences_of  # noqa: E402
from benchmarks.tables import print_table  # noqa: E402

C_CLI = ROOT / "native" / "build" / "s2s-translate"


def timed(command: list[str], lines: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of `command` reading `lines` on stdin."""
    with tempfile.NamedTemporaryFile("r") as rss:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command],
                              input="".join(line + "\n" for line in lines), capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[:3])} ... failed: {done.stderr.strip()[-400:]}")
        return wall, int(rss.read().strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--run", required=True, type=Path, help="the run the bundle came from (its held-out sentences)")
    p.add_argument("--precision", default="dynamic")
    p.add_argument("--sentences", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    if not C_CLI.is_file():
        raise SystemExit(f"{C_CLI} is missing: run bash scripts/build-native")
    sentences = sentences_of(args.run, args.bundle, args.sentences)
    many = (sentences * (4 * len(sentences) // len(sentences) + 4))[: 4 * len(sentences)]
    common = ["--bundle", str(args.bundle), "--precision", args.precision, "--threads", "1"]
    rows = {"C (s2s-translate)": [str(C_CLI), *common],
            "Python (runtime, tflite)": [sys.executable, "-m", "runtime", "--backend", "tflite", *common]}
    results = {name: {"cold": [], "b1": [], "b256": [], "rss": []} for name in rows}
    for _ in range(args.repeats):
        for name, command in rows.items():
            cold, rss1 = timed(command, sentences[:1])
            one, rss2 = timed([*command, "--batch-size", "1"], sentences)
            big, rss3 = timed([*command, "--batch-size", "256"], many)
            r = results[name]
            r["cold"].append(cold)
            r["b1"].append((one - cold) / max(len(sentences) - 1, 1))
            r["b256"].append((len(many) - 1) / max(big - cold, 1e-9))
            r["rss"].append(max(rss1, rss2, rss3))
    median = {name: {k: statistics.median(v) for k, v in r.items()} for name, r in results.items()}

    from runtime import Translator

    outputs = Translator(args.bundle, backend="tflite", precision=args.precision).translate(sentences)
    steps = statistics.mean(len(o) + 1 for o in outputs)
    fl = floor(args.bundle, steps, args.repeats)
    c, py = median["C (s2s-translate)"], median["Python (runtime, tflite)"]
    print(f"{args.bundle} tflite/{args.precision}: {len(sentences)} sentences ({steps:.1f} steps each), "
          f"{len(many)} at batch 256; medians of {args.repeats}")
    table = [(name, f"{1000 * m['b1']:.3f}", f"{m['b256']:.0f}", f"{m['rss'] / 1024:.0f}", f"{1000 * m['cold']:.0f}")
             for name, m in median.items()]
    table.append(("floor (numpy matmuls)", f"{1000 * fl['p50']:.3f}", f"{fl['b256']:.0f}", "", ""))
    table.append(("Python / C", f"{py['b1'] / c['b1']:.2f}x", f"{c['b256'] / py['b256']:.2f}x",
                  f"{py['rss'] / c['rss']:.2f}x", f"{py['cold'] / c['cold']:.2f}x"))
    print_table(("row", "ms a sentence, batch 1", "sentences/s, batch 256", "peak RSS MiB", "cold start ms"), table)
    sizes = {path.name: path.stat().st_size for path in (C_CLI, C_CLI.parent / "libs2s_edge.so")}
    print("sizes: " + ", ".join(f"{name} {size / 1024:.0f} KiB" for name, size in sizes.items())
          + " (and LiteRT's libLiteRt.so, which both rows load)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Soak test of the runtime (a script, not a unit test): translate many sentences, watch memory.

    python benchmarks/soak_runtime.py --bundle bundles/demo --run runs/demo [--sentences 100000]

Translates held-out sentences in batches (and some one by one) until --sentences have been done,
and reports resident memory (RSS) and open file descriptors at the start (after warm-up), every
10%, and at the end. A leak shows as RSS or descriptors that grow with the count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True)
    p.add_argument("--run", required=True, help="run directory (its heldout.tsv supplies sentences)")
    p.add_argument("--backend", default="onnx")
    p.add_argument("--precision", default="float32")
    p.add_argument("--sentences", type=int, default=100_000)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()

    from runtime import Translator

    t = Translator(args.bundle, backend=args.backend, precision=args.precision,
                   max_batch_size=args.batch_size, on_unknown="skip", on_overflow="truncate")
    lines = Path(args.run, "heldout.tsv").read_text(encoding="utf-8").splitlines()
    texts = [line.split("\t")[0] for line in lines]
    t.translate(texts[: args.batch_size])  # warm-up: allocator pools, sessions
    start_rss, start_fds, started = rss_mib(), open_fds(), time.perf_counter()
    print(f"{'sentences':>10} {'RSS MiB':>9} {'fds':>5} {'s':>7}")
    print(f"{0:>10} {start_rss:>9.1f} {start_fds:>5} {0:>7.1f}")
    done, step, i = 0, args.sentences // 10, 0
    next_report = step
    while done < args.sentences:
        batch = [texts[(i + k) % len(texts)] for k in range(args.batch_size)]
        i += args.batch_size
        t.translate(batch)
        t.translate(batch[0])  # single calls too
        done += len(batch) + 1
        if done >= next_report:
            print(f"{done:>10} {rss_mib():>9.1f} {open_fds():>5} {time.perf_counter() - started:>7.1f}")
            next_report += step
    end_rss, end_fds = rss_mib(), open_fds()
    print(f"RSS {start_rss:.1f} -> {end_rss:.1f} MiB ({end_rss - start_rss:+.1f}); "
          f"file descriptors {start_fds} -> {end_fds}; {done} sentences in "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

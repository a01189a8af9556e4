"""What golden translations cost a runtime: loading a bundle with and without its golden file, and the
self-check of each artifact.

    python benchmarks/bench_self_check.py --bundle bundles/fra [--repeats 7]

For each (backend, precision, kernel set) the bundle's golden file covers, in this process: "load" is
`Translator(...)` on the bundle as exported (its golden file read, hashed and checked), "load bare" on a
copy without golden translations (what an export with `--golden 0` writes), "self-check" is
`self_check()` on the loaded Translator (the golden sentences decoded, one `translate` call, and
compared). Medians of --repeats, the rows interleaved in each round; the golden file's size and the
verdict of the last self-check beside them.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.tables import print_table  # noqa: E402
from runtime import Translator  # noqa: E402
from runtime.bundle import read_manifest  # noqa: E402
from runtime.golden import read_golden  # noqa: E402
from tests.conftest import strip_golden  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bundle", required=True, type=Path, help="a bundle with golden translations")
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    manifest = read_manifest(args.bundle)
    golden = read_golden(args.bundle, manifest)
    if golden is None:
        p.error(f"{args.bundle} has no golden translations: export it with --golden N")
    rows = [(a.backend, a.precision, d.kernels) for a in golden.artifacts for d in a.decodes]
    times: dict[tuple, dict[str, list[float]]] = {row: {"load": [], "bare": [], "check": []} for row in rows}
    verdicts = {}
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare"
        shutil.copytree(args.bundle, bare)
        strip_golden(bare)
        for _ in range(args.repeats):
            for row in rows:
                backend, precision, kernels = row
                for name, path in (("bare", bare), ("load", args.bundle)):
                    started = time.perf_counter()
                    translator = Translator(path, backend=backend, precision=precision, kernels=kernels)
                    times[row][name].append(time.perf_counter() - started)
                started = time.perf_counter()
                check = translator.self_check()
                times[row]["check"].append(time.perf_counter() - started)
                verdicts[row] = f"{check.identical}/{check.total}"
    ms = lambda values: f"{1000 * statistics.median(values):.1f}"  # noqa: E731
    print(f"{args.bundle}: golden.json {manifest.golden.size} bytes, {len(golden.artifacts)} artifacts; "
          f"medians of {args.repeats}")
    print_table(
        ("artifact", "kernels", "load ms", "load bare ms", "load / bare", "self-check ms", "identical"),
        [(f"{b}/{p}", k, ms(t["load"]), ms(t["bare"]),
          f"{statistics.median(t['load']) / statistics.median(t['bare']):.2f}", ms(t["check"]), verdicts[(b, p, k)])
         for (b, p, k), t in times.items()],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

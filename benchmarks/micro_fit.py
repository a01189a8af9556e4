"""Do a run's TFLite files fit TFLite Micro? A table, not a test (pytest skips this file).

    python benchmarks/micro_fit.py --run RUN [--precisions none int8 float16 dynamic int16x8] [--sentences 200]
                                   [--integer-io]

Microcontrollers run TFLite Micro (TFLM): its own kernels, its own operator set, static shapes only,
every tensor in one arena of fixed size. For each precision the run's encoder and decoder step are
converted by the exporter's own converter with the batch fixed at 1 (`make_converter(batch=1)`: every
shape static), then:
- each file: its size, its operators, whether every shape is static, whether TFLM loads it (or the
  first line of its refusal) and the smallest arena it runs in;
- where TFLM loads both files: greedy decodes of `--sentences` held-out sentences by TFLM and by LiteRT
  (its default XNNPACK kernels and its built-in ones), each against Keras and against each other, and
  the time a sentence on this CPU (TFLM's reference kernels are not tuned for x86: the time says
  nothing of a microcontroller's).
`--integer-io` converts int8 and int16x8 with integer inputs and outputs (`export.to_tflite
--integer-io`), as a microcontroller without a float unit runs them.

TFLM comes from `pip install tflite-micro` (the [dev] extra installs it on x86-64 Linux).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.tables import print_table  # noqa: E402
from export.cli import precisions_of  # noqa: E402
from export.tflite_converter import PRECISIONS  # noqa: E402


def main(argv=None) -> int:
    from runtime.cli import positive_int

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, type=Path, help="run directory written by trainer.fit")
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["none", "int8"])
    p.add_argument("--sentences", type=positive_int, default=200, help="held-out sentences to decode")
    p.add_argument("--integer-io", action="store_true",
                   help="int8/int16x8 files with integer inputs and outputs (export.to_tflite --integer-io)")
    args = p.parse_args(argv)
    if args.integer_io and not {"int8", "int16x8"} & set(args.precisions):
        p.error("--integer-io is for full-integer files: add int8 or int16x8 to --precisions")

    from export.micro import ENGINES, EngineStepModel, greedy_texts, micro_fit, static_shapes
    from export.source import run_source, usable_pairs
    from export.tflite_converter import make_converter, operator_names
    from runtime.bundle import FAMILIES
    from trainer.model import open_run
    from trainer.reference import keras_translator
    from trainer.run import read_heldout

    trained = open_run(args.run)
    spec = trained.spec
    source = run_source(trained.path, spec)
    sentences = list(dict.fromkeys(en for en, _ in usable_pairs(read_heldout(trained.path), spec)))
    sentences = sentences[: args.sentences]
    print(f"translating {len(sentences)} held-out sentences with Keras ...", flush=True)
    expected = keras_translator(args.run).translate(sentences)
    convert = make_converter(batch=1, integer_io=args.integer_io)

    files, decodes = [], []
    for name in precisions_of(args.precisions, PRECISIONS):
        print(f"converting to tflite/{name} at batch 1 ...", flush=True)
        graphs = convert(source, name)
        refusals = {}
        for role, data in graphs.items():
            refusals[role], arena = micro_fit(data)
            files.append((name, role, f"{len(data) / 1024:.0f}", ",".join(sorted(operator_names(data))),
                          "yes" if static_shapes(data) else "no", refusals[role] or "yes",
                          "" if arena is None else f"{arena / 1024:.0f}"))
        if any(refusals.values()):
            continue
        results = {}
        for engine in ENGINES:
            model = EngineStepModel(graphs["encoder"], graphs["decoder_step"], FAMILIES[spec.family], engine)
            started = time.perf_counter()
            results[engine] = greedy_texts(model, spec, sentences)
            ms = 1000 * (time.perf_counter() - started) / len(sentences)
            same = sum(a == b for a, b in zip(results[engine], expected))
            decodes.append((name, engine, f"{same}/{len(sentences)} ({100 * same / len(sentences):.1f}%)", f"{ms:.2f}"))
        for i, a in enumerate(ENGINES):
            for b in ENGINES[i + 1:]:
                same = sum(x == y for x, y in zip(results[a], results[b]))
                decodes.append((name, f"{a} vs {b}", f"{same}/{len(sentences)}", ""))

    print()
    print_table(("precision", "role", "KiB", "operators", "static", "TFLite Micro loads", "arena KiB"), files)
    print_table(("precision", "engine", "greedy decodes identical to Keras", "ms a sentence"), decodes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Do a run's TFLite files fit TFLite Micro? A table, not a test (pytest skips this file).

    python benchmarks/micro_fit.py --run RUN [--precisions none int8 float16 dynamic int16x8] [--sentences 200]

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

TFLM comes from `pip install tflite-micro` (the [dev] extra installs it).
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

PRECISIONS = ("none", "int8", "float16", "dynamic", "int16x8")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, type=Path, help="run directory written by trainer.fit")
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["none", "int8"])
    p.add_argument("--sentences", type=int, default=200, help="held-out sentences to decode")
    args = p.parse_args(argv)

    import numpy as np

    from export.micro import ENGINES, Graph, greedy, micro_fit, static_shapes
    from export.source import Source, usable_pairs
    from export.tflite_converter import make_converter, operator_names
    from runtime.bundle import FAMILIES
    from runtime.vocab import END, START
    from trainer.model import open_run
    from trainer.reference import keras_translator
    from trainer.run import TRAIN_SAMPLE_TSV, read_heldout

    trained = open_run(args.run)
    spec = trained.spec
    family = FAMILIES[spec.family]
    source = Source(str(args.run), spec, usable_pairs(read_heldout(trained.path, TRAIN_SAMPLE_TSV), spec))
    sentences = list(dict.fromkeys(en for en, _ in usable_pairs(read_heldout(trained.path), spec)))
    sentences = sentences[: args.sentences]
    print(f"translating {len(sentences)} held-out sentences with Keras ...", flush=True)
    expected = keras_translator(args.run).translate(sentences)
    ids = spec.source_vocab.encode(sentences, spec.max_source_length)
    start, end = spec.target_vocab.id(START), spec.target_vocab.id(END)
    convert = make_converter(batch=1)

    files, decodes = [], []
    for precision in args.precisions:
        name = "float32" if precision == "none" else precision
        print(f"converting to tflite/{name} at batch 1 ...", flush=True)
        graphs = convert(source, name)
        refusals = {}
        for role, data in graphs.items():
            refusals[role], arena = micro_fit(data)
            arena = "" if arena is None else f"{arena / 1024:.0f}"
            files.append((name, role, f"{len(data) / 1024:.0f}", ",".join(sorted(operator_names(data))),
                          "yes" if static_shapes(data) else "no", refusals[role] or "yes", arena))
        if any(refusals.values()):
            continue
        results = {}
        for engine in ENGINES:
            encoder, step = Graph(graphs["encoder"], engine), Graph(graphs["decoder_step"], engine)
            started = time.perf_counter()
            results[engine] = [spec.target_vocab.decode(greedy(encoder, step, row, family, start, end,
                                                               spec.max_target_length)) for row in ids]
            ms = 1000 * (time.perf_counter() - started) / len(ids)
            same = sum(a == b for a, b in zip(results[engine], expected))
            decodes.append((name, engine, f"{same}/{len(ids)} ({100 * same / len(ids):.1f}%)", f"{ms:.2f}"))
        engines = list(results)
        for i, a in enumerate(engines):
            for b in engines[i + 1:]:
                same = sum(x == y for x, y in zip(results[a], results[b]))
                decodes.append((name, f"{a} vs {b}", f"{same}/{len(ids)}", ""))

    def table(header, rows):
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
        print()

    print()
    table(("precision", "role", "KiB", "operators", "static", "TFLM loads", "TFLM arena KiB"), files)
    table(("precision", "engine", "greedy decodes identical to Keras", "ms a sentence"), decodes)
    return 0


if __name__ == "__main__":
    sys.exit(main())

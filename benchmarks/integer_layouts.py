"""Which activations of a full-integer model can be 8-bit? A table, not a test (pytest skips this file).

    python benchmarks/integer_layouts.py --run RUN [--sentences 500] [--timed 100] [--repeats 3]

Full int8 agrees with Keras on far fewer greedy decodes than int16x8 (docs/devices.md). This measures,
on LiteRT's own kernels, what rounding one tensor of the step decoder to 8 bits costs: the run's
encoder and step decoder are converted by the exporter's converter to int8 and to int16x8 as the
export converts them (float inputs and outputs), and then int16x8 step files are made in which
chosen tensors pass through int8 at the scale and zero point that the int8 file gives them: a
QUANTIZE to int8 and one back to int16, inserted into the file
(`export.tflite_converter.through_int8`). Every other tensor, the encoder's included, keeps its 16
bits, so a row estimates what those tensors cost in 8 bits:
- h: the state h that the step reads and writes (the integer LSTM design keeps h in int8);
- logits: the dense layer's output (in full int8, every activation outside the LSTM is int8).
For each row: greedy decodes identical to Keras on `--sentences` held-out sentences, their chrF, the
files' size, and the time a sentence at batch 1 (median of `--repeats` over `--timed` sentences),
all through the runtime's TFLite backend (LiteRT's default kernels, one thread).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.tables import print_table  # noqa: E402
from runtime.bundle import LOGITS, NEXT_STATE_H, STATE_H  # noqa: E402

# Rows: the name, then the step's signature tensors that pass through int8 (the bundle's graph names).
LAYOUTS = (
    ("int16x8, h in int8", (STATE_H, NEXT_STATE_H)),
    ("int16x8, logits in int8", (LOGITS,)),
    ("int16x8, h and logits in int8", (STATE_H, NEXT_STATE_H, LOGITS)),
)


def main(argv=None) -> int:
    from runtime.cli import positive_int

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, type=Path, help="run directory written by trainer.fit")
    p.add_argument("--sentences", type=positive_int, default=500, help="held-out sentences to decode")
    p.add_argument("--timed", type=positive_int, default=100, help="sentences timed one at a time")
    p.add_argument("--repeats", type=positive_int, default=3)
    args = p.parse_args(argv)

    from export.source import run_source, usable_pairs
    from export.tflite_converter import integer_grids, make_converter, through_int8
    from export.validate import decode_sentences
    from runtime.backends.tflite import TFLiteStepModel
    from runtime.bundle import FAMILIES
    from runtime.translator import Translator
    from trainer.metrics import chrf
    from trainer.model import open_run
    from trainer.reference import keras_translator
    from trainer.run import read_heldout

    trained = open_run(args.run)
    spec = trained.spec
    family = FAMILIES[spec.family]
    sources, references = decode_sentences(usable_pairs(read_heldout(trained.path), spec), args.sentences)
    print(f"translating {len(sources)} held-out sentences with Keras ...", flush=True)
    expected = keras_translator(args.run).translate(sources)
    convert = make_converter()
    files = {}
    for precision in ("int8", "int16x8"):
        print(f"converting to tflite/{precision} ...", flush=True)
        files[precision] = convert(run_source(trained.path, spec), precision)
    rows = [("keras (reference)", "", "", "", f"{chrf(expected, references):.1f}", "", "")]
    layouts = [("int8", "every activation", files["int8"]), ("int16x8", "none (16 bits)", files["int16x8"])]
    for name, narrowed in LAYOUTS:  # each tensor rounded to the grid that full int8 gives it
        step = through_int8(files["int16x8"]["decoder_step"], integer_grids(files["int8"]["decoder_step"], narrowed))
        layouts.append((name, ", ".join(narrowed), {**files["int16x8"], "decoder_step": step}))
    for name, narrowed, graphs in layouts:
        print(f"decoding with {name} ...", flush=True)
        model = TFLiteStepModel(graphs["encoder"], graphs["decoder_step"], threads=1, family=family)
        translator = Translator.from_step_model(model, spec)  # as the export's check decodes
        got = translator.translate(sources)
        same = sum(a == b for a, b in zip(got, expected))
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            for sentence in sources[: args.timed]:
                translator.translate([sentence])
            times.append(1000 * (time.perf_counter() - started) / min(args.timed, len(sources)))
        kib = sum(len(data) for data in graphs.values()) / 1024
        rows.append((name, narrowed, f"{same}/{len(sources)}", f"{100 * same / len(sources):.1f}%",
                     f"{chrf(got, references):.1f}", f"{kib:.0f}", f"{statistics.median(times):.2f}"))
    print()
    print_table(("layout", "8-bit tensors of the step", "identical to Keras", "", "chrF", "KiB",
                 "ms a sentence, batch 1"), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

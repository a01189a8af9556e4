"""One decoder step of each model family, side by side: a table, not a test (pytest skips this file).

    python benchmarks/bench_step.py [--latent 64 256] [--source-length 40] [--repeats 5]

For each latent size, a seed model and an attention model with the same vocabularies and lengths
(random weights: a step costs the same whatever the weights) are converted by the exporters' own
converters to ONNX float32 and TFLite dynamic-range; one decoder step is then timed at batch 1 and
batch 32 through the runtime's backends (onnxruntime, LiteRT; one thread), on the state that the
encoder returns for real-length sentences. Every figure is the median of --repeats rounds of many
steps; each round times every row in turn, so a slower spell of the machine falls on all rows
alike. "attention/seed" compares the two families' step at the same latent size.
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


def random_spec(family: str, latent: int, source_length: int, target_length: int, seed: int = 0):
    """A description of `family` with random weights and the seed-settings data's alphabets (87 / 113
    characters)."""
    import numpy as np

    from runtime.vocab import END, START, Vocabulary
    from trainer.spec import AttentionSpec, DenseSpec, LSTMSpec, Seq2SeqSpec

    rng = np.random.default_rng(seed)
    source = Vocabulary(tuple(" " + "".join(chr(c) for c in range(0x21, 0x21 + 86))))
    target = Vocabulary(tuple(START + END + " " + "".join(chr(c) for c in range(0x21, 0x21 + 110))))

    def w(*shape):
        return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)

    def lstm(inputs):
        return LSTMSpec(w(inputs, 4 * latent), w(latent, 4 * latent), np.zeros(4 * latent, np.float32))

    attention = (AttentionSpec(w(latent, latent), w(2 * latent, latent), np.zeros(latent, np.float32))
                 if family == "attention" else None)
    return Seq2SeqSpec(source, target, source_length, target_length, lstm(len(source)), lstm(len(target)),
                       DenseSpec(w(latent, len(target)), np.zeros(len(target), np.float32)), attention)


def step_models(spec):
    """{"onnx/float32": StepModel, "tflite/dynamic": StepModel} of `spec`."""
    from export.graphs import EdgeGraphs
    from export.onnx_converter import convert_float32
    from export.tflite_converter import convert, dequantize_state_path, hybrid_state_products
    from runtime.backends import load_backend
    from runtime.bundle import FAMILIES

    family = FAMILIES[spec.family]
    onnx = convert_float32(spec)
    graphs = EdgeGraphs(spec, unrolled=True, gather_one_hot=True)
    step = dequantize_state_path(convert(graphs, graphs.step, "dynamic"), hybrid_state_products(spec))
    return {
        "onnx/float32": load_backend("onnx", onnx["encoder"], onnx["decoder_step"], threads=1, family=family),
        "tflite/dynamic": load_backend("tflite", convert(graphs, graphs.encode, "dynamic"), step, threads=1,
                                       family=family),
    }


def stepper(model, spec, batch: int):
    """A function that takes one decoder step of `batch` rows and returns its duration."""
    import numpy as np

    # A sentence of 27 characters (the memory keeps all max_source_length positions either way).
    texts = ["".join(spec.source_vocab.chars[1:28])[: spec.max_source_length]] * batch
    state = model.encode(spec.source_vocab.encode(texts, spec.max_source_length))
    tokens = np.full(batch, spec.target_vocab.id("a"), np.int32)  # the character is irrelevant to the cost
    model.step(tokens, state)  # warm up
    n = 400 if batch == 1 else 100

    def run() -> float:
        started = time.perf_counter()
        for _ in range(n):
            model.step(tokens, state)
        return (time.perf_counter() - started) / n

    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latent", type=int, nargs="+", default=[64, 256])
    p.add_argument("--source-length", type=int, default=40, help="max_source_length: the memory's length")
    p.add_argument("--target-length", type=int, default=86)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    steppers = {}
    for latent in args.latent:
        for family in ("seed", "attention"):
            spec = random_spec(family, latent, args.source_length, args.target_length)
            print(f"converting latent {latent} {family} ...", file=sys.stderr, flush=True)
            for name, model in step_models(spec).items():
                for batch in (1, 32):
                    steppers[latent, family, name, batch] = stepper(model, spec, batch)
    runs = {key: [] for key in steppers}
    for r in range(args.repeats):
        print(f"round {r + 1} of {args.repeats} ...", file=sys.stderr, flush=True)
        for key, run in steppers.items():
            runs[key].append(run())
    times = {key: statistics.median(values) for key, values in runs.items()}
    rows = []
    for latent in args.latent:
        for name in ("onnx/float32", "tflite/dynamic"):
            for batch in (1, 32):
                seed, attention = times[latent, "seed", name, batch], times[latent, "attention", name, batch]
                rows.append((latent, name, batch, seed, attention, attention / seed))
    print(f"\none decoder step, memory of {args.source_length} source positions; medians of {args.repeats} runs, "
          "1 thread")
    print(f"{'latent':>6}  {'artifact':<15} {'batch':>5} {'seed us':>9} {'attention us':>13} {'attention/seed':>15}")
    for latent, name, batch, seed, attention, ratio in rows:
        print(f"{latent:>6}  {name:<15} {batch:>5} {seed * 1e6:>9.1f} {attention * 1e6:>13.1f} {ratio:>15.2f}")


if __name__ == "__main__":
    main()

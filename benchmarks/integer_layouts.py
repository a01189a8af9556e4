"""Which activations of a full-integer model can be 8-bit? A table, not a test (pytest skips this file).

    python benchmarks/integer_layouts.py --run RUN [--sentences 500] [--timed 100] [--repeats 3]

Full int8 agrees with Keras on far fewer greedy decodes than int16x8 (docs/devices.md). This measures,
on LiteRT's own kernels, what each 8-bit tensor of the step decoder costs: the run's encoder and step
decoder are converted by the exporter's converter to int8 and to int16x8 as the export converts
them (float inputs and outputs), and then int16x8 files are made in which chosen tensors of the step
pass through int8: a QUANTIZE to int8 over the int16 tensor's range, and one back to int16, inserted
into the file (`through_int8`). Every other tensor keeps its 16 bits,
so a row is an upper bound for any layout that holds those tensors in 8 bits:
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

# Rows: the name, then the step's signature tensors that pass through int8 (the bundle's graph names).
LAYOUTS = (
    ("int16x8, h in int8", ("state_h", "next_state_h")),
    ("int16x8, logits in int8", ("logits",)),
    ("int16x8, h and logits in int8", ("state_h", "next_state_h", "logits")),
)


def through_int8(model: bytes, names) -> bytes:
    """`model` (an int16x8 file) with each named signature tensor rounded to int8 on its way (with
    float inputs and outputs: the int16 tensor that its QUANTIZE makes or its DEQUANTIZE reads): a
    QUANTIZE to an int8 tensor with the int16 tensor's range (symmetric, 127 steps a side) and a
    QUANTIZE back. An input is rounded before any op reads it; an output as soon as it is made, so
    the ops inside the graph that read it (h feeds the dense layer) read the rounded value too."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    from export.tflite_converter import _builtin, _opcode

    types = schema.TensorType
    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    graph, signature = m.subgraphs[0], m.signatureDefs[0]
    index = {t.name.decode(): t.tensorIndex for t in [*signature.inputs, *signature.outputs]}
    outputs = {t.name.decode() for t in signature.outputs}

    def like(tensor, kind, scale, suffix: bytes) -> int:
        new = schema.TensorT()
        new.shape, new.shapeSignature, new.type, new.buffer = tensor.shape, tensor.shapeSignature, kind, 0
        new.name = tensor.name + suffix
        new.quantization = schema.QuantizationParametersT()
        new.quantization.scale, new.quantization.zeroPoint = [scale], [0]
        graph.tensors.append(new)
        return len(graph.tensors) - 1

    def quantize(source: int, target: int):
        op = schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = _opcode(m, schema.BuiltinOperator.QUANTIZE), [source], [target]
        return op

    for name in names:
        i = index[name]
        if graph.tensors[i].type == types.FLOAT32:  # float I/O: the int16 tensor behind its (DE)QUANTIZE
            edge = schema.BuiltinOperator.DEQUANTIZE if name in outputs else schema.BuiltinOperator.QUANTIZE
            op = next(op for op in graph.operators if _builtin(m.operatorCodes[op.opcodeIndex]) == edge
                      and i in (op.outputs if name in outputs else op.inputs))
            i = op.inputs[0] if name in outputs else op.outputs[0]
        tensor = graph.tensors[i]
        if tensor.type != types.INT16 or list(tensor.quantization.zeroPoint) != [0]:
            raise ValueError(f"{name} is not a symmetric int16 tensor: give an int16x8 file")
        scale = float(tensor.quantization.scale[0])
        narrow = like(tensor, types.INT8, scale * 32767 / 127, b"/int8")
        made_by = next((k for k, op in enumerate(graph.operators) if i in op.outputs), None)
        if made_by is not None:  # its op writes a new tensor; the rounded value takes the old one's place
            made = like(tensor, types.INT16, scale, b"/int16")
            graph.operators[made_by].outputs = [made if k == i else k for k in graph.operators[made_by].outputs]
            graph.operators[made_by + 1 : made_by + 1] = [quantize(made, narrow), quantize(narrow, i)]
        else:  # an integer input of the file: every op reads its rounded copy
            back = like(tensor, types.INT16, scale, b"/int16")
            for op in graph.operators:
                op.inputs = [back if k == i else k for k in op.inputs]
            graph.operators[0:0] = [quantize(i, narrow), quantize(narrow, back)]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def main(argv=None) -> int:
    from runtime.cli import positive_int

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, type=Path, help="run directory written by trainer.fit")
    p.add_argument("--sentences", type=positive_int, default=500, help="held-out sentences to decode")
    p.add_argument("--timed", type=positive_int, default=100, help="sentences timed one at a time")
    p.add_argument("--repeats", type=positive_int, default=3)
    args = p.parse_args(argv)

    from export.source import run_source, usable_pairs
    from export.tflite_converter import make_converter
    from runtime.backends.tflite import TFLiteStepModel
    from runtime.bundle import FAMILIES
    from runtime.translator import Translator
    from trainer.metrics import chrf, group_references
    from trainer.model import open_run
    from trainer.reference import keras_translator
    from trainer.run import read_heldout

    trained = open_run(args.run)
    spec = trained.spec
    family = FAMILIES[spec.family]
    sources, references = group_references(usable_pairs(read_heldout(trained.path), spec))
    sources, references = sources[: args.sentences], [[refs[0]] for refs in references[: args.sentences]]
    print(f"translating {len(sources)} held-out sentences with Keras ...", flush=True)
    expected = keras_translator(args.run).translate(sources)
    convert = make_converter()
    files = {}
    for precision in ("int8", "int16x8"):
        print(f"converting to tflite/{precision} ...", flush=True)
        files[precision] = convert(run_source(trained.path, spec), precision)
    rows = [("keras (reference)", "", "", "", f"{chrf(expected, references):.1f}", "", "")]
    layouts = [("int8", "every activation", files["int8"]), ("int16x8", "none (16 bits)", files["int16x8"])]
    for name, narrowed in LAYOUTS:
        step = through_int8(files["int16x8"]["decoder_step"], narrowed)
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

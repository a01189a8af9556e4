"""TFLite export (five precisions), ONNX int8, the Flex-op guard, and one bundle holding them all."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from runtime import Translator
from runtime.bundle import MANIFEST, read_manifest, sha256_file
from runtime.golden import read_golden
from trainer.run import read_heldout

QUIET = dict(log=lambda *a, **k: None)
ALL_TFLITE = ("none", "float16", "dynamic", "int8", "int16x8")
# A tiny, briefly trained model has close logits, so int8 weights flip more argmaxes than on the
# seed's model (measured here: dynamic 89%, int8 41%): they need a floor that a broken
# artifact would not reach (the identical-decode rule of --min-agreement); float16 and float32 keep
# their default gates (test_export_gate.py).
LENIENT = {"dynamic": 0.5, "int8": 0.2, "int16x8": 0.2}


@pytest.fixture(scope="module")
def full_bundle(tiny_run, tiny_bundle, tmp_path_factory):
    from export.to_onnx import export_onnx
    from export.to_tflite import export_tflite

    out = tmp_path_factory.mktemp("full") / "bundle"
    shutil.copytree(tiny_bundle, out)
    _, onnx_reports = export_onnx(tiny_run, out, quantize=["int8"], min_agreement=LENIENT, **QUIET)
    _, tflite_reports = export_tflite(tiny_run, out, quantize=ALL_TFLITE, min_agreement=LENIENT, **QUIET)
    return out, {r.name: r for r in onnx_reports + tflite_reports}


@pytest.fixture(scope="module")
def sentences(tiny_run):
    return list(dict.fromkeys(en for en, _ in read_heldout(tiny_run)))[:60]


def test_one_bundle_lists_every_artifact_with_its_hash(full_bundle):
    bundle, _ = full_bundle
    manifest = read_manifest(bundle)
    have = {(a.backend, a.precision) for a in manifest.artifacts}
    assert have == {("onnx", "float32"), ("onnx", "int8")} | {
        ("tflite", p) for p in ("float32", "float16", "dynamic", "int8", "int16x8")
    }
    for art in manifest.artifacts:
        assert sha256_file(bundle / art.file) == art.sha256
    assert set(manifest.validation) == {f"{b}/{p}" for b, p in have}
    assert sorted(p.name for p in bundle.iterdir()) == sorted([MANIFEST, manifest.golden.file] + [a.file for a in manifest.artifacts])


def test_float32_tflite_matches_keras(full_bundle):
    _, reports = full_bundle
    report = reports["tflite/float32"]
    assert report.max_abs_diff_state <= 1e-5 and report.max_abs_diff_prob <= 1e-5
    assert report.decodes_compared >= 200
    assert report.decodes_identical == report.decodes_compared, report.mismatches[:3]


def test_float32_tflite_and_onnx_decode_alike(full_bundle, sentences):
    bundle, _ = full_bundle
    onnx_out = Translator(bundle, backend="onnx").translate(sentences)
    assert Translator(bundle, backend="tflite").translate(sentences) == onnx_out


@pytest.mark.parametrize(
    "backend,precision",
    [("onnx", "int8")] + [("tflite", p) for p in ("float32", "float16", "dynamic", "int8", "int16x8")],
)
def test_every_precision_translates_through_the_runtime(full_bundle, sentences, backend, precision):
    bundle, reports = full_bundle
    t = Translator(bundle, backend=backend, precision=precision)
    out = t.translate(sentences)
    assert len(out) == len(sentences) and all(isinstance(s, str) for s in out)
    assert t.translate(sentences[5]) == out[5]
    assert Translator(bundle, backend=backend, precision=precision, max_batch_size=7).translate(sentences) == out
    with pytest.raises(ValueError):
        t.translate("€", on_unknown="error")
    report = reports[f"{backend}/{precision}"]
    assert report.decodes_compared >= 200 and report.agreement >= LENIENT.get(precision, 0.98)


def test_quantized_artifacts_are_smaller(full_bundle):
    _, reports = full_bundle
    base = reports["tflite/float32"].size
    for precision in ("float16", "dynamic", "int8", "int16x8"):
        assert reports[f"tflite/{precision}"].size < 0.75 * base
    assert reports["onnx/int8"].size < 0.75 * reports["tflite/float32"].size


def test_tflite_models_hold_builtin_ops_only(full_bundle):
    from export.tflite_converter import operator_names

    bundle, _ = full_bundle
    for art in read_manifest(bundle).artifacts:
        if art.backend == "tflite":
            ops = operator_names((bundle / art.file).read_bytes())
            assert ops and not [o for o in ops if o.startswith("Flex") or o == "CUSTOM"], (art.file, ops)


def test_flex_guard_refuses_a_model_with_a_flex_op():
    import tensorflow as tf

    from export.tflite_converter import FlexOpError, require_builtin_ops

    @tf.function(input_signature=[tf.TensorSpec([None, 2, 2], tf.float32)])
    def determinant(x):
        return {"det": tf.linalg.det(x)}  # no TFLite builtin: converts only as a Flex op

    converter = tf.lite.TFLiteConverter.from_concrete_functions([determinant.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    with pytest.raises(FlexOpError, match="FlexMatrixDeterminant"):
        require_builtin_ops(converter.convert())


def test_a_bar_missed_fails_the_export_and_keeps_the_bundle(tiny_run, full_bundle, tmp_path):
    from export.to_tflite import export_tflite
    from export.validate import ParityError

    bundle = tmp_path / "b"
    shutil.copytree(full_bundle[0], bundle)
    before = (bundle / MANIFEST).read_bytes()
    with pytest.raises(ParityError, match=r"int8 .*trainer\.qat.*--min-agreement int8="):
        # No model agrees with Keras more than 100%: demanding more must fail, and say what to do.
        export_tflite(tiny_run, bundle, quantize=["int8"], min_agreement={"int8": 1.01}, **QUIET)
    assert (bundle / MANIFEST).read_bytes() == before


def test_full_integer_files_are_checked_on_both_of_litert_kernel_sets(tiny_run, full_bundle):
    """int8 rounds differently on LiteRT's default (XNNPACK) and built-in kernels: the export decodes
    int8 and int16x8 on both, reports both and holds both to the bar; other precisions once."""
    from ai_edge_litert.interpreter import OpResolverType

    from export.source import usable_pairs
    from export.validate import decode_sentences, format_table
    from runtime.backends.tflite import litert_interpreter
    from trainer.model import open_run
    from trainer.reference import keras_translator

    bundle, reports = full_bundle
    manifest = read_manifest(bundle)
    compared = reports["tflite/int8"].decodes_compared
    sources, _ = decode_sentences(usable_pairs(read_heldout(tiny_run), open_run(tiny_run).spec), compared)
    expected = keras_translator(tiny_run).translate(sources)
    for precision in ("int8", "int16x8"):
        report = reports[f"tflite/{precision}"]
        identical = {}
        for kernels in ("default", "builtin"):
            got = Translator(bundle, backend="tflite", precision=precision, kernels=kernels).translate(sources)
            identical[kernels] = sum(a == b for a, b in zip(got, expected))
        assert identical["default"] == report.decodes_identical
        assert report.other_kernels == {"builtin": identical["builtin"]}
        assert report.worst_identical == min(identical.values())
        assert manifest.validation[f"tflite/{precision}"]["identical_by_kernels"] == {"builtin": identical["builtin"]}
        line = next(line for line in format_table([report]).splitlines() if line.startswith("  on builtin"))
        assert f" {identical['builtin']}/{compared} " in line
    for precision in ("float32", "float16", "dynamic"):
        assert reports[f"tflite/{precision}"].other_kernels == {}
        assert "identical_by_kernels" not in manifest.validation[f"tflite/{precision}"]
    assert litert_interpreter("builtin")[1] == {
        "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    assert litert_interpreter("default")[1] == {}
    with pytest.raises(ValueError, match="kernels must be one of"):
        Translator(bundle, backend="tflite", precision="int8", kernels="xnnpack")
    with pytest.raises(Exception, match="kernel sets are LiteRT's"):
        Translator(bundle, backend="onnx", kernels="builtin")


def test_a_kernel_set_below_the_bar_fails_the_export():
    from export.validate import ParityError, ParityReport, require_parity

    # The identical-decode rule (--min-agreement); the default rule's kernel sets: test_export_gate.py.
    report = ParityReport("tflite", "int8", size=1, max_abs_diff_state=0.1, max_abs_diff_prob=0.1,
                          decodes_compared=100, decodes_identical=95, chrf=20.0, other_kernels={"builtin": 80})
    with pytest.raises(ParityError, match=r"int8 .*: on the builtin kernels 20/100 greedy decodes differ \(80\.0%"):
        require_parity(report, min_agreement=0.9)
    require_parity(report, min_agreement=0.8)
    report.decodes_identical = report.other_kernels["builtin"] = 28
    require_parity(report, min_agreement=0.28)  # every kernel set compared alike, at the bar too
    with pytest.raises(ParityError, match=r"on the default kernels 72/100 .*; on the builtin kernels 72/100"):
        require_parity(report, min_agreement=0.29)


def test_through_int8_rounds_a_tensor_as_full_int8_rounds_it(full_bundle):
    """The research probe behind benchmarks/integer_layouts.py: an int16x8 step file whose logits
    pass through int8 at the int8 file's scale and zero point; nothing else changes."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from export.tflite_converter import integer_grids, through_int8
    from runtime.bundle import LOGITS, NEXT_STATE_C, NEXT_STATE_H, STATE_C, STATE_H, TOKEN_IDS, read_artifact

    bundle, _ = full_bundle
    manifest = read_manifest(bundle)
    wide, narrow = (read_artifact(bundle, manifest.select("tflite", p)["decoder_step"]) for p in ("int16x8", "int8"))
    scale, zero_point = integer_grids(narrow, [LOGITS])[LOGITS]
    wide_scale, _ = integer_grids(wide, [LOGITS])[LOGITS]
    rounded = through_int8(wide, {LOGITS: (scale, zero_point)})
    rng = np.random.default_rng(0)
    latent = manifest.latent_dim
    feeds = {TOKEN_IDS: rng.integers(0, len(manifest.target_vocab), 32).astype(np.int32),
             STATE_H: rng.uniform(-0.9, 0.9, (32, latent)).astype(np.float32),
             STATE_C: rng.uniform(-3, 3, (32, latent)).astype(np.float32)}
    before, after = (Interpreter(model_content=m).get_signature_runner()(**feeds) for m in (wide, rounded))
    levels = after[LOGITS] / scale + zero_point  # on the int8 grid, up to the int16 step
    assert np.abs(levels - np.round(levels)).max() <= wide_scale / scale
    assert 1 < len(np.unique(np.round(levels))) <= 256
    assert np.abs(after[LOGITS] - before[LOGITS]).max() <= scale / 2 + 2 * wide_scale  # fixed-point requantizing
    assert not np.array_equal(after[LOGITS], before[LOGITS])
    for name in (NEXT_STATE_H, NEXT_STATE_C):
        np.testing.assert_array_equal(after[name], before[name])
    with pytest.raises(ValueError, match="has no input or output named 'h'"):
        through_int8(wide, {"h": (scale, zero_point)})
    with pytest.raises(ValueError, match="not an int16 tensor"):
        through_int8(narrow, {LOGITS: (scale, zero_point)})


def test_export_of_another_model_replaces_the_bundle(tiny_run, full_bundle, tmp_path):
    from export.to_onnx import export_onnx
    from trainer.fit import fit

    other = tmp_path / "other"
    # Trained until its decodes end (none hits the length limit): a one-epoch model babbles to the
    # limit between near-tied characters, where float32 rounding alone can flip a greedy choice and
    # fail the export's 100% parity bar.
    fit(other, None, num_samples=600, epochs=8, latent_dim=16, learning_rate=1e-2, verbose=0, **QUIET)
    bundle = tmp_path / "b"
    shutil.copytree(full_bundle[0], bundle)
    export_onnx(other, bundle, **QUIET)
    manifest = read_manifest(bundle)
    assert {(a.backend, a.precision) for a in manifest.artifacts} == {("onnx", "float32")}
    assert manifest.latent_dim == 16
    assert sorted(p.name for p in bundle.iterdir()) == sorted(
        [MANIFEST, "encoder.float32.onnx", "decoder_step.float32.onnx", "greedy.float32.onnx", "golden.json"])
    # Another model's bundle is replaced whole: none of the old model's golden translations stay.
    assert [a.name for a in read_golden(bundle, manifest).artifacts] == ["onnx/float32"]


def test_both_backends_run_without_tensorflow(full_bundle, sentences, run_without_tensorflow):
    bundle, _ = full_bundle
    run_without_tensorflow(f"""
from runtime import Translator

a = Translator({str(bundle)!r}, backend='onnx', precision='int8').translate({sentences[:4]!r})
b = Translator({str(bundle)!r}, backend='tflite', precision='int8').translate({sentences[:4]!r})
assert len(a) == len(b) == 4
""")


def test_runtime_cli_selects_backend_and_precision(full_bundle, sentences):
    import os
    from pathlib import Path

    bundle, _ = full_bundle
    root = Path(__file__).resolve().parents[1]
    expected = Translator(bundle, backend="tflite", precision="int8").translate(sentences[:3])
    done = subprocess.run(
        [sys.executable, "-m", "runtime", "--bundle", str(bundle), "--backend", "tflite",
         "--precision", "int8", *sentences[:3]],
        capture_output=True, text=True, timeout=120, cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected


def test_onnx_int8_is_marked_batch_dependent_and_decoded_row_by_row(full_bundle, sentences):
    bundle, _ = full_bundle
    flags = {(a.backend, a.precision): a.batch_invariant for a in read_manifest(bundle).artifacts}
    assert flags[("onnx", "int8")] is False
    assert all(v for k, v in flags.items() if k != ("onnx", "int8"))
    t = Translator(bundle, backend="onnx", precision="int8")
    assert not t.batch_invariant
    # The same sentence among very different batch-mates translates the same.
    target = sentences[0]
    crowd = [target] + [s.upper() for s in sentences[1:20] if not t.manifest.source_vocab.unknown(s.upper())]
    assert t.translate(crowd)[0] == t.translate(target)


def test_guard_treats_every_non_builtin_name_as_foreign():
    from export.tflite_converter import _is_builtin_name

    assert _is_builtin_name("FULLY_CONNECTED") and _is_builtin_name("GATHER")
    for name in ("FlexMatrixDeterminant", "MyCustomOp", "CUSTOM", "UNKNOWN"):
        assert not _is_builtin_name(name)


def test_beam_sampling_and_streaming_on_tflite_match_onnx(full_bundle, sentences):
    bundle, _ = full_bundle
    lite = Translator(bundle, backend="tflite", precision="float32")
    onnx = Translator(bundle)
    texts = sentences[:12]
    assert lite.translate(texts, beam_size=3) == onnx.translate(texts, beam_size=3)
    assert lite.translate(texts, top_k=4, seed=2) == onnx.translate(texts, top_k=4, seed=2)
    assert ["".join(lite.translate_stream(t)) for t in texts] == onnx.translate(texts)
    for precision in ("float16", "dynamic", "int8", "int16x8"):
        quantized = Translator(bundle, backend="tflite", precision=precision)
        assert len(quantized.hypotheses(texts[:3], beam_size=2, num_hypotheses=2)[0]) == 2


def test_onnx_int8_keeps_the_decoder_state_path_float(full_bundle):
    import numpy as np
    import onnx

    from runtime import bundle as b

    bundle, _ = full_bundle
    encoder = onnx.load(str(bundle / "encoder.int8.onnx"))
    decoder = onnx.load(str(bundle / "decoder_step.int8.onnx"))
    (lstm,) = [n for n in encoder.graph.node if n.op_type == "DynamicQuantizeLSTM"]
    encoder_init = {i.name: i for i in encoder.graph.initializer}
    # one scale for each of W and R: onnxruntime's per-channel LSTM kernel is the less exact one
    assert [np.prod(encoder_init[lstm.input[i]].dims, dtype=int) for i in (8, 10)] == [1, 1]
    ops = {n.op_type for n in decoder.graph.node}
    assert "MatMulInteger" in ops  # the input projection is int8
    state_path = [n for n in decoder.graph.node if {b.STATE_H, b.NEXT_STATE_H} & set(n.input)
                  and n.op_type.startswith("MatMul")]
    assert len(state_path) == 2 and all(n.op_type == "MatMul" for n in state_path)
    init = {i.name: i for i in decoder.graph.initializer}
    # a plain run's weights are off the int8 grid: they stay float initializers
    assert all(init[n.input[1]].data_type == onnx.TensorProto.FLOAT for n in state_path)


def test_dynamic_tflite_step_keeps_int8_weights_but_float_state_products(full_bundle):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    bundle, reports = full_bundle
    interpreter = Interpreter(model_path=str(bundle / "decoder_step.dynamic.tflite"))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    produced_by = {o: op for op in ops for o in op["outputs"]}
    fcs = [op for op in ops if op["op_name"] == "FULLY_CONNECTED"]
    float_weights = [op for op in fcs if produced_by.get(op["inputs"][1], {}).get("op_name") == "DEQUANTIZE"]
    hybrid = [op for op in fcs if tensors[op["inputs"][1]]["dtype"] == np.int8]
    assert len(float_weights) == 2 and len(hybrid) == 1  # h @ U and logits in float; one-hot @ W hybrid
    for op in float_weights:  # the float products read int8 weights from the file
        assert tensors[produced_by[op["inputs"][1]]["inputs"][0]]["dtype"] == np.int8
    assert reports["tflite/dynamic"].size < reports["tflite/float16"].size


def test_calibration_batches_all_have_one_size():
    """The int8 calibrator cannot prepare the attention step for a second batch size: a smaller
    last batch is left out, unless it is all there is."""
    import numpy as np

    from export.tflite_converter import representative_inputs
    from runtime.bundle import SOURCE_IDS, TOKEN_IDS

    class Model:
        def encode(self, ids):
            return {"state_h": np.zeros((len(ids), 4), np.float32)}

        def step(self, tokens, state):
            return None, state

    for pairs, sizes in ((37, [16, 16]), (32, [16, 16]), (10, [10])):
        enc, dec = representative_inputs(Model(), np.ones((pairs, 5), np.int32), np.ones((pairs, 3), np.int32))
        assert [len(b[SOURCE_IDS]) for b in enc()] == sizes
        steps = list(dec())
        assert len(steps) == 3 * len(sizes)  # every teacher-forced step of every batch
        assert {len(b[TOKEN_IDS]) for b in steps} == {len(b["state_h"]) for b in steps} == set(sizes)


def test_a_batch_one_bundle_runs_in_the_runtime_and_in_tflite_micro(tiny_run, sentences, full_bundle, tmp_path):
    """`export.to_tflite --fixed-batch 1 --integer-io`: every shape is static; the runtime runs the
    files a row at a time, in every decoding mode; TFLite Micro (the runtime of microcontrollers: its
    own operator set and kernels) loads them and decodes float32 exactly as Keras does, int8 and
    int16x8 with the agreement of LiteRT's own kernels. The int8 and int16x8 files hold no float
    tensor (the encoder's first step from the zero state leaves no gate unused, which the converter
    would compute in float)."""
    pytest.importorskip("tflite_micro", reason="TFLite Micro has wheels for x86-64 Linux only")
    from export.micro import EngineStepModel, greedy_texts, micro_fit, static_shapes
    from export.to_tflite import export_tflite
    from runtime.bundle import FAMILIES
    from trainer.model import open_run
    from trainer.reference import keras_translator

    bundle = tmp_path / "batch1"
    export_tflite(tiny_run, bundle, quantize=("none", "int8", "int16x8"), fixed_batch=1, integer_io=True,
                  num_decodes=100, min_agreement=LENIENT, **QUIET)
    texts = sentences[:40]
    expected = keras_translator(tiny_run).translate(texts)
    lite = Translator(bundle, backend="tflite", max_batch_size=16)
    assert lite.translate(texts) == expected
    dynamic = Translator(full_bundle[0], backend="tflite")
    assert lite.translate(texts[:6], beam_size=3) == dynamic.translate(texts[:6], beam_size=3)

    assert not static_shapes((full_bundle[0] / "encoder.float32.tflite").read_bytes())  # the dynamic batch
    spec = open_run(tiny_run).spec
    for precision in ("float32", "int8", "int16x8"):
        files = {role: (bundle / f"{role}.{precision}.tflite").read_bytes() for role in ("encoder", "decoder_step")}
        for role, data in files.items():
            assert static_shapes(data), role
            refusal, arena = micro_fit(data, step=1 << 20)  # loads, in an arena to the MiB
            assert refusal is None and arena < 64 << 20, (precision, role, refusal)
            if precision != "float32":
                assert integer_only(data), (precision, role)

        def decode(engine):
            return greedy_texts(EngineStepModel(*files.values(), FAMILIES[spec.family], engine), spec, texts)

        micro = decode("tflm")
        if precision == "float32":
            assert micro == expected
        else:
            agree = sum(a == b for a, b in zip(micro, expected)) / len(texts)
            builtin = sum(a == b for a, b in zip(decode("litert-builtin"), expected)) / len(texts)
            assert agree >= LENIENT[precision] and abs(agree - builtin) <= 0.25, (precision, agree, builtin)


def integer_only(model: bytes) -> bool:
    """No float tensor in the file (so every QUANTIZE is integer to integer)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    floats = (schema.TensorType.FLOAT32, schema.TensorType.FLOAT16)
    return all(t.type not in floats for g in m.subgraphs for t in g.tensors)


def test_a_fixed_batch_attention_bundle_decodes_as_keras(attention_run, attention_bundle, tmp_path):
    """A fixed batch of 3: the runtime feeds pieces of 3 rows, the memory with them, the last piece
    filled up, in greedy and beam decoding. With --integer-io the int8 step takes the memory as int8
    too, and the files hold no float tensor."""
    import numpy as np

    from export.to_tflite import export_tflite
    from trainer.reference import keras_translator

    bundle = tmp_path / "batch3"
    _, reports = export_tflite(attention_run, bundle, quantize=("none", "int8"), fixed_batch=3, integer_io=True,
                               num_decodes=60, min_agreement=LENIENT, **QUIET)
    int8 = Translator(bundle, backend="tflite", precision="int8", max_batch_size=8)
    step = int8.model._decoder.get_input_details()
    assert {step[name]["dtype"] for name in int8.model.family.context} == {np.int8}
    assert all(integer_only((bundle / f"{role}.int8.tflite").read_bytes()) for role in ("encoder", "decoder_step"))
    assert reports[1].decodes_identical >= LENIENT["int8"] * reports[1].decodes_compared
    texts = list(dict.fromkeys(en for en, _ in read_heldout(attention_run)))[:20]
    lite = Translator(bundle, backend="tflite", max_batch_size=8)
    assert lite.translate(texts) == keras_translator(attention_run).translate(texts)
    assert lite.translate(texts[:4], beam_size=2) == Translator(attention_bundle).translate(texts[:4], beam_size=2)


def test_a_fixed_batch_file_runs_in_pieces_of_its_size():
    """The TFLite backend feeds a fixed-batch file pieces of exactly its batch; the last piece is
    filled up with copies of its last row, which the answer leaves out."""
    import threading

    import numpy as np

    from runtime.backends.tflite import TFLiteStepModel

    sizes = []

    def runner(**feeds):
        sizes.append(len(feeds["x"]))
        return {"y": feeds["x"] * 2, "z": feeds["x"][:, None] + feeds["w"]}

    backend = type("Backend", (), {"_lock": threading.Lock()})()
    x, w = np.arange(6), np.ones((6, 3))
    out = TFLiteStepModel._run(backend, runner, 4, {"x": x, "w": w})
    assert sizes == [4, 4]
    assert out["y"].tolist() == (2 * x).tolist() and out["z"].tolist() == (x[:, None] + w).tolist()
    sizes.clear()
    assert TFLiteStepModel._run(backend, runner, None, {"x": x, "w": w})["y"].shape == (6,) and sizes == [6]


def test_integer_io_files_decode_as_the_float_io_ones(tiny_run, full_bundle, sentences, tmp_path):
    """`--integer-io`: the int8 and int16x8 files take and return the state and logits as integers
    with their scale and zero point, no float at their edges; the runtime (de)quantizes them as the
    files' own QUANTIZE / DEQUANTIZE ops do, so they decode exactly as the float-I/O files, in
    greedy and beam search; the step hands its state back to itself as integers where its output has
    its input's quantization."""
    import numpy as np

    from export.to_tflite import export_tflite
    from runtime.bundle import next_name

    bundle = tmp_path / "integer_io"
    _, reports = export_tflite(tiny_run, bundle, quantize=("int8", "int16x8"), integer_io=True, num_decodes=100,
                               min_agreement=LENIENT, **QUIET)
    for precision, integer in (("int8", np.int8), ("int16x8", np.int16)):
        lite = Translator(bundle, backend="tflite", precision=precision)
        model = lite.model
        for runner in (model._encoder, model._decoder):
            details = {**runner.get_input_details(), **runner.get_output_details()}
            ids = {name: d["dtype"] for name, d in details.items() if name in ("source_ids", "token_ids")}
            assert set(ids.values()) == {np.int32}
            assert {d["dtype"] for name, d in details.items() if name not in ids} == {integer}, precision
        floats = Translator(full_bundle[0], backend="tflite", precision=precision)
        assert lite.translate(sentences) == floats.translate(sentences), precision
        assert lite.translate(sentences[:8], beam_size=3) == floats.translate(sentences[:8], beam_size=3)
        state = model.encode(lite.manifest.source_vocab.encode(sentences[:3], lite.manifest.max_source_length))
        assert all(v.dtype == np.float32 for v in state.values())  # compared with Keras at export
        logits, state = model.step(np.zeros(3, np.int32), state)
        assert logits.dtype == np.float32
        inputs, outputs = model._decoder._quantized_inputs, model._decoder._quantized_outputs
        for name in model.family.state:  # integers where the step takes back what it gives, else floats
            same = inputs[name] == outputs[next_name(name)]
            assert state[name].dtype == (np.dtype(integer) if same else np.float32), (precision, name)


def test_int16x8_lookups_run_in_int8_with_the_same_values():
    """TFLite Micro has no int16 GATHER: the int16x8 one-hot lookup gathers from an int8 copy of its
    identity table and requantizes the rows to int16, giving the same outputs to the last bit; a
    table that int8 cannot hold exactly is left as it is."""
    import numpy as np
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    from export.tflite_converter import convert, int8_lookups

    rng = np.random.default_rng(0)
    weights = tf.constant(rng.normal(size=(12, 8)).astype("float32"))

    class Lookups(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="ids"),
                                      tf.TensorSpec([None, 8], tf.float32, name="h")])
        def f(self, ids, h):
            return {"one_hot": tf.tanh(tf.matmul(tf.gather(tf.eye(12), ids), weights) + h),
                    "rows": tf.tanh(tf.gather(weights, ids) + h)}  # a table int8 cannot hold

    def data():
        for _ in range(30):
            yield {"ids": rng.integers(0, 12, 4).astype("int32"), "h": rng.normal(size=(4, 8)).astype("float32")}

    module = Lookups()
    before = convert(module, module.f, "int16x8", data)
    after = int8_lookups(before)
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(after))
    graph = model.subgraphs[0]
    gather = schema.BuiltinOperator.GATHER
    tables = sorted(graph.tensors[op.inputs[0]].type for op in graph.operators
                    if max(model.operatorCodes[op.opcodeIndex].builtinCode,
                           model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode) == gather)
    assert tables == sorted([schema.TensorType.INT8, schema.TensorType.INT16])

    ids, h = np.arange(12, dtype=np.int32), rng.normal(size=(12, 8)).astype("float32")
    outs = [Interpreter(model_content=m).get_signature_runner()(ids=ids, h=h) for m in (before, after)]
    assert all(np.array_equal(outs[0][k], outs[1][k]) for k in ("one_hot", "rows"))


def test_runtime_quantize_rounds_as_litert_and_the_reference_kernels(full_bundle):
    """The runtime's QUANTIZE gives what a float-I/O int8 file's own QUANTIZE op gives in LiteRT,
    on values at exact half steps (where roundings differ: LiteRT's halves to even, the reference
    kernels' away from zero), and saturates."""
    import warnings

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    from runtime.backends.tflite import dequantize, quantize

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # preserving every tensor is a debugging option
        lite = Interpreter(model_content=(full_bundle[0] / "decoder_step.int8.tflite").read_bytes(),
                           experimental_preserve_all_tensors=True)
    runner = lite.get_signature_runner()
    inputs = runner.get_input_details()
    state = inputs["state_h"]
    op = next(o for o in lite._get_ops_details() if o["op_name"] == "QUANTIZE" and state["index"] in o["inputs"])
    scale, zero_point = next(t["quantization"] for t in lite.get_tensor_details() if t["index"] == op["outputs"][0])
    rows, width = 64, state["shape"][1]
    h = ((np.arange(rows * width) % 300 - 150) + 0.5).astype(np.float32).reshape(rows, width) * np.float32(scale)
    runner(token_ids=np.zeros(rows, np.int32), state_h=h, state_c=np.zeros_like(h))
    got = lite.get_tensor(op["outputs"][0])
    assert (quantize(h, np.dtype(np.int8), np.float32(scale), zero_point) == got).all()
    assert (quantize(h, np.dtype(np.int8), np.float32(scale), zero_point, reference=True) != got).any()

    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 1000.0, -1000.0], np.float32)
    one = np.float32(1.0)
    assert quantize(x, np.dtype(np.int8), one, 0).tolist() == [-2, -2, 0, 0, 2, 2, 127, -128]
    q = quantize(x, np.dtype(np.int8), one, 0, reference=True)
    assert q.tolist() == [-3, -2, -1, 1, 2, 3, 127, -128] and q.dtype == np.int8
    assert quantize(q, np.dtype(np.int8), one, 0) is q  # the file's own integers pass as they are
    assert dequantize(np.array([-128, 0, 3], np.int8), np.int8, np.float32(0.5), 2).tolist() == [-65.0, -1.0, 0.5]


def test_the_step_carries_its_integer_state_through_pieces():
    """The step's integer state, where its output has its input's quantization, goes back to the
    file as it is, also through a fixed batch's pieces; float feeds are quantized, outputs
    dequantized."""
    import threading

    import numpy as np

    from runtime.backends.tflite import TFLiteStepModel

    seen = []

    def runner(**feeds):
        seen.append({k: v.copy() for k, v in feeds.items()})
        return {"y": feeds["s"] + np.int8(1), "z": feeds["s"] * np.int8(2)}

    int8 = (np.dtype(np.int8), np.float32(0.5), 0)
    runner._quantized_inputs, runner._quantized_outputs = {"s": int8}, {"y": int8, "z": int8}
    backend = type("Backend", (), {"_lock": threading.Lock(), "_run": TFLiteStepModel._run})()
    out = TFLiteStepModel._call(backend, runner, 2, {"s": np.array([1.0, -1.0, 2.0], np.float32)}, {"y"})
    assert [f["s"].tolist() for f in seen] == [[2, -2], [4, 4]]  # quantized, the last piece filled up
    assert out["y"].dtype == np.int8 and out["y"].tolist() == [3, -1, 5]  # carried as integers
    assert out["z"].dtype == np.float32 and out["z"].tolist() == [2.0, -2.0, 4.0]
    seen.clear()
    TFLiteStepModel._call(backend, runner, None, {"s": out["y"]})
    assert seen[0]["s"].tolist() == [3, -1, 5]  # as it is, not quantized again


def test_integer_io_needs_a_full_integer_precision(tiny_run, tmp_path):
    done = subprocess.run([sys.executable, "-m", "export.to_tflite", "--run", str(tiny_run), "--out",
                           str(tmp_path / "b"), "--quantize", "none", "dynamic", "--integer-io"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "int8 or int16x8" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "b").exists()

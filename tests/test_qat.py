"""Quantization-aware fine-tuning: the grid, the fine-tuned run, and exports that carry its weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trainer.model import open_run
from trainer.qat import fine_tune, main
from trainer.quantize import int8_grid, on_grid
from trainer.run import RUN_JSON



def quantized(run) -> list[np.ndarray]:
    """The matrices that int8 exports quantize, from the run's model description."""
    spec = open_run(run).spec
    weights = spec.weights()
    return [weights[name] for name in spec.quantized()]

QUIET = dict(verbose=0, log=lambda *a, **k: None)
matrices = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 6)),
                  # weights of trained models: no subnormals, whose scales underflow
                  elements=st.floats(-4, 4, width=32).map(lambda x: x if abs(x) > 1e-6 else 0.0))


@settings(max_examples=200, deadline=None)
@given(matrices)
def test_grid_is_idempotent_and_within_half_a_step(w):
    g = int8_grid(w)
    np.testing.assert_array_equal(int8_grid(g), g)
    scale = np.abs(w).max(axis=0) / 127
    assert np.all(np.abs(g - w) <= scale / 2 + 1e-6 * np.abs(w).max(axis=0))
    # each column's largest magnitude is a grid end, so a converter recomputes the same scale
    np.testing.assert_allclose(np.abs(g).max(axis=0), np.abs(w).max(axis=0), rtol=1e-6)


@pytest.fixture(scope="module")
def qat_run(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("qat") / "run"
    fine_tune(tiny_run, out, epochs=2, **QUIET)
    return out


def test_fine_tuned_weights_lie_on_the_grid_and_the_original_is_untouched(tiny_run, qat_run):
    before = (tiny_run / "model.keras").read_bytes()
    assert all(on_grid(w) for w in quantized(qat_run))
    assert not any(on_grid(w) for w in quantized(tiny_run))
    assert (tiny_run / "model.keras").read_bytes() == before
    settings_ = json.loads((qat_run / RUN_JSON).read_text())["settings"]
    assert settings_["quantization_aware"]["bits"] == 8
    assert settings_["epochs"] == 2
    assert len(quantized(qat_run)) == 5  # both LSTMs' input and recurrent kernels, the dense


def test_dynamic_tflite_carries_the_fine_tuned_weights_exactly(qat_run, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from export.to_tflite import export_tflite

    out = tmp_path / "bundle"
    export_tflite(qat_run, out, quantize=["dynamic"], min_agreement={"dynamic": 0.0}, log=lambda *a: None)
    wanted = [w.T for w in quantized(qat_run)]  # TFLite keeps [out, in]
    found = set()
    for path in out.glob("*.dynamic.tflite"):
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        for t in interpreter.get_tensor_details():
            scales = t["quantization_parameters"]["scales"]
            # weights are quantized per output channel; activations and the one-hot table per tensor
            if t["dtype"] != np.int8 or len(t["shape"]) != 2 or len(scales) != t["shape"][0] or len(scales) < 2:
                continue
            weights = interpreter.get_tensor(t["index"]).astype(np.float32) * scales[:, None]
            matches = {i for i, w in enumerate(wanted)
                       if w.shape == weights.shape and np.allclose(w, weights, rtol=1e-5, atol=1e-7)}
            assert matches, f"{path.name}: int8 tensor {t['name']} is none of the model's weights"
            found |= matches
    assert found == set(range(len(wanted)))  # every quantized matrix, exactly


def test_onnx_int8_stores_the_fine_tuned_state_path_weights_as_int8_with_float_products(qat_run, tmp_path):
    import onnx
    from onnx import numpy_helper

    from export.onnx_converter import float_state_path
    from export.to_onnx import export_onnx

    out = tmp_path / "bundle"
    export_onnx(qat_run, out, quantize=["none", "int8"], min_agreement={"int8": 0.0}, log=lambda *a: None)
    decoder = onnx.load(str(out / "decoder_step.int8.onnx"))
    init = {i.name: numpy_helper.to_array(i) for i in decoder.graph.initializer}
    producers = {o: n for n in decoder.graph.node for o in n.output}
    fp32 = onnx.load(str(out / "decoder_step.float32.onnx"))
    fp32_init = {i.name: numpy_helper.to_array(i) for i in fp32.graph.initializer}
    fp32_weights = {n.name: fp32_init[n.input[1]] for n in fp32.graph.node if n.name in float_state_path(fp32)}
    spec = open_run(qat_run).spec
    recurrent, dense = spec.decoder.recurrent_kernel, spec.dense.kernel
    state_path = float_state_path(decoder)
    assert len(state_path) == 2
    for node in (n for n in decoder.graph.node if n.name in state_path):
        mul = producers[node.input[1]]
        cast = producers[mul.input[0]]
        assert (mul.op_type, cast.op_type) == ("Mul", "Cast") and init[cast.input[0]].dtype == np.int8
        weight = init[cast.input[0]].astype(np.float32) * init[mul.input[1]]
        # the same float32 weight as the float32 graph's (which is the model's): the same products
        np.testing.assert_array_equal(weight, fp32_weights[node.name])
        assert any(w.shape == weight.shape and np.allclose(w, weight, rtol=1e-5, atol=1e-7)
                   for w in (recurrent, dense))
    assert not any(i.dtype == np.float32 and i.size >= recurrent.shape[0] * dense.shape[1]
                   for i in init.values())  # no float matrix left


def test_cli_refuses_to_overwrite_the_run_it_starts_from(tiny_run, tmp_path, capsys):
    from runtime.cli import run_main

    assert run_main(main, "python -m trainer.qat", ["--run", str(tiny_run), "--out", str(tiny_run)]) == 2
    assert "--out must differ from --run" in capsys.readouterr().err
    assert run_main(main, "python -m trainer.qat", ["--run", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "run directory not found" in capsys.readouterr().err

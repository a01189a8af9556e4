"""A bidirectional encoder (`trainer.fit --bidirectional`), in either family: its description, its
graphs against Keras, and a run from training to every backend."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from runtime import Translator
from runtime.bundle import STATE_H
from tests.test_attention import assert_steps_compute_the_keras_model, padded_batch, random_attention_model

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("unrolled", [False, True])
def test_seed_family_graphs_compute_the_keras_model(unrolled):
    """The seed's family with a bidirectional encoder: the graphs' encoder (two Keras LSTMs, the
    second over the reversed source, for ONNX; unrolled cells for TFLite) gives Keras's joined
    states, and the steps its teacher-forced probabilities."""
    from trainer.model import keras_reference

    model, spec = random_attention_model("space", architecture="seed", bidirectional=True)
    assert spec.family == "seed" and spec.bidirectional and spec.encoder.units == 6 and spec.latent_dim == 12
    enc, dec = padded_batch(spec)
    encoded_by_keras, _ = keras_reference(model, enc, dec)
    # The backward half of h moves when one character of the source does.
    changed = enc.copy()
    changed[0, 3] = spec.source_vocab.id("t")
    h = encoded_by_keras[STATE_H]
    assert np.abs(keras_reference(model, changed, dec)[0][STATE_H][0, 6:] - h[0, 6:]).max() > 1e-4
    assert_steps_compute_the_keras_model(model, spec, enc, dec, unrolled)


def test_a_description_checks_both_halves():
    from trainer.model import build_training_model

    _, spec = random_attention_model("space", bidirectional=True)
    backward = spec.encoder_backward
    with pytest.raises(ValueError, match="encoder_backward.recurrent_kernel has shape"):
        replace(spec, encoder_backward=replace(backward, recurrent_kernel=backward.recurrent_kernel[:5]))
    with pytest.raises(ValueError, match="encoder.kernel has shape"):  # a one-way encoder is full size
        replace(spec, encoder_backward=None)
    with pytest.raises(ValueError, match="even"):
        build_training_model(10, 10, 13, bidirectional=True)


def test_the_command_line_wants_an_even_latent_size(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "trainer.fit", "--out", str(tmp_path / "r"), "--bidirectional", "--latent-dim", "9"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and "--latent-dim" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_bidirectional_run_trains_fine_tunes_and_exports(tmp_path):
    """Trained, fine-tuned for int8 (the backward LSTM's kernels on the grid too), exported to ONNX
    and TFLite at the export's bars, and decoded by both backends as Keras decodes."""
    import onnx

    from export.to_onnx import export_onnx
    from export.to_tflite import export_tflite
    from trainer.fit import fit
    from trainer.model import open_run
    from trainer.qat import fine_tune
    from trainer.quantize import on_grid
    from trainer.reference import keras_translator
    from trainer.run import read_heldout
    from trainer.spec import row_blocks

    quiet = lambda *a, **k: None  # noqa: E731
    run = tmp_path / "run"
    fit(run, None, num_samples=800, epochs=8, latent_dim=32, batch_size=32, learning_rate=5e-3, seed=3,
        architecture="attention", bidirectional=True, verbose=0, log=quiet)
    spec = open_run(run).spec
    assert spec.bidirectional and spec.encoder.units == spec.encoder_backward.units == 16

    qat = tmp_path / "qat"
    fine_tune(run, qat, epochs=1, verbose=0, log=quiet)
    weights = open_run(qat).spec.weights()
    assert {"encoder_backward.kernel", "encoder_backward.recurrent_kernel"} <= set(open_run(qat).spec.quantized())
    assert all(on_grid(weights[name], row_blocks(name)) for name in open_run(qat).spec.quantized())

    bundle = tmp_path / "bundle"
    accept = {"dynamic": 0.0, "int8": 0.0}
    export_onnx(run, bundle, quantize=("none", "int8"), min_agreement=accept, log=quiet)
    export_tflite(run, bundle, quantize=("none", "dynamic"), min_agreement=accept, log=quiet)
    encoder = onnx.load(str(bundle / "encoder.int8.onnx"))
    (lstm,) = [n for n in encoder.graph.node if n.op_type.endswith("LSTM")]  # both ways in one op
    assert lstm.op_type == "DynamicQuantizeLSTM"
    assert [a.s for a in lstm.attribute if a.name == "direction"] == [b"bidirectional"]
    init = {i.name: i for i in encoder.graph.initializer}
    # per tensor: one scale for each direction's W and R
    assert [list(init[lstm.input[i]].dims) for i in (8, 10)] == [[2], [2]]
    sources = list(dict.fromkeys(en for en, _ in read_heldout(run)))[:40]
    expected = keras_translator(run).translate(sources)
    assert len(set(expected)) > 5  # trained enough to say different things
    assert Translator(bundle).translate(sources) == expected
    assert Translator(bundle, backend="tflite").translate(sources) == expected
    assert Translator(bundle, greedy_loop=False, max_batch_size=7).translate(sources) == expected

"""The attention family end to end: its Keras model and description, its graphs (both paddings, both
encoder layouts), its bundle (format 3, the family's I/O, every backend and precision), and the
runtime's decoding over a state that carries a per-row memory."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from runtime import Translator
from runtime.bundle import MANIFEST, MEMORY_KEYS, MEMORY_MASK, MEMORY_VALUES, STATE_C, STATE_H
from runtime.errors import BundleError
from runtime.vocab import Vocabulary

pytestmark = pytest.mark.slow

SOURCE = Vocabulary(tuple(" .Iacdehmort"))
TARGET = Vocabulary(tuple("\t\n .JTaehimort"))


def random_attention_model(padding: str, latent: int = 12, seed: int = 0, *, architecture: str = "attention",
                           bidirectional: bool = False):
    """An untrained model (the attention family unless told) with random weights, and its description."""
    import keras

    from trainer.model import build_training_model, describe
    from trainer.run import RunInfo
    from trainer.settings import Settings

    source, target = Vocabulary(SOURCE.chars, padding), Vocabulary(TARGET.chars, padding)
    keras.utils.set_random_seed(seed)
    model = build_training_model(len(source), len(target), latent, architecture=architecture,
                                 source_pad_id=source.pad_id, bidirectional=bidirectional)
    # Larger weights than the initializers': attention scores with a clear preference.
    model.set_weights([w * 3 if w.ndim == 2 else w + 0.1 for w in model.get_weights()])
    info = RunInfo(source, target, 9, 8, latent, Settings(architecture=architecture, bidirectional=bidirectional),
                   {}, {})
    return model, describe(model, info)


SOURCES = ("I am.", "tom.", "a cod .", "a")  # inner spaces: only the padding after the end is masked


def padded_batch(spec):
    return (spec.source_vocab.encode(list(SOURCES), spec.max_source_length),
            spec.target_vocab.encode(["\tJe", "\tTom.", "\tJai", "\t"], 6))


def assert_steps_compute_the_keras_model(model, spec, enc, dec, unrolled: bool):
    """The exporters' graphs of `spec` and the Keras reference steps give the training model's own
    encoder outputs and teacher-forced probabilities on `enc`, `dec`; returns the graphs."""
    from export.graphs import EdgeGraphs
    from export.validate import teacher_forced_probs
    from trainer.model import keras_reference
    from trainer.reference import InferenceFunctions

    encoded_by_keras, probs = keras_reference(model, enc, dec)
    graphs = EdgeGraphs(spec, unrolled=unrolled, gather_one_hot=unrolled)
    for steps in (graphs.step_model(), InferenceFunctions(model)):
        encoded, probs2 = teacher_forced_probs(steps, enc, dec)
        assert encoded.keys() == encoded_by_keras.keys()
        for name, value in encoded_by_keras.items():
            assert np.abs(value - encoded[name]).max() < 1e-5, name
        assert np.abs(probs - probs2).max() < 1e-5
    return graphs


@pytest.mark.parametrize("padding", ["space", "zero"])
@pytest.mark.parametrize("unrolled", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_graphs_compute_the_keras_model(padding, unrolled, bidirectional):
    """The exporters' graphs (built from the description alone, keys and values computed once per
    sentence) step to the training model's own teacher-forced probabilities, for both paddings,
    both encoder layouts (a Keras LSTM for ONNX, unrolled cells for TFLite) and both encoders."""
    model, spec = random_attention_model(padding, bidirectional=bidirectional)
    assert spec.family == "attention" and set(spec.quantized()) >= {"attention.score_kernel",
                                                                    "attention.combine_kernel"}
    assert spec.bidirectional == bidirectional and spec.latent_dim == 12
    assert ("encoder_backward.kernel" in spec.quantized()) == bidirectional
    enc, dec = padded_batch(spec)
    graphs = assert_steps_compute_the_keras_model(model, spec, enc, dec, unrolled)
    state = graphs.step_model().encode(enc)
    lengths = np.array([len(s) for s in SOURCES])
    expected = (np.arange(spec.max_source_length)[None, :] < lengths[:, None]).astype(np.float32)
    np.testing.assert_array_equal(state[MEMORY_MASK], expected)


def test_a_description_must_mask_its_own_padding():
    from trainer.model import describe
    from trainer.run import RunInfo
    from trainer.settings import Settings

    model, _ = random_attention_model("space")
    other = RunInfo(Vocabulary(SOURCE.chars, "zero"), Vocabulary(TARGET.chars, "zero"), 9, 8, 12, Settings(), {}, {})
    with pytest.raises(ValueError, match="masks source id"):
        describe(model, other)


def test_the_bundle_declares_the_family_and_its_io(attention_bundle, tmp_path):
    data = json.loads((attention_bundle / MANIFEST).read_text(encoding="utf-8"))
    assert data["format_version"] == 4 and data["family"] == "attention"  # 4: golden translations
    assert data["io"]["encoder"]["outputs"] == [STATE_H, STATE_C, MEMORY_KEYS, MEMORY_VALUES, MEMORY_MASK]
    assert data["io"]["decoder_step"]["inputs"][3:] == [MEMORY_KEYS, MEMORY_VALUES, MEMORY_MASK]
    assert {(a["backend"], a["precision"]) for a in data["artifacts"]} == {
        ("onnx", "float32"), ("onnx", "int8"), ("tflite", "float32"), ("tflite", "float16"),
        ("tflite", "dynamic"), ("tflite", "int8"), ("tflite", "int16x8")}
    for name in ("onnx/float32", "tflite/float32"):  # the export's bar: within 1e-5, every decode
        report = data["validation"][name]
        assert report["decodes_identical"] == report["decodes_compared"] >= 100
        assert report["max_abs_diff_prob"] <= 1e-5 and report["max_abs_diff_state"] <= 1e-5
    onnx = data["validation"]["onnx/float32"]
    assert onnx["greedy_identical_to_steps"] == onnx["decodes_compared"]
    # A runtime that does not know the family says so.
    copy = tmp_path / "bundle"
    shutil.copytree(attention_bundle, copy)
    (copy / MANIFEST).write_text(json.dumps({**data, "family": "transformer"}), encoding="utf-8")
    with pytest.raises(BundleError, match='family "transformer"'):
        Translator(copy)


def test_quantized_artifacts_mostly_agree(attention_bundle):
    """Measured on this tiny model (held-out decodes identical to Keras): ONNX int8 and TFLite
    float16, dynamic and int16x8 keep most; full int8 is reported, not held to a bar (issue 17)."""
    validation = json.loads((attention_bundle / MANIFEST).read_text(encoding="utf-8"))["validation"]

    def agreement(name):
        return validation[name]["decodes_identical"] / validation[name]["decodes_compared"]

    assert agreement("tflite/float16") >= 0.95
    for name in ("onnx/int8", "tflite/dynamic", "tflite/int16x8"):
        assert agreement(name) >= 0.7, (name, agreement(name))
    assert agreement("tflite/int8") >= 0.3  # 57% measured; a broken mask gave 0-2%


def test_padding_gets_no_attention_in_the_artifacts(attention_bundle):
    """Changing the memory where the mask is 0 changes nothing; where it is 1, the scores move."""
    for backend in ("onnx", "tflite"):
        model = Translator(attention_bundle, backend=backend).model
        m = Translator(attention_bundle).manifest
        state = model.encode(m.source_vocab.encode(["I run."], m.max_source_length))
        assert state[MEMORY_MASK][0].tolist() == [1.0] * 6 + [0.0] * (m.max_source_length - 6)
        token = np.array([m.target_vocab.id("\t")], np.int32)
        logits, _ = model.step(token, state)
        noisy = {k: np.array(v, copy=True) for k, v in state.items()}
        rng = np.random.default_rng(0)
        for name in (MEMORY_KEYS, MEMORY_VALUES):
            noisy[name][:, 6:] += rng.normal(size=noisy[name][:, 6:].shape).astype(np.float32) * 5
        assert np.array_equal(model.step(token, noisy)[0], logits), backend
        noisy[MEMORY_VALUES][:, 2] += 5.0
        assert np.abs(model.step(token, noisy)[0] - logits).max() > 1e-3, backend


def test_every_decoding_mode_runs_over_the_memory(attention_run, attention_bundle):
    from trainer.reference import keras_translator
    from trainer.run import read_heldout

    sources = list(dict.fromkeys(en for en, _ in read_heldout(attention_run)))[:40]
    translator = Translator(attention_bundle)  # the one-graph greedy decoder for small batches
    greedy = translator.translate(sources)
    assert greedy == keras_translator(attention_run).translate(sources)
    stepped = Translator(attention_bundle, greedy_loop=False, max_batch_size=7)  # rows finish, state re-indexed
    assert stepped.translate(sources) == greedy
    assert Translator(attention_bundle, io_binding=True, greedy_loop=False).translate(sources) == greedy
    assert Translator(attention_bundle, backend="tflite").translate(sources) == greedy
    beam1 = stepped.hypotheses(sources, beam_size=1, length_penalty=0.0)
    assert [h[0].text for h in beam1] == greedy
    beam = stepped.hypotheses(sources, beam_size=4, num_hypotheses=2, length_penalty=0.0)
    assert sum(b[0].score >= g[0].score - 1e-6 for b, g in zip(beam, beam1)) >= 0.85 * len(sources)
    assert ["".join(stepped.translate_stream(s)) for s in sources[:8]] == greedy[:8]
    sampled = stepped.translate(sources, top_k=0, seed=3)
    assert Translator(attention_bundle, max_batch_size=1).translate(sources, top_k=0, seed=3) == sampled


def test_fine_tuning_and_evaluation_take_the_family(attention_run, tiny_run, tmp_path):
    from trainer.evaluate import evaluate
    from trainer.model import open_run
    from trainer.qat import fine_tune
    from trainer.quantize import on_grid
    from trainer.spec import row_blocks

    out = tmp_path / "qat"
    fine_tune(attention_run, out, epochs=1, verbose=0, log=lambda *a: None)
    spec = open_run(out).spec
    weights = spec.weights()
    assert spec.family == "attention"
    assert all(on_grid(weights[name], row_blocks(name)) for name in spec.quantized())
    # The exports' two matrices of the combination kernel, each on its own grid.
    values, queries = np.split(weights["attention.combine_kernel"], 2)
    assert on_grid(values) and on_grid(queries)
    assert not on_grid(weights["attention.combine_kernel"])  # one grid over both: not what exports use
    scores = evaluate(attention_run, baseline=tiny_run, limit=60, log=lambda *a: None)
    assert scores.versus is not None and 0 <= scores.chrf <= 100


def test_mixed_precision_training_exports_in_float32(tmp_path):
    from trainer.fit import fit
    from trainer.model import open_run

    run = tmp_path / "bf16"
    fit(run, None, num_samples=200, epochs=1, latent_dim=16, batch_size=32, compute_dtype="bfloat16",
        architecture="attention", verbose=0, log=lambda *a: None)
    trained = open_run(run)
    assert trained.spec.family == "attention"
    assert {str(w.dtype) for w in trained.model.weights} == {"float32"}
    assert trained.model.get_layer("decoder_lstm").dtype_policy.compute_dtype == "float32"

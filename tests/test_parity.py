"""Parity of the exported ONNX artifacts with the Keras model they came from."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from export.validate import Baseline, ParityError, require_parity, teacher_forced_probs
from runtime import Translator
from runtime.bundle import MANIFEST, read_manifest
from trainer.model import keras_reference, open_run
from trainer.pipeline import encode_pairs
from trainer.reference import InferenceFunctions, keras_translator
from trainer.run import read_heldout, read_run


def sources_of(run, limit):
    return list(dict.fromkeys(en for en, _ in read_heldout(run)))[:limit]


@pytest.fixture(scope="module")
def baseline(tiny_run):
    trained = open_run(tiny_run)
    return Baseline(trained.model, keras_translator(tiny_run), trained.spec, read_heldout(tiny_run),
                    num_decodes=250)


def test_onnx_matches_keras_probabilities_and_states(baseline, tiny_bundle):
    report = baseline.compare(tiny_bundle, "onnx", "float32")
    assert report.max_abs_diff_state <= 1e-5
    assert report.max_abs_diff_prob <= 1e-5
    assert report.decodes_compared >= 200
    assert report.decodes_identical == report.decodes_compared, report.mismatches[:3]


def test_decodes_are_not_degenerate(tiny_run, tiny_bundle):
    # Identical decodes prove little if every output is the same string.
    outputs = Translator(tiny_bundle).translate(sources_of(tiny_run, 200))
    assert len(set(outputs)) >= 10, sorted(set(outputs))[:10]  # a model that ignores its input: 1


def test_keras_step_functions_reproduce_the_training_model(tiny_run):
    # The reference decoder steps the decoder LSTM's cell; it must equal the teacher-forced model.
    info, model = read_run(tiny_run), open_run(tiny_run).model
    pairs = read_heldout(tiny_run)[:32]
    enc, dec, _ = encode_pairs(pairs, info.source_vocab, info.target_vocab,
                               info.max_source_length, info.max_target_length)
    kencoded, kprobs = keras_reference(model, enc, dec)
    encoded, sprobs = teacher_forced_probs(InferenceFunctions(model), enc, dec)
    assert encoded.keys() == kencoded.keys() == {"state_h", "state_c"}
    for name in encoded:
        assert np.abs(kencoded[name] - encoded[name]).max() <= 1e-5
    assert np.abs(kprobs - sprobs).max() <= 1e-5


def seed_decode_sequence(model, info, text):
    """The keras.io decode_sequence, per sentence, on Keras models built like the seed's."""
    import keras

    encoder = keras.Model(model.inputs[0], model.get_layer("encoder_lstm").output[1:])
    latent = info.latent_dim
    dec_in = keras.Input((None,), dtype="int32")
    h_in, c_in = keras.Input((latent,)), keras.Input((latent,))
    y = model.get_layer("decoder_onehot")(dec_in)
    y, h, c = model.get_layer("decoder_lstm")(y, initial_state=[h_in, c_in])
    decoder = keras.Model([dec_in, h_in, c_in], [model.get_layer("decoder_dense")(y), h, c])

    states = [np.asarray(s) for s in encoder(info.source_vocab.encode([text], info.max_source_length))]
    token = np.array([[info.target_vocab.id("\t")]], dtype=np.int32)
    decoded = ""
    while True:
        probs, h, c = decoder([token, *states])
        char = info.target_vocab.chars[int(np.argmax(np.asarray(probs)[0, -1]))]
        if char == "\n" or len(decoded) >= info.max_target_length:
            return decoded
        decoded += char
        token = np.array([[info.target_vocab.id(char)]], dtype=np.int32)
        states = [np.asarray(h), np.asarray(c)]


def test_batched_reference_equals_the_seeds_loop(tiny_run):
    info, model = read_run(tiny_run), open_run(tiny_run).model
    texts = sources_of(tiny_run, 12)
    expected = [seed_decode_sequence(model, info, t) for t in texts]
    assert keras_translator(tiny_run, max_batch_size=5).translate(texts) == expected


def test_parity_on_real_sentences(real_run, tmp_path):
    from export.to_onnx import export_onnx

    _, (report,) = export_onnx(real_run, tmp_path / "bundle", num_decodes=300, log=lambda *a: None)
    assert report.decodes_compared >= 200
    assert report.decodes_identical == report.decodes_compared
    assert report.max_abs_diff_prob <= 1e-5 and report.max_abs_diff_state <= 1e-5


def corrupt_decoder(bundle, scale=1.05):
    """Rewrite decoder_step.onnx with one weight matrix scaled, and fix the manifest's hash."""
    import json

    from runtime.bundle import sha256_file

    path = bundle / "decoder_step.float32.onnx"
    proto = onnx.load(path)
    init = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))  # the LSTM kernel
    array = numpy_helper.to_array(init) * scale
    init.CopyFrom(numpy_helper.from_array(array.astype(np.float32), init.name))
    onnx.save(proto, path)
    manifest = json.loads((bundle / MANIFEST).read_text())
    for art in manifest["artifacts"]:
        if art["file"] == path.name:
            art["sha256"], art["size"] = sha256_file(path), path.stat().st_size
    (bundle / MANIFEST).write_text(json.dumps(manifest))


def test_parity_check_catches_a_wrong_graph(baseline, copy_bundle):
    bundle = copy_bundle()
    corrupt_decoder(bundle)
    read_manifest(bundle)  # still a well-formed bundle: only the numbers are wrong
    report = baseline.compare(bundle, "onnx", "float32")
    assert report.max_abs_diff_prob > 1e-5
    with pytest.raises(ParityError, match="probabilities differ"):
        require_parity(report)
    # Every differing decode says where it first departs, with Keras's top-2 margin there.
    assert len(report.departures) == report.decodes_compared - report.decodes_identical > 0
    assert all(step >= 0 and margin >= 0 for step, margin in report.departures)
    assert "first_departure" in report.to_json()


def test_first_departure_is_the_first_differing_step_and_kerass_margin_there(translator, sentences):
    from export.validate import first_departures
    from runtime.decoding import log_softmax

    m = translator.manifest
    source = next(s for s, d in zip(sentences, translator.translate(sentences)) if len(d) > 4)
    decode = translator.translate([source])[0]
    altered = decode[:3] + ("#" if decode[3] != "#" else "$")
    ((step, margin),) = first_departures(translator, [(source, decode, altered)])
    assert step == 3
    # The same margin, computed by stepping the model along START + the decode's first 3 characters.
    state = translator.model.encode(m.source_vocab.encode([source], m.max_source_length))
    for char in "\t" + decode[:3]:
        logits, state = translator.model.step(np.array([m.target_vocab.id(char)], np.int32), state)
    scores = np.sort(log_softmax(logits[0]))
    assert int(np.argmax(logits[0])) == m.target_vocab.id(decode[3])
    assert margin == pytest.approx(scores[-1] - scores[-2], abs=1e-4)


def test_failed_validation_leaves_the_previous_bundle(tiny_run, copy_bundle, monkeypatch):
    import export.onnx_converter as onnx_converter
    import export.to_onnx as to_onnx

    bundle = copy_bundle()
    before = {p.name: p.read_bytes() for p in bundle.iterdir()}
    real_convert = onnx_converter.convert_float32

    def broken_convert(spec, opset=17):
        graphs = real_convert(spec, opset)
        proto = onnx.load_from_string(graphs["encoder"])
        init = max(proto.graph.initializer, key=lambda t: np.prod(t.dims))
        init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init) * 0.9, init.name))
        graphs["encoder"] = proto.SerializeToString()
        return graphs

    monkeypatch.setattr(onnx_converter, "convert_float32", broken_convert)
    with pytest.raises(ParityError, match="encoder states differ"):
        to_onnx.export_onnx(tiny_run, bundle, log=lambda *a: None)
    assert {p.name: p.read_bytes() for p in bundle.iterdir()} == before
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".")]

    fresh = bundle.parent / "never"  # and with no bundle there before, none appears
    with pytest.raises(ParityError):
        to_onnx.export_onnx(tiny_run, fresh, log=lambda *a: None)
    assert not fresh.exists()

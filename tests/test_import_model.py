"""Importing a model trained by the keras.io script: decodes equal the script's own, before and after
export; bad models and data give one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from tests.conftest import quiet
from tests.keras_io_script import Script

pytestmark = pytest.mark.slow

NUM_SAMPLES = 400


@pytest.fixture(scope="module")
def script_model(tmp_path_factory):
    """A tiny model trained and saved by the script's own procedure (Keras 3: s2s_model.keras)."""
    from trainer.builtin import builtin_pairs

    d = tmp_path_factory.mktemp("keras_io")
    pairs = builtin_pairs(NUM_SAMPLES, 0, 20, None, 40)
    # fra.txt's three columns: English, French, attribution.
    (d / "fra.txt").write_text("".join(f"{en}\t{fr}\tCC-BY 2.0 (France) Attribution: tatoeba.org\n"
                                       for en, fr in pairs), encoding="utf-8")
    keras.utils.set_random_seed(1)
    script = Script(d / "fra.txt", NUM_SAMPLES, latent_dim=32)
    script.train_and_save(d / "s2s_model.keras", epochs=40, learning_rate=0.01)
    script.load_for_inference(d / "s2s_model.keras")
    return d, script


def _script_decodes(script: Script, rows: range, limit: int) -> list[str]:
    # What a user reads: the script appends END and may emit one character past the limit.
    return [script.decode_sequence(script.encoder_input_data[i : i + 1]).removesuffix("\n")[:limit] for i in rows]


def test_an_imported_model_decodes_as_the_script_before_and_after_export(script_model, tmp_path):
    from export.to_onnx import export_onnx
    from export.to_tflite import export_tflite
    from runtime import Translator
    from trainer.keras_io import import_keras_io
    from trainer.reference import keras_translator
    from trainer.run import read_heldout

    d, script = script_model
    run = tmp_path / "run"
    info = import_keras_io(d / "s2s_model.keras", run, d / "fra.txt", num_samples=NUM_SAMPLES, log=quiet)
    assert (info.max_source_length, info.max_target_length) == (script.max_encoder_seq_length,
                                                                script.max_decoder_seq_length)
    assert list(info.source_vocab.chars) == script.input_characters
    assert list(info.target_vocab.chars) == script.target_characters
    # The held-out sentences are the script's validation split: the last 20% of the lines.
    cut = int(len(script.input_texts) * 0.8)
    held = [en for en, _ in read_heldout(run)]
    assert held == script.input_texts[cut:]
    # The script's decode_sequence calls predict twice a character (~0.1 s): compare on the first 16.
    held = held[:16]
    expected = _script_decodes(script, range(cut, cut + len(held)), info.max_target_length)
    assert sum(e.strip() != "" for e in expected) > len(expected) // 2, "the fixture model says nothing"
    assert keras_translator(run).translate(held) == expected
    bundle = tmp_path / "bundle"
    export_onnx(run, bundle, quantize=("none",), log=quiet)
    export_tflite(run, bundle, quantize=("none",), log=quiet)
    for backend in ("onnx", "tflite"):
        assert Translator(bundle, backend=backend).translate(held) == expected, backend


def test_evaluation_and_quantization_aware_fine_tuning_take_an_imported_run(script_model, tmp_path):
    from trainer.evaluate import evaluate
    from trainer.keras_io import import_keras_io
    from trainer.qat import fine_tune
    from trainer.run import read_run

    d, _ = script_model
    run = tmp_path / "run"
    import_keras_io(d / "s2s_model.keras", run, d / "fra.txt", num_samples=NUM_SAMPLES, log=quiet)
    scores = evaluate(run, limit=20, samples=0, log=quiet)
    assert scores.sentences == 20 and scores.chrf > 0
    fine_tune(run, tmp_path / "qat", epochs=1, verbose=0, log=quiet)
    assert read_run(tmp_path / "qat").settings.quantization_aware


def test_vocabulary_files_beside_the_model_are_used(script_model, tmp_path):
    from trainer.keras_io import KerasIoError, import_keras_io

    d, script = script_model
    model_dir = tmp_path / "hub"
    model_dir.mkdir()
    (model_dir / "s2s_model.keras").write_bytes((d / "s2s_model.keras").read_bytes())
    (model_dir / "input_vocab.json").write_text(json.dumps(script.input_characters), encoding="utf-8")
    (model_dir / "target_vocab.json").write_text(json.dumps(script.target_characters), encoding="utf-8")
    info = import_keras_io(model_dir / "s2s_model.keras", tmp_path / "run", d / "fra.txt", num_samples=100,
                           log=quiet)  # 100 lines would rebuild a smaller source vocabulary: the files win
    assert list(info.target_vocab.chars) == script.target_characters
    # The script's token index ({char: id}) reads the same.
    (model_dir / "target_vocab.json").write_text(json.dumps(script.target_token_index), encoding="utf-8")
    info = import_keras_io(model_dir / "s2s_model.keras", tmp_path / "run1", d / "fra.txt", log=quiet)
    assert list(info.target_vocab.chars) == script.target_characters
    (model_dir / "target_vocab.json").write_text(json.dumps(script.target_characters[:-1]), encoding="utf-8")
    with pytest.raises(KerasIoError, match=r"decoder vocabulary has \d+ characters but the model's decoder input "
                                           r"is \d+ wide: the vocabulary files belong to another model"):
        import_keras_io(model_dir / "s2s_model.keras", tmp_path / "run2", d / "fra.txt", log=quiet)


def test_a_vocabulary_of_another_size_names_both_sizes_and_suggests_num_samples(script_model, tmp_path):
    from trainer.keras_io import KerasIoError, import_keras_io

    d, script = script_model
    with pytest.raises(KerasIoError, match=rf"has \d+ characters but the model's \w+ input is "
                                           rf"(\d+) wide: .*--num-samples it used \(now 5\)"):
        import_keras_io(d / "s2s_model.keras", tmp_path / "run", d / "fra.txt", num_samples=5, log=quiet)
    assert not (tmp_path / "run").exists()


def test_an_h5_that_keras_3_wrote_is_read_as_the_keras_3_script_s(script_model, tmp_path):
    """model.save("s2s.h5") under Keras 3: Keras 3's own layout, the keras.io script's space padding."""
    from trainer.keras_io import import_keras_io
    from trainer.reference import keras_translator
    from trainer.run import read_heldout

    d, _ = script_model
    keras.saving.load_model(d / "s2s_model.keras").save(tmp_path / "s2s.h5")
    info = import_keras_io(tmp_path / "s2s.h5", tmp_path / "h5", d / "fra.txt", num_samples=NUM_SAMPLES, log=quiet)
    assert info.source_vocab.padding == "space" and "HDF5" in info.settings.extra["imported"]["format"]
    import_keras_io(d / "s2s_model.keras", tmp_path / "keras", d / "fra.txt", num_samples=NUM_SAMPLES, log=quiet)
    held = [en for en, _ in read_heldout(tmp_path / "h5")][:16]
    assert keras_translator(tmp_path / "h5").translate(held) == keras_translator(tmp_path / "keras").translate(held)


def test_models_that_are_not_the_scripts_are_refused(tmp_path):
    from trainer.keras_io import KerasIoError, read_model

    a, b = keras.Input(shape=(None, 7)), keras.Input(shape=(None, 9))
    _, h = keras.layers.GRU(8, return_state=True)(a)
    y = keras.layers.GRU(8, return_sequences=True)(b, initial_state=h)
    gru = keras.Model([a, b], keras.layers.Dense(9, activation="softmax")(y))
    gru.save(tmp_path / "gru.keras")
    with pytest.raises(KerasIoError, match="expected two one-hot inputs, two LSTMs and a Dense layer, found "
                                           "InputLayer, InputLayer, GRU, GRU, Dense"):
        read_model(tmp_path / "gru.keras")
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    # tf.saved_model.save keeps no Keras structure, in keras_metadata.pb or in the object graph
    with pytest.raises(KerasIoError, match="holds no functional Keras model description: .* model.save"):
        read_model(tmp_path / "saved")
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"\xff" * 16)
    with pytest.raises(KerasIoError, match="cannot read .*saved_model.pb as a SavedModel"):
        read_model(tmp_path / "saved")
    (tmp_path / "old.h5").write_bytes(b"not hdf5")
    with pytest.raises(KerasIoError, match="cannot read .*old.h5 as HDF5"):
        read_model(tmp_path / "old.h5")
    gru.save_weights(tmp_path / "gru.weights.h5")
    with pytest.raises(KerasIoError, match="holds weights only"):
        read_model(tmp_path / "gru.weights.h5")
    with pytest.raises(KerasIoError, match="model not found"):
        read_model(tmp_path / "missing.keras")


def test_the_command_line_reports_errors_in_one_line(script_model, tmp_path):
    d, _ = script_model
    done = subprocess.run(
        [sys.executable, "-m", "trainer.import_model", "--model", str(d / "s2s_model.keras"),
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("python -m trainer.import_model")]
    assert lines and "give the script's data file (--data)" in lines[-1]
    assert "Traceback" not in done.stderr


FIXTURE = Path(__file__).resolve().parent / "fixtures" / "keras_io_tf2"
KERAS2_H5 = Path(__file__).resolve().parent / "fixtures" / "keras_io_h5"


def test_a_tf_keras_2_savedmodel_decodes_as_the_script_did(tmp_path):
    """The fixture was made by tf.keras 2.15 running the script (fixtures/keras_io_tf2/make_fixture.py):
    a SavedModel and the script's own decodes of its held-out sentences. Keras 3 cannot load it."""
    from export.to_onnx import export_onnx
    from runtime import Translator
    from trainer.keras_io import import_keras_io
    from trainer.reference import keras_translator

    expected = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
    run = tmp_path / "run"
    info = import_keras_io(FIXTURE / "s2s", run, FIXTURE / "fra.txt", num_samples=expected["num_samples"],
                           log=quiet)
    assert "SavedModel" in info.settings.extra["imported"]["format"]
    sources = [s for s, _ in expected["decodes"]]
    want = [d.removesuffix("\n")[: info.max_target_length] for _, d in expected["decodes"]]
    assert keras_translator(run).translate(sources) == want
    export_onnx(run, tmp_path / "bundle", log=quiet)
    assert Translator(tmp_path / "bundle").translate(sources) == want


def _user_reads(decodes: list[list[str]], limit: int) -> list[str]:
    return [d.removesuffix("\n")[:limit] for _, d in decodes]


def test_a_keras_2_h5_of_the_2017_example_decodes_as_the_example_did(keras2_h5_run, keras2_h5_bundle):
    """fixtures/keras_io_h5 was made by Keras 2.15 running the 2017 example (make_fixture.py): zero
    padding, Keras 2's hard_sigmoid, two-column data. The imported run and every float32 artifact decode
    as the example's own decode_sequence did."""
    from runtime import Translator
    from runtime.bundle import read_manifest
    from trainer.reference import keras_translator
    from trainer.run import read_run

    run, expected = keras2_h5_run
    info = read_run(run)
    assert info.source_vocab.padding == info.target_vocab.padding == "zero"
    assert json.loads((run / "run.json").read_text())["format_version"] == 2  # version 1 readers refuse it
    assert info.source_vocab.pad_id == len(info.source_vocab)
    imported = info.settings.extra["imported"]
    assert "HDF5" in imported["format"] and imported["recurrent_activation"] == "hard_sigmoid_keras2"
    # no --padding: the training pairs chose zero padding, and the import was proven against the file
    proof = imported["proof"]
    assert proof["padding"] == "zero" and proof["padding_chosen_by"] == "score"
    _check_original_comparison(proof)
    sources = [s for s, _ in expected["decodes"]]
    want = _user_reads(expected["decodes"], info.max_target_length)
    assert sum(len(w) < info.max_target_length for w in want) > len(want) // 2 and len(set(want)) > 3, \
        "the fixture model's decodes run to the length limit or say one thing"
    assert keras_translator(run).translate(sources) == want
    manifest = read_manifest(keras2_h5_bundle)
    assert manifest.padding == "zero"
    # the bundle says where the model came from and how the import was proven (the file's name, not its path)
    assert manifest.provenance["imported"]["proof"] == proof
    assert manifest.provenance["imported"]["files"] == ["s2s.h5"] and "from" not in manifest.provenance["imported"]
    assert json.loads((keras2_h5_bundle / "manifest.json").read_text())["pad_token"] is None
    for backend in ("onnx", "tflite"):
        assert Translator(keras2_h5_bundle, backend=backend).translate(sources) == want, backend
    validation = manifest.validation
    assert validation["onnx/float32"]["decodes_identical"] == validation["onnx/float32"]["decodes_compared"]
    assert validation["tflite/float32"]["decodes_identical"] == validation["tflite/float32"]["decodes_compared"]


def test_zero_padding_and_keras_2_hard_sigmoid_are_what_make_the_decodes(keras2_h5_run, tmp_path):
    """Space padding, or Keras 3's hard_sigmoid, on the same weights: other decodes. So the test above
    checks that both are carried, not that any import decodes alike."""
    import dataclasses

    from runtime.vocab import Vocabulary
    from trainer.model import build_training_model, load_model, open_run
    from trainer.reference import step_translator
    from trainer.run import MODEL_FILE, read_run

    run, expected = keras2_h5_run
    info = read_run(run)
    sources = [s for s, _ in expected["decodes"]]
    want = _user_reads(expected["decodes"], info.max_target_length)
    trained = open_run(run)
    spaced = dataclasses.replace(trained.spec, source_vocab=Vocabulary(info.source_vocab.chars, "space"),
                                 target_vocab=Vocabulary(info.target_vocab.chars, "space"))
    got = step_translator(trained.model, spaced).translate(sources)
    assert sum(g != w for g, w in zip(got, want)) >= len(want) // 4
    keras3 = build_training_model(len(info.source_vocab), len(info.target_vocab), info.latent_dim,
                                  recurrent_activation="hard_sigmoid")
    keras3.set_weights(load_model(run / MODEL_FILE).get_weights())
    got = step_translator(keras3, info).translate(sources)
    assert sum(g != w for g, w in zip(got, want)) >= len(want) // 4


def test_an_imported_zero_padded_run_fine_tunes_and_evaluates(keras2_h5_run, tmp_path):
    from trainer.evaluate import evaluate
    from trainer.qat import fine_tune
    from trainer.run import read_run

    run, _ = keras2_h5_run
    assert evaluate(run, limit=20, samples=0, log=quiet).chrf > 0
    fine_tune(run, tmp_path / "qat", epochs=1, verbose=0, log=quiet)
    tuned = read_run(tmp_path / "qat")
    assert tuned.source_vocab.padding == "zero" and tuned.settings.quantization_aware


def test_the_h5_import_command_line_takes_padding(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "trainer.import_model", "--model", str(KERAS2_H5 / "s2s.h5"), "--data",
         str(KERAS2_H5 / "fra.txt"), "--num-samples", "240", "--padding", "ones", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 2 and "invalid choice: 'ones'" in done.stderr


def _rewritten_data(path: Path) -> str:
    """The 2017 example's data as field variants have it: `^` between the columns, French first, under a
    header line."""
    rows = [line.split("\t") for line in (KERAS2_H5 / "fra.txt").read_text(encoding="utf-8").split("\n") if line]
    assert not any("^" in field for row in rows for field in row)
    path.write_text("French^English\n" + "".join(f"{fr}^{en}\n" for en, fr in rows), encoding="utf-8")
    return str(path)


def test_data_with_another_separator_a_header_and_swapped_columns_imports_as_the_original(keras2_h5_run, tmp_path):
    """--delimiter, --header-lines and --swap-columns read the same pairs from a rewritten data file: the
    run equals the one imported from the original (vocabularies, held-out pairs), and records the layout."""
    from trainer.run import HELDOUT_TSV, RUN_JSON

    run, expected = keras2_h5_run
    data = _rewritten_data(tmp_path / "fra-variant.csv")
    done = subprocess.run(
        [sys.executable, "-m", "trainer.import_model", "--model", str(KERAS2_H5 / "s2s.h5"), "--data", data,
         "--num-samples", str(expected["num_samples"]), "--delimiter", "^", "--header-lines", "1",
         "--swap-columns", "--source-language", "en", "--target-language", "fr-CA", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr
    original = json.loads((run / RUN_JSON).read_text(encoding="utf-8"))
    variant = json.loads((tmp_path / "run" / RUN_JSON).read_text(encoding="utf-8"))
    for field in ("source_vocab", "target_vocab", "max_source_length", "max_target_length"):
        assert variant[field] == original[field], field
    assert (tmp_path / "run" / HELDOUT_TSV).read_text(encoding="utf-8") == (run / HELDOUT_TSV).read_text(
        encoding="utf-8")
    assert variant["settings"]["imported"]["data_layout"] == {
        "delimiter": "^", "header_lines": 1, "swap_columns": True, "lowercase": False, "wrap_source": False}
    # the languages reach the bundle's manifest; a run written before they were recorded is English to French
    assert variant["languages"] == {"source": "en", "target": "fr-CA"}
    from export.to_onnx import export_onnx

    manifest, _ = export_onnx(tmp_path / "run", tmp_path / "bundle", num_decodes=20, golden=0, log=quiet)
    assert manifest.languages == {"source": "en", "target": "fr-CA"}
    assert json.loads((tmp_path / "bundle" / "manifest.json").read_text(encoding="utf-8"))["languages"] == {
        "source": "en", "target": "fr-CA"}
    del original["languages"]
    from trainer.run import RunInfo

    assert RunInfo.from_json(original).languages == {"source": "en", "target": "fr"}


@pytest.mark.parametrize("flags,message", [
    (("--source-language", "English"), "languages must be"),
    ((), "line 1: expected two fields separated by TAB, as the script reads it: give the script's --delimiter"),
    # the header read as a pair, the columns the other way round: the vocabularies do not fit the model
    (("--delimiter", "^"), "(--swap-columns)"),
    (("--delimiter", "^", "--header-lines", "1"), "(--swap-columns)"),
])
def test_a_data_layout_that_is_not_the_scripts_names_the_flags(tmp_path, flags, message):
    data = _rewritten_data(tmp_path / "fra-variant.csv")
    done = subprocess.run(
        [sys.executable, "-m", "trainer.import_model", "--model", str(KERAS2_H5 / "s2s.h5"), "--data", data,
         "--num-samples", "240", *flags, "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 2 and not (tmp_path / "run").exists()
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("python -m trainer.import_model: error:")]
    assert message in line


TF2_H5 = Path(__file__).resolve().parent / "fixtures" / "keras_io_tf2_h5"
TF24 = Path(__file__).resolve().parent / "fixtures" / "keras_io_tf24"


def _check_original_comparison(proof: dict) -> None:
    """With tf_keras (scripts/test installs it) the import was compared with the file itself; without
    it the proof says why not."""
    from trainer.keras_io.proof import tf_keras_available

    if os.environ.get("S2S_REQUIRE_TF_KERAS"):
        assert tf_keras_available(), "S2S_REQUIRE_TF_KERAS is set but tf_keras is not installed"
    original = proof["original"]
    if tf_keras_available():
        assert original["compared"] and original["passed"], original
        assert original["greedy_decodes_identical"] == original["pairs"] > 0
        assert original["max_probability_difference"] <= original["tolerance"]
    else:
        assert not original["compared"] and "pip install --no-deps tf-keras" in original["reason"]


@pytest.mark.parametrize("model,decoder", [
    ("s2s.h5", None),  # the training model as HDF5, space padding, a "Functional" model
    ("encoder_model.h5", "decoder_model.h5"),  # the inference pair as HDF5
    ("encoder_model", "decoder_model"),  # and as SavedModels
])
def test_tf_keras_2_h5_files_and_inference_pairs_decode_as_the_script_did(tmp_path, model, decoder):
    """fixtures/keras_io_tf2_h5 was made by tf.keras 2.15 running the script (make_fixture.py). With no
    --padding, the import scores both paddings on the training pairs and takes space, the script's;
    its decodes are the script's own."""
    from trainer.keras_io import import_keras_io
    from trainer.reference import keras_translator

    expected = json.loads((TF2_H5 / "expected.json").read_text(encoding="utf-8"))
    run = tmp_path / "run"
    info = import_keras_io(TF2_H5 / model, run, TF2_H5 / "fra.txt", num_samples=expected["num_samples"],
                           decoder_model=TF2_H5 / decoder if decoder else None, log=quiet)
    imported = info.settings.extra["imported"]
    assert info.source_vocab.padding == "space" and ("inference pair" in imported["format"]) == bool(decoder)
    proof = imported["proof"]
    assert proof["padding_chosen_by"] == "score" and set(proof["scores"]) == {"space", "zero"}
    assert proof["scores"]["space"]["accuracy"] > proof["scores"]["zero"]["accuracy"]
    _check_original_comparison(proof)
    sources = [s for s, _ in expected["decodes"]]
    want = _user_reads(expected["decodes"], info.max_target_length)
    assert len(set(want)) > 5, "the fixture model says few things"
    assert keras_translator(run).translate(sources) == want


def test_a_tf_keras_2_4_savedmodel_keeps_its_metadata_in_the_object_graph_and_imports(tmp_path):
    """fixtures/keras_io_tf24 was made by tensorflow-cpu 2.4 on Python 3.8 (make_fixture.py): no
    keras_metadata.pb; the Keras metadata is in saved_model.pb."""
    from trainer.keras_io import import_keras_io
    from trainer.reference import keras_translator

    assert not (TF24 / "s2s" / "keras_metadata.pb").exists()
    expected = json.loads((TF24 / "expected.json").read_text(encoding="utf-8"))
    run = tmp_path / "run"
    info = import_keras_io(TF24 / "s2s", run, TF24 / "fra.txt", num_samples=expected["num_samples"], log=quiet)
    assert info.settings.extra["imported"]["format"].startswith("tf.keras 2.4")
    _check_original_comparison(info.settings.extra["imported"]["proof"])
    sources = [s for s, _ in expected["decodes"]]
    assert keras_translator(run).translate(sources) == _user_reads(expected["decodes"], info.max_target_length)


def _shifted(path: Path, column: int, old: str, new: str) -> Path:
    """The fixture's data with one character of one column replaced by another that sorts elsewhere: a
    vocabulary of the right size whose ids are shifted, as another release of the data file gives."""
    lines = []
    for line in (TF2_H5 / "fra.txt").read_text(encoding="utf-8").split("\n"):
        fields = line.split("\t")
        if len(fields) > 1:
            assert new not in fields[column]
            fields[column] = fields[column].replace(old, new)
        lines.append("\t".join(fields))
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("column,old,new", [(0, "!", "~"), (1, "!", "~")])
def test_a_vocabulary_of_the_right_size_with_shifted_ids_is_refused(tmp_path, column, old, new):
    from trainer.keras_io.data import script_data

    data = _shifted(tmp_path / "fra.txt", column, old, new)
    right, shifted = script_data(TF2_H5 / "fra.txt", 240), script_data(data, 240)
    assert (len(right.source_vocab), len(right.target_vocab)) == (len(shifted.source_vocab), len(shifted.target_vocab))
    if column == 1:  # in process
        from trainer.keras_io import KerasIoError, import_keras_io

        with pytest.raises(KerasIoError, match="does not read these vocabularies .* another release of the data"):
            import_keras_io(TF2_H5 / "s2s.h5", tmp_path / "run", data, num_samples=240, log=quiet)
        assert not (tmp_path / "run").exists()
        return
    done = subprocess.run(
        [sys.executable, "-m", "trainer.import_model", "--model", str(TF2_H5 / "s2s.h5"), "--data", str(data),
         "--num-samples", "240", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 2 and not (tmp_path / "run").exists()
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("python -m trainer.import_model: error:")]
    assert "does not read these vocabularies" in line and "another release of the data file" in line


def test_half_of_the_inference_pair_alone_names_the_other_flag(tmp_path):
    from trainer.keras_io import KerasIoError, import_keras_io

    for half in ("encoder_model.h5", "decoder_model"):
        with pytest.raises(KerasIoError, match="--model ENCODER --decoder-model DECODER"):
            import_keras_io(TF2_H5 / half, tmp_path / "run", TF2_H5 / "fra.txt", num_samples=240, log=quiet)
    with pytest.raises(KerasIoError, match="give the two halves the script saved together"):
        import_keras_io(TF2_H5 / "encoder_model.h5", tmp_path / "run", TF2_H5 / "fra.txt", num_samples=240,
                        decoder_model=TF2_H5 / "decoder_model", log=quiet)


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_vocabularies_pickled_by_the_script_are_read_without_running_anything(tmp_path):
    """The script's `{char: id}` dicts pickled beside the model, or a list of characters, are read; a
    pickle that names any class or function is refused before it can run it."""
    import pickle

    from trainer.keras_io import KerasIoError
    from trainer.keras_io.data import read_vocab_file, script_data

    script = script_data(TF2_H5 / "fra.txt", 240)
    source_index = {c: i for i, c in enumerate(script.source_vocab.chars)}
    (tmp_path / "input_token_index.pkl").write_bytes(pickle.dumps(source_index))
    (tmp_path / "target_chars.pickle").write_bytes(pickle.dumps(list(script.target_vocab.chars), protocol=0))
    assert read_vocab_file(tmp_path / "input_token_index.pkl").chars == script.source_vocab.chars
    assert read_vocab_file(tmp_path / "target_chars.pickle").chars == script.target_vocab.chars
    marker = tmp_path / "ran"
    for name, payload in (("exploit.pkl", _Exploit(marker)), ("wide.pkl", {"ab": 0}), ("ids.pkl", {"a": "0"})):
        (tmp_path / name).write_bytes(pickle.dumps(payload))
        with pytest.raises(KerasIoError, match="is not a pickled vocabulary"):
            read_vocab_file(tmp_path / name)
    assert not marker.exists()
    # end to end
    from trainer.keras_io import import_keras_io

    info = import_keras_io(TF2_H5 / "s2s.h5", tmp_path / "run", TF2_H5 / "fra.txt", num_samples=240,
                           source_vocab_file=tmp_path / "input_token_index.pkl",
                           target_vocab_file=tmp_path / "target_chars.pickle", log=quiet)
    assert info.source_vocab.chars == script.source_vocab.chars


VARIANTS = Path(__file__).resolve().parent / "fixtures" / "keras_io_variants"


def test_a_lowercased_model_with_a_wrapped_source_takes_raw_text_in_every_runtime(tmp_path):
    """fixtures/keras_io_variants was made by tf.keras 2.15 running the script with two field variants:
    both sides lowercased and the English wrapped in "\\t" ... "\\n" (make_fixture.py). Imported with
    --lowercase --wrap-source, the bundle (format version 5) records both, and the Python, JavaScript and
    C runtimes translate the raw English, as typed, into the script's own decodes."""
    import shutil

    from export.to_onnx import export_onnx
    from export.to_tflite import export_tflite
    from runtime import Translator
    from trainer.reference import keras_translator

    expected = json.loads((VARIANTS / "expected.json").read_text(encoding="utf-8"))
    sources = [s for s, _ in expected["decodes"]]
    assert any(s != s.lower() for s in sources)
    # without the flags the vocabularies do not fit, and the error names them
    done = subprocess.run(
        [sys.executable, "-m", "trainer.import_model", "--model", str(VARIANTS / "s2s.h5"), "--data",
         str(VARIANTS / "fra.txt"), "--num-samples", "240", "--out", str(tmp_path / "plain")],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 2 and "--lowercase" in done.stderr and "--wrap-source" in done.stderr
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "trainer.import_model", "--model", str(VARIANTS / "s2s.h5"), "--data",
         str(VARIANTS / "fra.txt"), "--num-samples", "240", "--lowercase", "--wrap-source", "--out", str(run)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert info["format_version"] == 3 and info["source_form"] == {"lowercase": True, "wrap": True}
    _check_original_comparison(info["settings"]["imported"]["proof"])
    translator = keras_translator(run)
    want = _user_reads(expected["decodes"], translator.manifest.max_target_length)
    assert len(set(want)) > 5
    assert keras_translator(run).translate(sources) == want
    assert translator.max_input_length == info["max_source_length"] - 2
    bundle = tmp_path / "bundle"
    export_onnx(run, bundle, num_decodes=48, log=quiet)
    export_tflite(run, bundle, quantize=("none",), num_decodes=48, log=quiet)
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["format_version"] == 5 and manifest["source_form"] == {"lowercase": True, "wrap": True}
    for backend in ("onnx", "tflite"):
        python = Translator(bundle, backend=backend)
        assert python.translate(sources) == want, backend
        assert python.self_check().passed, backend
    root = Path(__file__).resolve().parents[1]
    lines = "".join(s + "\n" for s in sources)
    if shutil.which("node") and (root / "js" / "node_modules").is_dir():
        done = subprocess.run(["node", "bin/translate.mjs", "--bundle", str(bundle)], input=lines, cwd=root / "js",
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split("\n")[:-1] == want
    else:
        assert os.environ.get("S2S_REQUIRE_JS") != "1", "node or js/node_modules is missing"
    cli = root / "native" / "build" / "s2s-translate"
    if cli.is_file():
        done = subprocess.run([str(cli), "--bundle", str(bundle), "--precision", "float32"], input=lines,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split("\n")[:-1] == want
    else:
        assert os.environ.get("S2S_REQUIRE_NATIVE") != "1", f"{cli} is missing"

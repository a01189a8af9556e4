"""The runtime's API, input policy and bundle checks."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from runtime import (
    BackendUnavailableError,
    BundleError,
    InputTooLongError,
    Translator,
    UnknownCharacterError,
)
from runtime.bundle import MANIFEST, read_manifest
from runtime.vocab import Vocabulary
from tests.conftest import strip_golden


def test_str_in_str_out_and_list_in_list_out_in_order(translator, sentences):
    batch = translator.translate(sentences)
    assert isinstance(batch, list) and len(batch) == len(sentences)
    assert all(isinstance(t, str) for t in batch)
    assert translator.translate(sentences[3]) == batch[3]
    assert translator.translate(list(reversed(sentences))) == list(reversed(batch))


def test_batch_size_does_not_change_results(tiny_bundle, translator, sentences):
    assert Translator(tiny_bundle, max_batch_size=3).translate(sentences) == translator.translate(sentences)


def test_outputs_stop_at_the_end_token_and_respect_the_maximum(translator, sentences):
    limit = translator.manifest.max_target_length
    for out in translator.translate(sentences):
        assert "\n" not in out and len(out) <= limit


def test_empty_inputs(translator):
    assert translator.translate("") == ""
    assert translator.translate([]) == []
    assert translator.translate(["", ""]) == ["", ""]


def test_type_errors(translator):
    for bad in (None, 42, b"Hello.", {"a": 1}):
        with pytest.raises(TypeError):
            translator.translate(bad)
    with pytest.raises(TypeError):
        translator.translate(["I am tired.", 3])


def test_unknown_characters(translator, sentences):
    text = sentences[0]
    with pytest.raises(UnknownCharacterError, match="'€'"):
        translator.translate(text[:-1] + "€" + text[-1])
    assert translator.translate(text[:-1] + "€" + text[-1], on_unknown="skip") == translator.translate(text)
    assert translator.translate("€€", on_unknown="skip") == ""


def test_overflow(translator, sentences):
    limit = translator.max_input_length
    long = (sentences[0] + " ") * (limit // len(sentences[0]) + 2)
    with pytest.raises(InputTooLongError, match=f"maximum of {limit}"):
        translator.translate(long)
    assert translator.translate(long, on_overflow="truncate") == translator.translate(long[:limit])


def test_policy_defaults_are_set_per_translator(tiny_bundle):
    t = Translator(tiny_bundle, on_unknown="skip", on_overflow="truncate")
    assert isinstance(t.translate("€" * 500), str)
    with pytest.raises(ValueError, match="on_unknown"):
        Translator(tiny_bundle, on_unknown="maybe")


def test_cuda_without_the_provider_says_how_to_get_it(tiny_bundle):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(BackendUnavailableError, match="onnxruntime-gpu"):
        Translator(tiny_bundle, device="cuda")
    assert Translator(tiny_bundle, device="auto").model.device == "cpu"


def test_missing_manifest(copy_bundle):
    bundle = copy_bundle()
    (bundle / MANIFEST).unlink()
    with pytest.raises(BundleError, match="no manifest.json"):
        Translator(bundle)


def test_tampered_model_file_is_refused_naming_the_file(copy_bundle):
    bundle = copy_bundle()
    path = bundle / "decoder_step.float32.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="decoder_step.float32.onnx.*sha256"):
        Translator(bundle)


def test_missing_model_file(copy_bundle):
    bundle = copy_bundle()
    (bundle / "encoder.float32.onnx").unlink()
    with pytest.raises(BundleError, match="encoder.float32.onnx"):
        Translator(bundle)


def edit_manifest(bundle, change):
    data = json.loads((bundle / MANIFEST).read_text())
    change(data)
    (bundle / MANIFEST).write_text(json.dumps(data))


def test_unknown_format_version(copy_bundle):
    bundle = copy_bundle()
    edit_manifest(bundle, lambda m: m.update(format_version=99))
    with pytest.raises(BundleError, match="format_version 99"):
        Translator(bundle)


def test_a_space_padded_bundle_stays_version_1_and_zero_padding_needs_version_2(copy_bundle, translator):
    bundle = copy_bundle()
    assert json.loads((bundle / MANIFEST).read_text())["format_version"] == 4  # golden translations
    assert strip_golden(bundle) == 1  # without them
    Translator(bundle)
    edit_manifest(bundle, lambda m: m.update(pad_token=None))
    with pytest.raises(BundleError, match="special tokens"):
        Translator(bundle)
    edit_manifest(bundle, lambda m: m.update(format_version=2))
    zero = Translator(bundle)  # the same graphs, read as zero-padded: the encoder reads zero rows
    assert zero.manifest.padding == "zero"
    sentence = "Tom"
    length = zero.manifest.max_source_length
    ids = zero.manifest.source_vocab.encode([sentence], length)
    assert ids[0, 3:].tolist() == [len(zero.manifest.source_vocab)] * (length - 3)
    h_zero = zero.model.encode(ids)["state_h"]
    h_space = translator.model.encode(translator.manifest.source_vocab.encode([sentence], length))["state_h"]
    assert np.abs(h_zero - h_space).max() > 1e-3


@pytest.mark.parametrize("padding", ["left", None])
def test_padding_other_than_right_is_refused(copy_bundle, padding):
    bundle = copy_bundle()
    edit_manifest(bundle, lambda m: m.update(padding=padding))
    with pytest.raises(BundleError, match="pads on the"):
        Translator(bundle)


def test_a_manifest_that_names_no_padding_pads_on_the_right(copy_bundle, sentences):
    bundle = copy_bundle()
    expected = Translator(bundle).translate(sentences[:5])
    edit_manifest(bundle, lambda m: m.pop("padding"))
    assert Translator(bundle).translate(sentences[:5]) == expected


@pytest.mark.parametrize("name", ["../encoder.float32.onnx", "/etc/passwd", "sub/encoder.float32.onnx", "",
                                  "C:encoder.float32.onnx"])
def test_paths_outside_the_bundle_are_refused(copy_bundle, name):
    bundle = copy_bundle()
    edit_manifest(bundle, lambda m: m["artifacts"][0].update(file=name))
    with pytest.raises(BundleError, match="outside the bundle"):
        Translator(bundle)


def test_symlinked_model_file_is_refused(copy_bundle):
    bundle = copy_bundle()
    real = bundle / "encoder.float32.onnx"
    moved = bundle.parent / "elsewhere.onnx"
    real.rename(moved)
    os.symlink(moved, real)
    with pytest.raises(BundleError, match="not a regular file"):
        Translator(bundle)


def test_absent_precision_lists_what_the_bundle_has(tiny_bundle):
    with pytest.raises(BundleError, match="no complete onnx/int8 model.*onnx/float32"):
        Translator(tiny_bundle, precision="int8")


def test_runtime_runs_without_tensorflow(tiny_bundle, sentences, run_without_tensorflow):
    run_without_tensorflow(f"""
from runtime import Translator
out = Translator({str(tiny_bundle)!r}).translate({sentences[:5]!r})
assert len(out) == 5 and all(isinstance(s, str) for s in out), out
""")


def test_extra_files_are_refused(copy_bundle):
    bundle = copy_bundle()
    (bundle / "payload.py").write_text("print('hi')")
    with pytest.raises(BundleError, match="does not list: payload.py"):
        Translator(bundle)


def test_truncated_model_file_is_refused(copy_bundle):
    bundle = copy_bundle()
    path = bundle / "encoder.float32.onnx"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(BundleError, match="encoder.float32.onnx"):
        Translator(bundle)


def test_files_swapped_between_bundles_are_refused(copy_bundle, tmp_path):
    import shutil

    from trainer.fit import fit
    from export.to_onnx import export_onnx

    bundle = copy_bundle()
    other_run, other = tmp_path / "other_run", tmp_path / "other"
    fit(other_run, None, num_samples=300, epochs=1, latent_dim=8, verbose=0, log=lambda *a: None)
    export_onnx(other_run, other, num_decodes=20, log=lambda *a: None)
    shutil.copyfile(other / "decoder_step.float32.onnx", bundle / "decoder_step.float32.onnx")
    with pytest.raises(BundleError, match="decoder_step.float32.onnx.*sha256"):
        Translator(bundle)


def test_huge_manifest_is_refused_unread(copy_bundle):
    from runtime.bundle import MAX_MANIFEST_BYTES

    bundle = copy_bundle()
    with open(bundle / MANIFEST, "ab") as f:
        f.write(b" " * MAX_MANIFEST_BYTES)
    with pytest.raises(BundleError, match="larger than"):
        Translator(bundle)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"format": "s2s-edge-bundle"}', "\xff\xfe"])
def test_malformed_manifests_are_bundle_errors(copy_bundle, text):
    bundle = copy_bundle()
    (bundle / MANIFEST).write_bytes(text.encode("latin-1"))
    with pytest.raises(BundleError):
        Translator(bundle)


def test_bundles_declare_their_languages_and_bad_declarations_are_refused(copy_bundle):
    bundle = copy_bundle()
    assert Translator(bundle).manifest.languages == {"source": "en", "target": "fr"}
    edit_manifest(bundle, lambda m: m.pop("languages"))
    assert Translator(bundle).manifest.languages is None  # optional: older bundles load
    edit_manifest(bundle, lambda m: m.update(languages={"source": "en"}))
    with pytest.raises(BundleError, match="languages must be"):
        Translator(bundle)


def test_the_one_graph_greedy_decoder_gives_what_stepping_gives(tiny_bundle, sentences):
    manifest = read_manifest(tiny_bundle)
    assert "greedy" in manifest.select("onnx", "float32")
    loop, steps = Translator(tiny_bundle), Translator(tiny_bundle, greedy_loop=False)
    assert loop.model.greedy is not None and steps.model.greedy is None
    for batch in (1, 7, 16, 64):  # the graph runs up to GREEDY_LOOP_MAX_BATCH rows, then steps
        loop.max_batch_size = steps.max_batch_size = batch
        assert loop.translate(sentences) == steps.translate(sentences)
    # Scores, beam search and streaming step the decoder: the same with or without the graph.
    assert loop.hypotheses(sentences[:5], beam_size=3) == steps.hypotheses(sentences[:5], beam_size=3)


def test_a_bundle_without_the_greedy_graph_steps_and_a_tampered_one_is_refused(copy_bundle, sentences):
    bundle = copy_bundle()
    expected = Translator(bundle).translate(sentences[:10])
    greedy = next(a for a in read_manifest(bundle).artifacts if a.role == "greedy")
    data = bytearray((bundle / greedy.file).read_bytes())
    data[len(data) // 2] ^= 1
    (bundle / greedy.file).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="does not match its sha256"):
        Translator(bundle)
    assert Translator(bundle, greedy_loop=False).translate(sentences[:10]) == expected  # not read
    (bundle / greedy.file).unlink()
    edit_manifest(bundle, lambda m: m.update(artifacts=[a for a in m["artifacts"] if a["role"] != "greedy"]))
    t = Translator(bundle)
    assert t.model.greedy is None
    assert t.translate(sentences[:10]) == expected


def test_graph_names_other_than_the_formats_are_refused(copy_bundle):
    bundle = copy_bundle()
    edit_manifest(bundle, lambda m: m["io"].pop("greedy"))  # an optional role may be absent
    Translator(bundle)
    edit_manifest(bundle, lambda m: m["io"]["decoder_step"].update(outputs=["probs", "h", "c"]))
    with pytest.raises(BundleError, match="graph inputs/outputs for decoder_step"):
        Translator(bundle)


def _attention_manifest(**changes) -> dict:
    from runtime.bundle import FAMILIES, Manifest

    manifest = Manifest(Vocabulary(tuple(" ab")), Vocabulary(tuple("\t\n ab")), 4, 6, 8, (),
                        family=FAMILIES["attention"])
    return {**manifest.to_json(), **changes}


def test_an_attention_manifest_round_trips_as_format_3():
    from runtime.bundle import MEMORY_KEYS, MEMORY_MASK, MEMORY_VALUES, Manifest

    data = _attention_manifest()
    assert data["format_version"] == 3 and data["family"] == "attention"
    assert data["io"]["encoder"]["outputs"][2:] == [MEMORY_KEYS, MEMORY_VALUES, MEMORY_MASK]
    assert data["io"]["decoder_step"]["outputs"] == ["logits", "next_state_h", "next_state_c"]
    manifest = Manifest.from_json(data)
    assert manifest.family.name == "attention" and manifest.family.context == (MEMORY_KEYS, MEMORY_VALUES, MEMORY_MASK)
    assert Manifest.from_json(json.loads(json.dumps(manifest.to_json()))).to_json() == data


@pytest.mark.parametrize("changes, message", [
    ({"family": None}, "needs a family name"),
    ({"family": ["attention"]}, "needs a family name"),
    ({"family": "transformer"}, 'family "transformer"'),
    ({"format_version": 2}, "graph inputs/outputs"),  # a version-2 reader takes the seed's graphs
])
def test_family_declarations_are_checked(changes, message):
    from runtime.bundle import Manifest

    data = _attention_manifest(**changes)
    if changes.get("family", "") is None:
        del data["family"]
    with pytest.raises(BundleError, match=message):
        Manifest.from_json(data)

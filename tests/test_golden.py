"""Golden translations: what the export records (golden.json, format version 4), what the Python
runtime checks as it loads a bundle, and its self-check (`Translator.self_check`, `--self-check`).

The shared hostile cases (tests/hostile/cases.json, run by test_hostile_bundles.py and the
JavaScript runtime) cover malformed golden files; here: the export's side, the self-check's verdicts
and the command line.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from runtime import BundleError, NoGoldenError, Translator
from runtime.bundle import MANIFEST, read_manifest
from runtime.golden import DEFAULT_GOLDEN, GOLDEN_FILE, read_golden
from tests.conftest import edit_golden, quiet, strip_golden
from tests.test_cli import assert_user_error, cli


def _golden(bundle: Path) -> dict:
    return json.loads((bundle / GOLDEN_FILE).read_text(encoding="utf-8"))


@pytest.fixture
def copy_of(tmp_path):
    def make(bundle: Path, name: str = "bundle") -> Path:
        out = tmp_path / name
        shutil.copytree(bundle, out)
        return out

    return make


# --- what the export writes ------------------------------------------------------------------------

def test_the_export_records_golden_translations_that_the_runtime_reproduces(tiny_bundle):
    manifest = read_manifest(tiny_bundle)
    assert manifest.format_version == 4 and manifest.golden.file == GOLDEN_FILE
    data = json.loads((tiny_bundle / MANIFEST).read_text(encoding="utf-8"))
    assert data["format_version"] == 4 and data["golden"]["size"] == (tiny_bundle / GOLDEN_FILE).stat().st_size
    (entry,) = read_golden(tiny_bundle, manifest).artifacts
    assert (entry.backend, entry.precision) == ("onnx", "float32")
    assert len(entry.sources) == DEFAULT_GOLDEN and len(set(entry.sources)) == DEFAULT_GOLDEN
    (decodes,) = entry.decodes
    assert decodes.kernels == "default" and decodes.engine == "onnxruntime" and decodes.machine
    # float32 passed the exact gate: its decodes are Keras's.
    assert list(decodes.outputs) == list(entry.keras)
    translator = Translator(tiny_bundle)
    assert translator.translate(list(entry.sources)) == list(decodes.outputs)
    check = translator.self_check()
    assert check.passed and (check.k, check.N) == (check.identical, check.total) == (DEFAULT_GOLDEN, DEFAULT_GOLDEN)
    assert check.first_difference is None
    assert check.summary() == (
        f"onnx/float32, default kernels, {check.engine}: {DEFAULT_GOLDEN}/{DEFAULT_GOLDEN} identical to the golden "
        f"decodes (recorded with onnxruntime {decodes.engine_version} on {decodes.machine})")


def test_every_artifact_of_a_bundle_extended_by_a_second_export_keeps_its_golden_translations(attention_bundle):
    """The attention bundle is exported to ONNX, then extended with TFLite: the ONNX artifacts' golden
    decodes are kept in the new file, full-integer files carry both kernel sets, and each checks N/N."""
    manifest = read_manifest(attention_bundle)
    golden = read_golden(attention_bundle, manifest)
    assert [a.name for a in golden.artifacts] == [f"{b}/{p}" for b, p in manifest.complete_models()]
    assert len(golden.artifacts) == 7
    for entry in golden.artifacts:
        kernels = [d.kernels for d in entry.decodes]
        full_integer = entry.backend == "tflite" and entry.precision in ("int8", "int16x8")
        assert kernels == (["default", "builtin"] if full_integer else ["default"]), entry.name
        assert {d.engine for d in entry.decodes} == {"onnxruntime" if entry.backend == "onnx" else "ai-edge-litert"}
        for k in kernels:
            check = Translator(attention_bundle, backend=entry.backend, precision=entry.precision,
                               kernels=k).self_check()
            assert check.passed, check.summary()
            assert check.kernels == k and check.total == len(entry.sources)


def test_golden_zero_writes_none_and_keeps_the_lowest_format_version(tiny_run, tmp_path):
    from export.to_onnx import export_onnx

    none, few = tmp_path / "none", tmp_path / "few"
    export_onnx(tiny_run, none, num_decodes=6, golden=0, greedy_loop=False, log=quiet)
    assert json.loads((none / MANIFEST).read_text())["format_version"] == 1
    assert sorted(p.name for p in none.iterdir()) == ["decoder_step.float32.onnx", "encoder.float32.onnx", MANIFEST]
    with pytest.raises(NoGoldenError, match="no golden translations"):
        Translator(none).self_check()
    # At most the sentences the export compared with Keras.
    export_onnx(tiny_run, few, num_decodes=6, golden=DEFAULT_GOLDEN, greedy_loop=False, log=quiet)
    (entry,) = _golden(few)["artifacts"]
    assert len(entry["sources"]) == 6 and Translator(few).self_check().total == 6
    # Extending a bundle with --golden 0 drops the golden translations of the artifacts it keeps too.
    extended = tmp_path / "extended"
    shutil.copytree(few, extended)
    export_onnx(tiny_run, extended, quantize=("int8",), num_decodes=6, golden=0, min_agreement={"int8": 0.0},
                greedy_loop=False, log=quiet)
    assert read_manifest(extended).golden is None and not (extended / GOLDEN_FILE).exists()
    assert read_manifest(extended).format_version == 1


# --- the self-check's verdicts -----------------------------------------------------------------------

def test_the_self_check_decodes_as_the_export_recorded_whatever_the_translators_settings(tiny_bundle):
    """Stepping the decoder in batches of up to 64, as the export recorded: not the one-graph greedy
    decoder that this Translator's `translate` would run on batches of 1."""
    translator = Translator(tiny_bundle, max_batch_size=1, on_unknown="skip", on_overflow="truncate")
    assert translator.model.greedy is not None

    def no_graph(*_args, **_kwargs):
        raise AssertionError("the self-check ran the one-graph greedy decoder")

    translator.model.greedy_ids = no_graph
    with pytest.raises(AssertionError, match="one-graph"):
        translator.translate(["a"])
    assert translator.self_check().passed


def test_decodes_that_differ_from_the_recorded_ones_are_reported(tiny_bundle, copy_of):
    bundle = copy_of(tiny_bundle)
    golden = _golden(bundle)
    outputs = golden["artifacts"][0]["decodes"][0]["outputs"]
    outputs[3] = outputs[3] + "?"
    edit_golden(bundle, lambda _: golden)
    check = Translator(bundle).self_check()
    assert not check.passed and (check.identical, check.total) == (DEFAULT_GOLDEN - 1, DEFAULT_GOLDEN)
    diff = check.first_difference
    assert (diff.index, diff.source) == (3, golden["artifacts"][0]["sources"][3])
    assert diff.recorded == outputs[3] and diff.got + "?" == outputs[3]


def test_another_models_golden_translations_are_told_apart(tiny_bundle, attention_bundle, copy_of):
    """The attention model's golden decodes of the same held-out sentences, in the seed bundle under a
    valid hash: the seed model decodes them otherwise, and the self-check says so."""
    bundle = copy_of(tiny_bundle)
    theirs = next(a for a in _golden(attention_bundle)["artifacts"]
                  if (a["backend"], a["precision"]) == ("onnx", "float32"))
    assert theirs["sources"] == _golden(bundle)["artifacts"][0]["sources"]
    edit_golden(bundle, lambda golden: {**golden, "artifacts": [theirs]})
    check = Translator(bundle).self_check()
    assert not check.passed and check.first_difference is not None
    assert check.first_difference.recorded == theirs["decodes"][0]["outputs"][check.first_difference.index]


def test_a_self_check_without_golden_translations_for_what_runs_says_so(tiny_bundle, attention_bundle, copy_of):
    with pytest.raises(NoGoldenError, match="recorded on the default kernels, not on the builtin kernels"):
        Translator(attention_bundle, backend="tflite", precision="float32", kernels="builtin").self_check()
    bundle = copy_of(attention_bundle)
    golden = _golden(bundle)
    golden["artifacts"] = [a for a in golden["artifacts"] if a["precision"] != "int8"]
    edit_golden(bundle, lambda _: golden)
    with pytest.raises(NoGoldenError, match=r"are for onnx/float32, tflite/float32, .*; not for onnx/int8"):
        Translator(bundle, precision="int8").self_check()
    older = copy_of(tiny_bundle, "older")
    assert strip_golden(older) == 1
    with pytest.raises(NoGoldenError, match=r"no golden translations \(it was exported before format version 4"):
        Translator(older).self_check()


@pytest.mark.parametrize("change, error", [
    (lambda g: g["artifacts"].append(g["artifacts"][0]), "onnx/float32 appears twice"),
    (lambda g: g["artifacts"][0]["decodes"].append(g["artifacts"][0]["decodes"][0]),
     "onnx/float32 has two decodes on the default kernels"),
    (lambda g: g["artifacts"][0].update(decodes=[]), "onnx/float32's decodes must be a non-empty list"),
    (lambda g: g["artifacts"][0]["decodes"][0].update(machine=None), r"decodes\[0\] must be an object with kernels"),
    (lambda g: g["artifacts"][0]["decodes"][0].update(kernels=""), r"decodes\[0\] must be an object with kernels"),
    (lambda g: g.update(format_version=1.5), "has format_version 1.5; this runtime reads version 1"),
    (lambda g: g["artifacts"][0]["decodes"][0].update(engine="x" * 65), r"decodes\[0\] must be an object with kernels"),
    (lambda g: g["artifacts"][0].update(sources=["a"] * 1001, keras=[""] * 1001), "onnx/float32 has 1001 sources; at most 1000"),
    (lambda g: g["artifacts"][0].update(decodes=[{**g["artifacts"][0]["decodes"][0], "kernels": f"k{i}"} for i in range(9)]),
     "onnx/float32 has 9 decodes; at most 8"),
    (lambda g: g["artifacts"][0]["sources"].__setitem__(0, "a" * 2000), r"sources\[0\] is not a sentence this model reads"),
    (lambda g: g["artifacts"].__setitem__(0, []), "an entry of artifacts is not an object"),
])
def test_malformed_golden_files_refuse_the_bundle(tiny_bundle, copy_of, change, error):
    bundle = copy_of(tiny_bundle)
    golden = _golden(bundle)
    change(golden)
    edit_golden(bundle, lambda _: golden)
    with pytest.raises(BundleError, match=error):
        Translator(bundle)


def test_a_golden_file_that_is_a_link_is_refused(tiny_bundle, copy_of, tmp_path):
    bundle = copy_of(tiny_bundle)
    elsewhere = tmp_path / "elsewhere.json"
    (bundle / GOLDEN_FILE).rename(elsewhere)
    os.symlink(elsewhere, bundle / GOLDEN_FILE)
    with pytest.raises(BundleError, match="golden.json is a symbolic link"):
        Translator(bundle)


# --- the command line --------------------------------------------------------------------------------

def test_the_command_line_self_check_exits_by_its_verdict(tiny_bundle, copy_of):
    done = cli("runtime", "--bundle", str(tiny_bundle), "--self-check")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("onnx/float32, default kernels, onnxruntime ")
    assert f": {DEFAULT_GOLDEN}/{DEFAULT_GOLDEN} identical to the golden decodes (recorded with onnxruntime " in line

    bundle = copy_of(tiny_bundle)
    golden = _golden(bundle)
    entry = golden["artifacts"][0]
    entry["decodes"][0]["outputs"][0] = "«" + entry["decodes"][0]["outputs"][0]
    edit_golden(bundle, lambda _: golden)
    done = cli("runtime", "--bundle", str(bundle), "--self-check")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 4 and f": {DEFAULT_GOLDEN - 1}/{DEFAULT_GOLDEN} identical" in lines[0]
    assert lines[1] == f"first difference, sentence 1 of {DEFAULT_GOLDEN}: {json.dumps(entry['sources'][0], ensure_ascii=False)}"
    assert lines[2] == f"  recorded: {json.dumps(entry['decodes'][0]['outputs'][0], ensure_ascii=False)}"
    assert lines[3].startswith("  here:     \"") and lines[2][len("  recorded: \"«"):] == lines[3][len("  here:     \""):]

    older = copy_of(tiny_bundle, "older")
    strip_golden(older)
    assert_user_error(cli("runtime", "--bundle", str(older), "--self-check"), "no golden translations")
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), "--self-check", "Go."), "give no TEXT")
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), "--kernels", "builtin", "--self-check"),
                      "--kernels builtin", "--backend tflite only")

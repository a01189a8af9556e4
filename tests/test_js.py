"""The JavaScript runtime (`js/`) on a bundle exported in this test run, against the Python runtime.

Python writes the reference (greedy outputs of held-out sentences for ONNX float32 and int8, beam
n-best with scores, the input policy's results); Node's test runner then checks the JavaScript
library, its CLI and, in real headless Chromium, the demo page against it. `bash scripts/test` installs
Node's packages and Chromium and sets S2S_REQUIRE_JS=1, so there these tests fail rather than skip
when something is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import edit_golden, quiet, strip_golden

JS = Path(__file__).resolve().parents[1] / "js"
MIN_SENTENCES = 200
BEAM = dict(beam_size=4, num_hypotheses=3, length_penalty=1.0)
BEAM_SENTENCES = 60


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (JS / "node_modules" / "onnxruntime-node").is_dir():
        return "js/node_modules is missing: run `npm ci` in js/ (bash scripts/test does)"
    return None


@pytest.fixture(scope="module")
def node_ready() -> None:
    missing = _missing()
    if missing:
        if os.environ.get("S2S_REQUIRE_JS") == "1":
            pytest.fail(f"the JavaScript tests cannot run: {missing}")
        pytest.skip(f"the JavaScript tests cannot run: {missing}")


@pytest.fixture(scope="module")
def js_bundle(tiny_run, tmp_path_factory) -> Path:
    """The tiny run exported to ONNX float32 and int8 (int8 agreement is reported, not a bar here)."""
    from export.to_onnx import export_onnx

    out = tmp_path_factory.mktemp("js") / "bundle"
    export_onnx(tiny_run, out, quantize=("none", "int8"), min_agreement={"int8": 0.0}, log=quiet)
    return out


def _hypotheses(hyps) -> list[dict]:
    return [{"text": h.text, "score": h.score, "finished": h.finished} for h in hyps]


def write_reference(bundle: Path, sentences: list[str], out: Path) -> dict:
    """What the Python runtime answers on `bundle`, in the form the JavaScript tests read."""
    from runtime import Translator

    float32, int8 = Translator(bundle), Translator(bundle, precision="int8")
    vocab = float32.manifest.source_vocab
    outside = [c for c in "§€Ωж漢#" if c not in vocab][:2]
    assert outside, "the test needs characters outside the source vocabulary"
    limit = float32.max_input_length
    skip_inputs = [outside[0] + s + "".join(outside) for s in sentences[:10]]
    truncate_inputs = [(s + " ") * (limit // max(len(s), 1) + 2) for s in sentences[:10]]
    beam_sentences = sentences[:BEAM_SENTENCES]
    reference = {
        "sentences": sentences,
        "greedy": {"float32": float32.translate(sentences), "int8": int8.translate(sentences)},
        "beam": {
            "beamSize": BEAM["beam_size"], "numHypotheses": BEAM["num_hypotheses"],
            "lengthPenalty": BEAM["length_penalty"], "sentences": beam_sentences,
            "hypotheses": [_hypotheses(h) for h in float32.hypotheses(beam_sentences, **BEAM)],
        },
        "greedyScores": [_hypotheses(h)[0] for h in float32.hypotheses(sentences[:BEAM_SENTENCES])],
        "policy": {
            "outside": outside,
            "skip": [[s, t] for s, t in zip(skip_inputs, float32.translate(skip_inputs, on_unknown="skip"))],
            "truncate": [[s, t] for s, t in
                         zip(truncate_inputs, float32.translate(truncate_inputs, on_overflow="truncate"))],
        },
    }
    out.write_text(json.dumps(reference, ensure_ascii=False, indent=1), encoding="utf-8")
    return reference


@pytest.fixture(scope="module")
def js_reference(js_bundle, tiny_run, tmp_path_factory) -> Path:
    from trainer.run import read_heldout

    sentences = list(dict.fromkeys(en for en, _ in read_heldout(tiny_run)))
    assert len(sentences) >= MIN_SENTENCES, f"the tiny run holds out only {len(sentences)} sentences"
    out = tmp_path_factory.mktemp("js") / "reference.json"
    write_reference(js_bundle, sentences, out)
    return out


def _node_test(files: list[str], bundle: Path, reference: Path, timeout: int = 600, **env_vars: str) -> str:
    env = dict(os.environ, S2S_TEST_BUNDLE=str(bundle), S2S_TEST_REFERENCE=str(reference), S2S_REQUIRE_JS="1",
               **env_vars)
    done = subprocess.run(["node", "--test", "--test-reporter=spec", *files], cwd=JS, env=env,
                          capture_output=True, text=True, timeout=timeout)
    report = done.stdout + done.stderr
    print(report)  # shown with -s, and by pytest on failure
    assert done.returncode == 0, report[-6000:]
    return report


def test_node_unit(node_ready):
    """The library without a model: input policy, manifest checks, decoding loops on a toy model; the
    demo server on a bundle of its own (what it serves, the Host names it answers)."""
    done = subprocess.run(["node", "--test", "--test-reporter=spec", "test/unit.test.mjs", "test/serve.test.mjs"], cwd=JS,
                          capture_output=True, text=True, timeout=300)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    assert "fail 0" in report and "skipped 0" in report


def test_node_library_and_cli(node_ready, js_bundle, js_reference):
    """The library on the bundle (policy, errors, tampering, parity on >= 200 held-out sentences, beam,
    streaming, onnxruntime-web's WASM backend) and `node js/bin/translate.mjs`."""
    report = _node_test(["test/bundle.test.mjs", "test/cli.test.mjs"], js_bundle, js_reference)
    assert "fail 0" in report and "skipped 0" in report


def test_hostile_bundles_in_node(node_ready, tiny_bundle, js_reference, attention_bundle):
    """tests/hostile/cases.json, the hostile bundles that tests/test_hostile_bundles.py gives the Python
    runtime, given to the JavaScript runtime (from a directory and over HTTP), made from the same two
    bundles (tiny_bundle, ONNX float32 of the tiny run whose held-out sentences js_reference holds, and
    attention_bundle): the same refusals, with the same messages; and the manifest schema's sweep."""
    report = _node_test(["test/hostile.test.mjs"], tiny_bundle, js_reference,
                        S2S_TEST_ATTENTION_BUNDLE=str(attention_bundle))
    assert "fail 0" in report and "skipped 0" in report


def test_demo_page_in_chromium(node_ready, js_bundle, js_reference, tmp_path):
    """The demo page in real headless Chromium: typed sentences translate as the Python runtime does."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        message = f"Chromium not found at {chromium} (apt-get install chromium; bash scripts/test does)"
        if os.environ.get("S2S_REQUIRE_JS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    report = _node_test(["test/browser.test.mjs"], js_bundle, js_reference)
    assert "fail 0" in report and "skipped 0" in report


def test_node_reads_a_zero_padded_bundle_as_python_does(node_ready, keras2_h5_run, keras2_h5_bundle):
    """A zero-padded bundle (pad_token null, which came with format version 2; version 4 with its golden
    translations), from the 2017 Keras example's model, with Keras 2's hard_sigmoid inside its graphs:
    `node js/bin/translate.mjs` answers as the Python runtime, and as the example did, for ONNX float32
    and int8, stepped and with the one-graph greedy decoder."""
    from runtime import Translator

    _, expected = keras2_h5_run
    sources = [s for s, _ in expected["decodes"]]
    manifest = json.loads((keras2_h5_bundle / "manifest.json").read_text())
    assert manifest["pad_token"] is None and manifest["format_version"] == 4 and "golden" in manifest
    for precision in ("float32", "int8"):
        python = Translator(keras2_h5_bundle, precision=precision).translate(sources)
        # Batches of 64 step the decoder; of 8, the greedy graph runs them (GREEDY_LOOP_MAX_BATCH is 16).
        for flags in (["--batch-size", "64"], ["--batch-size", "8"]):
            done = subprocess.run(
                ["node", "bin/translate.mjs", "--bundle", str(keras2_h5_bundle), "--precision", precision, *flags],
                input="".join(s + "\n" for s in sources), cwd=JS, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr[-3000:]
            assert done.stdout.split("\n")[:-1] == python, (precision, flags)
        if precision == "float32":
            assert python == [d.removesuffix("\n")[: Translator(keras2_h5_bundle).manifest.max_target_length]
                              for _, d in expected["decodes"]]


def test_node_reads_an_attention_bundle_as_python_does(node_ready, attention_run, attention_bundle):
    """A bundle of the attention family (format version 3: the encoder also returns the memory, the
    step reads it): `node js/bin/translate.mjs` answers as the Python runtime, for ONNX float32 and
    int8, stepped (rows finish and the memory is re-indexed with the state) and with the one-graph
    greedy decoder, and with beam search."""
    from runtime import Translator
    from trainer.run import read_heldout

    sources = list(dict.fromkeys(en for en, _ in read_heldout(attention_run)))[:60]
    assert json.loads((attention_bundle / "manifest.json").read_text())["family"] == "attention"
    runs = [("float32", ["--batch-size", "64"], {}), ("float32", ["--batch-size", "8"], {}),
            ("int8", ["--batch-size", "64"], {}), ("int8", ["--batch-size", "8"], {}),
            ("float32", ["--beam-size", "3", "--batch-size", "16"], {"beam_size": 3})]
    for precision, flags, options in runs:
        python = Translator(attention_bundle, precision=precision).translate(sources, **options)
        done = subprocess.run(
            ["node", "bin/translate.mjs", "--bundle", str(attention_bundle), "--precision", precision, *flags],
            input="".join(s + "\n" for s in sources), cwd=JS, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split("\n")[:-1] == python, (precision, flags)


def test_the_two_command_lines_answer_alike(node_ready, js_bundle, tiny_run):
    """`python -m runtime` and `node js/bin/translate.mjs` on the same arguments and stdin: the same exit
    status, the same output, and the same one-line error (issue 27, items 3 and 5)."""
    import sys

    from trainer.run import read_heldout

    good = list(dict.fromkeys(en for en, _ in read_heldout(tiny_run)))[:4]
    bundle = ["--bundle", str(js_bundle)]
    cases = [
        (["--on-unknown", "skip", "-1", "-5 degrees", *good[:2]], ""),
        (["--seed", "-1", good[0]], ""), (["--seed=-1", good[0]], ""),
        (["--temperature", "0.5", good[0]], ""), (["--num-hypotheses", "3", good[0]], ""),
        (["--top-k", "2", "--beam-size", "2", good[0]], ""), (["--length-penalty", "-1", good[0]], ""),
        (["--stream", "--beam-size", "2", good[0]], ""),
        ([], f"{good[0]}\n{good[1]}\n{'x' * 5000}\n{good[2]}\n"),
        (["--on-overflow", "truncate", "--batch-size", "2"], f"{good[0]}\n{'y' * 5000}\n{good[2]}\n{good[3]}\n"),
        (["--batch-size", "16"], "".join(s + "\n" for s in good)),
        (["--top-k", "0", "--temperature", "1e300", "--seed", "7", "--echo"], "".join(s + "\n" for s in good)),
    ]

    def answer(command, argv, stdin):
        done = subprocess.run([*command, *bundle, *argv], input=stdin, capture_output=True, text=True, timeout=300,
                              cwd=JS.parent)
        # Quoted text is Python's repr in one and JSON in the other: the quote marks are left out.
        return done.returncode, done.stdout, done.stderr.partition(" error: ")[2].replace("'", "").replace('"', "")

    for argv, stdin in cases:
        python = answer([sys.executable, "-m", "runtime"], argv, stdin)
        node = answer(["node", "js/bin/translate.mjs"], argv, stdin)
        if "--top-k" in argv and "0" in argv and python[0] == 0:
            # Samples differ between the runtimes (their random numbers are not numpy's): their shape may not.
            assert [line.count("\t") for line in python[1].splitlines()] == [1] * len(good)
            assert [line.count("\t") for line in node[1].splitlines()] == [1] * len(good)
            continue
        assert python == node, (argv, python, node)


# The first line of --self-check, with the engine that ran here cut out ("onnx/int8, default kernels, ENGINE: ...").
_ENGINE = re.compile(r"^([^,\n]+, \S+ kernels, )(.+?)(: \d+/\d+ identical to the golden decodes)", re.M)


def _self_check(command: list[str], bundle: Path, *argv: str) -> tuple[int, str, str, str]:
    """(exit status, stdout without the engine, the engine, the error after "error: ")."""
    done = subprocess.run([*command, "--bundle", str(bundle), "--self-check", *argv], capture_output=True, text=True,
                          encoding="utf-8", timeout=300, cwd=JS.parent)
    found = _ENGINE.search(done.stdout)
    out = _ENGINE.sub(r"\1ENGINE\3", done.stdout)
    return done.returncode, out, found.group(2) if found else "", done.stderr.partition(" error: ")[2]


def test_the_two_self_checks_agree(node_ready, js_bundle, attention_bundle, tmp_path):
    """`python -m runtime --self-check` and `node js/bin/translate.mjs --self-check` (issue 28): on the
    exported bundles' ONNX models both exit 0 and print the same line but for the engine that ran; on
    a copy whose recorded decode was changed (one sentence: quotes, backslash, non-ASCII) both exit 1
    with the same four lines; on a copy without golden translations, and with TEXT, both exit 2 with
    the same one-line error."""
    python = [sys.executable, "-m", "runtime"]
    node = ["node", "js/bin/translate.mjs"]
    for bundle, precision in ((js_bundle, "float32"), (js_bundle, "int8"), (attention_bundle, "float32"),
                              (attention_bundle, "int8")):
        py = _self_check(python, bundle, "--precision", precision)
        js = _self_check(node, bundle, "--precision", precision)
        assert py[0] == js[0] == 0, (bundle, precision, py, js)
        assert py[1] == js[1] and py[1].count("\n") == 1, (bundle, precision, py, js)
        assert py[2].startswith("onnxruntime ") and js[2].startswith("onnxruntime-node "), (py[2], js[2])

    edited = tmp_path / "edited"
    shutil.copytree(js_bundle, edited)

    def change_one(golden):
        entry = next(a for a in golden["artifacts"] if (a["backend"], a["precision"]) == ("onnx", "float32"))
        decodes = next(d for d in entry["decodes"] if d["kernels"] == "default")
        decodes["outputs"][1] += ' «é» "\\'

    edit_golden(edited, change_one)
    py, js = _self_check(python, edited), _self_check(node, edited)
    assert py[0] == js[0] == 1, (py, js)
    assert py[1] == js[1], (py, js)
    lines = py[1].splitlines()
    assert len(lines) == 4 and lines[1].startswith("first difference, sentence 2 of "), py[1]
    assert lines[2].endswith(' «é» \\"\\\\"') and lines[3].startswith("  here:     "), lines

    bare = tmp_path / "bare"
    shutil.copytree(js_bundle, bare)
    strip_golden(bare)
    for argv_bundle, argv in ((bare, ()), (js_bundle, ("Go.",))):
        py, js = _self_check(python, argv_bundle, *argv), _self_check(node, argv_bundle, *argv)
        assert py[0] == js[0] == 2, (argv, py, js)
        assert py[1] == js[1] == "" and py[3] == js[3] != "", (argv, py, js)

"""The C library and its CLI (native/, docs/native.md) against the Python runtime's TFLite backend.

Built once per session through `bash scripts/build-native` when absent; skipped with the reason
when it cannot be built, unless S2S_REQUIRE_NATIVE=1 (then a failure). The bundles are the test
session's: the attention family's (conftest `attention_bundle`) and a seed-family TFLite bundle of
the tiny run exported here, shared by every test of this module.

Every test runs on both builds that scripts/build-native makes: native/build, and native/build-asan
(AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer; docs/native.md, "Sanitizers").
S2S_NATIVE_CLI=PATH runs another build of the CLI (the library beside it) instead, never built here.
A CLI linked with AddressSanitizer runs with ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS set here
(every report fatal, exit status 86, LiteRT's own leaks suppressed by native/sanitizers/lsan.supp),
and every run asserts that no sanitizer reported anything.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import quiet

ROOT = Path(__file__).resolve().parents[1]
REQUIRE = os.environ.get("S2S_REQUIRE_NATIVE") == "1"
PARITY = ("float32", "dynamic", "int16x8")
OTHER_CLI = os.environ.get("S2S_NATIVE_CLI")
# The builds every test runs on (scripts/build-native makes both): the plain one and the sanitizer one.
BUILDS = {"plain": ROOT / "native" / "build" / "s2s-translate",
          "sanitizers": ROOT / "native" / "build-asan" / "s2s-translate"}
if OTHER_CLI:
    BUILDS = {"other": Path(OTHER_CLI) if Path(OTHER_CLI).is_absolute() else ROOT / OTHER_CLI}

# Sanitizer runs (a CLI linked with libasan): every report fatal, with an exit status of its own.
SANITIZER_EXIT = 86
LSAN_SUPPRESSIONS = ROOT / "native" / "sanitizers" / "lsan.supp"
SANITIZER_REPORTS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer", "runtime error:")


@functools.lru_cache(maxsize=None)
def sanitizer_env(cli: Path) -> dict[str, str]:
    """The options a CLI linked with the ASan runtime runs under; {} for any other build."""
    if b"libasan.so" not in cli.read_bytes():
        return {}
    common = f"halt_on_error=1:abort_on_error=0:exitcode={SANITIZER_EXIT}"
    ours = {
        "ASAN_OPTIONS": f"{common}:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:"
                        "check_initialization_order=1:strict_init_order=1",
        "UBSAN_OPTIONS": f"{common}:print_stacktrace=1",
        "LSAN_OPTIONS": f"exitcode={SANITIZER_EXIT}:suppressions={LSAN_SUPPRESSIONS}:print_suppressions=0",
    }
    # the caller's own options come after ours, and win
    return {k: v + (":" + os.environ[k] if os.environ.get(k) else "") for k, v in ours.items()}


def _unavailable(reason: str):
    if REQUIRE:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session", params=list(BUILDS), ids=list(BUILDS))
def native_cli(request) -> Path:
    """Each build of the CLI in turn (the library beside it): every test runs on both."""
    cli = BUILDS[request.param]
    if OTHER_CLI:
        if not (cli.is_file() and (cli.parent / "libs2s_edge.so").is_file()):
            pytest.fail(f"S2S_NATIVE_CLI={OTHER_CLI}: no CLI and libs2s_edge.so there (build it first, docs/native.md)")
        return cli
    if not (cli.is_file() and (cli.parent / "libs2s_edge.so").is_file()):
        try:
            import ai_edge_litert  # noqa: F401
        except ImportError:
            _unavailable("the native build needs ai-edge-litert (pip install -e '.[tflite]')")
        done = subprocess.run(["bash", str(ROOT / "scripts" / "build-native")], cwd=ROOT, capture_output=True,
                              text=True, timeout=900)
        if done.returncode != 0 or not cli.is_file():
            _unavailable(f"bash scripts/build-native did not build {cli.relative_to(ROOT)}: "
                         f"{(done.stderr or done.stdout).strip()[-500:]}")
    return cli


@pytest.fixture(scope="module")
def seed_tflite_bundle(tiny_run, tmp_path_factory) -> Path:
    from export.to_tflite import export_tflite

    out = tmp_path_factory.mktemp("native") / "seed"
    export_tflite(tiny_run, out, quantize=("none", "dynamic", "int16x8"),
                  min_agreement={"dynamic": 0.0, "int16x8": 0.0}, log=quiet)
    return out


def _export(run: Path, out: Path, **options) -> Path:
    from export.to_tflite import export_tflite

    export_tflite(run, out, num_decodes=60, golden=8, min_agreement={"int16x8": 0.0}, log=quiet, **options)
    return out


@pytest.fixture(scope="module")
def bundles(tiny_run, attention_run, seed_tflite_bundle, attention_bundle, tmp_path_factory) -> dict[str, Path]:
    """The parity matrix's bundles: both families with dynamic batch (float32, dynamic, int16x8), their
    int16x8 with --integer-io, and the seed family's float32 with a fixed batch of 1."""
    out = tmp_path_factory.mktemp("native")
    return {"seed": seed_tflite_bundle, "attention": attention_bundle,
            "seed-integer-io": _export(tiny_run, out / "seed-iio", quantize=("int16x8",), integer_io=True),
            "attention-integer-io": _export(attention_run, out / "attention-iio", quantize=("int16x8",),
                                            integer_io=True),
            "seed-batch1": _export(tiny_run, out / "seed-batch1", quantize=("none",), fixed_batch=1)}


# (bundle, precision, kernels): what the C library's outputs must equal the Python TFLite backend's on
PARITY_CASES = ([(family, precision, "default") for family in ("seed", "attention") for precision in PARITY]
                + [(family, "int16x8", "builtin") for family in ("seed", "attention")]
                + [(f"{family}-integer-io", "int16x8", "default") for family in ("seed", "attention")]
                + [("seed-batch1", "float32", "default")])
PARITY_IDS = [f"{b}-{p}-{k}" for b, p, k in PARITY_CASES]


def run(cli: Path, *args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    """The CLI's run (bytes in and out when stdin is bytes); under a sanitizer build, asserts that
    no sanitizer reported anything."""
    text = not isinstance(stdin, bytes)
    sanitizers = sanitizer_env(cli)
    done = subprocess.run([str(cli), *map(str, args)], input=stdin, capture_output=True, text=text,
                          encoding="utf-8" if text else None, env={**os.environ, **sanitizers}, timeout=300)
    if sanitizers:
        stderr = done.stderr if text else done.stderr.decode("utf-8", "replace")
        assert done.returncode != SANITIZER_EXIT and not any(r in stderr for r in SANITIZER_REPORTS), stderr
    return done


def error_line(done: subprocess.CompletedProcess) -> str:
    """The one line a user error prints (LiteRT's own INFO lines aside)."""
    lines = [line for line in done.stderr.splitlines() if not line.startswith("INFO: ")]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("s2s-translate: error: "), lines[0]
    return lines[0][len("s2s-translate: error: "):]


@pytest.mark.parametrize("case,precision,kernels", PARITY_CASES, ids=PARITY_IDS)
def test_greedy_outputs_equal_python_tflite(native_cli, bundles, sentences, case, precision, kernels):
    from runtime import Translator

    bundle = bundles[case]
    want = Translator(bundle, backend="tflite", precision=precision, kernels=kernels).translate(sentences)
    # stdin, in batches of 7: batching by length and input order are exercised too
    done = run(native_cli, "--bundle", bundle, "--precision", precision, "--kernels", kernels, "--batch-size", "7",
               stdin="".join(s + "\n" for s in sentences))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == want


def api_check(cli: Path, bundle: Path, precision: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """native/tests/api_check.c, built beside the CLI: the API where the CLI cannot show it."""
    done = run(cli.parent / "s2s-api-check", bundle, precision, *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    return done


def parse_hypotheses(stdout: str) -> list[list[tuple[float, bool, str]]]:
    texts = stdout.split("--\n")[:-1]
    return [[(float(score), finished == "1", text) for score, finished, text in
             (line.split("\t", 2) for line in block.split("\n")[:-1])] for block in texts]


def assert_hypotheses_equal(got, want) -> None:
    """Texts and ends byte for byte, scores within 1e-5."""
    assert [[(t, f) for _, f, t in hyps] for hyps in got] == [[(h.text, h.finished) for h in hyps] for hyps in want]
    for hyps, expected in zip(got, want):
        for (score, _, _), h in zip(hyps, expected):
            assert abs(score - h.score) <= 1e-5, (score, h)


@pytest.mark.parametrize("case,precision,kernels", PARITY_CASES, ids=PARITY_IDS)
def test_beam_n_best_and_scores_equal_python_tflite(native_cli, bundles, sentences, case, precision, kernels):
    from runtime import Translator

    bundle, texts = bundles[case], sentences[:12]
    want = Translator(bundle, backend="tflite", precision=precision, kernels=kernels).hypotheses(
        texts, beam_size=3, num_hypotheses=3)
    assert {len(h) for h in want} == {3}
    stdin = "".join(t + "\n" for t in texts)
    if kernels == "default":  # the API driver opens the default kernels
        got = parse_hypotheses(api_check(native_cli, bundle, precision, "hypotheses", "3", "3", "1.0", "1", "1.0", "-",
                                         stdin=stdin).stdout)
        assert_hypotheses_equal(got, want)
    # the CLI prints Python's lines: SCORE<TAB>TEXT, N per input
    done = run(native_cli, "--bundle", bundle, "--precision", precision, "--kernels", kernels, "--beam-size", "3",
               "--num-hypotheses", "3", "--scores", "--batch-size", "5", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "".join(f"{h.score:.4f}\t{h.text}\n" for hyps in want for h in hyps)


@pytest.mark.parametrize("options", [
    dict(beam_size=4, num_hypotheses=2, length_penalty=0.0),
    dict(beam_size=5, num_hypotheses=1, length_penalty=2.5),
    dict(beam_size=1, num_hypotheses=1, length_penalty=1.0),  # greedy, with its scores
], ids=["plain-score", "penalty-2.5", "greedy"])
def test_ranking_and_greedy_scores_equal_python(native_cli, bundles, sentences, options):
    from runtime import Translator

    bundle, texts = bundles["attention"], sentences[:16]
    want = Translator(bundle, backend="tflite").hypotheses(texts, **options)
    got = parse_hypotheses(api_check(native_cli, bundle, "float32", "hypotheses", str(options["beam_size"]),
                                     str(options["num_hypotheses"]), repr(options["length_penalty"]), "1", "1.0", "-",
                                     stdin="".join(t + "\n" for t in texts)).stdout)
    assert_hypotheses_equal(got, want)


@pytest.mark.parametrize("precision", ["float16", "int8"])
def test_float16_and_int8_load_and_translate(native_cli, attention_bundle, sentences, precision):
    done = run(native_cli, "--bundle", attention_bundle, "--precision", precision, *sentences[:8])
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.split("\n")[:-1]) == 8


def test_arguments_echo_and_empty_text(native_cli, attention_bundle, sentences):
    from runtime import Translator

    want = Translator(attention_bundle, backend="tflite").translate([sentences[0], ""])
    done = run(native_cli, "--bundle", attention_bundle, "--echo", sentences[0], "")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{sentences[0]}\t{want[0]}\n\t\n"


@pytest.mark.parametrize("precision,kernels", [("float32", "default"), ("int16x8", "builtin")])
def test_self_check_passes_with_python_lines(native_cli, attention_bundle, precision, kernels):
    from runtime import Translator

    python = Translator(attention_bundle, backend="tflite", precision=precision, kernels=kernels).self_check()
    done = run(native_cli, "--bundle", attention_bundle, "--precision", precision, "--kernels", kernels, "--self-check")
    assert done.returncode == 0, done.stderr
    engine = f"LiteRT C API (ai-edge-litert {python.recorded.engine_version})"
    assert done.stdout == python.summary().replace(python.engine, engine, 1) + "\n"


def test_self_check_reports_a_difference_and_exits_1(native_cli, attention_bundle, tmp_path):
    from tests.conftest import edit_golden

    bundle = tmp_path / "bundle"
    shutil.copytree(attention_bundle, bundle)

    def change(data):
        entry = next(a for a in data["artifacts"] if (a["backend"], a["precision"]) == ("tflite", "float32"))
        entry["decodes"][0]["outputs"][1] = "pas ça"
    edit_golden(bundle, change)
    done = run(native_cli, "--bundle", bundle, "--self-check")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert "31/32 identical" in lines[0] and lines[1].startswith("first difference, sentence 2 of 32: ")
    assert lines[2] == '  recorded: "pas ça"'


def test_self_check_without_golden_for_the_kernels_exits_2(native_cli, attention_bundle):
    done = run(native_cli, "--bundle", attention_bundle, "--kernels", "builtin", "--self-check")
    assert done.returncode == 2
    assert error_line(done) == ("the golden translations of tflite/float32 were recorded on the default kernels, "
                                "not on the builtin kernels")


def python_error(bundle, precision="float32") -> str:
    from runtime import Translator
    from runtime.errors import BundleError

    with pytest.raises(BundleError) as caught:
        Translator(bundle, backend="tflite", precision=precision)
    return str(caught.value)


@pytest.mark.parametrize("case", ["altered", "unlisted", "format_version", "missing_precision", "no_manifest"])
def test_hostile_bundles_are_refused_as_python_refuses_them(native_cli, attention_bundle, tmp_path, case):
    bundle = tmp_path / "bundle"
    shutil.copytree(attention_bundle, bundle)
    precision = "float32"
    if case == "altered":
        path = bundle / "decoder_step.float32.tflite"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
    elif case == "unlisted":
        (bundle / "notes.txt").write_text("hi")
    elif case == "format_version":
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        manifest["format_version"] = 9
        (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    elif case == "missing_precision":
        precision = "int4"
    elif case == "no_manifest":
        (bundle / "manifest.json").unlink()
    want = python_error(bundle, precision)
    done = run(native_cli, "--bundle", bundle, "--precision", precision, "Hello.")
    assert done.returncode == 2 and done.stdout == ""
    assert error_line(done) == want


@pytest.mark.parametrize("text,flags,where", [
    ("Hello #world!", (), "unknown"),
    ("x" * 500, (), "overflow"),
])
def test_input_policy_errors_exit_2_with_python_messages(native_cli, attention_bundle, sentences, text, flags, where):
    from runtime import Translator
    from runtime.errors import InputPolicyError

    translator = Translator(attention_bundle, backend="tflite")
    with pytest.raises(InputPolicyError) as caught:
        translator.translate([text])
    want = caught.value.at("stdin line 2").command_line_message()
    done = run(native_cli, "--bundle", attention_bundle, *flags, stdin=f"{sentences[0]}\n{text}\n{sentences[1]}\n")
    assert done.returncode == 2
    assert error_line(done) == want
    # the line before the refused one is written first, as the Python CLI does
    assert done.stdout == translator.translate(sentences[0]) + "\n"


def test_input_policy_skip_and_truncate_match_python(native_cli, attention_bundle):
    from runtime import Translator

    texts = ["Hello #world!", "I see " * 30]
    want = Translator(attention_bundle, backend="tflite", on_unknown="skip", on_overflow="truncate").translate(texts)
    done = run(native_cli, "--bundle", attention_bundle, "--on-unknown", "skip", "--on-overflow", "truncate", *texts)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == want


def test_invalid_utf8_on_stdin_exits_2(native_cli, attention_bundle, sentences):
    stdin = sentences[0].encode() + b"\n\xff\n"
    done = run(native_cli, "--bundle", attention_bundle, stdin=stdin)
    assert done.returncode == 2
    assert done.stderr.decode().strip().splitlines()[-1] == "s2s-translate: error: stdin line 2 is not valid UTF-8"
    assert done.stdout.decode().count("\n") == 1  # the line before it is translated first


def test_usage_errors_exit_2(native_cli, attention_bundle):
    assert run(native_cli, "--bundle", attention_bundle, "--kernels", "fast", "x").returncode == 2
    assert run(native_cli, "Hello").returncode == 2
    assert run(native_cli, "--help").returncode == 0


# --- golden files: the Python runtime's checks, order and messages (runtime/golden.py) -------------

def tflite_entry(data: dict, precision: str = "float32") -> dict:
    return next(a for a in data["artifacts"] if (a["backend"], a["precision"]) == ("tflite", precision))


def edit_golden_ascii(bundle: Path, edit) -> None:
    """conftest's edit_golden, writing the JSON with ASCII escapes: a lone surrogate (which JSON may
    hold, and Python's json and JavaScript's JSON.parse read) has no UTF-8 form."""
    import hashlib

    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    file = bundle / manifest["golden"]["file"]
    golden = json.loads(file.read_text(encoding="utf-8"))
    edit(golden)
    data = json.dumps(golden, ensure_ascii=True).encode("ascii")
    file.write_bytes(data)
    manifest["golden"].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (bundle / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")


GOLDEN_EDITS = {
    # labels (kernels, engine, engine_version, machine): 1 to 64 printable ASCII characters
    "engine_too_long": lambda e: e["decodes"][0].update(engine="x" * 65),
    "kernels_with_a_newline": lambda e: e["decodes"][0].update(kernels="default\nfirst difference"),
    "machine_not_ascii": lambda e: e["decodes"][0].update(machine="x86_64é"),
    "machine_null": lambda e: e["decodes"][0].update(machine=None),
    "empty_engine_version": lambda e: e["decodes"][0].update(engine_version=""),
    "kernels_with_a_nul": lambda e: e["decodes"][0].update(kernels="default\x00"),
    # at most 1000 sources (before keras is looked at) and 8 decodes (before they are)
    "1001_sources": lambda e: e.update(sources=["a"] * 1001, keras=7),
    "9_decodes": lambda e: e.update(decodes=[{"kernels": ""}] * 9),
    # each source a sentence the model reads (before keras is looked at)
    "a_source_too_long": lambda e: e.update(keras=7) or e["sources"].__setitem__(3, "a" * 2000),
    "a_source_outside_source_vocab": lambda e: e["sources"].__setitem__(1, "Hi ☃"),
    "a_source_with_a_nul": lambda e: e["sources"].__setitem__(2, "Hi\x00"),
    "a_source_with_a_lone_surrogate": lambda e: e["sources"].__setitem__(2, "Hi \ud800"),
    # the duplicate kernel set, after each decode's own checks
    "two_decodes_on_one_kernel_set": lambda e: e["decodes"].append(dict(e["decodes"][0])),
}


@pytest.mark.parametrize("case", list(GOLDEN_EDITS))
def test_malformed_golden_files_are_refused_as_python_refuses_them(native_cli, attention_bundle, tmp_path, case):
    bundle = tmp_path / "bundle"
    shutil.copytree(attention_bundle, bundle)
    edit_golden_ascii(bundle, lambda data: GOLDEN_EDITS[case](tflite_entry(data)))
    want = python_error(bundle)
    assert "golden.json is malformed: tflite/float32" in want
    done = run(native_cli, "--bundle", bundle, "Hello.")
    assert done.returncode == 2 and done.stdout == ""
    assert error_line(done) == want


def test_labels_of_64_printable_characters_load_and_print_as_python_prints_them(native_cli, attention_bundle,
                                                                                 tmp_path):
    from runtime import Translator

    bundle = tmp_path / "bundle"
    shutil.copytree(attention_bundle, bundle)
    label = "~ !" + "x" * 61
    edit_golden_ascii(bundle, lambda data: tflite_entry(data)["decodes"][0].update(engine=label, machine=label))
    python = Translator(bundle, backend="tflite").self_check()
    done = run(native_cli, "--bundle", bundle, "--self-check")
    assert done.returncode == 0, done.stderr
    engine = f"LiteRT C API (ai-edge-litert {python.recorded.engine_version})"
    assert f"recorded with {label} " in done.stdout
    assert done.stdout == python.summary().replace(python.engine, engine, 1) + "\n"


def test_the_golden_file_is_checked_after_the_model_files(native_cli, attention_bundle, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(attention_bundle, bundle)
    edit_golden_ascii(bundle, lambda data: data.update(format_version=2))
    path = bundle / "decoder_step.float32.tflite"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 1
    path.write_bytes(bytes(data))
    want = python_error(bundle)
    assert "decoder_step.float32.tflite does not match its sha256" in want
    done = run(native_cli, "--bundle", bundle, "Hello.")
    assert done.returncode == 2 and error_line(done) == want
    # the model files intact, the golden file's own error
    shutil.copy(attention_bundle / "decoder_step.float32.tflite", path)
    want = python_error(bundle)
    assert "has format_version 2" in want
    assert error_line(run(native_cli, "--bundle", bundle, "Hello.")) == want


@pytest.mark.parametrize("batch_invariant", [True, False])
def test_self_check_decodes_as_the_export_recorded_whatever_the_batch_size(native_cli, attention_bundle, tmp_path,
                                                                          batch_invariant):
    """Batches of up to 64 (GOLDEN_BATCH), or one at a time for an artifact marked batch_invariant
    false: not the translator's --batch-size, nor its input policy."""
    from runtime import Translator

    bundle = attention_bundle
    if not batch_invariant:
        bundle = tmp_path / "bundle"
        shutil.copytree(attention_bundle, bundle)
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        for a in manifest["artifacts"]:
            if (a["backend"], a["precision"]) == ("tflite", "float32"):
                a["batch_invariant"] = False
        (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    python = Translator(bundle, backend="tflite", max_batch_size=1, on_unknown="skip",
                        on_overflow="truncate").self_check()
    assert python.passed and python.total == 32
    done = run(native_cli, "--bundle", bundle, "--batch-size", "1", "--on-unknown", "skip", "--on-overflow",
               "truncate", "--self-check")
    assert done.returncode == 0, done.stderr
    engine = f"LiteRT C API (ai-edge-litert {python.recorded.engine_version})"
    assert done.stdout == python.summary().replace(python.engine, engine, 1) + "\n"
    assert " 32/32 identical" in done.stdout


@pytest.mark.parametrize("recorded", ["\ud800", "pas \udc00\ud800 ça", "pas\x00ça", "\U0001f600 \\ud800 \""])
def test_self_check_quotes_what_a_golden_file_can_hold_as_python_does(native_cli, attention_bundle, tmp_path,
                                                                        recorded):
    """JSON may hold lone surrogates and U+0000 (cJSON alone would refuse the one and cut at the other):
    the C reader keeps them, and the summary quotes them as Python's _quote and JSON.stringify do."""
    from runtime import Translator

    bundle = tmp_path / "bundle"
    shutil.copytree(attention_bundle, bundle)
    edit_golden_ascii(bundle, lambda data: tflite_entry(data)["decodes"][0]["outputs"].__setitem__(1, recorded))
    python = Translator(bundle, backend="tflite").self_check()
    assert python.identical == 31
    done = run(native_cli, "--bundle", bundle, "--self-check")
    assert done.returncode == 1, done.stderr
    engine = f"LiteRT C API (ai-edge-litert {python.recorded.engine_version})"
    assert done.stdout == python.summary().replace(python.engine, engine, 1) + "\n"

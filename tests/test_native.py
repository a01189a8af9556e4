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
import re
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

    options = {"min_agreement": {"int16x8": 0.0}, **options}
    export_tflite(run, out, num_decodes=60, golden=8, log=quiet, **options)
    return out


@pytest.fixture(scope="module")
def bundles(tiny_run, attention_run, seed_tflite_bundle, attention_bundle, tmp_path_factory) -> dict[str, Path]:
    """The parity matrix's bundles: both families with dynamic batch (float32, dynamic, int16x8), their
    int16x8 with --integer-io, the seed family's float32 with a fixed batch of 1, and an attention
    model with a bidirectional encoder (float32, dynamic)."""
    out = tmp_path_factory.mktemp("native")
    return {"seed": seed_tflite_bundle, "attention": attention_bundle,
            "seed-integer-io": _export(tiny_run, out / "seed-iio", quantize=("int16x8",), integer_io=True),
            "attention-integer-io": _export(attention_run, out / "attention-iio", quantize=("int16x8",),
                                            integer_io=True),
            "seed-batch1": _export(tiny_run, out / "seed-batch1", quantize=("none",), fixed_batch=1),
            "bidirectional": _export(_bidirectional_run(out / "bidirectional-run"), out / "bidirectional",
                                     quantize=("none", "dynamic"), min_agreement={"dynamic": 0.0})}


def _bidirectional_run(out: Path) -> Path:
    """A small attention model with a bidirectional encoder (tests/test_bidirectional.py's size)."""
    from trainer.fit import fit

    fit(out, None, num_samples=800, epochs=8, latent_dim=32, batch_size=32, learning_rate=5e-3, seed=3,
        architecture="attention", bidirectional=True, verbose=0, log=quiet)
    return out


# (bundle, precision, kernels): what the C library's outputs must equal the Python TFLite backend's on
PARITY_CASES = ([(family, precision, "default") for family in ("seed", "attention") for precision in PARITY]
                + [(family, "int16x8", "builtin") for family in ("seed", "attention")]
                + [(f"{family}-integer-io", "int16x8", "default") for family in ("seed", "attention")]
                + [("seed-batch1", "float32", "default")]
                + [("bidirectional", precision, "default") for precision in ("float32", "dynamic")])
PARITY_IDS = [f"{b}-{p}-{k}" for b, p, k in PARITY_CASES]


def readable(bundle: Path, sentences: list[str]) -> list[str]:
    """The sentences whose characters the bundle's model reads (the bidirectional model saw fewer pairs)."""
    vocab = set(json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))["source_vocab"])
    kept = [s for s in sentences if set(s) <= vocab]
    assert len(kept) >= 20
    return kept


def run(cli: Path, *args: str, stdin: str | bytes | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The CLI's run (bytes in and out when stdin is bytes); under a sanitizer build, asserts that
    no sanitizer reported anything."""
    text = not isinstance(stdin, bytes)
    sanitizers = sanitizer_env(cli)
    done = subprocess.run([str(cli), *map(str, args)], input=stdin, capture_output=True, text=text,
                          encoding="utf-8" if text else None, env={**os.environ, **sanitizers}, timeout=timeout)
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
    sentences = readable(bundle, sentences)
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

    bundle = bundles[case]
    texts = readable(bundle, sentences)[:12]
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


@pytest.fixture(scope="module")
def hostile_bundles(tiny_run, attention_bundle, tmp_path_factory):
    """bundles(name) for tests/hostile/cases.json: the seed family's with ONNX (which cases select)
    and TFLite float32 (which the C library reads), and the attention bundle."""
    from export.to_onnx import export_onnx
    from export.to_tflite import export_tflite

    seed = tmp_path_factory.mktemp("native") / "hostile-seed"
    export_onnx(tiny_run, seed, log=quiet)
    export_tflite(tiny_run, seed, log=quiet)
    return {"seed": seed, "attention": attention_bundle}.__getitem__


def _hostile_cases():
    from tests.test_hostile_bundles import CASES

    return CASES["cases"]


@pytest.mark.parametrize("case", _hostile_cases(), ids=[c["name"] for c in _hostile_cases()])
def test_the_shared_hostile_bundles_are_answered_as_python_answers_them(native_cli, hostile_bundles, sentences,
                                                                        tmp_path, case):
    """Every case of the shared hostile-bundle set (tests/hostile/cases.json), loaded as TFLite float32
    by the Python runtime and by the C CLI: the same one-line refusal, or both load and translate alike."""
    from runtime import Translator
    from runtime.errors import BundleError
    from tests.test_hostile_bundles import build_case

    bundle, _ = build_case(case, hostile_bundles, tmp_path)
    try:
        translator = Translator(bundle, backend="tflite", on_unknown="skip", on_overflow="truncate")
    except BundleError as exc:
        want = str(exc)
        done = run(native_cli, "--bundle", bundle, sentences[0])
        assert done.returncode == 2 and done.stdout == "", done.stderr
        got = error_line(done)
        not_json = re.fullmatch(r"(.* is not valid JSON \()(.*) at line (\d+) column (\d+)\)", want)
        if not_json:
            # A file that is not JSON: the C library names the place, not Python's parser's reason; Python
            # places NaN and Infinity at the start of the text (its parse_constant knows no position).
            prefix, reason, line, column = not_json.groups()
            place = re.fullmatch(re.escape(prefix) + r"at line (\d+) column (\d+)\)", got)
            assert place, (got, want)
            assert reason.endswith(" is not JSON") or place.groups() == (line, column), (got, want)
        else:
            assert got == want
        return
    # the case's bound on its time, for the C CLI too (a sanitizer build runs slower: twice the bound)
    seconds = case.get("seconds", 60) * (2 if sanitizer_env(native_cli) else 1)
    done = run(native_cli, "--bundle", bundle, "--on-unknown", "skip", "--on-overflow", "truncate", sentences[0],
               timeout=seconds)
    assert done.returncode == 0, done.stderr
    assert done.stdout == translator.translate(sentences[0]) + "\n"


# Manifest texts that Python's json (and JavaScript's JSON.parse) read otherwise than cJSON alone would.
STRICT_JSON = {
    "a raw tab in a string": lambda t: t.replace('"padding": "right"', '"padding": "ri\tght"'),
    "a raw newline in a key": lambda t: t.replace('"padding":', '"pad\nding":'),
    "a \\u escape of two digits": lambda t: t.replace('"padding": "right"', '"padding": "\\u00"'),
    "a \\u escape of no hex": lambda t: t.replace('"padding": "right"', '"padding": "\\uZZZZ"'),
    "an unknown escape": lambda t: t.replace('"padding": "right"', '"padding": "\\q"'),
    "a leading zero": lambda t: re.sub(r'"latent_dim": (\d+)', r'"latent_dim": 0\1', t),
    "a plus sign": lambda t: re.sub(r'"latent_dim": (\d+)', r'"latent_dim": +\1', t),
    "a number ending in a point": lambda t: re.sub(r'"latent_dim": (\d+)', r'"latent_dim": \1.', t),
    "a number starting with a point": lambda t: t.replace('"format_version": 4', '"format_version": .4'),
    "a trailing comma": lambda t: t.rstrip().removesuffix("}") + ",}",
    "a byte-order mark": lambda t: "\ufeff" + t,
    "True, Python's spelling": lambda t: t.replace('"batch_invariant": true', '"batch_invariant": True', 1),
    # read: the last of repeated keys counts, as in Python and JavaScript
    "a repeated key, the last one shorter": lambda t: t.rstrip().removesuffix("}") + ', "max_target_length": 6}',
    "a repeated key, the first one wrong": lambda t: t.replace("{", '{"family": "unknown", ', 1),
    # refused, naming the fields in the order of their first keys (Python's dict keeps that place)
    "repeated unknown keys": lambda t: t.replace('"backend":', '"zz": 1, "yy": 2, "zz": 3, "backend":', 1),
}


@pytest.mark.parametrize("case", list(STRICT_JSON))
def test_manifests_are_read_as_python_reads_json(native_cli, attention_bundle, sentences, tmp_path, case):
    from runtime import Translator
    from runtime.errors import BundleError

    bundle = tmp_path / "bundle"
    shutil.copytree(attention_bundle, bundle)
    path = bundle / "manifest.json"
    path.write_text(STRICT_JSON[case](path.read_text(encoding="utf-8")), encoding="utf-8")
    done = run(native_cli, "--bundle", bundle, *sentences[:5])
    try:
        want = Translator(bundle, backend="tflite").translate(sentences[:5])
    except BundleError as exc:
        message = re.fullmatch(r"(.* is not valid JSON \().* (at line \d+ column \d+\))", str(exc))
        assert done.returncode == 2 and error_line(done) == ("".join(message.groups()) if message else str(exc))
        assert message or "unknown fields zz, yy" in str(exc)
        return
    assert case.startswith("a repeated key")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == want
    if case.endswith("shorter"):
        assert max(map(len, want)) <= 6


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


# --- sampling, streaming, threads, the API's errors -----------------------------------------------

M32 = 0xFFFFFFFF


class Sfc32:
    """js/src/random.js's generator in Python: sfc32 seeded by a cyrb128-style hash of (seed, the
    text's UTF-8). The C library documents the same one; with it, the Python runtime's sampling
    loop must draw what the C library draws."""

    def __init__(self, seed: int, text: str) -> None:
        def imul(a, b):
            return (a * b) & M32

        h1, h2, h3, h4 = 1779033703 ^ (seed & M32), 3144134277 ^ (seed >> 32), 1013904242, 2773480762
        for byte in text.encode("utf-8"):
            h1 = h2 ^ imul(h1 ^ byte, 597399067)
            h2 = h3 ^ imul(h2 ^ byte, 2869860233)
            h3 = h4 ^ imul(h3 ^ byte, 951274213)
            h4 = h1 ^ imul(h4 ^ byte, 2716044179)
        h1 = imul(h3 ^ (h1 >> 18), 597399067)
        h2 = imul(h4 ^ (h2 >> 22), 2869860233)
        h3 = imul(h1 ^ (h3 >> 17), 951274213)
        h4 = imul(h2 ^ (h4 >> 19), 2716044179)
        self.state = [h1 ^ h2 ^ h3 ^ h4, h2 ^ h1, h3 ^ h1, h4 ^ h1]
        for _ in range(15):
            self._next()

    def _next(self) -> int:
        a, b, c, d = self.state
        t = (a + b) & M32
        a = b ^ (b >> 9)
        b = (c + (c << 3)) & M32
        c = ((c << 21) | (c >> 11)) & M32
        d = (d + 1) & M32
        t = (t + d) & M32
        c = (c + t) & M32
        self.state = [a, b, c, d]
        return t

    def random(self) -> float:
        return self._next() / 4294967296


def test_the_python_port_of_the_generator_draws_what_javascript_draws():
    node = shutil.which("node")
    if node is None:
        if REQUIRE and os.environ.get("S2S_REQUIRE_JS") == "1":
            pytest.fail("node is not installed")
        pytest.skip("node is not installed")
    cases = [(0, ""), (7, "Go."), (2**40 + 3, "Des œufs ? 😀"), (2**64 - 1, "x")]
    script = ("import { sentenceRandom } from './js/src/random.js';"
              f"for (const [seed, text] of {json.dumps([[str(s), t] for s, t in cases], ensure_ascii=False)}) {{"
              "  const r = sentenceRandom(BigInt(seed), text);"
              "  console.log(JSON.stringify([r(), r(), r()]));"
              "}")
    done = subprocess.run([node, "--input-type=module", "-e", script], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    for (seed, text), line in zip(cases, done.stdout.splitlines()):
        port = Sfc32(seed, text)
        assert json.loads(line) == [port.random() for _ in range(3)], (seed, text)


@pytest.mark.parametrize("top_k,temperature", [(0, 1.0), (5, 0.7)])
def test_seeded_sampling_draws_as_python_would_with_the_c_generator(native_cli, bundles, sentences, monkeypatch,
                                                                  top_k, temperature):
    """The Python runtime's own sampling loop over the same TFLite files, given the C library's
    generator in place of numpy's, samples what the C CLI samples: the loop, the top-k cut, the
    temperature and the seeding by (seed, text) are the same."""
    import numpy as np

    import runtime.translator
    from runtime import Translator, decoding

    def sampler(temperature, top_k, seed, sources, start_id):
        return decoding.sampling_chooser(temperature, top_k, [Sfc32(seed, s) for s in sources], never=(start_id,))

    monkeypatch.setattr(runtime.translator, "_sampler", sampler)
    monkeypatch.setattr(np.random, "default_rng", lambda generator: generator)
    bundle = bundles["attention"]
    want = Translator(bundle, backend="tflite").translate(sentences, top_k=top_k, temperature=temperature, seed=11)
    flags = ("--top-k", str(top_k), "--temperature", str(temperature), "--seed", "11")
    done = run(native_cli, "--bundle", bundle, *flags, "--batch-size", "7", stdin="".join(s + "\n" for s in sentences))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == want
    assert want != Translator(bundle, backend="tflite").translate(sentences)  # it sampled


def test_a_seeded_sample_depends_on_the_seed_and_the_text_only(native_cli, bundles, sentences):
    bundle, stdin = bundles["seed"], "".join(s + "\n" for s in sentences)

    def sample(*flags):
        done = run(native_cli, "--bundle", bundle, "--top-k", "0", *flags, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    first = sample("--seed", "3")
    assert sample("--seed", "3", "--batch-size", "1") == first
    assert sample("--seed", "3", "--stream") == first
    reordered = run(native_cli, "--bundle", bundle, "--top-k", "0", "--seed", "3",
                    stdin="".join(s + "\n" for s in reversed(sentences)))
    assert reordered.stdout.split("\n")[:-1] == first.split("\n")[:-1][::-1]
    assert sample("--seed", "4") != first
    assert sample() != sample()  # unseeded: a seed of its own each run


def test_streaming_gives_the_output_one_character_at_a_time(native_cli, bundles, sentences):
    from runtime import Translator

    bundle = bundles["attention"]
    want = Translator(bundle, backend="tflite").translate(sentences[:10])
    stdin = "".join(s + "\n" for s in sentences[:10])
    done = run(native_cli, "--bundle", bundle, "--stream", "--echo", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "".join(f"{s}\t{w}\n" for s, w in zip(sentences, want))
    pieces = api_check(native_cli, bundle, "float32", "stream", "1", "-", "0", stdin=stdin).stdout.split("\n")[:-1]
    assert [p.split("\x1f") if p else [] for p in pieces] == [list(w) for w in want]
    # a callback that returns nonzero stops the decoding after that piece
    stopped = api_check(native_cli, bundle, "float32", "stream", "1", "-", "3", stdin=stdin).stdout.split("\n")[:-1]
    assert [p.split("\x1f") if p else [] for p in stopped] == [list(w)[:3] for w in want]


def test_one_translator_per_thread_gives_what_one_gives_alone(native_cli, bundles, sentences):
    for case in ("seed", "attention"):
        done = api_check(native_cli, bundles[case], "dynamic", "threads", "4",
                         stdin="".join(s + "\n" for s in sentences))
        assert done.stdout == "4/4 threads identical\n"


def test_the_api_reports_its_errors_with_codes(native_cli, bundles):
    lines = api_check(native_cli, bundles["seed"], "float32", "errors").stdout.splitlines()
    assert lines == [
        "invalid UTF-8: 2 1 text 2 is not valid UTF-8",
        "options: 3 sampling (top_k != 1) and beam search (beam_size > 1) do not combine: pick one | "
        "sampling (--top-k != 1) and beam search (--beam-size > 1) do not combine: pick one",
        "stream options: 3 sampling (top_k != 1) and beam search (beam_size > 1) do not combine: pick one",
        "stream beam: 3 streaming works with greedy decoding and sampling, not with beam search (beam_size 2)",
        'open: 3 kernels must be one of default, builtin, got "fast"',
    ]


@pytest.mark.parametrize("flags", [
    ("--beam-size", "2", "--top-k", "3"),
    ("--temperature", "0.5"),
    ("--top-k", "4", "--temperature", "-1"),
    ("--top-k", "4", "--temperature", "0.0001"),  # valid: translates
    ("--num-hypotheses", "2"),
    ("--stream", "--beam-size", "2"),
    ("--stream", "--scores"),
    ("--seed", "-1"),
    ("--beam-size", "0"),
    ("--length-penalty", "-0.5"),
    ("--temperature", "inf"),
], ids=lambda flags: " ".join(flags))
def test_decoding_flags_are_checked_as_the_python_cli_checks_them(native_cli, attention_bundle, sentences, capsys,
                                                                  flags):
    from runtime.__main__ import main
    from runtime.cli import run_main

    args = ["--bundle", str(attention_bundle), *flags, sentences[0]]
    try:
        python = run_main(main, "python -m runtime", ["--backend", "tflite", *args])
    except SystemExit as exit:  # argparse's own errors
        python = exit.code
    captured = capsys.readouterr()
    done = run(native_cli, *args)
    assert done.returncode == python
    if python == 2:
        assert error_line(done) == captured.err.strip().removeprefix("python -m runtime: error: ")
    else:
        assert done.stdout == captured.out


def test_the_symbol_check_fails_on_a_function_the_library_does_not_export(tmp_path):
    """native/cmake/check_symbols.cmake at configure time: every LiteRt function that the header
    declares must be exported by the libLiteRt.so linked, and it finds them all."""
    cmake = shutil.which("cmake")
    if cmake is None:
        _unavailable("cmake is not installed (bash scripts/build-native installs it)")
    try:
        import ai_edge_litert
    except ImportError:
        _unavailable("the native build needs ai-edge-litert (pip install -e '.[tflite]')")
    library = Path(ai_edge_litert.__file__).parent / "libLiteRt.so"
    header = (ROOT / "native" / "src" / "litert_c_api.h").read_text(encoding="utf-8")

    def check(text: str) -> subprocess.CompletedProcess:
        (tmp_path / "api.h").write_text(text, encoding="utf-8")
        script = tmp_path / "check.cmake"
        script.write_text(f'include("{ROOT / "native" / "cmake" / "check_symbols.cmake"}")\n'
                          f'check_litert_symbols("{tmp_path / "api.h"}" "{library}")\n', encoding="utf-8")
        return subprocess.run([cmake, "-P", str(script)], capture_output=True, text=True, timeout=60)

    done = check(header)
    assert done.returncode == 0, done.stderr
    section = header.split("/* SYMBOLS BEGIN")[1].split("/* SYMBOLS END")[0]
    declared = re.findall(r"LiteRt[A-Za-z0-9_]+\(", section)
    assert f"all {len(declared)} declared functions are exported" in done.stdout + done.stderr
    assert len(declared) >= 20
    broken = header.replace("/* SYMBOLS END", "LiteRtStatus LiteRtNoSuchFunction(void);\n/* SYMBOLS END")
    done = check(broken)
    assert done.returncode != 0 and "does not export LiteRtNoSuchFunction" in done.stderr


def test_the_example_program_of_the_docs_compiles_and_runs(native_cli, bundles, sentences, tmp_path):
    """docs/native.md's complete program, compiled against each build's library, prints what the
    Python runtime gives: greedy, beam search's two best with scores, the first text streamed."""
    from runtime import Translator

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        _unavailable("no C compiler (bash scripts/build-native installs gcc)")
    doc = (ROOT / "docs" / "native.md").read_text(encoding="utf-8")
    source = doc.split("<!-- example: translate.c")[1].split("```c\n", 1)[1].split("```", 1)[0]
    (tmp_path / "translate.c").write_text(source, encoding="utf-8")
    build = native_cli.parent
    sanitize = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"] if sanitizer_env(native_cli) else []
    compiled = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", *sanitize, "translate.c",
                               f"-I{ROOT / 'native' / 'include'}", f"-L{build}", "-ls2s_edge", f"-Wl,-rpath,{build}",
                               "-o", "translate"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert compiled.returncode == 0, compiled.stderr
    bundle, texts = bundles["attention"], sentences[:3]
    translator = Translator(bundle, backend="tflite")
    want = translator.translate(texts)
    beam = translator.hypotheses(texts, beam_size=4, num_hypotheses=2)
    done = run(tmp_path / "translate", bundle, *texts)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "".join(w + "\n" for w in want) + \
        "".join(f"{h.score:.4f}\t{h.text}\n" for hyps in beam for h in hyps) + want[0] + "\n"


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

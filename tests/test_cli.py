"""The command lines, end to end, in fresh processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.run import read_heldout

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}


def cli(*args, stdin=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", *args], input=stdin, capture_output=True, text=True,
        timeout=timeout, env=ENV, cwd=ROOT,
    )


def assert_user_error(done, *fragments):
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "error:" in last
    for fragment in fragments:
        assert fragment in last, last


@pytest.mark.parametrize(
    "module", ["runtime", "trainer.fit", "trainer.decode", "trainer.evaluate", "trainer.qat", "export.to_onnx",
               "export.to_tflite"])
def test_help(module):
    done = cli(module, "--help")
    assert done.returncode == 0 and "usage:" in done.stdout


def test_runtime_arguments_and_stdin(tiny_bundle, tiny_run):
    from runtime import Translator

    texts = list(dict.fromkeys(en for en, _ in read_heldout(tiny_run)))[:6]
    expected = Translator(tiny_bundle).translate(texts)
    done = cli("runtime", "--bundle", str(tiny_bundle), *texts)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == expected

    lines = texts[:3] + [""] + texts[3:]  # an empty line gives an empty line
    done = cli("runtime", "--bundle", str(tiny_bundle), "--batch-size", "2", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:-1] == expected[:3] + [""] + expected[3:]


def test_runtime_user_errors(tiny_bundle, tmp_path):
    assert_user_error(cli("runtime", "--bundle", str(tmp_path / "nope"), "Hi."), "not found")
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), "I am €."), "'€'", "skip")
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), stdin="I am tired.\nBad €\n"),
                      "stdin line 2")
    long = "I am tired. " * 20
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), long), "longer than")
    done = cli("runtime", "--bundle", str(tiny_bundle), "--on-overflow", "truncate",
               "--on-unknown", "skip", long + "€")
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1
    done = cli("runtime", "--bundle", str(tiny_bundle), "--verbose", "I am €.")
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_train_decode_export_translate(tmp_path):
    run, bundle = tmp_path / "run", tmp_path / "bundle"
    done = cli("trainer.fit", "--out", str(run), "--num-samples", "600", "--epochs", "2",
               "--latent-dim", "16")
    assert done.returncode == 0, done.stderr
    assert "Epoch 2/2" in done.stdout and f"run written to {run}" in done.stdout
    assert sorted(p.name for p in run.iterdir()) == [
        "curves.png", "heldout.tsv", "history.json", "last.keras", "model.keras", "progress.json", "run.json",
        "train_sample.tsv"]

    texts = [en for en, _ in read_heldout(run)][:3]
    keras_out = cli("trainer.decode", "--run", str(run), *texts)
    assert keras_out.returncode == 0, keras_out.stderr
    assert len(keras_out.stdout.splitlines()) == 3

    done = cli("export.to_onnx", "--run", str(run), "--out", str(bundle))
    assert done.returncode == 0, done.stderr
    assert "identical decodes" in done.stdout
    onnx_out = cli("runtime", "--bundle", str(bundle), *texts)
    assert onnx_out.returncode == 0 and onnx_out.stdout == keras_out.stdout


def test_trainer_user_errors(tmp_path):
    assert_user_error(cli("trainer.fit", "--data", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "r")),
                      "not found")
    bad = tmp_path / "bad.txt"
    bad.write_text("Go.\tVa !\nno tab\n")
    assert_user_error(cli("trainer.fit", "--data", str(bad), "--strict", "--out", str(tmp_path / "r")),
                      "line 2")
    assert_user_error(cli("trainer.decode", "--run", str(tmp_path / "nope"), "Hi."), "not found")
    assert_user_error(cli("export.to_onnx", "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "b")),
                      "not found")
    assert not (tmp_path / "r").exists() and not (tmp_path / "b").exists()


def test_bad_numbers_and_bad_stdin_are_one_line_errors(tiny_bundle):
    for flag in ("--batch-size", "--threads"):
        done = cli("runtime", "--bundle", str(tiny_bundle), flag, "0", "Hi.")
        assert done.returncode == 2 and "Traceback" not in done.stderr and "at least 1" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "runtime", "--bundle", str(tiny_bundle)], input=b"I am \xff tired.\n",
        capture_output=True, timeout=120, env=ENV, cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert b"Traceback" not in done.stderr and b"stdin line 1 is not valid UTF-8" in done.stderr


def test_out_that_is_not_a_run_or_bundle_is_never_replaced(tiny_run, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    assert_user_error(cli("trainer.fit", "--out", str(precious), "--epochs", "1"), "not a training run")
    assert_user_error(cli("export.to_onnx", "--run", str(tiny_run), "--out", str(precious)), "not a bundle")
    assert (precious / "thesis.txt").read_text() == "years of work"
    assert_user_error(cli("trainer.fit", "--out", str(tmp_path / "r"), "--validation-split", "1.5"),
                      "validation split")


def test_runtime_decoding_flags(tiny_bundle, tiny_run):
    from runtime import Translator

    texts = list(dict.fromkeys(en for en, _ in read_heldout(tiny_run)))[:4]
    t = Translator(tiny_bundle)
    done = cli("runtime", "--bundle", str(tiny_bundle), "--beam-size", "3", "--num-hypotheses", "2",
               "--scores", *texts)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2 * len(texts)
    expected = t.hypotheses(texts, beam_size=3, num_hypotheses=2)
    assert [line.split("\t", 1)[1] for line in lines] == [h.text for hs in expected for h in hs]
    assert all(float(line.split("\t")[0]) <= 0 for line in lines)

    stdin = "\n".join(texts) + "\n"
    streamed = cli("runtime", "--bundle", str(tiny_bundle), "--stream", "--echo", stdin=stdin)
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.splitlines() == [f"{s}\t{o}" for s, o in zip(texts, t.translate(texts))]

    sampled = [cli("runtime", "--bundle", str(tiny_bundle), "--top-k", "0", "--temperature", "1.3",
                   "--seed", "11", stdin=stdin).stdout for _ in range(2)]
    assert sampled[0] == sampled[1] == "".join(
        s + "\n" for s in t.translate(texts, top_k=0, temperature=1.3, seed=11))


def test_runtime_decoding_flag_errors(tiny_bundle):
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), "--stream", "--beam-size", "2", "Go."),
                      "--stream")
    # In the command line's terms: its flags, not the Python API's keyword arguments.
    done = cli("runtime", "--bundle", str(tiny_bundle), "--temperature", "0.5", "Go.")
    assert_user_error(done, "set --top-k too")
    assert "top_k" not in done.stderr
    done = cli("runtime", "--bundle", str(tiny_bundle), "--num-hypotheses", "3", "Go.")
    assert_user_error(done, "--num-hypotheses must be between 1 and --beam-size (1)")
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), "--temperature", "inf", "Go."),
                      "argument --temperature: expected a number")


# What TensorFlow writes to fd 2 at import on some x86 CPUs (oneDNN on), whatever TF_CPP_MIN_LOG_LEVEL says.
_NOISY_TENSORFLOW = '''
import os, sys
from importlib.machinery import PathFinder

class NoisyTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = PathFinder.find_spec(name, path)
        exec_module = spec.loader.exec_module

        def noisy_exec_module(module):
            os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
            exec_module(module)
            os.write(2, b"I0000 00:00:1765000000.000000 1 port.cc:153] oneDNN custom operations are on.\\n")

        spec.loader.exec_module = noisy_exec_module
        return spec

sys.meta_path.insert(0, NoisyTensorFlow())
'''


def test_one_line_errors_whatever_tensorflow_prints_at_import(tmp_path):
    """The one-line error holds on CPUs where importing TensorFlow writes to fd 2 (issue 27, item 1)."""
    (tmp_path / "sitecustomize.py").write_text(_NOISY_TENSORFLOW)
    env = {**ENV, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}

    def run(*args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300,
                              env=env, cwd=ROOT)

    # The hook works: a bare import of TensorFlow writes its two lines.
    bare = run("-c", "import tensorflow")
    assert bare.returncode == 0 and "oneDNN custom operations are on" in bare.stderr, bare.stderr

    for args, fragment in [
        (("-m", "trainer.fit", "--out", str(tmp_path / "r"), "--bidirectional", "--latent-dim", "9"), "--latent-dim"),
        (("-m", "export.to_onnx", "--run", str(tmp_path / "missing"), "--out", str(tmp_path / "b")), "missing"),
        (("-m", "trainer.decode", "--run", str(tmp_path / "missing"), "Hi."), "missing"),
    ]:
        done = run(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.strip().splitlines() == [done.stderr.strip()], (args, done.stderr)
        assert fragment in done.stderr and "oneDNN" not in done.stderr

    # A probe that never imports leaves stderr as it is, and the import after it stays quiet.
    probe = run("-c", "import importlib.util, os, trainer\n"
                      "importlib.util.find_spec('tensorflow'); os.write(2, b'after the probe\\n')\n"
                      "import tensorflow; os.write(2, b'after the import\\n')")
    assert probe.returncode == 0 and probe.stderr == "after the probe\nafter the import\n", probe.stderr
    # With fd 2 closed there is nothing to capture: TensorFlow imports all the same.
    closed = subprocess.run(f"exec 2>&-; {sys.executable} -c 'import trainer, tensorflow; print(1)'", shell=True,
                            capture_output=False, stdout=subprocess.PIPE, text=True, timeout=300, env=env, cwd=ROOT)
    assert closed.returncode == 0 and closed.stdout == "1\n"

    # Asked for TensorFlow's messages, the user gets them.
    loud = run("-c", "import trainer, tensorflow")
    assert "oneDNN" not in loud.stderr
    loud = subprocess.run([sys.executable, "-c", "import trainer, tensorflow"], capture_output=True, text=True,
                          timeout=300, env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"}, cwd=ROOT)
    assert "oneDNN custom operations are on" in loud.stderr


def _held_out(tiny_run, n):
    return list(dict.fromkeys(en for en, _ in read_heldout(tiny_run)))[:n]


def test_a_bad_stdin_line_comes_after_the_lines_before_it(tiny_bundle, tiny_run):
    """Lines before a bad one are translated and written, in its batch too; the error names the line
    and the command line's flag (issue 27, item 3)."""
    from runtime import Translator

    good = _held_out(tiny_run, 3)
    expected = Translator(tiny_bundle).translate(good)
    done = cli("runtime", "--bundle", str(tiny_bundle), stdin=f"{good[0]}\n{good[1]}\nBad € line\n{good[2]}\n")
    assert_user_error(done, "stdin line 3", "--on-unknown skip")
    assert "on_unknown" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert done.stdout.splitlines() == expected[:2]
    done = cli("runtime", "--bundle", str(tiny_bundle), good[0], "I am €.")
    assert_user_error(done, "argument 2", "--on-unknown skip")
    assert done.stdout.splitlines() == expected[:1]
    long = good[0] * 40
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), stdin=f"{good[0]}\n{long}\n"),
                      "stdin line 2", "--on-overflow truncate")

    # Invalid UTF-8 on line 2 is line 2, after line 1 is written.
    done = subprocess.run([sys.executable, "-m", "runtime", "--bundle", str(tiny_bundle)],
                          input=good[0].encode() + b"\nab\xff\n" + good[1].encode() + b"\n",
                          capture_output=True, timeout=300, env=ENV, cwd=ROOT)
    assert done.returncode == 2 and b"stdin line 2 is not valid UTF-8" in done.stderr, done.stderr
    assert done.stdout.decode().splitlines() == expected[:1]


def test_a_huge_stdin_line_costs_a_bounded_amount(tiny_bundle, tiny_run):
    """A line past MAX_LINE_BYTES is refused with its true reason, or cut with --on-overflow truncate."""
    from runtime import Translator
    from runtime.cli import MAX_LINE_BYTES

    good = _held_out(tiny_run, 2)
    expected = Translator(tiny_bundle).translate(good)
    huge = good[0] * (MAX_LINE_BYTES // len(good[0]) + 100)
    stdin = f"{good[0]}\n{huge}\n{good[1]}\n"
    done = cli("runtime", "--bundle", str(tiny_bundle), stdin=stdin)
    assert_user_error(done, f"stdin line 2 is longer than {MAX_LINE_BYTES} bytes", "--on-overflow truncate")
    assert done.stdout.splitlines() == expected[:1]
    done = cli("runtime", "--bundle", str(tiny_bundle), "--on-overflow", "truncate", stdin=stdin)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")[:-1]
    assert len(lines) == 3 and [lines[0], lines[2]] == expected


def test_a_cut_line_keeps_whole_characters():
    import io

    from runtime.cli import MAX_LINE_BYTES, stdin_lines

    line = "é" * MAX_LINE_BYTES  # two bytes each: the cut falls on a character boundary or in one
    for pad in ("", "a"):
        (first, second) = stdin_lines(io.BytesIO(f"{pad}{line}\nnext\n".encode()), on_overflow="truncate")
        assert first == (pad + line)[: len(first)] and len(first.encode()) in (MAX_LINE_BYTES, MAX_LINE_BYTES - 1)
        assert second == "next"


@pytest.mark.parametrize("args, fragment", [
    (("runtime", "--bundle", "b", "--seed=-1", "Hi."), "--seed: must be at least 0, got -1"),
    (("runtime", "--bundle", "b", "--seed", "-1", "Hi."), "--seed: must be at least 0, got -1"),
    (("runtime", "--beam-size", "two"), "--beam-size"),
    (("trainer.fit", "--epochs", "x"), "--epochs"),
    (("export.to_onnx", "--run", "r"), "--out"),
])
def test_argument_errors_are_one_line(args, fragment):
    done = cli(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "usage:" not in done.stderr, done.stderr
    assert fragment in done.stderr and done.stderr.startswith(f"python -m {args[0]}: error: ")


def test_the_command_line_runs_the_one_graph_greedy_decoder(tiny_bundle, tiny_run):
    """Plain greedy translation from the command line runs the greedy graph on a batch of up to
    GREEDY_LOOP_MAX_BATCH sentences (one call, no decoder step); a larger batch, and --scores, step
    the decoder (issue 27, item 5; docs/performance.md measures why)."""
    import io

    from runtime import Translator
    from runtime.__main__ import build_parser
    from runtime.cli import Output
    from runtime.translator import GREEDY_LOOP_MAX_BATCH

    sentences = _held_out(tiny_run, 3 * GREEDY_LOOP_MAX_BATCH)
    translator = Translator(tiny_bundle)
    assert translator.model.greedy is not None, "the test bundle has no one-graph greedy decoder"
    calls = {"greedy": 0, "step": 0}
    for name, method in (("greedy", "greedy_ids"), ("step", "step")):
        original = getattr(translator.model, method)

        def counted(*args, _name=name, _original=original):
            calls[_name] += 1
            return _original(*args)

        setattr(translator.model, method, counted)
    expected = Translator(tiny_bundle, greedy_loop=False).translate(sentences)
    small = GREEDY_LOOP_MAX_BATCH
    for flags, n, greedy_calls in (([], small, 1), ([], len(sentences), 0), (["--scores"], small, 0)):
        calls.update(greedy=0, step=0)
        out = io.StringIO()
        Output(translator, out, echo=False, args=build_parser().parse_args(["--bundle", "b", *flags])).write(sentences[:n])
        assert calls["greedy"] == greedy_calls and (calls["step"] == 0) == bool(greedy_calls), (flags, n, calls)
        texts = [line.split("\t")[-1] for line in out.getvalue().split("\n")[:-1]]
        assert texts == expected[:n]


@pytest.mark.parametrize("argv, loads", [
    (["--batch-size", "16"], True), (["--batch-size", "1"], True), ([], False), (["Hi."], False),
    (["--batch-size", "16", "--scores"], False), (["--batch-size", "16", "--beam-size", "2"], False),
    (["--batch-size", "16", "--top-k", "0"], False), (["--batch-size", "16", "--stream"], False),
])
def test_the_command_line_loads_the_greedy_graph_where_it_pays(argv, loads):
    from runtime.__main__ import build_parser
    from runtime.cli import greedy_graph_pays

    assert greedy_graph_pays(build_parser().parse_args(["--bundle", "b", *argv])) is loads

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
        "curves.png", "heldout.tsv", "history.json", "model.keras", "run.json", "train_sample.tsv"]

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
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), "--temperature", "0.5", "Go."),
                      "top_k")
    assert_user_error(cli("runtime", "--bundle", str(tiny_bundle), "--num-hypotheses", "3", "Go."),
                      "num_hypotheses")


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

    # Asked for TensorFlow's messages, the user gets them.
    loud = run("-c", "import trainer, tensorflow")
    assert "oneDNN" not in loud.stderr
    loud = subprocess.run([sys.executable, "-c", "import trainer, tensorflow"], capture_output=True, text=True,
                          timeout=300, env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"}, cwd=ROOT)
    assert "oneDNN custom operations are on" in loud.stderr

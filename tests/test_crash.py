"""SIGKILL at any moment leaves the previous output or a complete new one, never a mix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runtime import Translator
from runtime.bundle import MANIFEST
from trainer.model import open_run
from trainer.run import RUN_JSON, read_run

pytestmark = pytest.mark.slow  # every test here trains or exports a model

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
# Seconds after start: during imports, data preparation, training, and near the end.
KILL_AT = (1.0, 4.0, 6.5, 9.0)


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_after(proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def fit_args(out: Path, latent: int) -> list[str]:
    return ["trainer.fit", "--out", str(out), "--num-samples", "600", "--epochs", "3",
            "--latent-dim", str(latent)]


def assert_complete_run(out: Path, latent: int | None = None) -> dict:
    info = read_run(out)
    model = open_run(out).model
    assert model.get_layer("encoder_lstm").units == info.latent_dim
    if latent is not None:
        assert info.latent_dim == latent
    return json.loads((out / RUN_JSON).read_text())


def test_sigkill_during_training(tmp_path):
    out = tmp_path / "run"
    assert subprocess.run([sys.executable, "-m", *fit_args(out, 8)], cwd=ROOT, env=ENV,
                          capture_output=True, timeout=300).returncode == 0
    before = assert_complete_run(out, 8)
    for delay in KILL_AT:
        kill_after(start(*fit_args(out, 12)), delay)
        after = assert_complete_run(out)  # loads, whole and consistent
        assert after == before or after["latent_dim"] == 12
        before = after


def test_sigkill_during_training_with_nothing_before(tmp_path):
    for i, delay in enumerate(KILL_AT[:3]):
        out = tmp_path / f"run{i}"
        kill_after(start(*fit_args(out, 8)), delay)
        if out.exists():
            assert_complete_run(out, 8)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from trainer.fit import fit

    root = tmp_path_factory.mktemp("crash")
    for name, latent in (("a", 8), ("b", 12)):
        fit(root / name, None, num_samples=600, epochs=2, latent_dim=latent, verbose=0, log=lambda *a: None)
    return root / "a", root / "b"


def test_sigkill_during_export(two_runs, tmp_path):
    from export.to_onnx import export_onnx

    run_a, run_b = two_runs
    out = tmp_path / "bundle"
    export_onnx(run_a, out, num_decodes=50, log=lambda *a: None)
    for delay in (1.0, 3.5, 5.0, 6.5):
        before = (out / MANIFEST).read_bytes()
        kill_after(start("export.to_tflite", "--run", str(run_b), "--out", str(out),
                         "--quantize", "none", "int8", "--min-agreement", "int8=0", "--num-decodes", "50"),
                   delay)
        manifest = json.loads((out / MANIFEST).read_text())
        for art in manifest["artifacts"]:  # every model in it loads: hashes, listing, graphs
            t = Translator(out, backend=art["backend"], precision=art["precision"])
            assert isinstance(t.translate("I am tired.", on_unknown="skip"), str)
        assert (out / MANIFEST).read_bytes() == before or manifest["latent_dim"] == 12

"""Training at scale: the streamed pipeline matches the seed's tensors, --resume continues an
interrupted run, the distributed path trains, and the run gets its curves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.vocab import Vocabulary, wrap_target
from trainer.data import DataError
from trainer.fit import fit, interrupted_runs
from trainer.pipeline import PairData
from tests.seed_reference import seed_tensors
from trainer.model import open_run
from trainer.run import CURVES_PNG, HISTORY_JSON, LAST_CHECKPOINT, PROGRESS_JSON, read_run

pytestmark = pytest.mark.slow  # every test here trains or exports a model

def quiet(*_args, **_kwargs) -> None:
    pass

ROOT = Path(__file__).resolve().parents[1]
PAIRS = [("Go.", "Va !"), ("Hi.", "Salut !"), ("Run!", "Cours !"), ("Wow!", "Ça alors !"),
         ("I see.", "Je comprends."), ("Help!", "À l'aide !")]


def onehot(ids, depth):
    return np.eye(depth, dtype="float32")[ids]


@pytest.fixture
def data():
    src = Vocabulary.from_texts(en for en, _ in PAIRS)
    tgt = Vocabulary.from_texts(wrap_target(fr) for _, fr in PAIRS)
    max_src = max(len(en) for en, _ in PAIRS)
    return PairData(PAIRS, src, tgt, max_src), src, tgt


def test_seed_pipeline_yields_exactly_the_seeds_one_hot_tensors(data):
    pairs_data, src, tgt = data
    enc, dec, target, _, _ = seed_tensors(PAIRS, src.chars, tgt.chars)
    max_tgt = dec.shape[1]
    (batch,) = pairs_data.batches(len(PAIRS), seed=None, bucket=False, pad_to=max_tgt, weighted=False)
    np.testing.assert_array_equal(onehot(batch.encoder_ids, len(src)), enc)
    np.testing.assert_array_equal(onehot(batch.decoder_ids, len(tgt)), dec)
    np.testing.assert_array_equal(onehot(batch.target_ids, len(tgt)), target)
    assert batch.weights.min() == 1.0


def test_bucketed_batches_are_the_seeds_tensors_cut_to_the_batch_with_no_weight_on_padding(data):
    pairs_data, src, tgt = data
    enc, dec, target, _, _ = seed_tensors(PAIRS, src.chars, tgt.chars)
    batches = list(pairs_data.batches(2, seed=7, epoch=0))
    seen = []
    for b in batches:
        rows = [next(i for i, p in enumerate(PAIRS) if src.encode([p[0]], enc.shape[1])[0].tolist()
                     == b.encoder_ids[k].tolist()) for k in range(len(b.encoder_ids))]
        seen += rows
        width = b.decoder_ids.shape[1]
        assert width == max(len(wrap_target(PAIRS[r][1])) for r in rows)  # padded to the batch only
        np.testing.assert_array_equal(onehot(b.encoder_ids, len(src)), enc[rows])
        np.testing.assert_array_equal(onehot(b.decoder_ids, len(tgt)), dec[rows, :width])
        for k, r in enumerate(rows):
            real = len(wrap_target(PAIRS[r][1])) - 1  # the French characters and END
            assert b.weights[k].tolist() == [1.0] * real + [0.0] * (width - real)
            np.testing.assert_array_equal(onehot(b.target_ids[k, :real], len(tgt)), target[r, :real])
    assert sorted(seen) == list(range(len(PAIRS)))


def test_epochs_are_shuffled_reproducibly_and_bucketing_cuts_padding(real_data):
    from trainer.data import read_pairs

    pairs, _ = read_pairs(real_data, num_samples=3000)
    src = Vocabulary.from_texts(en for en, _ in pairs)
    tgt = Vocabulary.from_texts(wrap_target(fr) for _, fr in pairs)
    d = PairData(pairs, src, tgt, max(len(en) for en, _ in pairs))
    plan = lambda epoch: d.plan(64, np.random.default_rng([0, epoch]), bucket=True)  # noqa: E731
    for epoch in (0, 1):
        assert sorted(np.concatenate(plan(epoch)).tolist()) == list(range(len(pairs)))
    assert [b.tolist() for b in plan(1)] == [b.tolist() for b in plan(1)]
    assert [b.tolist() for b in plan(0)] != [b.tolist() for b in plan(1)]
    cells = sum(len(b) * d.lengths[b].max() for b in plan(0))
    fixed = len(pairs) * d.lengths.max()
    assert cells < 0.6 * fixed  # the decoder runs far fewer padded steps


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("architecture, bidirectional", [("seed", False), ("attention", False),
                                                         ("attention", True)])
def test_resume_continues_from_the_saved_epoch(tmp_path, monkeypatch, architecture, bidirectional):
    from trainer import callbacks

    settings = dict(num_samples=400, epochs=4, latent_dim=16, batch_size=32, seed=5, verbose=0, log=quiet,
                    architecture=architecture, bidirectional=bidirectional)
    whole = tmp_path / "whole"
    fit(whole, None, **settings)

    out = tmp_path / "run"
    original = callbacks.BestCheckpoint.on_epoch_end

    def crash_after_two(self, epoch, logs=None):
        original(self, epoch, logs)
        if epoch + 1 == 2:
            raise Interrupt

    monkeypatch.setattr(callbacks.BestCheckpoint, "on_epoch_end", crash_after_two)
    with pytest.raises(Interrupt):
        fit(out, None, **settings)
    monkeypatch.undo()
    assert not out.exists()
    (partial,) = interrupted_runs(out)
    assert json.loads((partial / PROGRESS_JSON).read_text())["epoch"] == 2
    before = json.loads((partial / HISTORY_JSON).read_text())

    info = fit(out, None, resume=True, verbose=0, log=quiet)
    history = json.loads((out / HISTORY_JSON).read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert history[:2] == before
    assert info.settings.epochs == 4 and read_run(out).latent_dim == 16
    assert info.settings.architecture == architecture == open_run(out).spec.family
    assert info.settings.bidirectional == bidirectional == open_run(out).spec.bidirectional
    assert (out / LAST_CHECKPOINT).is_file() and json.loads((out / PROGRESS_JSON).read_text())["epoch"] == 4
    assert not interrupted_runs(out)
    # Same seed, same per-epoch shuffles: the resumed run ends where the uninterrupted one did.
    whole_loss = [row["loss"] for row in json.loads((whole / HISTORY_JSON).read_text())]
    np.testing.assert_allclose([row["loss"] for row in history], whole_loss, rtol=1e-3)
    for a, b in zip(open_run(out).model.get_weights(), open_run(whole).model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-3)

    with pytest.raises(Exception, match="has trained 4 of its 4 epochs"):
        fit(out, None, resume=True, verbose=0, log=quiet)
    with pytest.raises(Exception, match="nothing to resume"):
        fit(tmp_path / "none", None, resume=True, verbose=0, log=quiet)


def test_resume_refuses_changed_settings_on_the_command_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "trainer.fit", "--out", str(tmp_path / "r"), "--resume", "--latent-dim", "8"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2 and "--latent-dim" in done.stderr and "Traceback" not in done.stderr


def test_time_limit_stops_after_the_epoch_that_would_pass_it_and_keeps_a_finished_run(tmp_path):
    out = tmp_path / "run"
    lines = []
    info = fit(out, None, num_samples=300, epochs=50, latent_dim=8, batch_size=32, time_limit=1e-4,
               verbose=0, log=lines.append)
    history = json.loads((out / HISTORY_JSON).read_text())
    assert [row["epoch"] for row in history] == [1]  # any epoch takes longer than 6 ms
    assert info.settings.time_limit_minutes == 1e-4 and info.best["epoch"] == 1
    assert any(line.startswith("time limit: stopping after epoch 1") for line in lines)
    assert not interrupted_runs(out) and open_run(out).model is not None
    with pytest.raises(Exception, match="time limit must be a number of minutes"):
        fit(tmp_path / "b", None, time_limit=-1, verbose=0, log=quiet)


def test_stop_signals_wait_for_a_batch_end_unless_repeated_and_leave_other_handlers_alone():
    import signal

    from trainer.signals import Terminated
    from trainer.signals import StopAtBatchEnd

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a job started with `&`
    try:
        stopper = StopAtBatchEnd()
        stopper.on_train_begin()
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN  # ignored stays ignored
        assert signal.getsignal(signal.SIGTERM) == stopper._request
        os.kill(os.getpid(), signal.SIGTERM)  # the first: recorded, acted on at the batch end
        assert stopper.received == signal.SIGTERM
        with pytest.raises(Terminated):
            stopper.on_train_batch_end(0)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # restored on the way out

        exits = []

        def exit_now(code):
            exits.append(code)
            raise Interrupt

        stopper = StopAtBatchEnd(exit_now=exit_now)
        stopper.on_train_begin()
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(Interrupt):  # the second: the process ends at once
            os.kill(os.getpid(), signal.SIGTERM)
        assert exits == [128 + signal.SIGTERM] and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL

        # A signal after an epoch's last batch: that epoch is kept, then the run stops.
        class Model:
            stop_training = False

        stopper = StopAtBatchEnd(every=16)
        stopper.set_model(Model())
        stopper.on_train_begin()
        os.kill(os.getpid(), signal.SIGTERM)
        stopper.on_train_batch_end(0)  # not a 16th batch: no stop yet
        stopper.on_epoch_end(0)
        assert stopper.model.stop_training
        with pytest.raises(Terminated):
            stopper.raise_if_stopped()
    finally:
        signal.signal(signal.SIGINT, before)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_sigterm_keeps_finished_epochs_for_resume(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trainer.fit", "--out", str(out), "--num-samples", "300", "--latent-dim", "8",
         "--epochs", "1000"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 240
    while not interrupted_runs(out) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "training ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
    assert "terminated" in stderr and "Traceback" not in stderr
    assert "--resume" in stdout and not out.exists()
    (partial,) = interrupted_runs(out)
    done = json.loads((partial / PROGRESS_JSON).read_text())["epoch"]
    # Resumed with a time limit it has already spent: no more epochs, the run is finished.
    lines = []
    info = fit(out, None, resume=True, epochs=done + 5, time_limit=1e-4, verbose=0, log=lines.append)
    assert [row["epoch"] for row in json.loads((out / HISTORY_JSON).read_text())] == list(range(1, done + 1))
    assert info.settings.time_limit_minutes == 1e-4 and not interrupted_runs(out)
    assert any("already trained, no more epochs" in line for line in lines)


def test_a_finished_run_continues_where_a_longer_run_would_be(tmp_path):
    settings = dict(num_samples=400, latent_dim=16, batch_size=32, seed=5, verbose=0, log=quiet)
    whole = tmp_path / "whole"
    fit(whole, None, epochs=4, **settings)
    out = tmp_path / "run"
    fit(out, None, epochs=2, **settings)
    first = (out / "model.keras").read_bytes()
    with pytest.raises(Exception, match=r"has trained 2 of its 2 epochs.*give --epochs above 2 \("):
        fit(out, None, resume=True, verbose=0, log=quiet)
    assert (out / "model.keras").read_bytes() == first and not interrupted_runs(out)

    lines = []
    info = fit(out, None, resume=True, epochs=4, verbose=0, log=lines.append)
    assert any("continuing the finished run" in line and "after epoch 2 of 4" in line for line in lines)
    history = json.loads((out / HISTORY_JSON).read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4] and info.settings.epochs == 4
    assert json.loads((out / PROGRESS_JSON).read_text())["epoch"] == 4 and not interrupted_runs(out)
    # Weights and optimizer state carried over, the same per-epoch shuffles: the uninterrupted run.
    whole_loss = [row["loss"] for row in json.loads((whole / HISTORY_JSON).read_text())]
    np.testing.assert_allclose([row["loss"] for row in history], whole_loss, rtol=1e-3)
    for a, b in zip(open_run(out).model.get_weights(), open_run(whole).model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-3)

    # A time limit (a total) that the run has already spent leaves nothing to continue; the error
    # names the limit that binds and what one more epoch needs.
    history = json.loads((out / HISTORY_JSON).read_text())
    needed = (sum(row["seconds"] for row in history) + history[-1]["seconds"]) / 60
    with pytest.raises(Exception, match=rf"give --time-limit above {needed:.1f} minutes \("):
        fit(out, None, resume=True, epochs=9, time_limit=1e-4, verbose=0, log=quiet)
    # An older interrupted run beside a newer finished one: --resume says which is which.
    stale = tmp_path / ".run.old.partial"
    stale.mkdir()
    (stale / PROGRESS_JSON).write_text('{"epoch": 1, "best": {}}')
    os.utime(stale / PROGRESS_JSON, (0, 0))
    with pytest.raises(Exception, match="ambiguous"):
        fit(out, None, resume=True, epochs=6, verbose=0, log=quiet)
    shutil.rmtree(stale)
    # Runs finished before runs kept their last epoch: a clear refusal, from the CLI too.
    (out / LAST_CHECKPOINT).unlink()
    proc = subprocess.run([sys.executable, "-m", "trainer.fit", "--out", str(out), "--resume", "--epochs", "6"],
                          cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "cannot be continued" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert [row["epoch"] for row in json.loads((out / HISTORY_JSON).read_text())] == [1, 2, 3, 4]


def test_run_has_curves_and_history_with_memory(tiny_run):
    assert (tiny_run / CURVES_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = json.loads((tiny_run / HISTORY_JSON).read_text())
    assert all(row["peak_rss_mib"] > 0 and "val_loss" in row for row in history)


def test_chrf_sample_scores_the_current_weights_after_every_epoch(tiny_run, tmp_path):
    from trainer.callbacks import HeldoutChrF
    from trainer.reference import keras_translator, step_translator
    from trainer.metrics import translate_scored
    from trainer.run import read_heldout

    out = tmp_path / "run"
    fit(out, None, num_samples=600, epochs=2, latent_dim=16, batch_size=32, chrf_sample=30, verbose=0,
        log=quiet)
    history = json.loads((out / HISTORY_JSON).read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(0 <= row["val_chrf"] <= 100 and 0 <= row["val_bleu"] <= 100 for row in history)
    assert read_run(out).settings.chrf_sample == 30

    # On a trained model, the callback's score is that of the model's own translations of the
    # sampled sentences: the weights reach the callback's float32 copy.
    info, model = read_run(tiny_run), open_run(tiny_run).model
    callback = HeldoutChrF(info, read_heldout(tiny_run), 40, seed=1)
    callback.set_model(model)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert len(callback.sources) == 40
    _, expected = translate_scored(keras_translator(tiny_run), callback.sources, callback.references,
                                   info.max_target_length)
    assert logs["val_chrf"] == pytest.approx(expected.chrf) and logs["val_chrf"] > 20
    assert logs["val_bleu"] == pytest.approx(expected.bleu)
    # The next epoch scores the weights it ends with, not those of the first.
    model.set_weights([np.random.default_rng(0).normal(0, 0.3, w.shape) for w in model.get_weights()])
    callback.on_epoch_end(1, logs)
    _, expected = translate_scored(step_translator(model, info), callback.sources, callback.references,
                                   info.max_target_length)
    assert logs["val_chrf"] == pytest.approx(expected.chrf) and logs["val_chrf"] < 20

    # A run whose held-out side holds a subset of these sentences scores the shared ones.
    heldout = read_heldout(tiny_run)
    kept = set(list(dict.fromkeys(en for en, _ in heldout))[::2])
    subset = HeldoutChrF(info, [p for p in heldout if p[0] in kept], 40, seed=1)
    assert set(callback.sources) & kept <= set(subset.sources) and set(callback.sources) & kept

    with pytest.raises(DataError, match="validation-split"):
        fit(tmp_path / "none", None, num_samples=100, chrf_sample=10, validation_split=0.0, log=quiet)


MIRRORED = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from trainer.fit import fit
info = fit(sys.argv[1], None, num_samples=300, epochs=2, latent_dim=8, batch_size=32,
           strategy=sys.argv[2], architecture=sys.argv[3], bidirectional=sys.argv[3] == "attention",
           chrf_sample=20, verbose=0)
"""


@pytest.mark.parametrize("strategy, architecture", [("mirrored", "seed"), ("multi-worker", "seed"),
                                                    ("mirrored", "attention")])
def test_distributed_strategy_trains_a_tiny_model_on_two_logical_cpus(tmp_path, strategy, architecture):
    """Either family (attention with a bidirectional encoder), one process over two logical CPUs."""
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(out), strategy, architecture], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    if strategy == "mirrored":
        assert "mirrored strategy over 2 replicas" in done.stdout
    info = read_run(out)
    assert info.settings.strategy == strategy and info.best["epoch"] in (1, 2)
    spec = open_run(out).spec
    assert (spec.family, spec.bidirectional, spec.latent_dim) == (architecture, architecture == "attention", 8)
    assert all(0 <= row["val_chrf"] <= 100 for row in json.loads((out / HISTORY_JSON).read_text()))


def _start_two_workers(out: Path, *args: str) -> list[subprocess.Popen]:
    """`python -m trainer.fit --out OUT --strategy multi-worker ARGS` as two workers on localhost."""
    import socket

    def free_port():
        with socket.socket() as sock:
            sock.bind(("localhost", 0))
            return sock.getsockname()[1]

    cluster = {"worker": [f"localhost:{free_port()}", f"localhost:{free_port()}"]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env = {**os.environ, "TF_CONFIG": tf_config, "TF_CPP_MIN_LOG_LEVEL": "2"}
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "trainer.fit", "--out", str(out), "--strategy", "multi-worker", *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def _finish(procs: list[subprocess.Popen]) -> list[tuple[str, str]]:
    try:
        return [p.communicate(timeout=300) for p in procs]
    finally:
        for p in procs:
            p.kill()


TINY = ("--num-samples", "300", "--latent-dim", "8", "--batch-size", "32")


def test_multi_worker_trains_with_two_worker_processes_that_agree_on_the_time_limit(tmp_path):
    import re

    out = tmp_path / "run"
    procs = _start_two_workers(out, *TINY, "--epochs", "3", "--time-limit", "0.0001")
    results = _finish(procs)
    for p, (stdout, stderr) in zip(procs, results):
        assert p.returncode == 0, stderr[-3000:]
        assert "2 replicas in sync" in stdout and "time limit: stopping after epoch 1" in stdout
    assert "not the chief" in results[1][0]
    # Synchronous: both workers log the same all-reduced losses.
    losses = [re.findall(r" (?:val_)?loss: ([0-9.]+)", stdout) for stdout, _ in results]
    assert len(losses[0]) == 2 and losses[0] == losses[1]
    history = json.loads((out / HISTORY_JSON).read_text())
    assert [row["epoch"] for row in history] == [1]
    assert read_run(out).settings.strategy == "multi-worker" and not interrupted_runs(out)


def test_sigterm_to_one_worker_stops_both_and_the_run_resumes(tmp_path):
    import signal
    import time

    out = tmp_path / "run"
    procs = _start_two_workers(out, *TINY, "--epochs", "1000")
    deadline = time.monotonic() + 240
    while not interrupted_runs(out) and all(p.poll() is None for p in procs) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert all(p.poll() is None for p in procs), "training ended before it could be stopped"
    procs[1].send_signal(signal.SIGTERM)  # the other worker only learns of it from its peer
    results = _finish(procs)
    for p, (_, stderr) in zip(procs, results):
        assert p.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    assert "--resume" in results[0][0] and not out.exists()
    (partial,) = interrupted_runs(out)
    done = json.loads((partial / PROGRESS_JSON).read_text())["epoch"]
    procs = _start_two_workers(out, "--resume", "--epochs", str(done + 1))
    for p, (_, stderr) in zip(procs, _finish(procs)):
        assert p.returncode == 0, stderr[-3000:]
    assert [row["epoch"] for row in json.loads((out / HISTORY_JSON).read_text())] == list(range(1, done + 2))
    assert not interrupted_runs(out)


def test_num_samples_0_reads_the_whole_file_and_stale_runs_are_named(tmp_path):
    data = tmp_path / "pairs.txt"
    data.write_text("".join(f"Go {i}.\tVa {i} !\n" for i in range(50)), encoding="utf-8")
    out = tmp_path / "run"
    stale = tmp_path / ".run.abc123.partial"
    stale.mkdir()
    (stale / PROGRESS_JSON).write_text('{"epoch": 1, "best": {}}')
    lines = []
    info = fit(out, data, num_samples=0, epochs=1, latent_dim=8, verbose=0, log=lines.append)
    assert info.data["pairs"] == 50 and info.settings.num_samples is None
    assert any("1 interrupted run" in line and stale.name in line for line in lines)
    with pytest.raises(Exception, match="num-samples must be at least 1"):
        fit(tmp_path / "b", None, num_samples=0, epochs=1, verbose=0, log=quiet)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mixed_precision_trains_and_is_served_in_float32(tmp_path, dtype):
    from export.to_onnx import export_onnx

    out = tmp_path / dtype
    fit(out, None, num_samples=600, epochs=2, latent_dim=32, batch_size=32, compute_dtype=dtype,
        verbose=0, log=lambda *a: None)
    assert read_run(out).settings.compute_dtype == dtype
    import keras

    from trainer.model import OneHot

    trained = keras.saving.load_model(out / "model.keras", custom_objects={"OneHot": OneHot}, compile=False)
    assert trained.get_layer("decoder_lstm").dtype_policy.compute_dtype == dtype
    model = open_run(out).model
    assert {layer.dtype_policy.compute_dtype for layer in model.layers} == {"float32"}
    for a, b in zip(model.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(a, b)
    # float32 artifacts must still match the (float32) Keras model to 1e-5 and 100% of decodes
    _, reports = export_onnx(out, tmp_path / "bundle", log=lambda *a: None)
    assert reports[0].agreement == 1.0


def test_dropout_regularizes_training_only(tmp_path):
    from export.to_onnx import export_onnx

    out = tmp_path / "dropout"
    fit(out, None, num_samples=600, epochs=2, latent_dim=32, batch_size=32, dropout=0.3,
        verbose=0, log=lambda *a: None)
    assert read_run(out).settings.dropout == 0.3
    model = open_run(out).model
    assert model.get_layer("decoder_lstm").dropout == 0.3 and model.get_layer("decoder_dropout").rate == 0.3
    ids = [np.zeros((2, 5), "int32"), np.zeros((2, 4), "int32")]
    np.testing.assert_array_equal(model(ids, training=False), model(ids, training=False))  # no dropout
    assert not np.array_equal(model(ids, training=True), model(ids, training=False))
    # the exported graphs are the seed's: float32 ONNX still matches Keras on 100% of decodes
    _, reports = export_onnx(out, tmp_path / "bundle", log=lambda *a: None)
    assert reports[0].agreement == 1.0
    with pytest.raises(Exception, match="dropout must be in"):
        fit(tmp_path / "bad", None, dropout=1.0, verbose=0, log=quiet)


def test_learning_rate_warms_up_then_decays_along_a_cosine():
    from trainer.callbacks import DECAY_FLOOR, learning_rate_at

    assert learning_rate_at(1e-3, 0, 0.5) == 1e-3  # no warm-up, no decay: the rate as given
    assert learning_rate_at(1.0, 0, 0.0, warmup_steps=10) == pytest.approx(0.1)
    assert learning_rate_at(1.0, 9, 0.0, warmup_steps=10) == pytest.approx(1.0)
    rates = [learning_rate_at(1.0, 1000, p, decay="cosine") for p in np.linspace(0, 1, 11)]
    assert rates[0] == pytest.approx(1.0) and rates[-1] == pytest.approx(DECAY_FLOOR)
    assert rates[5] == pytest.approx((1 + DECAY_FLOOR) / 2) and all(np.diff(rates) < 0)
    assert learning_rate_at(1.0, 1000, 3.0, decay="cosine") == pytest.approx(DECAY_FLOOR)  # past the end


def test_preset_sets_the_recipe_and_flags_beside_it_win(tmp_path, capsys):
    from trainer.fit import main
    from trainer.presets import PRESETS

    data = tmp_path / "pairs.txt"
    data.write_text("".join(f"Go {i}.\tVa {i} !\n" for i in range(60)) + "A much longer sentence.\tNon.\n",
                    encoding="utf-8")
    out = tmp_path / "run"
    assert main(["--preset", "hour", "--data", str(data), "--out", str(out), "--latent-dim", "8",
                 "--batch-size", "16", "--epochs", "2", "--time-limit", "0", "--max-input-length", "10"]) == 0
    s = read_run(out).settings
    hour = PRESETS["hour"].settings
    assert s.preset == "hour" and (s.latent_dim, s.batch_size, s.epochs, s.max_input_length) == (8, 16, 2, 10)
    assert s.time_limit_minutes is None and s.num_samples is None  # the whole file, less the long pair
    assert read_run(out).data["pairs"] == 60
    for key in ("optimizer", "learning_rate", "warmup_steps", "lr_decay", "clip_norm", "architecture",
                "bidirectional", "validation_split", "compute_dtype"):
        assert getattr(s, key) == hour[key], key
    history = json.loads((out / HISTORY_JSON).read_text())
    # Decayed over the epochs (no time limit): the second epoch ends at a lower rate than the first.
    assert hour["learning_rate"] > history[0]["learning_rate"] > history[1]["learning_rate"] > 0
    # --no-bidirectional turns off what the preset turns on; --resume refuses a preset beside it.
    assert main(["--preset", "hour", "--data", str(data), "--out", str(tmp_path / "one-way"), "--latent-dim", "8",
                 "--epochs", "1", "--no-bidirectional", "--lr-decay", "none"]) == 0
    s = read_run(tmp_path / "one-way").settings
    assert not s.bidirectional and s.lr_decay == "none" and s.optimizer == "adam"
    with pytest.raises(SystemExit):
        main(["--preset", "hour", "--out", str(out), "--resume", "--epochs", "3"])
    assert "drop --preset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--preset", "hour", "--out", str(tmp_path / "no-data")])
    assert "give --data FILE" in capsys.readouterr().err

"""Keras callbacks of the trainer."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import keras

from runtime.cli import Terminated
from runtime.fileio import atomic_write_json

from .run import HISTORY_JSON, LAST_CHECKPOINT, MODEL_FILE, PROGRESS_JSON, RUN_JSON, RunInfo


def _save(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.keras")  # Keras wants the suffix
    model.save(tmp)
    os.replace(tmp, path)


class BestCheckpoint(keras.callbacks.Callback):
    """After every epoch: the best model so far, the latest model with its optimizer state (for
    --resume), the run's metadata and the history; every write atomic, progress.json last, so a
    kill at any moment loses at most the epoch in progress."""

    def __init__(self, root: Path, info: RunInfo, monitor: str = "val_loss",
                 history: list[dict] | None = None) -> None:
        super().__init__()
        self.root, self.info, self.monitor = Path(root), info, monitor
        self.history: list[dict] = list(history or [])
        self.best = float(info.best.get("value", float("inf"))) if info.best else float("inf")
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        from .fit import peak_rss_mib

        row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._started, 3),
               "peak_rss_mib": round(peak_rss_mib(), 1)}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.history.append(row)
        value = row.get(self.monitor, float("nan"))
        if value < self.best:  # NaN never improves: a diverged epoch is never kept
            self.best = value
            _save(self.model, self.root / MODEL_FILE)
            self.info.best = {"epoch": epoch + 1, "monitor": self.monitor, "value": value}
            atomic_write_json(self.root / RUN_JSON, self.info.to_json())
        atomic_write_json(self.root / HISTORY_JSON, self.history)
        if self.info.best:  # nothing worth resuming before a finite epoch
            _save(self.model, self.root / LAST_CHECKPOINT)
            atomic_write_json(self.root / PROGRESS_JSON, {"epoch": epoch + 1, "best": self.info.best})


class HeldoutChrF(keras.callbacks.Callback):
    """After every epoch: greedy chrF and BLEU (sacrebleu) of the current weights on a fixed sample
    of `sentences` distinct held-out English sentences (the same in every epoch), added to the
    epoch's logs as `val_chrf` and `val_bleu` (so to the progress line, history.json, curves.png).

    Validation loss is what training minimizes; decoded chrF on unseen sentences is what users judge,
    and the two part ways (a lower loss need not translate better). Decoding runs on a float32 copy
    of the model, as `trainer.evaluate` does, through the runtime's greedy loop; its time counts in
    the epoch's duration (and so in a time limit)."""

    def __init__(self, info: RunInfo, pairs, sentences: int, seed: int = 0) -> None:
        super().__init__()
        from .data import sentence_draw
        from .evaluate import group_references

        # The sentences with the lowest draws of the hashed split (trainer.data): runs with one seed
        # on different subsets of a file score the same sentences wherever their held-out sides
        # share them, so their curves compare.
        sources, references = group_references(pairs)
        pick = sorted(sorted(range(len(sources)), key=lambda i: sentence_draw(sources[i], seed))[:sentences])
        self.sources = [sources[i] for i in pick]
        self.references = [references[i] for i in pick]
        self.info = info
        self._copy = self._translator = None

    def on_epoch_end(self, epoch, logs=None):
        from .evaluate import translate_scored

        if self._translator is None:
            from .decode import step_translator
            from .model import build_training_model

            # A copy of its own even for a float32 model: plain float32 variables, outside any
            # distribution strategy, that decoding reads; the weights are copied in every epoch.
            self._copy = build_training_model(len(self.info.source_vocab), len(self.info.target_vocab),
                                              self.info.latent_dim)
            self._translator = step_translator(self._copy, self.info, max_batch_size=128)
        self._copy.set_weights(self.model.get_weights())
        _, scores = translate_scored(self._translator, self.sources, self.references,
                                     self.info.max_target_length)
        if logs is not None:
            logs.update(val_chrf=scores.chrf, val_bleu=scores.bleu)


def time_spent(history: list[dict]) -> float:
    """Training time so far: the sum of the epochs' durations (resumed ones included), seconds."""
    return sum(row["seconds"] for row in history)


def time_is_up(minutes: float, history: list[dict]) -> bool:
    """Whether one more epoch, as long as the last one, would take the training time past `minutes`."""
    return bool(history) and time_spent(history) + history[-1]["seconds"] > minutes * 60.0


class TimeLimit(keras.callbacks.Callback):
    """Stops training after the epoch at which `time_is_up`; the run then ends as a finished one,
    with its best epoch. `agree` makes the workers of a multi-worker run take one decision (each
    measures its own durations; one stopping alone would leave the others waiting for it)."""

    def __init__(self, minutes: float, history: list[dict], log=print, agree=None) -> None:
        super().__init__()
        self.minutes, self.history, self.log = minutes, history, log
        self.agree = agree or (lambda stop: stop)

    def on_epoch_end(self, epoch, logs=None):
        if self.agree(time_is_up(self.minutes, self.history)):
            self.model.stop_training = True
            self.log(f"time limit: stopping after epoch {epoch + 1}, "
                     f"{time_spent(self.history) / 60:.1f} of {self.minutes:g} minutes trained")


class StopAtBatchEnd(keras.callbacks.Callback):
    """While training, Ctrl-C and SIGTERM stop the run at a batch boundary instead of wherever
    TensorFlow is (an exception raised inside a step can hang its threads); the finished epochs stay
    for --resume. A second signal ends the process at once (`exit_now`, by default `os._exit`: the
    finished epochs are already on disk), since raising inside a step could hang it, and would
    leave the other workers of a multi-worker run blocked. Only Python's defaults are replaced (an
    application's handlers are left alone, and a background job's ignored SIGINT stays ignored);
    they are back after training or on `restore()`.

    `agree` makes the workers of a multi-worker run stop at the same batch when any of them got a
    signal (one stopping alone would leave the others blocked in their next collective); it is a
    collective itself, so it is asked every `every` batches and at every epoch end, the same calls
    on every worker. A stop agreed at an epoch end keeps that epoch: training ends after it and
    `raise_if_stopped()` then raises."""

    DEFAULTS = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}

    def __init__(self, agree=None, every: int = 1, exit_now=os._exit) -> None:
        super().__init__()
        self.received: int | None = None
        self.stopped = False
        self.agree, self.every, self.exit_now = agree or (lambda stop: stop), every, exit_now
        self.batches = 0  # training and validation batches so far: the same count on every worker
        self._previous: dict = {}

    def on_train_begin(self, logs=None):
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, default in self.DEFAULTS.items():
            if signal.getsignal(sig) == default:
                self._previous[sig] = signal.signal(sig, self._request)

    def _request(self, signum, frame):
        if self.received is None:
            self.received = signum
            return
        self.restore()
        print("second signal: stopping at once (finished epochs are kept for --resume)",
              file=sys.stderr, flush=True)
        self.exit_now(128 + signum)

    def _interrupt(self) -> BaseException:
        return KeyboardInterrupt() if self.received == signal.SIGINT else Terminated()

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches % self.every == 0 and self.agree(self.received is not None):
            self.restore()
            raise self._interrupt()

    on_test_batch_end = on_train_batch_end  # validation batches too

    def on_epoch_end(self, epoch, logs=None):
        if self.agree(self.received is not None):
            self.stopped = self.model.stop_training = True

    def raise_if_stopped(self) -> None:
        if self.stopped:
            self.restore()
            raise self._interrupt()

    def on_train_end(self, logs=None):
        self.restore()  # finishing the run (curves, rename) is not interrupted halfway

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

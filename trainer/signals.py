"""Stopping a training run cleanly on Ctrl-C or SIGTERM: at a batch boundary, keeping finished epochs."""

from __future__ import annotations

import os
import signal
import sys
import threading

import keras


class Terminated(KeyboardInterrupt):
    """A SIGTERM that training turned into an exception at a safe point (a batch boundary), so that
    it unwinds as from Ctrl-C and keeps its finished work; `runtime.cli.run_main` exits with 143."""

    exit_status = 128 + signal.SIGTERM
    message = "terminated"


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

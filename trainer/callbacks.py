"""Keras callbacks of the trainer."""

from __future__ import annotations

import os
import time
from pathlib import Path

import keras

from runtime.fileio import atomic_write_json

from .run import HISTORY_JSON, MODEL_FILE, RUN_JSON, RunInfo


class BestCheckpoint(keras.callbacks.Callback):
    """Keeps the best epoch's model, the run's metadata and the history on disk; every write atomic."""

    def __init__(self, root: Path, info: RunInfo, monitor: str = "val_loss") -> None:
        super().__init__()
        self.root, self.info, self.monitor = Path(root), info, monitor
        self.history: list[dict] = []
        self.best = float("inf")
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - self._started, 3)}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.history.append(row)
        value = row.get(self.monitor, float("nan"))
        if value < self.best:  # NaN never improves: a diverged epoch is never kept
            self.best = value
            tmp = self.root / f".{MODEL_FILE}.tmp.keras"  # Keras wants the suffix
            self.model.save(tmp)
            os.replace(tmp, self.root / MODEL_FILE)
            self.info.best = {"epoch": epoch + 1, "monitor": self.monitor, "value": value}
            atomic_write_json(self.root / RUN_JSON, self.info.to_json())
        atomic_write_json(self.root / HISTORY_JSON, self.history)

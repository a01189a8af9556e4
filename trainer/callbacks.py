"""Keras callbacks of the trainer."""

from __future__ import annotations

import os
import time
from pathlib import Path

import keras

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

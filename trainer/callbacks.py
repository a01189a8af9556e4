"""Keras callbacks of the training loop: checkpoints, the time limit, held-out chrF, the int8 weight
grid (quantization-aware training). Stopping on signals is `trainer.signals`."""

from __future__ import annotations

import math
import os
import resource
import time
from pathlib import Path

import keras

from .data import sentence_draw
from .fileio import atomic_write_json
from .metrics import group_references, translate_scored
from .model import float32_twin, weight_variables
from .quantize import int8_grid
from .reference import step_translator
from .run import HISTORY_JSON, LAST_CHECKPOINT, MODEL_FILE, PROGRESS_JSON, RUN_JSON, RunInfo
from .spec import is_quantized, row_blocks


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


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
        if self._translator is None:
            # A copy of its own even for a float32 model: plain float32 variables, outside any
            # distribution strategy, that decoding reads; the weights are copied in every epoch.
            self._copy = float32_twin(self.model)
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


LR_DECAYS = ("none", "cosine")
DECAY_FLOOR = 0.05  # cosine decay ends at this share of the peak rate


def learning_rate_at(peak: float, step: int, progress: float, warmup_steps: int = 0, decay: str = "none") -> float:
    """The rate of optimizer step `step` (from 0) at `progress` (0 to 1) through the run: a linear
    warm-up over the first `warmup_steps` steps, then the peak rate, or with `decay="cosine"` the
    peak rate decayed along a half cosine to `DECAY_FLOOR` of it as progress goes to 1."""
    rate = peak * min(1.0, (step + 1) / warmup_steps) if warmup_steps else peak
    if decay == "cosine":
        progress = min(max(progress, 0.0), 1.0)
        rate *= DECAY_FLOOR + (1 - DECAY_FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))
    return rate


class LearningRateSchedule(keras.callbacks.Callback):
    """Sets the optimizer's rate before every batch (`learning_rate_at`). Progress through the run is
    the training time spent over the time limit when the run has one (resumed epochs count: a
    run continued to a longer limit decays again from where that leaves it), else the share of its
    epochs done. The epoch's last rate is logged as `learning_rate`."""

    def __init__(self, peak: float, warmup_steps: int, decay: str, history: list[dict], epochs: int,
                 steps_per_epoch: int, minutes: float | None = None) -> None:
        super().__init__()
        self.peak, self.warmup_steps, self.decay = peak, warmup_steps, decay
        self.history, self.epochs, self.steps_per_epoch, self.minutes = history, epochs, steps_per_epoch, minutes
        self.epoch, self.rate = 0, peak
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self._started = epoch, time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if self.minutes:
            progress = (time_spent(self.history) + time.perf_counter() - self._started) / (self.minutes * 60)
        else:
            progress = (self.epoch + batch / self.steps_per_epoch) / self.epochs
        self.rate = learning_rate_at(self.peak, self.epoch * self.steps_per_epoch + batch, progress,
                                     self.warmup_steps, self.decay)
        self.model.optimizer.learning_rate = self.rate

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.rate


class WeightGrid(keras.callbacks.Callback):
    """Quantization-aware training by the straight-through estimator: float "shadow" weights take
    the optimizer's updates, and after every batch the model's quantized matrices
    (`trainer.spec.is_quantized`) are set to the shadows rounded to the int8 grid (`trainer.quantize`),
    so every forward pass, validation and saved model uses grid weights."""

    def on_train_begin(self, logs=None):
        # Batch callbacks must see every step: with several steps per call, the ones between
        # would train on weights off the grid.
        if getattr(self.model, "steps_per_execution", 1) not in (1, None):
            raise ValueError("quantization-aware training needs steps_per_execution=1")
        variables = weight_variables(self.model)
        names = [name for name in variables if is_quantized(name)]
        self.variables = [variables[name] for name in names]
        self.blocks = [row_blocks(name) for name in names]
        # A resumed run restarts from its saved (grid) weights: the shadows' sub-grid
        # remainders of the interrupted epoch are the only thing lost.
        self.shadows = [v.numpy().copy() for v in self.variables]
        self.grid = [int8_grid(s, b) for s, b in zip(self.shadows, self.blocks)]
        for v, g in zip(self.variables, self.grid):
            v.assign(g)

    def on_train_batch_end(self, batch, logs=None):
        for i, v in enumerate(self.variables):
            self.shadows[i] += v.numpy() - self.grid[i]  # the optimizer's step, taken by the shadow
            self.grid[i] = int8_grid(self.shadows[i], self.blocks[i])
            v.assign(self.grid[i])

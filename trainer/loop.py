"""The training loop that `trainer.fit` and `trainer.qat` share.

`train` trains a compiled model on a run's split inside the run's staging directory, with the
callbacks its settings ask for (checkpoints every epoch, a stop at a batch boundary on Ctrl-C or
SIGTERM, the time limit, held-out chrF, the int8 weight grid of quantization-aware runs) plus any
the caller adds, and renames the finished run into place.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

import keras

from .callbacks import (
    BestCheckpoint, HeldoutChrF, LearningRateSchedule, TimeLimit, WeightGrid, peak_rss_mib, time_is_up,
)
from .curves import write_curves
from .data import DataError, Pair
from .distributed import any_worker, is_multi_worker
from .fileio import replace_dir
from .pipeline import EpochClock, PairData, dataset
from .run import CURVES_PNG, MODEL_FILE, PROGRESS_JSON, RunInfo
from .signals import StopAtBatchEnd

# A worker's stop agreement is an all-reduce: every 16 batches it costs little (measured on 2 workers
# of a tiny model: agreeing at every batch doubled the epoch time).
AGREE_EVERY = 16


def train(
    staged: Path, out: str | Path, info: RunInfo, model: keras.Model, train_pairs: Sequence[Pair],
    valid_pairs: Sequence[Pair], *, initial_epoch: int = 0, history: list[dict] | None = None,
    chief: bool = True, callbacks: Sequence[keras.callbacks.Callback] = (), verbose: int = 2, log=print,
) -> RunInfo:
    """Train from `initial_epoch` to the run's epochs inside `staged`, then move it to `out`.

    Interrupted (a signal, a crash), the staging directory keeps the finished epochs for
    `trainer.fit --resume`; a run that never produced a finite loss is removed. Workers other than
    the chief of a multi-worker run train into a throwaway `staged` and publish nothing.
    """
    s = info.settings
    seed_pipeline = s.pipeline == "seed"
    options = dict(bucket=not seed_pipeline, weighted=not seed_pipeline,
                   pad_to=info.max_target_length if seed_pipeline else None)
    train_data = PairData(train_pairs, info.source_vocab, info.target_vocab, info.max_source_length)
    clock = EpochClock(initial_epoch)
    train_ds = dataset(train_data, s.batch_size, seed=s.seed, clock=clock, **options)
    valid_ds = None
    if valid_pairs:
        valid_data = PairData(valid_pairs, info.source_vocab, info.target_vocab, info.max_source_length)
        valid_ds = dataset(valid_data, s.batch_size, seed=None, **options)
    log(f"training pairs held as ids: {train_data.nbytes / 2**20:.1f} MiB")
    checkpoint = BestCheckpoint(staged, info, monitor="val_loss" if valid_pairs else "loss",
                                history=history or [])
    multi_worker = is_multi_worker(model.distribute_strategy)
    agree = (lambda flag: any_worker(model.distribute_strategy, flag)) if multi_worker else None
    stopper = StopAtBatchEnd(agree, every=AGREE_EVERY if multi_worker else 1)
    steps = [stopper, clock.callback()]
    if s.quantization_aware:  # trainer.qat's runs, resumed ones too
        steps.append(WeightGrid())
    if s.warmup_steps or s.lr_decay != "none":
        # Over the time limit, as each worker's clock measures it; the workers of a multi-worker run
        # would set different rates, so theirs decays over the epochs.
        steps.append(LearningRateSchedule(s.learning_rate, s.warmup_steps, s.lr_decay, checkpoint.history,
                                          s.epochs, len(train_ds), None if multi_worker else s.time_limit_minutes))
    steps += list(callbacks)
    # Before the checkpoint, so the epoch's row gets the scores and its duration the decoding. A
    # stop signal that comes during the decoding is acted on at the next batch (or the epoch end).
    if s.chrf_sample and valid_pairs:
        steps.append(HeldoutChrF(info, valid_pairs, s.chrf_sample, s.seed))
    steps.append(checkpoint)
    epochs = s.epochs
    if s.time_limit_minutes:  # after the checkpoint: it reads the epoch's duration
        steps.append(TimeLimit(s.time_limit_minutes, checkpoint.history, log, agree))
        if time_is_up(s.time_limit_minutes, checkpoint.history):  # resumed past the limit
            log(f"time limit: {s.time_limit_minutes:g} minutes already trained, no more epochs")
            epochs = initial_epoch
    try:
        model.fit(train_ds, epochs=epochs, initial_epoch=initial_epoch, validation_data=valid_ds,
                  callbacks=steps, verbose=verbose, shuffle=False)
        stopper.raise_if_stopped()  # a stop agreed at an epoch end: interrupted, not finished
        if not (staged / MODEL_FILE).is_file():
            raise DataError(
                f"training never produced a finite {checkpoint.monitor} (diverged? try a lower "
                "--learning-rate): no model to keep, the previous run is left as it was"
            )
        write_curves(staged / CURVES_PNG, checkpoint.history)
        # last.keras and progress.json stay: `trainer.fit --resume` continues a finished run too.
        if chief:
            replace_dir(staged, out)
        if stopper.received is not None:
            log("stop requested after the last batch: the run was finished anyway")
    except DataError:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    except BaseException:
        # Interrupted (Ctrl-C, a crash): keep finished epochs for --resume.
        if chief and (staged / PROGRESS_JSON).is_file():
            log(f"interrupted after epoch {checkpoint.history[-1]['epoch']}; continue with: "
                f"python -m trainer.fit --out {out} --resume")
        else:
            shutil.rmtree(staged, ignore_errors=True)
        raise
    finally:
        stopper.restore()
        if not chief:
            shutil.rmtree(staged, ignore_errors=True)
    log(f"run written to {out}{'' if chief else ' by the chief'} (best epoch {info.best.get('epoch')}, "
        f"{info.best.get('monitor', 'loss')} {info.best.get('value', float('nan')):.4f}; "
        f"peak RSS {peak_rss_mib():.0f} MiB)")
    return info

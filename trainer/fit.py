"""python -m trainer.fit: train the seed's character-level seq2seq model.

Without --data it trains on the built-in corpus (trainer.corpus) with settings that finish in a few
minutes on 2 cores; with --data it reads an Anki-format file and defaults to the seed's settings
(10,000 pairs, latent 256, batch 64, 100 epochs, rmsprop, 20% validation).
"""

from __future__ import annotations

import argparse
import os
import random
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from runtime.cli import add_verbose, non_negative_float, non_negative_int, positive_int, run_main
from runtime.fileio import atomic_write_bytes, atomic_write_json, replace_dir, replaceable, staging_dir
from runtime.vocab import PAD, Vocabulary, wrap_target

from .data import DEFAULT_SPLIT, UNRECORDED_SPLIT, DataError, Pair, read_pairs, split_pairs
from .distributed import strategy_for
from .run import (
    CURVES_PNG, HELDOUT_TSV, HISTORY_JSON, LAST_CHECKPOINT, MODEL_FILE, PROGRESS_JSON, RUN_JSON,
    TRAIN_SAMPLE_TSV, RunError, RunInfo, read_run_json,
)


@dataclass(frozen=True)
class Defaults:
    num_samples: int
    latent_dim: int
    batch_size: int
    epochs: int
    learning_rate: float = 1e-3  # rmsprop's default, the seed's
    max_input_length: int | None = None
    vocabulary_words: int | None = None  # built-in corpus only (see trainer.builtin)


REFERENCE_SAMPLE = 1000
SEED_DEFAULTS = Defaults(num_samples=10_000, latent_dim=256, batch_size=64, epochs=100)
# Measured on 2 cores: a few minutes, and most held-out sentences come out exactly right.
BUILTIN_DEFAULTS = Defaults(
    num_samples=4_000, latent_dim=128, batch_size=32, epochs=120, learning_rate=5e-3,
    max_input_length=20, vocabulary_words=80,
)


def encode_pairs(
    pairs: Sequence[Pair], source_vocab: Vocabulary, target_vocab: Vocabulary,
    max_source_length: int, max_target_length: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's three tensors, as ids: encoder input, decoder input, decoder target.

    The target is the decoder input shifted one step ahead (teacher forcing), padded with PAD.
    """
    encoder_ids = source_vocab.encode([en for en, _ in pairs], max_source_length)
    decoder_ids = target_vocab.encode([wrap_target(fr) for _, fr in pairs], max_target_length)
    target_ids = np.full_like(decoder_ids, target_vocab.id(PAD))
    target_ids[:, :-1] = decoder_ids[:, 1:]
    return encoder_ids, decoder_ids, target_ids


PIPELINES = ("bucketed", "seed")
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")  # the LSTMs' Keras policy: float32 or mixed_<dtype>
STRATEGIES = ("none", "mirrored", "multi-worker")


def fit(
    out: str | Path,
    data: str | Path | None = None,
    *,
    num_samples: int | None = None,
    epochs: int | None = None,
    latent_dim: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    validation_split: float = 0.2,
    seed: int = 0,
    strict: bool = False,
    max_input_length: int | None = None,
    max_output_length: int | None = None,
    vocabulary_words: int | None = None,
    pipeline: str = "bucketed",
    strategy: str = "none",
    compute_dtype: str = "float32",
    dropout: float = 0.0,
    time_limit: float | None = None,
    chrf_sample: int = 0,
    resume: bool = False,
    verbose: int = 2,
    log=print,
) -> RunInfo:
    """Train a model and write a complete run directory at `out`; returns its RunInfo.

    `pipeline="bucketed"` batches pairs of similar length and puts no loss on padding;
    `"seed"` pads every pair to the longest one and weighs every position (the seed's tensors).
    `compute_dtype="bfloat16"` or `"float16"` trains the LSTMs in mixed precision (the run's model
    is still decoded and exported in float32). `dropout` regularizes training only.
    `time_limit` (minutes; 0 or None: none) stops after the epoch at which one more would pass it;
    the run is then finished with its best epoch.
    `chrf_sample` > 0 logs, after every epoch, the greedy chrF and BLEU of that many held-out
    sentences (`val_chrf`, `val_bleu`).
    `resume=True` continues the interrupted run aimed at `out` from its last finished epoch, with
    that run's settings (`epochs` may raise the total, `time_limit` may change).
    """
    if pipeline not in PIPELINES:
        raise DataError(f"pipeline must be one of {', '.join(PIPELINES)}, got {pipeline!r}")
    if strategy not in STRATEGIES:
        raise DataError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    if compute_dtype not in COMPUTE_DTYPES:
        raise DataError(f"compute dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {compute_dtype!r}")
    if not 0 <= dropout < 1:
        raise DataError(f"dropout must be in [0, 1), got {dropout}")
    if time_limit is not None and not 0 <= time_limit < float("inf"):
        raise DataError(f"time limit must be a number of minutes (0: none), got {time_limit}")
    if chrf_sample < 0:
        raise DataError(f"chrf-sample must be 0 (off) or a number of sentences, got {chrf_sample}")
    if chrf_sample and not validation_split:
        raise DataError("--chrf-sample scores held-out sentences: give a --validation-split above 0")
    if not replaceable(out, RUN_JSON):
        raise RunError(f"--out {out} exists and is not a training run: refusing to replace it")
    if resume:
        return _resume(out, epochs, time_limit, strategy, verbose, log)
    stale = interrupted_runs(out)
    if stale:
        log(f"note: {len(stale)} interrupted run(s) beside {out} ({', '.join(p.name for p in stale)}); "
            "this one starts afresh (--resume would continue the newest; delete them to free the disk)")

    defaults = SEED_DEFAULTS if data is not None else BUILTIN_DEFAULTS
    num_samples = defaults.num_samples if num_samples is None else num_samples
    epochs = defaults.epochs if epochs is None else epochs
    latent_dim = defaults.latent_dim if latent_dim is None else latent_dim
    batch_size = defaults.batch_size if batch_size is None else batch_size
    learning_rate = defaults.learning_rate if learning_rate is None else learning_rate
    if max_input_length is None:
        max_input_length = defaults.max_input_length
    if vocabulary_words is None:
        vocabulary_words = defaults.vocabulary_words
    if not learning_rate > 0:
        raise DataError(f"learning-rate must be positive, got {learning_rate}")
    if num_samples == 0 and data is not None:
        num_samples = None  # --data with --num-samples 0: the whole file
    for name, value in (("num_samples", num_samples if num_samples is not None else 1), ("epochs", epochs),
                        ("latent_dim", latent_dim), ("batch_size", batch_size)):
        if value < 1:
            raise DataError(f"{name.replace('_', '-')} must be at least 1, got {value}")
    for name, value in (("max-input-length", max_input_length), ("max-output-length", max_output_length),
                        ("vocabulary-words", vocabulary_words)):
        if value is not None and value < 0:
            raise DataError(f"--{name} must be 0 (no limit) or positive, got {value}")

    settings = {
        "num_samples": num_samples, "epochs": epochs, "latent_dim": latent_dim,
        "batch_size": batch_size, "validation_split": validation_split, "split": DEFAULT_SPLIT, "seed": seed,
        "optimizer": "rmsprop", "learning_rate": learning_rate,
        "loss": "sparse_categorical_crossentropy",
        "loss_on_padding": pipeline == "seed", "pipeline": pipeline, "strategy": strategy,
        "compute_dtype": compute_dtype, "dropout": dropout, "time_limit_minutes": time_limit or None,
        "chrf_sample": chrf_sample,
        "max_input_length": max_input_length, "max_output_length": max_output_length,
        "vocabulary_words": vocabulary_words if data is None else None, "strict": strict,
    }
    pairs, data_info = _load_pairs(data, settings, log)
    train, valid = split_pairs(pairs, validation_split, seed, settings["split"])
    source_vocab = Vocabulary.from_texts(en for en, _ in pairs)
    target_vocab = Vocabulary.from_texts(wrap_target(fr) for _, fr in pairs)
    max_source_length = max(len(en) for en, _ in pairs)
    max_target_length = max(len(wrap_target(fr)) for _, fr in pairs)
    log(f"{len(train)} training / {len(valid)} validation pairs; "
        f"{len(source_vocab)} source / {len(target_vocab)} target characters; "
        f"max lengths {max_source_length} / {max_target_length}")
    info = RunInfo(source_vocab, target_vocab, max_source_length, max_target_length,
                   latent_dim, settings, data_info, best={})

    tf_strategy, chief = strategy_for(strategy, log)
    import keras

    from .model import build_training_model

    keras.utils.set_random_seed(seed)
    with tf_strategy.scope():
        model = build_training_model(len(source_vocab), len(target_vocab), latent_dim, learning_rate,
                                     compute_dtype, dropout)

    # A unique staging directory: concurrent runs aimed at one --out never mix their files.
    # Workers other than the chief of a multi-worker run train into a throwaway directory.
    staged = staging_dir(out) if chief else Path(tempfile.mkdtemp(prefix="s2s-worker-"))
    atomic_write_json(staged / RUN_JSON, info.to_json())
    # Export validates on these; with no validation split, a sample of training pairs stands in.
    info.data["heldout_is_training_sample"] = not valid
    _write_tsv(staged / HELDOUT_TSV, valid or train[:REFERENCE_SAMPLE])
    # Quantized exports calibrate on training data: keep a deterministic sample of it.
    _write_tsv(staged / TRAIN_SAMPLE_TSV, random.Random(seed).sample(train, min(len(train), REFERENCE_SAMPLE)))
    return _train(staged, out, info, model, train, valid, 0, [], chief, verbose, log)


def _load_pairs(data, settings: dict, log) -> tuple[list[Pair], dict]:
    """The pairs a run trains on; the same settings always give the same pairs."""
    if data is None:
        from .builtin import builtin_pairs

        words = settings["vocabulary_words"]
        pairs = builtin_pairs(settings["num_samples"], settings["seed"], settings["max_input_length"] or None,
                              settings["max_output_length"], words or None)
        log(f"built-in corpus: {len(pairs)} pairs (seed {settings['seed']}, {words or 'all'} English "
            f"words, English up to {settings['max_input_length'] or 'any'} characters)")
        return pairs, {"source": "builtin", "seed": settings["seed"], "pairs": len(pairs),
                       "vocabulary_words": words or None}
    pairs, report = read_pairs(data, num_samples=settings["num_samples"], strict=settings["strict"],
                               max_input_length=settings["max_input_length"] or None,
                               max_output_length=settings["max_output_length"])
    log(report.summary())
    return pairs, {
        "source": os.path.abspath(data), "pairs": len(pairs), "lines_read": report.lines,
        "skipped": len(report.skipped), "skipped_lines": [n for n, _ in report.skipped[:100]],
    }


def training_split(info: RunInfo, log=lambda *a: None) -> tuple[list[Pair], list[Pair]]:
    """The (train, validation) pairs of a run, rebuilt from its settings and data file."""
    s = info.settings
    source = info.data.get("source")
    data = None if source == "builtin" else source
    if data is not None and not Path(data).is_file():
        raise RunError(f"cannot rebuild the run's training split: its data file {data} is missing")
    defaults = {"strict": False, "max_input_length": None, "max_output_length": None, "vocabulary_words": None}
    pairs, _ = _load_pairs(data, {**defaults, **s}, log)
    return split_pairs(pairs, s["validation_split"], s["seed"], s.get("split", UNRECORDED_SPLIT))


def same_training_split(info: RunInfo, who: str, consequence: str, log=lambda *a: None):
    """`training_split`, refused unless it rebuilds exactly the pairs and vocabularies of `info`
    (training more on a changed data file would mix two datasets)."""
    train, valid = training_split(info, log)
    pairs = train + valid
    if (Vocabulary.from_texts(en for en, _ in pairs) != info.source_vocab
            or Vocabulary.from_texts(wrap_target(fr) for _, fr in pairs) != info.target_vocab
            or len(pairs) != info.data.get("pairs")):
        raise DataError(f"{info.data.get('source')} no longer gives the pairs {who} trained on: {consequence}")
    return train, valid


def _train(staged: Path, out, info: RunInfo, model, train, valid, initial_epoch: int, history: list,
           chief: bool, verbose: int, log) -> RunInfo:
    """Train from `initial_epoch` to the run's epochs inside `staged`, then move it to `out`."""
    from .callbacks import BestCheckpoint, StopAtBatchEnd, TimeLimit, time_is_up
    from .curves import write_curves
    from .distributed import any_worker, is_multi_worker
    from .pipeline import EpochClock, PairData, dataset

    s = info.settings
    seed_pipeline = s["pipeline"] == "seed"
    options = dict(bucket=not seed_pipeline, weighted=not seed_pipeline,
                   pad_to=info.max_target_length if seed_pipeline else None)
    train_data = PairData(train, info.source_vocab, info.target_vocab, info.max_source_length)
    clock = EpochClock(initial_epoch)
    train_ds = dataset(train_data, s["batch_size"], seed=s["seed"], clock=clock, **options)
    valid_ds = None
    if valid:
        valid_data = PairData(valid, info.source_vocab, info.target_vocab, info.max_source_length)
        valid_ds = dataset(valid_data, s["batch_size"], seed=None, **options)
    log(f"training pairs held as ids: {train_data.nbytes / 2**20:.1f} MiB")
    checkpoint = BestCheckpoint(staged, info, monitor="val_loss" if valid else "loss", history=history)
    multi_worker = is_multi_worker(model.distribute_strategy)
    agree = (lambda flag: any_worker(model.distribute_strategy, flag)) if multi_worker else None
    # A worker's agreement is an all-reduce: every 16 batches it costs little (measured on 2 workers
    # of a tiny model: every batch doubled the epoch time).
    stopper = StopAtBatchEnd(agree, every=16 if multi_worker else 1)
    callbacks = [stopper, clock.callback()]
    if s.get("quantization_aware"):  # trainer.qat's runs, resumed ones too
        from .qat import weight_grid_callback

        callbacks.append(weight_grid_callback())
    # Before the checkpoint, so the epoch's row gets the scores and its duration the decoding. A
    # stop signal that comes during the decoding is acted on at the next batch (or the epoch end).
    if s.get("chrf_sample") and valid:
        from .callbacks import HeldoutChrF

        callbacks.append(HeldoutChrF(info, valid, s["chrf_sample"], s["seed"]))
    callbacks.append(checkpoint)
    epochs = s["epochs"]
    if s.get("time_limit_minutes"):  # after the checkpoint: it reads the epoch's duration
        callbacks.append(TimeLimit(s["time_limit_minutes"], checkpoint.history, log, agree))
        if time_is_up(s["time_limit_minutes"], checkpoint.history):  # resumed past the limit
            log(f"time limit: {s['time_limit_minutes']:g} minutes already trained, no more epochs")
            epochs = initial_epoch
    try:
        model.fit(train_ds, epochs=epochs, initial_epoch=initial_epoch, validation_data=valid_ds,
                  callbacks=callbacks, verbose=verbose, shuffle=False)
        stopper.raise_if_stopped()  # a stop agreed at an epoch end: interrupted, not finished
        if not (staged / MODEL_FILE).is_file():
            raise DataError(
                f"training never produced a finite {checkpoint.monitor} (diverged? try a lower "
                "--learning-rate): no model to keep, the previous run is left as it was"
            )
        write_curves(staged / CURVES_PNG, checkpoint.history)
        (staged / LAST_CHECKPOINT).unlink(missing_ok=True)
        (staged / PROGRESS_JSON).unlink(missing_ok=True)
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


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def interrupted_runs(out: str | Path) -> list[Path]:
    """Staging directories of interrupted runs aimed at `out` that can be resumed, newest first."""
    out = Path(out)
    found = [p for p in out.parent.glob(f".{out.name}.*.partial") if (p / PROGRESS_JSON).is_file()]
    return sorted(found, key=lambda p: (p / PROGRESS_JSON).stat().st_mtime, reverse=True)


def _resume(out, epochs: int | None, time_limit: float | None, strategy: str, verbose: int, log) -> RunInfo:
    candidates = interrupted_runs(out)
    if not candidates:
        raise RunError(
            f"nothing to resume for --out {out}: no interrupted run beside it (a finished run is "
            "complete; start a new one without --resume)"
        )
    staged = candidates[0]
    info = read_run_json(staged)
    progress = json.loads((staged / PROGRESS_JSON).read_text(encoding="utf-8"))
    done = int(progress["epoch"])
    if epochs is not None:
        if epochs < done:
            raise DataError(f"--epochs {epochs} is below the {done} epochs already trained")
        info.settings["epochs"] = epochs
    if time_limit is not None:
        info.settings["time_limit_minutes"] = time_limit or None
    # run.json is written with model.keras, so its best always describes that file (even when a
    # kill came after a better epoch was saved but before its progress was).
    info.best = info.best or progress.get("best", {})
    s = info.settings
    train, valid = same_training_split(info, "the interrupted run", "cannot resume", log)
    log(f"resuming {staged.name} after epoch {done} of {s['epochs']}")
    tf_strategy, chief = strategy_for(strategy if strategy != "none" else s.get("strategy", "none"), log)
    import keras

    from .model import OneHot

    with tf_strategy.scope():
        model = keras.saving.load_model(staged / LAST_CHECKPOINT, custom_objects={"OneHot": OneHot},
                                        safe_mode=True, compile=True)
    keras.utils.set_random_seed(s["seed"] + done)
    history = json.loads((staged / HISTORY_JSON).read_text(encoding="utf-8"))[:done]
    if not chief:  # other workers read the chief's checkpoint and train into a throwaway copy
        work = Path(tempfile.mkdtemp(prefix="s2s-worker-"))
        for name in (RUN_JSON, HISTORY_JSON):
            shutil.copyfile(staged / name, work / name)
        staged = work
    else:
        atomic_write_json(staged / RUN_JSON, info.to_json())
    return _train(staged, out, info, model, train, valid, done, history, chief, verbose, log)


def _write_tsv(path: Path, pairs: Sequence[Pair]) -> None:
    atomic_write_bytes(path, "".join(f"{en}\t{fr}\n" for en, fr in pairs).encode("utf-8"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m trainer.fit",
        description="Train the character-level LSTM seq2seq model (keras.io lstm_seq2seq).",
        epilog=f"Defaults without --data (built-in corpus): {BUILTIN_DEFAULTS}. "
        f"With --data (the seed's settings): {SEED_DEFAULTS}.",
    )
    p.add_argument("--data", help="Anki-format file: English<TAB>French[<TAB>attribution] per line "
                   "(default: the built-in generated corpus)")
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--num-samples", type=int, help="use the first N pairs (with --data, 0: all of them)")
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--latent-dim", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--learning-rate", type=float, help="rmsprop's learning rate")
    p.add_argument("--validation-split", type=float, default=0.2, help="default: %(default)s")
    p.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    p.add_argument("--max-input-length", type=int,
                   help="leave out pairs whose English is longer (0: no limit)")
    p.add_argument("--max-output-length", type=int, help="leave out pairs whose French is longer")
    p.add_argument("--vocabulary-words", type=int,
                   help="built-in corpus: keep sentences using only its K most frequent English "
                   "words (0: all)")
    p.add_argument("--strict", action="store_true", help="fail on the first malformed line")
    p.add_argument("--pipeline", default="bucketed", choices=PIPELINES,
                   help="bucketed: batches of similar length, no loss on padding (default); "
                   "seed: every pair padded to the longest, loss on every position (the seed's)")
    p.add_argument("--strategy", default="none", choices=STRATEGIES,
                   help="tf.distribute: mirrored (all local GPUs) or multi-worker (cluster in "
                   "TF_CONFIG; the chief writes the run). --batch-size is the global batch")
    p.add_argument("--compute-dtype", default="float32", choices=COMPUTE_DTYPES,
                   help="arithmetic of the LSTMs in training: float32 (default), or mixed precision "
                   "with bfloat16 (CPUs with AVX512_BF16, recent GPUs; pays at large latent sizes and batches) "
                   "or float16 (GPUs, with loss scaling). "
                   "Weights stay float32; decoding and export always run in float32")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="dropout on the LSTMs' inputs and the decoder's outputs while training "
                   "(0 to 1; default 0, the seed's); the exported model is unchanged")
    p.add_argument("--time-limit", type=non_negative_float, metavar="MINUTES",
                   help="stop after the epoch at which one more would take the training time (the "
                   "sum of the epochs' durations) past MINUTES; the run is kept with its best epoch "
                   "(0: no limit)")
    p.add_argument("--chrf-sample", type=non_negative_int, default=0, metavar="N",
                   help="after every epoch, translate N held-out English sentences greedily and log "
                   "their chrF and BLEU (val_chrf, val_bleu: progress line, history, curves); "
                   "a few seconds an epoch for a few hundred (default 0: off)")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run aimed at --out from its last finished epoch, "
                   "with its settings (--epochs may raise the total, --time-limit may change)")
    add_verbose(p)
    return p


RESUME_FIXED = ("data", "num_samples", "latent_dim", "batch_size", "learning_rate", "max_input_length",
                "max_output_length", "vocabulary_words", "pipeline", "seed", "validation_split", "strict",
                "compute_dtype", "dropout", "chrf_sample")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume:
        given = [n for n in RESUME_FIXED if getattr(args, n) != parser.get_default(n)]
        if given:
            parser.error(f"--resume continues with the interrupted run's settings; drop "
                         f"{', '.join('--' + n.replace('_', '-') for n in given)} "
                         "(only --epochs, --time-limit and --strategy may change)")
    fit(
        args.out, args.data, num_samples=args.num_samples, epochs=args.epochs,
        latent_dim=args.latent_dim, batch_size=args.batch_size, learning_rate=args.learning_rate,
        validation_split=args.validation_split, seed=args.seed, strict=args.strict,
        max_input_length=args.max_input_length, max_output_length=args.max_output_length,
        vocabulary_words=args.vocabulary_words, pipeline=args.pipeline, strategy=args.strategy,
        compute_dtype=args.compute_dtype, dropout=args.dropout, time_limit=args.time_limit,
        chrf_sample=args.chrf_sample,
        resume=args.resume, verbose=1 if sys.stdout.isatty() else 2,
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m trainer.fit"))

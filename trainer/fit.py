"""python -m trainer.fit: train a character-level seq2seq model: the seed's (default) or the
attention family (`--architecture attention`, trainer.spec).

Without --data it trains on the built-in corpus (trainer.corpus) with settings that finish in a few
minutes on 2 cores; with --data it reads an Anki-format file and defaults to the seed's settings
(10,000 pairs, latent 256, batch 64, 100 epochs, rmsprop, 20% validation).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import keras

from runtime.cli import (
    ArgumentParser, add_verbose, non_negative_float, non_negative_int, positive_float, positive_int, run_main,
)
from runtime.vocab import wrap_target

from .data import DataError, split_pairs, vocabularies
from .distributed import strategy_for
from .fileio import atomic_write_json, replaceable, staging_dir
from .loop import train
from .callbacks import LR_DECAYS, time_is_up, time_spent
from .model import ARCHITECTURES, OPTIMIZERS, build_training_model, load_model
from .presets import PRESETS
from .run import (
    HELDOUT_TSV, HISTORY_JSON, LAST_CHECKPOINT, PROGRESS_JSON, RUN_JSON, TRAIN_SAMPLE_TSV, RunError, RunInfo,
    read_run_json, same_training_split, write_pairs,
)
from .settings import (
    BUILTIN_DEFAULTS, COMPUTE_DTYPES, PIPELINES, SEED_DEFAULTS, STRATEGIES, Settings, check_choice, load_pairs,
)

REFERENCE_SAMPLE = 1000


def fit(
    out: str | Path,
    data: str | Path | None = None,
    *,
    num_samples: int | None = None,
    epochs: int | None = None,
    latent_dim: int | None = None,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    optimizer: str = "rmsprop",
    warmup_steps: int = 0,
    lr_decay: str = "none",
    clip_norm: float | None = None,
    validation_split: float = 0.2,
    seed: int = 0,
    strict: bool = False,
    max_input_length: int | None = None,
    max_output_length: int | None = None,
    vocabulary_words: int | None = None,
    pipeline: str = "bucketed",
    strategy: str = "none",
    compute_dtype: str = "float32",
    architecture: str = "seed",
    bidirectional: bool = False,
    dropout: float = 0.0,
    time_limit: float | None = None,
    chrf_sample: int = 0,
    resume: bool = False,
    preset: str | None = None,
    verbose: int = 2,
    log=print,
) -> RunInfo:
    """Train a model and write a complete run directory at `out`; returns its RunInfo.

    `pipeline="bucketed"` batches pairs of similar length and puts no loss on padding;
    `"seed"` pads every pair to the longest one and weighs every position (the seed's tensors).
    `architecture` is the model family: "seed" (keras.io lstm_seq2seq) or "attention" (Luong
    attention over the encoder's outputs, trainer.spec); `bidirectional=True` gives either one an
    encoder that reads the source both ways, each way with half the latent size.
    `compute_dtype="bfloat16"` or `"float16"` trains the LSTMs in mixed precision (the run's model
    is still decoded and exported in float32). `dropout` regularizes training only.
    `time_limit` (minutes; 0 or None: none) stops after the epoch at which one more would pass it;
    the run is then finished with its best epoch.
    `optimizer` (rmsprop, the seed's, or adam) trains at `learning_rate`, after a linear warm-up of
    `warmup_steps` steps, decayed along a half cosine over the time limit (or the epochs) with
    `lr_decay="cosine"`; `clip_norm` clips the gradients' global norm. `preset` only records the name
    of the `trainer.presets` recipe the arguments came from.
    `chrf_sample` > 0 logs, after every epoch, the greedy chrF and BLEU of that many held-out
    sentences (`val_chrf`, `val_bleu`).
    `resume=True` continues the interrupted run aimed at `out` from its last finished epoch, with
    that run's settings (`epochs` may raise the total, `time_limit` may change); with no interrupted
    run, it continues the finished run at `out` from its last epoch, given an `epochs` or
    `time_limit` (totals) that leaves more to train.
    """
    check_choice("pipeline", pipeline, PIPELINES)
    check_choice("strategy", strategy, STRATEGIES)
    check_choice("compute dtype", compute_dtype, COMPUTE_DTYPES)
    check_choice("architecture", architecture, ARCHITECTURES)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    check_choice("learning-rate decay", lr_decay, LR_DECAYS)
    if warmup_steps < 0:
        raise DataError(f"--warmup-steps must be 0 (none) or positive, got {warmup_steps}")
    if clip_norm is not None and not 0 < clip_norm < float("inf"):
        raise DataError(f"--clip-norm must be a positive number, got {clip_norm}")
    if preset is not None and preset not in PRESETS:
        raise DataError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if bidirectional and latent_dim is not None and latent_dim % 2:
        raise DataError(f"--bidirectional gives each direction half the latent size: give an even "
                        f"--latent-dim, not {latent_dim}")
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

    settings = Settings(
        num_samples=num_samples, epochs=epochs, latent_dim=latent_dim, batch_size=batch_size,
        validation_split=validation_split, seed=seed, optimizer=optimizer, learning_rate=learning_rate,
        warmup_steps=warmup_steps, lr_decay=lr_decay, clip_norm=clip_norm or None, preset=preset,
        loss_on_padding=pipeline == "seed", pipeline=pipeline, strategy=strategy,
        compute_dtype=compute_dtype, architecture=architecture, bidirectional=bidirectional, dropout=dropout,
        time_limit_minutes=time_limit or None,
        chrf_sample=chrf_sample, max_input_length=max_input_length, max_output_length=max_output_length,
        vocabulary_words=vocabulary_words if data is None else None, strict=strict,
    )
    pairs, data_info = load_pairs(data, settings, log)
    train_pairs, valid = split_pairs(pairs, validation_split, seed, settings.split)
    source_vocab, target_vocab = vocabularies(pairs)
    max_source_length = max(len(en) for en, _ in pairs)
    max_target_length = max(len(wrap_target(fr)) for _, fr in pairs)
    log(f"{len(train_pairs)} training / {len(valid)} validation pairs; "
        f"{len(source_vocab)} source / {len(target_vocab)} target characters; "
        f"max lengths {max_source_length} / {max_target_length}")
    info = RunInfo(source_vocab, target_vocab, max_source_length, max_target_length,
                   latent_dim, settings, data_info, best={})

    tf_strategy, chief = strategy_for(strategy, log)
    keras.utils.set_random_seed(seed)
    with tf_strategy.scope():
        model = build_training_model(len(source_vocab), len(target_vocab), latent_dim, learning_rate,
                                     compute_dtype, dropout, architecture=architecture,
                                     source_pad_id=source_vocab.pad_id, bidirectional=bidirectional,
                                     optimizer=optimizer, clip_norm=clip_norm)

    # A unique staging directory: concurrent runs aimed at one --out never mix their files.
    # Workers other than the chief of a multi-worker run train into a throwaway directory.
    staged = staging_dir(out) if chief else Path(tempfile.mkdtemp(prefix="s2s-worker-"))
    atomic_write_json(staged / RUN_JSON, info.to_json())
    # Export validates on these; with no validation split, a sample of training pairs stands in.
    info.data["heldout_is_training_sample"] = not valid
    write_pairs(staged / HELDOUT_TSV, valid or train_pairs[:REFERENCE_SAMPLE])
    # Quantized exports calibrate on training data: keep a deterministic sample of it.
    write_pairs(staged / TRAIN_SAMPLE_TSV,
               random.Random(seed).sample(train_pairs, min(len(train_pairs), REFERENCE_SAMPLE)))
    return train(staged, out, info, model, train_pairs, valid, chief=chief, verbose=verbose, log=log)


def interrupted_runs(out: str | Path) -> list[Path]:
    """Staging directories of interrupted runs aimed at `out` that can be resumed, newest first."""
    out = Path(out)
    found = [p for p in out.parent.glob(f".{out.name}.*.partial") if (p / PROGRESS_JSON).is_file()]
    return sorted(found, key=lambda p: (p / PROGRESS_JSON).stat().st_mtime, reverse=True)


def _resume(out, epochs: int | None, time_limit: float | None, strategy: str, verbose: int, log) -> RunInfo:
    candidates = interrupted_runs(out)
    finished = not candidates
    if finished:
        staged = _continuable(Path(out))
    else:
        staged = candidates[0]
        newer = Path(out) / PROGRESS_JSON
        if newer.is_file() and newer.stat().st_mtime > (staged / PROGRESS_JSON).stat().st_mtime:
            raise RunError(
                f"--resume is ambiguous for --out {out}: the interrupted run {staged} is older than the finished "
                f"run {out}; delete the interrupted one to continue the finished run, or move the finished one "
                "away to resume the interrupted one"
            )
    info = read_run_json(staged)
    progress = json.loads((staged / PROGRESS_JSON).read_text(encoding="utf-8"))
    done = int(progress["epoch"])
    for name, value, known in (("optimizer", info.settings.optimizer, OPTIMIZERS),
                               ("learning-rate decay", info.settings.lr_decay, LR_DECAYS)):
        if value not in known:
            raise RunError(f"{staged}'s {name} {value!r} is not one this trainer knows ({', '.join(known)}): "
                           "a newer version wrote the run; continue it with that version")
    if epochs is not None:
        if epochs < done:
            raise DataError(f"--epochs {epochs} is below the {done} epochs already trained")
        info.settings.epochs = epochs
    if time_limit is not None:
        info.settings.time_limit_minutes = time_limit or None
    history = json.loads((staged / HISTORY_JSON).read_text(encoding="utf-8"))[:done]
    if finished:
        s = info.settings
        out_of_time = bool(s.time_limit_minutes) and time_is_up(s.time_limit_minutes, history)
        if done >= s.epochs or out_of_time:
            spent = time_spent(history) / 60
            # One more epoch must fit in the limit, as the time limit counts it.
            needed = (time_spent(history) + history[-1]["seconds"]) / 60 if history else spent
            give = ([f"--epochs above {done}"] if done >= s.epochs else []) + (
                [f"--time-limit above {needed:.1f} minutes"] if out_of_time else [])
            raise DataError(
                f"the finished run {out} has trained {done} of its {s.epochs} epochs in {spent:.1f} minutes"
                + (f" (time limit {s.time_limit_minutes:g})" if s.time_limit_minutes else "")
                + f": to continue it give {' and '.join(give)} (totals, counting what it has trained)"
            )
    # run.json is written with model.keras, so its best always describes that file (even when a
    # kill came after a better epoch was saved but before its progress was).
    info.best = info.best or progress.get("best", {})
    s = info.settings
    train_pairs, valid = same_training_split(info, "the run", "cannot resume", log)
    log(f"{f'continuing the finished run {out}' if finished else f'resuming {staged.name}'} "
        f"after epoch {done} of {s.epochs}")
    tf_strategy, chief = strategy_for(strategy if strategy != "none" else s.strategy, log)
    copied = finished and chief
    if copied:
        # Continued in a staging copy: the finished run stays whole until the longer one replaces it,
        # and an interruption leaves a staging directory that --resume continues as usual.
        staged = _staging_copy(Path(out))
    try:
        with tf_strategy.scope():
            model = load_model(staged / LAST_CHECKPOINT, compile=True)
    except BaseException:
        if copied:  # not a run to resume later
            shutil.rmtree(staged, ignore_errors=True)
        raise
    keras.utils.set_random_seed(s.seed + done)
    if not chief:  # other workers read the chief's checkpoint and train into a throwaway copy
        work = Path(tempfile.mkdtemp(prefix="s2s-worker-"))
        for name in (RUN_JSON, HISTORY_JSON):
            shutil.copyfile(staged / name, work / name)
        staged = work
    else:
        atomic_write_json(staged / RUN_JSON, info.to_json())
    return train(staged, out, info, model, train_pairs, valid, initial_epoch=done, history=history,
                 chief=chief, verbose=verbose, log=log)


def _continuable(out: Path) -> Path:
    """`out` if it is a finished run that kept its last epoch, else the error that says why not."""
    if not (out / RUN_JSON).is_file():
        raise RunError(f"nothing to resume for --out {out}: no run there and no interrupted run beside it "
                       "(start a new one without --resume)")
    if not (out / LAST_CHECKPOINT).is_file() or not (out / PROGRESS_JSON).is_file():
        raise RunError(
            f"the run {out} finished without keeping its last epoch ({LAST_CHECKPOINT}, {PROGRESS_JSON}): "
            "runs finished before trainer.fit kept them cannot be continued; train a new one without --resume"
        )
    return out


def _staging_copy(out: Path) -> Path:
    staged = staging_dir(out)
    # progress.json last: a copy cut short is no resumable run.
    for item in sorted(out.iterdir(), key=lambda p: p.name == PROGRESS_JSON):
        if item.is_file():  # copied now (not copy2): the copy is the newest interrupted run
            shutil.copyfile(item, staged / item.name)
    return staged


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m trainer.fit",
        description="Train the character-level LSTM seq2seq model (keras.io lstm_seq2seq).",
        epilog=f"Defaults without --data (built-in corpus): {BUILTIN_DEFAULTS}. "
        f"With --data (the seed's settings): {SEED_DEFAULTS}. Presets (--preset NAME; flags given beside "
        "it override it): " + "; ".join(f"{name}: {p.summary}: {p.flags()}" for name, p in PRESETS.items())
        + ".",
    )
    p.add_argument("--preset", choices=tuple(PRESETS),
                   help="start from a named recipe's settings (listed below); flags given beside it override them")
    p.add_argument("--data", help="Anki-format file: English<TAB>French[<TAB>attribution] per line "
                   "(default: the built-in generated corpus)")
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--num-samples", type=int, help="use the first N pairs (with --data, 0: all of them)")
    p.add_argument("--epochs", type=positive_int)
    p.add_argument("--latent-dim", type=positive_int)
    p.add_argument("--batch-size", type=positive_int)
    p.add_argument("--learning-rate", type=float,
                   help="the optimizer's learning rate (the peak, with a warm-up or decay; default 1e-3)")
    p.add_argument("--optimizer", default="rmsprop", choices=OPTIMIZERS, help="default: %(default)s (the seed's)")
    p.add_argument("--warmup-steps", type=non_negative_int, default=0,
                   help="raise the learning rate linearly over the first N steps (default 0: none)")
    p.add_argument("--lr-decay", default="none", choices=LR_DECAYS,
                   help="cosine: decay the learning rate along a half cosine to 5%% of its peak over "
                   "--time-limit (or over --epochs without one); default: %(default)s")
    p.add_argument("--clip-norm", type=positive_float,
                   help="clip the gradients to this global norm (default: no clipping)")
    p.add_argument("--validation-split", type=float, default=0.2, help="default: %(default)s")
    p.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    p.add_argument("--max-input-length", type=int,
                   help="leave out pairs whose English is longer (0: no limit)")
    p.add_argument("--max-output-length", type=int, help="leave out pairs whose French is longer")
    p.add_argument("--vocabulary-words", type=int,
                   help="built-in corpus: keep sentences using only its K most frequent English "
                   "words (0: all)")
    p.add_argument("--strict", action="store_true", help="fail on the first malformed line")
    p.add_argument("--architecture", default="seed", choices=ARCHITECTURES,
                   help="seed: the keras.io model, the decoder starts from the encoder's final state "
                   "(default); attention: the decoder also attends to the encoder's output at every "
                   "source character (Luong attention), better on longer sentences, a costlier step")
    p.add_argument("--bidirectional", action=argparse.BooleanOptionalAction, default=False,
                   help="an encoder that reads the source both ways, each way with half of "
                   "--latent-dim; their states joined start the decoder")
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
                   "with its settings (--epochs may raise the total, --time-limit may change); with "
                   "none, continue the finished run at --out from its last epoch (weights and "
                   "optimizer state) to a higher --epochs or --time-limit (totals)")
    add_verbose(p)
    return p


RESUME_FIXED = ("preset", "data", "num_samples", "latent_dim", "batch_size", "learning_rate", "optimizer",
                "warmup_steps", "lr_decay", "clip_norm", "max_input_length",
                "max_output_length", "vocabulary_words", "pipeline", "seed", "validation_split", "strict",
                "compute_dtype", "architecture", "bidirectional", "dropout", "chrf_sample")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    chosen, _ = parser.parse_known_args(argv)
    if chosen.preset and not chosen.resume:  # the preset's settings become the defaults: flags beside it win
        parser.set_defaults(**PRESETS[chosen.preset].settings)
    args = parser.parse_args(argv)
    if args.resume:
        given = [n for n in RESUME_FIXED if getattr(args, n) != parser.get_default(n)]
        if given:
            parser.error(f"--resume continues with the run's own settings; drop "
                         f"{', '.join('--' + n.replace('_', '-') for n in given)} "
                         "(only --epochs, --time-limit and --strategy may change)")
    elif args.preset and args.data is None:
        parser.error(f"--preset {args.preset} is a recipe for a pair file: give --data FILE")
    fit(
        args.out, args.data, num_samples=args.num_samples, epochs=args.epochs,
        latent_dim=args.latent_dim, batch_size=args.batch_size, learning_rate=args.learning_rate,
        optimizer=args.optimizer, warmup_steps=args.warmup_steps, lr_decay=args.lr_decay, clip_norm=args.clip_norm,
        validation_split=args.validation_split, seed=args.seed, strict=args.strict,
        max_input_length=args.max_input_length, max_output_length=args.max_output_length,
        vocabulary_words=args.vocabulary_words, pipeline=args.pipeline, strategy=args.strategy,
        compute_dtype=args.compute_dtype, architecture=args.architecture, bidirectional=args.bidirectional,
        dropout=args.dropout, time_limit=args.time_limit,
        chrf_sample=args.chrf_sample,
        resume=args.resume, preset=args.preset, verbose=1 if sys.stdout.isatty() else 2,
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m trainer.fit"))

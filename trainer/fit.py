"""python -m trainer.fit: train the seed's character-level seq2seq model.

Without --data it trains on the built-in corpus (trainer.corpus) with settings that finish in a few
minutes on 2 cores; with --data it reads an Anki-format file and defaults to the seed's settings
(10,000 pairs, latent 256, batch 64, 100 epochs, rmsprop, 20% validation).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from runtime.cli import add_verbose, positive_int, run_main
from runtime.fileio import atomic_write_bytes, atomic_write_json, replace_dir, replaceable, staging_dir
from runtime.vocab import PAD, Vocabulary, wrap_target

from .data import DataError, Pair, read_pairs, split_pairs
from .run import HELDOUT_TSV, MODEL_FILE, RUN_JSON, TRAIN_SAMPLE_TSV, RunError, RunInfo


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
    verbose: int = 2,
    log=print,
) -> RunInfo:
    """Train a model and write a complete run directory at `out`; returns its RunInfo."""
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
    for name, value in (("num_samples", num_samples), ("epochs", epochs),
                        ("latent_dim", latent_dim), ("batch_size", batch_size)):
        if value < 1:
            raise DataError(f"{name.replace('_', '-')} must be at least 1, got {value}")

    for name, value in (("max-input-length", max_input_length), ("max-output-length", max_output_length),
                        ("vocabulary-words", vocabulary_words)):
        if value is not None and value < 0:
            raise DataError(f"--{name} must be 0 (no limit) or positive, got {value}")
    if not replaceable(out, RUN_JSON):
        raise RunError(f"--out {out} exists and is not a training run: refusing to replace it")

    if data is None:
        from .builtin import builtin_pairs

        pairs = builtin_pairs(num_samples, seed, max_input_length or None, max_output_length,
                              vocabulary_words or None)
        data_info = {"source": "builtin", "seed": seed, "pairs": len(pairs),
                     "vocabulary_words": vocabulary_words or None}
        log(f"built-in corpus: {len(pairs)} pairs (seed {seed}, "
            f"{vocabulary_words or 'all'} English words, English up to {max_input_length or 'any'} characters)")
    else:
        pairs, report = read_pairs(data, num_samples=num_samples, strict=strict,
                                   max_input_length=max_input_length or None,
                                   max_output_length=max_output_length)
        data_info = {
            "source": os.fspath(data), "pairs": len(pairs), "lines_read": report.lines,
            "skipped": len(report.skipped), "skipped_lines": [n for n, _ in report.skipped[:100]],
        }
        log(report.summary())
    train, valid = split_pairs(pairs, validation_split, seed)

    source_vocab = Vocabulary.from_texts(en for en, _ in pairs)
    target_vocab = Vocabulary.from_texts(wrap_target(fr) for _, fr in pairs)
    max_source_length = max(len(en) for en, _ in pairs)
    max_target_length = max(len(wrap_target(fr)) for _, fr in pairs)
    log(f"{len(train)} training / {len(valid)} validation pairs; "
        f"{len(source_vocab)} source / {len(target_vocab)} target characters; "
        f"max lengths {max_source_length} / {max_target_length}")

    import keras

    from .model import build_training_model

    keras.utils.set_random_seed(seed)
    model = build_training_model(len(source_vocab), len(target_vocab), latent_dim, learning_rate)
    enc, dec, tgt = encode_pairs(train, source_vocab, target_vocab, max_source_length, max_target_length)
    validation = None
    if valid:
        venc, vdec, vtgt = encode_pairs(valid, source_vocab, target_vocab, max_source_length, max_target_length)
        validation = ([venc, vdec], vtgt)

    settings = {
        "num_samples": num_samples, "epochs": epochs, "latent_dim": latent_dim,
        "batch_size": batch_size, "validation_split": validation_split, "seed": seed,
        "optimizer": "rmsprop", "learning_rate": learning_rate, "loss": "categorical_crossentropy",
        "max_input_length": max_input_length, "max_output_length": max_output_length,
        "vocabulary_words": vocabulary_words if data is None else None,
    }
    info = RunInfo(source_vocab, target_vocab, max_source_length, max_target_length,
                   latent_dim, settings, data_info, best={})

    # A unique staging directory: concurrent runs aimed at one --out never mix their files.
    staged = staging_dir(out)
    try:
        _train_into(staged, info, model, train, valid, seed, (enc, dec, tgt), validation,
                    batch_size, epochs, verbose)
        replace_dir(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    log(f"run written to {out} (best epoch {info.best.get('epoch')}, "
        f"{info.best.get('monitor', 'loss')} {info.best.get('value', float('nan')):.4f})")
    return info


def _train_into(staged, info, model, train, valid, seed, arrays, validation, batch_size, epochs, verbose):
    enc, dec, tgt = arrays
    atomic_write_json(staged / RUN_JSON, info.to_json())
    # Export validates on these; with no validation split, a sample of training pairs stands in.
    reference_pairs = valid or train[:REFERENCE_SAMPLE]
    info.data["heldout_is_training_sample"] = not valid
    _write_tsv(staged / HELDOUT_TSV, reference_pairs)
    # Quantized exports calibrate on training data: keep a deterministic sample of it.
    sample = random.Random(seed).sample(train, min(len(train), REFERENCE_SAMPLE))
    _write_tsv(staged / TRAIN_SAMPLE_TSV, sample)

    from .callbacks import BestCheckpoint

    checkpoint = BestCheckpoint(staged, info, monitor="val_loss" if valid else "loss")
    model.fit(
        [enc, dec], tgt, batch_size=batch_size, epochs=epochs, validation_data=validation,
        shuffle=True, callbacks=[checkpoint], verbose=verbose,
    )
    if not (staged / MODEL_FILE).is_file():
        raise DataError(
            f"training never produced a finite {checkpoint.monitor} (diverged? try a lower "
            "--learning-rate): no model to keep, the previous run is left as it was"
        )


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
    p.add_argument("--num-samples", type=positive_int, help="use the first N pairs")
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
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fit(
        args.out, args.data, num_samples=args.num_samples, epochs=args.epochs,
        latent_dim=args.latent_dim, batch_size=args.batch_size, learning_rate=args.learning_rate,
        validation_split=args.validation_split, seed=args.seed, strict=args.strict,
        max_input_length=args.max_input_length, max_output_length=args.max_output_length,
        vocabulary_words=args.vocabulary_words,
        verbose=1 if sys.stdout.isatty() else 2,
    )
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m trainer.fit"))

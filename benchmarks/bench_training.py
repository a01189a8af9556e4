"""Training speed at the seed's settings: a table, not a test (pytest does not collect this file).

    python benchmarks/bench_training.py --data ../shared/data/fra-eng/fra.txt [--epochs 4]

Side by side, in one process, on the same 10,000 pairs, batch 64, latent 256, rmsprop, validation
on 20% each epoch:
- seed:          the keras.io script's setup: one-hot float32 arrays padded to the longest sentence,
                 categorical cross-entropy, model.fit on the arrays (verbatim in spirit);
- pipeline=seed: this trainer, ids padded to the longest sentence, loss on every position;
- bucketed:      this trainer's default: length-bucketed batches, no loss on padding;
- bucketed bf16: the same with --compute-dtype bfloat16 (mixed-precision LSTMs).
(XLA, jit_compile=True, was measured here and left out: it recompiles for every batch length, and
after that its epochs were no faster: 80 s first epoch, 19.9 s median, against 9.3 s.)
Each row: the median seconds of the epochs after the first (the first includes tracing), the
ratio to the seed, and peak RSS after the row.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class EpochTimer:
    def __init__(self):
        import keras

        class Timer(keras.callbacks.Callback):
            def on_epoch_begin(cb, epoch, logs=None):
                cb.t = time.perf_counter()

            def on_epoch_end(cb, epoch, logs=None):
                self.seconds.append(time.perf_counter() - cb.t)
                self.val_loss.append(float(logs.get("val_loss", float("nan"))))

        self.seconds: list[float] = []
        self.val_loss: list[float] = []
        self.callback = Timer()


def seed_setup(pairs, latent, batch, epochs):
    """The keras.io lstm_seq2seq training setup."""
    import keras

    from tests.seed_reference import seed_tensors

    enc, dec, tgt, input_characters, target_characters = seed_tensors(pairs)
    n_in, n_out = len(input_characters), len(target_characters)
    encoder_inputs = keras.Input(shape=(None, n_in))
    _, h, c = keras.layers.LSTM(latent, return_state=True)(encoder_inputs)
    decoder_inputs = keras.Input(shape=(None, n_out))
    y, _, _ = keras.layers.LSTM(latent, return_sequences=True, return_state=True)(
        decoder_inputs, initial_state=[h, c])
    y = keras.layers.Dense(n_out, activation="softmax")(y)
    model = keras.Model([encoder_inputs, decoder_inputs], y)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimer()
    model.fit([enc, dec], tgt, batch_size=batch, epochs=epochs, validation_split=0.2,
              callbacks=[timer.callback], verbose=0)
    return timer


def project_setup(pairs, latent, batch, epochs, pipeline, compute_dtype="float32"):
    import keras

    from runtime.vocab import Vocabulary, wrap_target
    from trainer.data import split_pairs
    from trainer.model import build_training_model
    from trainer.pipeline import PairData, dataset

    train, valid = split_pairs(pairs, 0.2, 0, "ordered")  # the split of the figures in docs/performance.md
    sv = Vocabulary.from_texts(en for en, _ in pairs)
    tv = Vocabulary.from_texts(wrap_target(fr) for _, fr in pairs)
    max_src = max(len(en) for en, _ in pairs)
    max_tgt = max(len(wrap_target(fr)) for _, fr in pairs)
    model = build_training_model(len(sv), len(tv), latent, compute_dtype=compute_dtype)
    seed = pipeline == "seed"
    opts = dict(bucket=not seed, weighted=not seed, pad_to=max_tgt if seed else None)
    tds = dataset(PairData(train, sv, tv, max_src), batch, seed=0, **opts)
    vds = dataset(PairData(valid, sv, tv, max_src), batch, seed=None, **opts)
    timer = EpochTimer()
    model.fit(tds, validation_data=vds, epochs=epochs, callbacks=[timer.callback], verbose=0, shuffle=False)
    keras.backend.clear_session()
    return timer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--num-samples", type=int, default=10_000)
    p.add_argument("--latent-dim", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64)
    args = p.parse_args()
    from trainer.data import read_pairs

    pairs, _ = read_pairs(args.data, num_samples=args.num_samples)
    rows = []
    runs = [("seed (keras.io arrays)", lambda: seed_setup(pairs, args.latent_dim, args.batch_size, args.epochs))]
    for name, pipeline, dtype in (("pipeline=seed", "seed", "float32"), ("bucketed", "bucketed", "float32"),
                                  ("bucketed bf16", "bucketed", "bfloat16")):
        runs.append((name, lambda pipeline=pipeline, dtype=dtype: project_setup(
            pairs, args.latent_dim, args.batch_size, args.epochs, pipeline, dtype)))
    for name, run in runs:
        timer = run()
        steady = statistics.median(timer.seconds[1:] or timer.seconds)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((name, timer.seconds[0], steady, timer.val_loss[-1], rss))
        print(f"done: {name}", file=sys.stderr, flush=True)
    base = rows[0][2]
    print(f"\n{args.num_samples} pairs, latent {args.latent_dim}, batch {args.batch_size}, {args.epochs} epochs each")
    print(f"{'setup':<24} {'epoch 1 s':>9} {'epoch s (median)':>16} {'speed-up':>8} {'val_loss':>8} {'peak RSS MiB':>12}")
    for name, first, steady, loss, rss in rows:
        print(f"{name:<24} {first:>9.1f} {steady:>16.1f} {base / steady:>7.2f}x {loss:>8.3f} {rss:>12.0f}")
    print("val_loss: the seed and pipeline=seed average over padding positions too; bucketed over real ones.")


if __name__ == "__main__":
    main()

"""Training speed: tables, not tests (pytest does not collect this file).

    python benchmarks/bench_training.py --data ../shared/data/fra-eng/fra.txt [--epochs 4]
    python benchmarks/bench_training.py --data ../shared/data/fra-eng/fra.txt --family attention

`--family attention`: the bidirectional attention family at the one-hour recipe's size (latent 256,
every pair with English <= 40), one row per training setup (ATTENTION_ROWS: the Keras LSTM at batch
64, an LSTM with its input projection out of the time loop, larger batches, XLA with target lengths
rounded up to 16s, bfloat16). Each row runs in its own process over one fixed draw of training pairs
(the real length distribution), one untimed pass and `--passes` timed ones; all rows in turn,
`--repeats` turns. Pairs/s, projected seconds per epoch, peak RSS.

`--family seed` (the default):

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


# The attention table's rows: (name, batch, compute dtype, XLA, LSTM layer: "keras" or "projected").
ATTENTION_ROWS = (
    ("today: Keras LSTM, batch 64", 64, "float32", False, "keras"),
    ("projected LSTM, batch 64", 64, "float32", False, "projected"),
    ("projected, batch 128", 128, "float32", False, "projected"),
    ("projected, batch 256", 256, "float32", False, "projected"),
    ("projected, batch 64, XLA, lengths to 16s", 64, "float32", True, "projected"),
    ("projected, batch 64, bfloat16", 64, "bfloat16", False, "projected"),
)


def projected_lstm():
    """Keras's LSTM with the input projection out of the time loop: every step's inputs times the kernel,
    plus the bias, in one product before the loop, so each step multiplies only the state by the
    recurrent kernel. Same weights and mathematics; the row that measures whether it pays on a CPU."""
    import keras
    from keras import layers
    from keras.src import backend

    @keras.saving.register_keras_serializable(package="bench")  # Bidirectional rebuilds its backward copy
    class ProjectedLSTM(layers.LSTM):
        def inner_loop(self, sequences, initial_state, mask, training=False):
            cell = self.cell
            projected = keras.ops.matmul(sequences, cell.kernel) + cell.bias

            def step(z, states):
                h, c = states
                z = keras.ops.split(z + keras.ops.matmul(h, cell.recurrent_kernel), 4, axis=-1)
                c, o = cell._compute_carry_and_output_fused(z, c)
                h = o * cell.activation(c)
                return h, [h, c]

            return backend.rnn(step, projected, list(initial_state), go_backwards=self.go_backwards, mask=mask,
                               unroll=self.unroll, input_length=sequences.shape[1],
                               zero_output_for_mask=self.zero_output_for_mask,
                               return_all_outputs=self.return_sequences)

    return ProjectedLSTM


def attention_row(data: str, row: int, pairs_per_pass: int, passes: int, latent: int) -> dict:
    """One row of the attention table, in this process: `passes` + 1 epochs over one fixed draw of
    training pairs in one `fit` (the first traces and compiles), their seconds and the peak RSS."""
    import keras
    import numpy as np
    from keras import layers

    import trainer.model as model_module
    from runtime.vocab import Vocabulary, wrap_target
    from trainer.data import read_pairs, split_pairs
    from trainer.pipeline import PairData, dataset

    name, batch, dtype, xla, lstm = ATTENTION_ROWS[row]
    pairs, _ = read_pairs(data, num_samples=None, max_input_length=40)
    train, _ = split_pairs(pairs, 0.1, 0, "hashed")
    sv = Vocabulary.from_texts(en for en, _ in pairs)
    tv = Vocabulary.from_texts(wrap_target(fr) for _, fr in pairs)
    max_src = max(len(en) for en, _ in pairs)
    # The same draw for every row: the real length distribution of the training pairs.
    rng = np.random.default_rng(1)
    sample = PairData([train[i] for i in rng.choice(len(train), pairs_per_pass, replace=False)], sv, tv, max_src)
    if lstm == "projected":  # this process builds one model: its LSTMs, the Bidirectional's copy too
        layers.LSTM = projected_lstm()
    keras.utils.set_random_seed(0)
    model = model_module.build_training_model(len(sv), len(tv), latent, compute_dtype=dtype,
                                              architecture="attention", source_pad_id=sv.pad_id, bidirectional=True)
    if xla:
        model_module.compile_model(model, 1e-3, jit_compile=True)
    timer = EpochTimer()
    model.fit(dataset(sample, batch, seed=0, multiple=16 if xla else 1), epochs=passes + 1,
              callbacks=[timer.callback], verbose=0, shuffle=False)
    return {"row": row, "seconds": timer.seconds[1:], "first": timer.seconds[0], "epoch_pairs": len(train),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def attention_table(data: str, pairs_per_pass: int, passes: int, repeats: int, latent: int) -> None:
    """The bidirectional attention family at the one-hour recipe's size: each row in its own process
    (its own peak RSS), the rows in turn, the whole turn `repeats` times, so drift falls on all alike."""
    import json
    import subprocess

    found: dict[int, list[dict]] = {i: [] for i in range(len(ATTENTION_ROWS))}
    for turn in range(repeats):
        for i, row in enumerate(ATTENTION_ROWS):
            done = subprocess.run([sys.executable, __file__, "--data", data, "--family", "attention",
                                   "--pairs-per-pass", str(pairs_per_pass), "--passes", str(passes),
                                   "--latent-dim", str(latent), "--row", str(i)],
                                  capture_output=True, text=True, check=True)
            found[i].append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"turn {turn + 1} of {repeats}: {row[0]}", file=sys.stderr, flush=True)
    medians = {i: statistics.median(s for r in rows for s in r["seconds"]) for i, rows in found.items()}
    epoch_pairs = found[0][0]["epoch_pairs"]
    print(f"\nbidirectional attention, latent {latent}, fra.txt English <= 40 ({epoch_pairs} training pairs); "
          f"{pairs_per_pass} of them per pass; median of {passes} passes x {repeats} turns")
    print(f"{'setup':<42} {'pairs/s':>8} {'speed-up':>8} {'s/epoch (projected)':>19} {'peak RSS MiB':>12}")
    for i, (name, *_) in enumerate(ATTENTION_ROWS):
        median = medians[i]
        rss = max(r["peak_rss_mib"] for r in found[i])
        print(f"{name:<42} {pairs_per_pass / median:>8.1f} {medians[0] / median:>7.2f}x "
              f"{epoch_pairs * median / pairs_per_pass:>19.0f} {rss:>12.0f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--family", choices=("seed", "attention"), default="seed",
                   help="seed: the seed's settings table; attention: the one-hour recipe's family")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--num-samples", type=int, default=10_000)
    p.add_argument("--latent-dim", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--pairs-per-pass", type=int, default=1024, help="attention table: pairs timed per pass")
    p.add_argument("--passes", type=int, default=3, help="attention table: timed passes per row and turn")
    p.add_argument("--repeats", type=int, default=2, help="attention table: turns over all rows")
    p.add_argument("--row", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.family == "attention":
        if args.row is not None:
            import json

            print(json.dumps(attention_row(args.data, args.row, args.pairs_per_pass, args.passes, args.latent_dim)))
        else:
            attention_table(args.data, args.pairs_per_pass, args.passes, args.repeats, args.latent_dim)
        return
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

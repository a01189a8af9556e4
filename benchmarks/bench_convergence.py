"""Convergence at a fixed training time: optimizers and schedules side by side (a table, not a test).

    python benchmarks/bench_convergence.py --data fra.txt [--minutes 9] [--pairs-per-s 64=99 ...]

Every recipe trains the bidirectional attention family (latent 256) on the training side of
`trainer.fit --num-samples 0 --max-input-length 40 --validation-split 0.1`'s split, for the number of
steps its batch size gets through in `--minutes` of training at the measured throughput
(`--pairs-per-s BATCH=RATE`, from bench_training.py --family attention): step budgets, not wall
time, so that other work on the machine slows a trial without changing its result. Each schedule
runs its warm-up and decay over that budget, as `trainer.fit --time-limit` runs them over the limit.

The score is the weighted validation loss per character on the development slice: the held-out
sentences whose draw (trainer.data.sentence_draw, seed 0) is below 0.02, the lowest fifth of the
held-out split. Reports of the chosen recipe's quality leave those sentences out.
Each trial runs in its own process, one after another.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEV_DRAW = 0.02

RECIPES = {
    "today": dict(optimizer="rmsprop", learning_rate=1e-3, batch_size=64),
    "adam 1e-3 b64": dict(optimizer="adam", learning_rate=1e-3, batch_size=64),
    "adam 2e-3 b64 cos clip1": dict(optimizer="adam", learning_rate=2e-3, batch_size=64, warmup_steps=100,
                                    lr_decay="cosine", clip_norm=1.0),
    "adam 3e-3 b64 cos clip1": dict(optimizer="adam", learning_rate=3e-3, batch_size=64, warmup_steps=100,
                                    lr_decay="cosine", clip_norm=1.0),
    "adam 3e-3 b128 cos clip1": dict(optimizer="adam", learning_rate=3e-3, batch_size=128, warmup_steps=100,
                                     lr_decay="cosine", clip_norm=1.0),
    "rmsprop 2e-3 b64 cos clip1": dict(optimizer="rmsprop", learning_rate=2e-3, batch_size=64, warmup_steps=100,
                                       lr_decay="cosine", clip_norm=1.0),
}


def dev_and_train(data: str):
    from trainer.data import read_pairs, sentence_draw, split_pairs

    pairs, _ = read_pairs(data, num_samples=None, max_input_length=40)
    train, valid = split_pairs(pairs, 0.1, 0, "hashed")
    dev = [p for p in valid if sentence_draw(p[0], 0) < DEV_DRAW]
    return pairs, train, dev


def trial(data: str, recipe: dict, minutes: float, pairs_per_s: float) -> dict:
    import keras

    from runtime.vocab import Vocabulary, wrap_target
    from trainer.callbacks import LearningRateSchedule
    from trainer.model import build_training_model
    from trainer.pipeline import PairData, dataset

    pairs, train, dev = dev_and_train(data)
    sv = Vocabulary.from_texts(en for en, _ in pairs)
    tv = Vocabulary.from_texts(wrap_target(fr) for _, fr in pairs)
    max_src = max(len(en) for en, _ in pairs)
    batch = recipe["batch_size"]
    steps = int(minutes * 60 * pairs_per_s / batch)
    keras.utils.set_random_seed(0)
    model = build_training_model(len(sv), len(tv), 256, recipe["learning_rate"], architecture="attention",
                                 source_pad_id=sv.pad_id, bidirectional=True, optimizer=recipe["optimizer"],
                                 clip_norm=recipe.get("clip_norm"))
    tds = dataset(PairData(train, sv, tv, max_src), batch, seed=0).repeat().take(steps)
    vds = dataset(PairData(dev, sv, tv, max_src), 256, seed=None)
    callbacks = []
    if recipe.get("warmup_steps") or recipe.get("lr_decay", "none") != "none":
        callbacks.append(LearningRateSchedule(recipe["learning_rate"], recipe.get("warmup_steps", 0),
                                              recipe.get("lr_decay", "none"), [], 1, steps))
    started = time.perf_counter()
    model.fit(tds, epochs=1, callbacks=callbacks, verbose=0, shuffle=False)
    seconds = time.perf_counter() - started
    loss, accuracy = model.evaluate(vds, verbose=0)
    return {"steps": steps, "pairs": steps * batch, "seconds": round(seconds, 1), "dev_loss": loss,
            "dev_accuracy": accuracy, "dev_pairs": len(dev)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--minutes", type=float, default=9.0)
    p.add_argument("--pairs-per-s", nargs="+", default=["64=143", "128=150"],
                   help="BATCH=PAIRS_PER_S, measured by bench_training.py --family attention")
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--trial", help=argparse.SUPPRESS)
    p.add_argument("--results", default=None, help="JSON lines file to append each trial to")
    args = p.parse_args()
    rates = {int(k): float(v) for k, v in (x.split("=") for x in args.pairs_per_s)}
    if args.trial:
        recipe = RECIPES[args.trial]
        print(json.dumps({"recipe": args.trial, **trial(args.data, recipe, args.minutes,
                                                          rates[recipe["batch_size"]])}))
        return
    rows = []
    for name in args.recipes:
        done = subprocess.run([sys.executable, __file__, "--data", args.data, "--minutes", str(args.minutes),
                               "--pairs-per-s", *args.pairs_per_s, "--trial", name],
                              capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        if args.results:
            with open(args.results, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
        print(f"done: {name}", file=sys.stderr, flush=True)
    base = rows[0]["dev_loss"]
    print(f"\n{args.minutes:g} minutes of training each (step budgets at the measured pairs/s); "
          f"dev slice: {rows[0]['dev_pairs']} pairs")
    print(f"{'recipe':<28} {'steps':>6} {'pairs':>7} {'dev loss':>9} {'vs first':>9} {'dev acc':>8}")
    for r in rows:
        print(f"{r['recipe']:<28} {r['steps']:>6} {r['pairs']:>7} {r['dev_loss']:>9.4f} "
              f"{r['dev_loss'] - base:>+9.4f} {r['dev_accuracy']:>8.4f}")


if __name__ == "__main__":
    main()

"""python -m trainer.qat --run DIR --out DIR: quantization-aware fine-tuning of a trained run.

Why: post-training int8 rounding of the weights alone (float arithmetic, nothing else quantized)
already changes about one greedy decode in five of a seed-settings model, because a character-level
decoder feeds every near-tie back into the rest of the sentence. No converter setting recovers that.
Fine-tuning with the weights on the int8 grid does: the model learns weights that int8 represents
exactly, and the quantized exports then differ from it only by their activation arithmetic.

How: the straight-through estimator (`trainer.callbacks.WeightGrid`, which the training loop adds
for every run whose settings are `quantization_aware`). Float "shadow" weights take the optimizer's
updates; after every batch the model's weights are set to the shadows rounded to the grid, so every
forward pass, every validation and every saved model uses grid weights. The grid is TFLite's and
onnxruntime's per-channel symmetric int8 (`trainer.quantize`); ONNX int8 re-rounds the encoder's
LSTM op per tensor (`export.onnx_converter.quantize_int8`). Biases stay float (int8 exports keep
them in float or int32).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Sequence

import keras

from runtime.cli import ArgumentParser, add_verbose, positive_int, run_main
from runtime.vocab import PLAIN

from .data import DataError
from .fileio import atomic_write_json, replaceable, staging_dir
from .loop import train
from .model import compile_model, open_run
from .quantize import GRID
from .run import HELDOUT_TSV, RUN_JSON, TRAIN_SAMPLE_TSV, RunError, read_run, same_training_split

DEFAULT_EPOCHS = 10
DEFAULT_LEARNING_RATE = 2e-4


def fine_tune(
    run: str | Path,
    out: str | Path,
    *,
    epochs: int = DEFAULT_EPOCHS,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    verbose: int = 2,
    log=print,
):
    """Fine-tune `run` on its own training split with int8-grid weights; write a new run at `out`."""
    run, out = Path(run), Path(out)
    if out.resolve() == run.resolve():
        raise RunError("--out must differ from --run: fine-tuning writes a new run and keeps the original")
    if not replaceable(out, RUN_JSON):
        raise RunError(f"--out {out} exists and is not a training run: refusing to replace it")
    if epochs < 1:
        raise DataError(f"epochs must be at least 1, got {epochs}")
    if not learning_rate > 0:
        raise DataError(f"learning-rate must be positive, got {learning_rate}")
    info = read_run(run)
    if info.source_form != PLAIN:
        raise RunError(f"{run} reads its source lowercased or wrapped (an imported model's data variant); "
                       "quantization-aware fine-tuning does not take such runs: export it with post-training "
                       "quantization instead")
    train_pairs, valid = same_training_split(info, str(run), "cannot fine-tune it", log)
    # Seeded before the model is loaded: loading draws the seeds of its dropout layers.
    keras.utils.set_random_seed(info.settings.seed)
    model = open_run(run, info).model
    compile_model(model, learning_rate)
    info.settings = info.settings.replace(
        epochs=epochs, optimizer="rmsprop", learning_rate=learning_rate, warmup_steps=0, lr_decay="none",
        clip_norm=None, strategy="none", compute_dtype="float32", time_limit_minutes=None, preset=None,
        quantization_aware={**GRID, "from_run": str(run.resolve()), "from_best": info.best},
    )
    info.best = {}
    staged = staging_dir(out)
    atomic_write_json(staged / RUN_JSON, info.to_json())
    for name in (HELDOUT_TSV, TRAIN_SAMPLE_TSV):
        if (run / name).is_file():
            shutil.copyfile(run / name, staged / name)
    log(f"quantization-aware fine-tuning of {run}: {epochs} epochs, learning rate {learning_rate}")
    return train(staged, out, info, model, train_pairs, valid, verbose=verbose, log=log)


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m trainer.qat",
        description="Quantization-aware fine-tuning: continue training a run with its weights on "
        "the int8 grid that the int8 exports use, and write the result as a new run. Its ONNX "
        "int8 and TFLite dynamic/int8/int16x8 exports then agree far more often with it.",
    )
    p.add_argument("--run", required=True, help="the trained run to start from (left unchanged)")
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--epochs", type=positive_int, default=DEFAULT_EPOCHS, help="default: %(default)s")
    p.add_argument("--learning-rate", type=float, default=DEFAULT_LEARNING_RATE,
                   help="rmsprop's learning rate (default: %(default)s)")
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    fine_tune(args.run, args.out, epochs=args.epochs, learning_rate=args.learning_rate,
              verbose=1 if sys.stdout.isatty() else 2)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m trainer.qat"))

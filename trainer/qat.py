"""python -m trainer.qat --run DIR --out DIR: quantization-aware fine-tuning of a trained run.

Why: post-training int8 rounding of the weights alone (float arithmetic, nothing else quantized)
already changes about one greedy decode in five of a seed-settings model, because a character-level
decoder feeds every near-tie back into the rest of the sentence. No converter setting recovers that.
Fine-tuning with the weights on the int8 grid does: the model learns weights that int8 represents
exactly, and the quantized exports then differ from it only by their activation arithmetic.

How: the straight-through estimator, written as a callback so that it works with any Keras layer
and optimizer. Float "shadow" weights take the optimizer's updates; after every batch the model's
weights are set to the shadows rounded to the grid, so every forward pass, every validation and
every saved model uses grid weights. The grid is TFLite's and onnxruntime's per-channel symmetric
int8: per output column, scale = max|w| / 127, integers in [-127, 127]. Biases stay float (int8
exports keep them in float or int32).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from runtime.cli import add_verbose, positive_int, run_main
from runtime.fileio import atomic_write_json, replaceable, staging_dir

from .data import DataError
from .run import HELDOUT_TSV, RUN_JSON, TRAIN_SAMPLE_TSV, RunError, load_model, read_run

# The matrices every exporter quantizes: both LSTMs' input and recurrent kernels, and the dense.
QUANTIZED_WEIGHTS = (
    ("encoder_lstm", "kernel"), ("encoder_lstm", "recurrent_kernel"),
    ("decoder_lstm", "kernel"), ("decoder_lstm", "recurrent_kernel"),
    ("decoder_dense", "kernel"),
)
GRID = {"bits": 8, "scheme": "symmetric per output channel", "levels": 127}
DEFAULT_EPOCHS = 10
DEFAULT_LEARNING_RATE = 2e-4


def int8_scale(w: np.ndarray) -> np.ndarray:
    """The grid's step for each output column of `w` (float32, shape [1, columns])."""
    scale = np.abs(w).max(axis=0, keepdims=True) / GRID["levels"]
    return np.where(scale > 0, scale, 1.0).astype(np.float32)


def int8_levels(w: np.ndarray) -> np.ndarray:
    """The integers (as float32) that `w` rounds to on the grid."""
    return np.clip(np.round(w / int8_scale(w)), -GRID["levels"], GRID["levels"])


def int8_grid(w: np.ndarray) -> np.ndarray:
    """`w` rounded to the per-output-channel symmetric int8 grid (still float32)."""
    return (int8_levels(w) * int8_scale(w)).astype(np.float32)


def quantized_variables(model) -> list:
    out = []
    for layer_name, attr in QUANTIZED_WEIGHTS:
        layer = model.get_layer(layer_name)
        out.append(getattr(layer.cell if hasattr(layer, "cell") else layer, attr))
    return out


def on_grid(model) -> bool:
    """Whether every quantized matrix of `model` already lies on the int8 grid."""
    return all(np.array_equal(v.numpy(), int8_grid(v.numpy())) for v in quantized_variables(model))


def weight_grid_callback():
    import keras

    class WeightGrid(keras.callbacks.Callback):
        """The straight-through estimator: shadows take the updates, the model sees the grid."""

        def on_train_begin(self, logs=None):
            # Batch callbacks must see every step: with several steps per call, the ones between
            # would train on weights off the grid.
            if getattr(self.model, "steps_per_execution", 1) not in (1, None):
                raise ValueError("quantization-aware training needs steps_per_execution=1")
            self.variables = quantized_variables(self.model)
            # A resumed run restarts from its saved (grid) weights: the shadows' sub-grid
            # remainders of the interrupted epoch are the only thing lost.
            self.shadows = [v.numpy().copy() for v in self.variables]
            self.grid = [int8_grid(s) for s in self.shadows]
            for v, g in zip(self.variables, self.grid):
                v.assign(g)

        def on_train_batch_end(self, batch, logs=None):
            for i, v in enumerate(self.variables):
                self.shadows[i] += v.numpy() - self.grid[i]  # the optimizer's step, taken by the shadow
                self.grid[i] = int8_grid(self.shadows[i])
                v.assign(self.grid[i])

    return WeightGrid()


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
    from .fit import _train, same_training_split

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
    train, valid = same_training_split(info, str(run), "cannot fine-tune it", log)

    import keras

    from .model import compile_model

    keras.utils.set_random_seed(info.settings.get("seed", 0))
    model = load_model(run)
    compile_model(model, learning_rate)
    info.settings = {
        **info.settings, "pipeline": info.settings.get("pipeline", "seed"), "epochs": epochs,
        "learning_rate": learning_rate, "strategy": "none", "compute_dtype": "float32",
        "time_limit_minutes": None,
        "quantization_aware": {**GRID, "from_run": str(run.resolve()), "from_best": info.best},
    }
    info.best = {}
    staged = staging_dir(out)
    atomic_write_json(staged / RUN_JSON, info.to_json())
    for name in (HELDOUT_TSV, TRAIN_SAMPLE_TSV):
        if (run / name).is_file():
            shutil.copyfile(run / name, staged / name)
    log(f"quantization-aware fine-tuning of {run}: {epochs} epochs, learning rate {learning_rate}")
    return _train(staged, out, info, model, train, valid, 0, [], True, verbose, log)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
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

"""The int8 weight grid that the int8 exports use, and that `trainer.qat` trains on.

TFLite's and onnxruntime's per-channel symmetric int8: per output column, scale = max|w| / 127,
integers in [-127, 127]. A matrix that already lies on the grid is carried exactly by every int8
artifact. A weight that the exports use as several matrices, blocks of its rows (`row_blocks`,
`trainer.spec.row_blocks`), lies on the grid block by block.
"""

from __future__ import annotations

import numpy as np

GRID = {"bits": 8, "scheme": "symmetric per output channel", "levels": 127}


def int8_scale(w: np.ndarray) -> np.ndarray:
    """The grid's step for each output column of `w` (float32, shape [1, columns])."""
    scale = np.abs(w).max(axis=0, keepdims=True) / GRID["levels"]
    return np.where(scale > 0, scale, 1.0).astype(np.float32)


def int8_levels(w: np.ndarray) -> np.ndarray:
    """The integers (as float32) that `w` rounds to on the grid."""
    return np.clip(np.round(w / int8_scale(w)), -GRID["levels"], GRID["levels"])


def int8_grid(w: np.ndarray, row_blocks: int = 1) -> np.ndarray:
    """`w` rounded to the per-output-channel symmetric int8 grid (still float32); with `row_blocks`,
    each of that many equal blocks of rows on its own grid."""
    if row_blocks > 1:
        return np.concatenate([int8_grid(block) for block in np.split(w, row_blocks, axis=0)], axis=0)
    return (int8_levels(w) * int8_scale(w)).astype(np.float32)


def on_grid(w: np.ndarray, row_blocks: int = 1) -> bool:
    """Whether `w` lies on the grid already (a `trainer.qat` run's matrices do)."""
    return bool(np.array_equal(w, int8_grid(w, row_blocks)))

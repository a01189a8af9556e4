"""Greedy decoding over any backend that can encode and take one decoder step.

The loop is the seed's `decode_sequence`, batched: encode once, feed START, take the argmax of the
next-token scores, feed it back, and stop a row at END or after `max_steps` steps. Finished rows are
dropped from the batch, so the cost follows the rows still decoding. The Keras reference decoder in
`trainer.decode` runs this same loop over Keras step functions, so parity tests compare graphs, not
two copies of the loop.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class StepModel(Protocol):
    def encode(self, source_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """source_ids int32 [batch, time] -> (h, c), float32 [batch, latent]."""

    def step(
        self, token_ids: np.ndarray, h: np.ndarray, c: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """token_ids int32 [batch], h, c -> (scores [batch, vocab], h, c)."""


def greedy_decode(
    model: StepModel, source_ids: np.ndarray, start_id: int, end_id: int, max_steps: int
) -> list[list[int]]:
    """Token ids decoded for each row of `source_ids`, without START and END."""
    batch = source_ids.shape[0]
    if batch == 0:
        return []
    h, c = model.encode(source_ids)
    out = np.zeros((batch, max_steps), dtype=np.int32)
    lengths = np.full(batch, max_steps, dtype=np.int64)
    rows = np.arange(batch)  # original row of each live batch entry
    tokens = np.full(batch, start_id, dtype=np.int32)
    for t in range(max_steps):
        scores, h, c = model.step(tokens, h, c)
        tokens = np.asarray(scores).argmax(axis=-1).astype(np.int32)
        out[rows, t] = tokens
        done = tokens == end_id
        if done.any():
            lengths[rows[done]] = t
            live = ~done
            if not live.any():
                break
            rows, tokens, h, c = rows[live], tokens[live], h[live], c[live]
    return [out[i, : lengths[i]].tolist() for i in range(batch)]

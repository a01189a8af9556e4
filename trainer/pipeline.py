"""Training batches streamed from compact ids: no giant one-hot arrays, no loss on padding.

The seed materialises every pair as one-hot float32 arrays padded to the longest sentence
(10,000 x 59 x 93 x 4 bytes for its decoder target alone; the whole file would need tens of GB).
Here each pair is stored once as small integer ids and each batch is padded when it is built:

- the encoder input keeps the seed's fixed length (`max_source_length`, padded on the right), because
  the runtime pads every input that way: the encoder sees exactly what it will see in deployment;
- the decoder input and target are padded to the longest sentence *of the batch*, and batches are
  formed from pairs of similar target length (bucketing), so the decoder runs fewer padded steps;
- each target position carries a loss weight: 1 up to and including END, 0 on padding. The decoder
  is causal, so padding after END never changes the outputs before it: what the model learns is
  exactly what greedy decoding (which stops at END) uses.

`bucket=False` with `pad_to` = the global maximum gives the seed's tensors exactly (weights all 1),
which is how the tests tie this pipeline to the seed's recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf

from runtime.vocab import PLAIN, SourceForm, Vocabulary, wrap_target

from .data import Pair
# Batches are bucketed within windows of this many batches: similar lengths, still shuffled.
BUCKET_WINDOW = 32


def encode_pairs(
    pairs: Sequence[Pair], source_vocab: Vocabulary, target_vocab: Vocabulary,
    max_source_length: int, max_target_length: int, form: SourceForm = PLAIN,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seed's three tensors, as ids: encoder input, decoder input, decoder target, every pair
    padded to the maximum lengths. The target is the decoder input shifted one step ahead (teacher
    forcing), padded with the vocabulary's `pad_id`. The source is read in `form` (an imported
    model's lowercasing and wrapping)."""
    encoder_ids = source_vocab.encode([form.apply(en) for en, _ in pairs], max_source_length)
    decoder_ids = target_vocab.encode([wrap_target(fr) for _, fr in pairs], max_target_length)
    target_ids = np.full_like(decoder_ids, target_vocab.pad_id)
    target_ids[:, :-1] = decoder_ids[:, 1:]
    return encoder_ids, decoder_ids, target_ids


@dataclass(frozen=True)
class Batch:
    encoder_ids: np.ndarray  # int32 [batch, max_source_length]
    decoder_ids: np.ndarray  # int32 [batch, T]: START + French + END, then the vocabulary's pad_id
    target_ids: np.ndarray  # int32 [batch, T]: decoder_ids shifted one step ahead, then pad_id (0 if zero-padded)
    weights: np.ndarray  # float32 [batch, T]: 1 where the target is real (up to END), else 0


class PairData:
    """Pairs as ids: sources padded to the encoder length, targets ragged."""

    def __init__(
        self, pairs: Sequence[Pair], source_vocab: Vocabulary, target_vocab: Vocabulary,
        max_source_length: int,
    ) -> None:
        if len(source_vocab) > 65535 or len(target_vocab) > 65535:
            raise ValueError("vocabularies over 65,535 characters are not supported")
        self.pad_id = target_vocab.pad_id
        self.zero_padded = target_vocab.padding == "zero"
        self.max_source_length = max_source_length
        self.source = source_vocab.encode([en for en, _ in pairs], max_source_length).astype(np.uint16)
        targets = [wrap_target(fr) for _, fr in pairs]
        self.lengths = np.fromiter((len(t) for t in targets), dtype=np.int64, count=len(targets))
        self.offsets = np.zeros(len(targets) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=self.offsets[1:])
        self.flat = np.fromiter(
            (target_vocab.id(ch) for t in targets for ch in t), dtype=np.uint16, count=int(self.offsets[-1])
        )

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def nbytes(self) -> int:
        return self.source.nbytes + self.flat.nbytes + self.offsets.nbytes + self.lengths.nbytes

    def batch(self, rows: np.ndarray, pad_to: int | None = None, weighted: bool = True,
              multiple: int = 1) -> Batch:
        """The batch of `rows`, padded to `pad_to` or to its longest target rounded up to a
        `multiple` (a few distinct shapes, for compilers that specialise on them)."""
        width = int(self.lengths[rows].max()) if pad_to is None else pad_to
        width = -(-width // multiple) * multiple
        dec = np.full((len(rows), width), self.pad_id, dtype=np.int32)
        weights = np.zeros((len(rows), width), dtype=np.float32)
        for k, r in enumerate(rows):
            n = int(self.lengths[r])
            dec[k, :n] = self.flat[self.offsets[r] : self.offsets[r] + n]
            weights[k, : n - 1] = 1.0  # targets 1..n-1: the French and END
        tgt = np.full_like(dec, self.pad_id)
        tgt[:, :-1] = dec[:, 1:]
        if not weighted:
            weights[:] = 1.0
        if self.zero_padded:
            # A zero target row carries no loss (the 2017 example's categorical cross-entropy):
            # no weight, and any id in range for the sparse loss.
            padded = tgt == self.pad_id
            weights[padded] = 0.0
            tgt[padded] = 0
        return Batch(self.source[rows].astype(np.int32), dec, tgt, weights)

    def plan(self, batch_size: int, rng: np.random.Generator | None, bucket: bool) -> list[np.ndarray]:
        """Row indices of each batch of one epoch (shuffled when `rng` is given)."""
        order = np.arange(len(self)) if rng is None else rng.permutation(len(self))
        if bucket:
            window = batch_size * BUCKET_WINDOW
            order = np.concatenate([
                chunk[np.argsort(self.lengths[chunk], kind="stable")]
                for chunk in np.array_split(order, max(1, -(-len(order) // window)))
            ])
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        if bucket and rng is not None:
            rng.shuffle(batches)
        return batches

    def batches(
        self, batch_size: int, *, seed: int | None, epoch: int = 0, bucket: bool = True,
        pad_to: int | None = None, weighted: bool = True, multiple: int = 1,
    ) -> Iterator[Batch]:
        """One epoch of batches; the shuffle depends only on (seed, epoch), so a resumed run
        sees the batches the uninterrupted run would have seen."""
        rng = None if seed is None else np.random.default_rng([seed, epoch])
        for rows in self.plan(batch_size, rng, bucket):
            yield self.batch(rows, pad_to, weighted, multiple)


class EpochClock:
    """The epoch whose shuffle the next pass over a dataset uses; a Keras callback sets it from
    the epoch number Keras is about to train (not from how often the data was read)."""

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch

    def callback(self) -> keras.callbacks.Callback:
        clock = self

        class SetEpoch(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                clock.epoch = epoch

        return SetEpoch()


def dataset(
    data: PairData, batch_size: int, *, seed: int | None, bucket: bool = True,
    pad_to: int | None = None, weighted: bool = True, clock: EpochClock | None = None, multiple: int = 1,
):
    """A tf.data.Dataset of ((encoder_ids, decoder_ids), target_ids, weights); each pass over it
    is the shuffle of `clock`'s epoch."""
    clock = clock or EpochClock()

    def generate():
        epoch = clock.epoch
        for b in data.batches(batch_size, seed=seed, epoch=epoch, bucket=bucket, pad_to=pad_to,
                              weighted=weighted, multiple=multiple):
            yield (b.encoder_ids, b.decoder_ids), b.target_ids, b.weights

    ids = tf.TensorSpec([None, None], tf.int32)
    ds = tf.data.Dataset.from_generator(
        generate, output_signature=((ids, ids), ids, tf.TensorSpec([None, None], tf.float32))
    )
    steps = -(-len(data) // batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps))
    options = tf.data.Options()
    # A generator cannot be split by files: each worker of a multi-worker run takes every n-th batch.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(2)

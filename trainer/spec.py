"""The model description: a trained model's weights and shapes, apart from any framework.

A `Seq2SeqSpec` is what every consumer of a trained model reads: the exporters build their graphs
from it (`export.graphs`), quantization-aware training rounds its `QUANTIZED` matrices, and the
bundle's manifest takes its vocabularies and lengths. It is extracted from a Keras model in one
place (`trainer.model.describe`); another source of models (an importer) or another architecture
fills the same description.

The seed's family ("seed"): one-hot source characters -> encoder LSTM, whose final [h, c] start a
decoder LSTM over one-hot target characters -> a dense layer whose logits give the next character.
LSTM weights follow the Keras layout: gates (input, forget, cell, output) side by side along the
last axis of `kernel` [input, 4 * units], `recurrent_kernel` [units, 4 * units] and `bias`
[4 * units]; c' = f * c + i * activation(z_c), h' = o * activation(c'), the gates i, f, o being
recurrent_activation(z). The activations are named functions (`ACTIVATIONS`); "hard_sigmoid" is not
one function across Keras versions, so it has two names here:
- "hard_sigmoid": Keras 3's, clip(x / 6 + 0.5, 0, 1);
- "hard_sigmoid_keras2": Keras 2's (and tf.keras 2's), clip(0.2 x + 0.5, 0, 1), the default
  recurrent activation of Keras < 2.3 LSTMs.

Padding is part of the vocabularies (`runtime.vocab.Vocabulary.padding`): space, or the all-zero
one-hot row (id `len(vocab)`) of the 2017 Keras example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from runtime.bundle import GRAPH_IO
from runtime.vocab import Vocabulary

ACTIVATIONS = ("tanh", "sigmoid", "hard_sigmoid", "hard_sigmoid_keras2")
# Hard sigmoids as (slope, offset): clip(slope * x + offset, 0, 1).
HARD_SIGMOIDS = {"hard_sigmoid": (1 / 6, 0.5), "hard_sigmoid_keras2": (0.2, 0.5)}


@dataclass(frozen=True)
class LSTMSpec:
    kernel: np.ndarray  # [input, 4 * units]
    recurrent_kernel: np.ndarray  # [units, 4 * units]
    bias: np.ndarray  # [4 * units]
    activation: str = "tanh"
    recurrent_activation: str = "sigmoid"

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])

    @property
    def input_size(self) -> int:
        return int(self.kernel.shape[0])


@dataclass(frozen=True)
class DenseSpec:
    kernel: np.ndarray  # [input, outputs]
    bias: np.ndarray  # [outputs]


@dataclass(frozen=True)
class Seq2SeqSpec:
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_source_length: int  # the encoder reads this many ids (padded as source_vocab.padding says)
    max_target_length: int  # decoder steps at most
    encoder: LSTMSpec
    decoder: LSTMSpec
    dense: DenseSpec  # decoder outputs -> logits over the target vocabulary

    family: ClassVar[str] = "seed"
    # Graph inputs and outputs of each exported role (the bundle's contract).
    io: ClassVar = GRAPH_IO
    # The matrices that int8 exports quantize (biases stay float or int32).
    QUANTIZED: ClassVar[tuple[str, ...]] = (
        "encoder.kernel", "encoder.recurrent_kernel", "decoder.kernel", "decoder.recurrent_kernel",
        "dense.kernel",
    )

    def __post_init__(self) -> None:
        latent = self.encoder.units
        expected = {
            "encoder.kernel": (len(self.source_vocab), 4 * latent),
            "encoder.recurrent_kernel": (latent, 4 * latent),
            "encoder.bias": (4 * latent,),
            "decoder.kernel": (len(self.target_vocab), 4 * latent),
            "decoder.recurrent_kernel": (latent, 4 * latent),
            "decoder.bias": (4 * latent,),
            "dense.kernel": (latent, len(self.target_vocab)),
            "dense.bias": (len(self.target_vocab),),
        }
        for name, array in self.weights().items():
            if tuple(array.shape) != expected[name]:
                raise ValueError(f"{name} has shape {tuple(array.shape)}, expected {expected[name]} "
                                 f"(vocabularies {len(self.source_vocab)} / {len(self.target_vocab)}, "
                                 f"latent {latent})")
        if self.source_vocab.padding != self.target_vocab.padding:
            raise ValueError("the source and target vocabularies pad differently")
        for lstm in (self.encoder, self.decoder):
            for activation in (lstm.activation, lstm.recurrent_activation):
                if activation not in ACTIVATIONS:
                    raise ValueError(f"unsupported LSTM activation {activation!r} "
                                     f"(supported: {', '.join(ACTIVATIONS)})")

    @property
    def latent_dim(self) -> int:
        return self.encoder.units

    @property
    def padding(self) -> str:
        return self.source_vocab.padding

    def weights(self) -> dict[str, np.ndarray]:
        """Every array by its dotted name ("encoder.kernel", ..., "dense.bias")."""
        out = {}
        for part in ("encoder", "decoder", "dense"):
            layer = getattr(self, part)
            names = ("kernel", "recurrent_kernel", "bias") if isinstance(layer, LSTMSpec) else ("kernel", "bias")
            out.update({f"{part}.{name}": getattr(layer, name) for name in names})
        return out

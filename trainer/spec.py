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
[4 * units]; c' = f * c + i * activation(z_c), h' = o * activation(c').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from runtime.bundle import GRAPH_IO
from runtime.vocab import Vocabulary

ACTIVATIONS = ("tanh", "sigmoid")


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
    max_source_length: int  # the encoder reads this many ids (padded with PAD)
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
        for lstm in (self.encoder, self.decoder):
            for activation in (lstm.activation, lstm.recurrent_activation):
                if activation not in ACTIVATIONS:
                    raise ValueError(f"unsupported LSTM activation {activation!r} "
                                     f"(supported: {', '.join(ACTIVATIONS)})")

    @property
    def latent_dim(self) -> int:
        return self.encoder.units

    def weights(self) -> dict[str, np.ndarray]:
        """Every array by its dotted name ("encoder.kernel", ..., "dense.bias")."""
        out = {}
        for part in ("encoder", "decoder", "dense"):
            layer = getattr(self, part)
            names = ("kernel", "recurrent_kernel", "bias") if isinstance(layer, LSTMSpec) else ("kernel", "bias")
            out.update({f"{part}.{name}": getattr(layer, name) for name in names})
        return out

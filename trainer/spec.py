"""The model description: a trained model's weights and shapes, apart from any framework.

A `Seq2SeqSpec` is what every consumer of a trained model reads: the exporters build their graphs
from it (`export.graphs`), quantization-aware training rounds its `quantized()` matrices, and the
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

The attention family ("attention") adds Luong's "general" attention after the decoder LSTM (Luong et
al. 2015, no input feeding), `AttentionSpec`: the encoder's outputs at every source position (the
memory, e_t) are scored against the decoder's h by h . (e_t @ score_kernel); the weights are a
softmax over the source's characters (padding positions masked); the context sum_t w_t e_t and h go
through the combination layer, tanh([context, h] @ combine_kernel + combine_bias), whose output the
dense layer reads instead of h. `memory @ score_kernel` (the keys) and `memory @ combine_kernel[:latent]`
(the values) depend on the source only, so the encoder computes them once per sentence.

Either family may have a bidirectional encoder (`encoder_backward`): a second LSTM reads the padded
source from its last position to its first; each direction has half the latent size, and their
final states (and, for attention, their outputs at each position) are joined side by side, forward
first (Keras's `Bidirectional` with merge mode "concat"). The decoder and the bundle's graph I/O are
those of a one-way encoder of the same latent size.

Padding is part of the vocabularies (`runtime.vocab.Vocabulary.padding`): space, or the all-zero
one-hot row (id `len(vocab)`) of the 2017 Keras example.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from runtime.bundle import FAMILIES
from runtime.vocab import PLAIN, SourceForm, Vocabulary

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
class AttentionSpec:
    score_kernel: np.ndarray  # [latent, latent]: score_t = h . (memory_t @ score_kernel)
    combine_kernel: np.ndarray  # [2 * latent, latent]: rows for the context, then rows for h
    combine_bias: np.ndarray  # [latent]


# Added to the attention scores of padding positions. Their weight is then below exp(-100 + d) of
# the sentence's best position's, d being how far a padding score exceeds it; d stays far below
# 10 in trained models, so the weight is under 1e-39: 0 in float32 (the range float32 keeps beside
# the scores). A larger penalty widens the range that quantized graphs spread over the scores:
# 1e4 left int16x8 no resolution for them (0% of decodes identical on the test model).
MASK_PENALTY = 100.0


def is_quantized(name: str) -> bool:
    """Whether int8 exports (and `trainer.qat`) quantize the weight `name`: every kernel matrix;
    biases stay float or int32."""
    return name.endswith("kernel")


def row_blocks(name: str) -> int:
    """How many matrices the exports make of weight `name`, as equal blocks of its rows: 2 for the
    attention's combination kernel (its rows for the context, which the encoder folds into the
    memory's values, and its rows for h), else 1. Each block has its own int8 grid."""
    return 2 if name == "attention.combine_kernel" else 1


@dataclass(frozen=True)
class Seq2SeqSpec:
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_source_length: int  # the encoder reads this many ids (padded as source_vocab.padding says)
    max_target_length: int  # decoder steps at most
    encoder: LSTMSpec
    decoder: LSTMSpec
    dense: DenseSpec  # decoder outputs (attention's combination) -> logits over the target vocabulary
    attention: AttentionSpec | None = None  # the attention family's; None for the seed's
    # A bidirectional encoder's LSTM over the source from its last position to its first; `encoder`
    # then reads it from its first, and each has half the latent size.
    encoder_backward: LSTMSpec | None = None
    # How a user's text becomes what the encoder reads: lowercased, wrapped (imported models only).
    source_form: SourceForm = PLAIN

    def __post_init__(self) -> None:
        latent = self.decoder.units
        half = latent // 2 if self.bidirectional else latent
        expected = {
            "encoder.kernel": (len(self.source_vocab), 4 * half),
            "encoder.recurrent_kernel": (half, 4 * half),
            "encoder.bias": (4 * half,),
            "encoder_backward.kernel": (len(self.source_vocab), 4 * half),
            "encoder_backward.recurrent_kernel": (half, 4 * half),
            "encoder_backward.bias": (4 * half,),
            "decoder.kernel": (len(self.target_vocab), 4 * latent),
            "decoder.recurrent_kernel": (latent, 4 * latent),
            "decoder.bias": (4 * latent,),
            "dense.kernel": (latent, len(self.target_vocab)),
            "dense.bias": (len(self.target_vocab),),
            "attention.score_kernel": (latent, latent),
            "attention.combine_kernel": (2 * latent, latent),
            "attention.combine_bias": (latent,),
        }
        for name, array in self.weights().items():
            if tuple(array.shape) != expected[name]:
                raise ValueError(f"{name} has shape {tuple(array.shape)}, expected {expected[name]} "
                                 f"(vocabularies {len(self.source_vocab)} / {len(self.target_vocab)}, "
                                 f"latent {latent})")
        if self.source_vocab.padding != self.target_vocab.padding:
            raise ValueError("the source and target vocabularies pad differently")
        if self.bidirectional and latent % 2:
            raise ValueError(f"a bidirectional encoder needs an even latent size, got {latent}")
        for lstm in self.lstms():
            for activation in (lstm.activation, lstm.recurrent_activation):
                if activation not in ACTIVATIONS:
                    raise ValueError(f"unsupported LSTM activation {activation!r} "
                                     f"(supported: {', '.join(ACTIVATIONS)})")

    @property
    def latent_dim(self) -> int:
        """The decoder's state size (a bidirectional encoder's two halves joined)."""
        return self.decoder.units

    @property
    def bidirectional(self) -> bool:
        return self.encoder_backward is not None

    @property
    def encoders(self) -> list[LSTMSpec]:
        """The encoder's LSTMs: one, or a bidirectional encoder's forward and backward."""
        return [self.encoder] if self.encoder_backward is None else [self.encoder, self.encoder_backward]

    def lstms(self) -> list[LSTMSpec]:
        return [*self.encoders, self.decoder]

    @property
    def family(self) -> str:
        return "seed" if self.attention is None else "attention"

    @property
    def io(self) -> dict:
        """Graph inputs and outputs of each exported role (the bundle's contract)."""
        return FAMILIES[self.family].io

    def quantized(self) -> list[str]:
        """The weights that int8 exports quantize (`is_quantized`)."""
        return [name for name in self.weights() if is_quantized(name)]

    @property
    def padding(self) -> str:
        return self.source_vocab.padding

    def weights(self) -> dict[str, np.ndarray]:
        """Every array by its dotted name ("encoder.kernel", ..., "dense.bias", a bidirectional
        encoder's "encoder_backward.kernel", ..., and the attention family's
        "attention.score_kernel", ...)."""
        out = {}
        for part in ("encoder", "encoder_backward", "decoder", "dense"):
            layer = getattr(self, part)
            if layer is None:
                continue
            names = ("kernel", "recurrent_kernel", "bias") if isinstance(layer, LSTMSpec) else ("kernel", "bias")
            out.update({f"{part}.{name}": getattr(layer, name) for name in names})
        if self.attention is not None:
            out.update({f"attention.{name}": getattr(self.attention, name)
                        for name in ("score_kernel", "combine_kernel", "combine_bias")})
        return out

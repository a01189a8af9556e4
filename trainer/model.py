"""The models in Keras: the one module that knows their layers.

Training model of the seed's family (keras.io lstm_seq2seq): one-hot source -> encoder LSTM (final
[h, c] only) -> decoder LSTM started from [h, c], teacher-forced on the shifted target -> dense
softmax. The attention family (`trainer.spec`) keeps the encoder's outputs too, and puts Luong
attention over them (`LuongAttention`, padding masked by `SourceMask`) between the decoder LSTM and
the dense layer. Either family's encoder may read the source both ways (`bidirectional`, a Keras
`Bidirectional` of two half-size LSTMs whose states are joined). The one-hot encoding happens inside
the graph from integer ids: the same mathematics as the seed's one-hot arrays, without
materialising them. Integer targets with sparse categorical cross-entropy are the seed's
categorical cross-entropy on one-hot targets, computed without the one-hot. The loss is averaged
over the target positions that carry weight (`trainer.pipeline`: padding carries none).

Everything downstream of training reads a model through `describe` (its `trainer.spec`
description) or `open_run` (a run's model, read once, with its description).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from runtime.bundle import MEMORY_KEYS, MEMORY_MASK, MEMORY_VALUES, STATE_C, STATE_H, sha256_file

from .run import MODEL_FILE, RunInfo, read_run
from .spec import HARD_SIGMOIDS, MASK_PENALTY, AttentionSpec, DenseSpec, LSTMSpec, Seq2SeqSpec

ARCHITECTURES = ("seed", "attention")  # trainer.spec's families


@keras.saving.register_keras_serializable(package="s2s_edge")
class OneHot(layers.Layer):
    """Integer ids [batch, time] -> one-hot float32 [batch, time, depth]."""

    def __init__(self, depth: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.depth = int(depth)

    def call(self, ids):
        return keras.ops.one_hot(ids, self.depth)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.depth)

    def get_config(self):
        return {**super().get_config(), "depth": self.depth}


@keras.saving.register_keras_serializable(package="s2s_edge")
class SourceMask(layers.Layer):
    """Source ids [batch, time] -> float32 [batch, time]: 1.0 at the sentence's characters, 0.0 at its
    padding (the ids `pad_id` after its last other character; sources are padded on the right)."""

    def __init__(self, pad_id: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pad_id = int(pad_id)

    def call(self, ids):
        not_pad = keras.ops.cast(keras.ops.not_equal(ids, self.pad_id), "int32")
        # Characters at or after each position, counted from the right.
        after = keras.ops.flip(keras.ops.cumsum(keras.ops.flip(not_pad, axis=1), axis=1), axis=1)
        return keras.ops.cast(after > 0, "float32")

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "pad_id": self.pad_id}


@keras.saving.register_keras_serializable(package="s2s_edge")
class LuongAttention(layers.Layer):
    """Luong's "general" attention with the concat combination (`trainer.spec.AttentionSpec`).

    Inputs: the decoder LSTM's outputs [batch, steps, units], the encoder's outputs (the memory)
    [batch, time, units] and `SourceMask`'s mask [batch, time]; output [batch, steps, units].
    Computed as the exported graphs compute it: `keys_values` once per sentence, then `attend`.
    """

    def build(self, input_shape):
        units = int(input_shape[0][-1])
        self.units = units
        self.score_kernel = self.add_weight(shape=(units, units), initializer="glorot_uniform", name="score_kernel")
        self.combine_kernel = self.add_weight(shape=(2 * units, units), initializer="glorot_uniform",
                                              name="combine_kernel")
        self.combine_bias = self.add_weight(shape=(units,), initializer="zeros", name="combine_bias")

    def keys_values(self, memory):
        """The memory projected for scoring (keys) and for the combination layer (values)."""
        return (keras.ops.matmul(memory, self.score_kernel),
                keras.ops.matmul(memory, self.combine_kernel[: self.units]))

    def attend(self, queries, keys, values, mask):
        scores = keras.ops.einsum("bsu,btu->bst", queries, keys)
        scores = scores + (mask[:, None, :] - 1.0) * MASK_PENALTY
        weights = keras.ops.softmax(scores, axis=-1)
        context = keras.ops.einsum("bst,btu->bsu", weights, values)
        return keras.ops.tanh(context + keras.ops.matmul(queries, self.combine_kernel[self.units :])
                              + self.combine_bias)

    def call(self, inputs):
        queries, memory, mask = inputs
        return self.attend(queries, *self.keys_values(memory), mask)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


@keras.saving.register_keras_serializable(package="s2s_edge")
def hard_sigmoid_keras2(x):
    """Keras 2's hard_sigmoid, clip(0.2 x + 0.5, 0, 1) (Keras 3's is clip(x / 6 + 0.5, 0, 1)): the
    recurrent activation of models imported from Keras < 2.3 (`trainer.spec.HARD_SIGMOIDS`)."""
    slope, offset = HARD_SIGMOIDS["hard_sigmoid_keras2"]
    return keras.ops.clip(slope * x + offset, 0.0, 1.0)


# trainer.spec's activation names -> what a Keras layer takes.
KERAS_ACTIVATIONS = {"tanh": "tanh", "sigmoid": "sigmoid", "hard_sigmoid": "hard_sigmoid",
                     "hard_sigmoid_keras2": hard_sigmoid_keras2}


def activation_name(function) -> str:
    """The `trainer.spec` name of a Keras layer's activation function."""
    name = getattr(function, "__name__", None)
    if name not in KERAS_ACTIVATIONS:
        raise ValueError(f"unsupported LSTM activation {function!r}")
    return name


def build_training_model(
    num_source_tokens: int, num_target_tokens: int, latent_dim: int, learning_rate: float = 1e-3,
    compute_dtype: str = "float32", dropout: float = 0.0, recurrent_activation: str = "sigmoid",
    architecture: str = "seed", source_pad_id: int | None = None, bidirectional: bool = False,
    optimizer: str = "rmsprop", clip_norm: float | None = None,
) -> keras.Model:
    """A model of `architecture` (`ARCHITECTURES`), compiled with `optimizer` (`compile_model`; the
    seed's is rmsprop at its default rate, 1e-3). "attention" needs the source vocabulary's padding id
    (`Vocabulary.pad_id`), whose trailing positions attention masks.

    `compute_dtype` bfloat16 or float16 trains the LSTMs in mixed precision (bfloat16: CPUs with
    AVX512_BF16 and recent GPUs; float16: GPUs, with loss scaling). Inference and export always
    rebuild the model in float32 (`float32_model`), so every artifact is judged against float32.

    `dropout` > 0 regularizes training only (Zaremba et al.'s non-recurrent dropout: on each LSTM's
    inputs and on the decoder's outputs before the dense layer); the trained weights and the
    inference graphs are those of the seed's model. Recurrent dropout is left out: it would rule
    out the cuDNN kernel.

    `recurrent_activation` (a `trainer.spec.ACTIVATIONS` name) is sigmoid but for imported models.

    `bidirectional=True` reads the source both ways: two encoder LSTMs of `latent_dim / 2` units, one
    over the padded source from its first position, one from its last; their states (and, for
    attention, their outputs at each position) joined side by side give the decoder's `latent_dim`.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
    attention = architecture == "attention"
    if attention and source_pad_id is None:
        raise ValueError("the attention architecture needs the source padding id")
    if bidirectional and latent_dim % 2:
        raise ValueError(f"a bidirectional encoder splits the latent size in two halves: give an even one, "
                         f"not {latent_dim}")
    gates = KERAS_ACTIVATIONS[recurrent_activation]
    # The LSTMs' policy; variables stay float32 under every policy, and the dense softmax always
    # computes in float32 (its loss needs the precision, its cost is small).
    policy = "float32" if compute_dtype == "float32" else f"mixed_{compute_dtype}"
    encoder_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_ids")
    x = OneHot(num_source_tokens, name="encoder_onehot")(encoder_ids)
    if bidirectional:
        lstm = layers.LSTM(latent_dim // 2, return_sequences=attention, return_state=True, dropout=dropout,
                           name="encoder_lstm", recurrent_activation=gates, dtype=policy)
        memory, forward_h, forward_c, backward_h, backward_c = layers.Bidirectional(
            lstm, name="encoder_bidirectional", dtype=policy)(x)
        state_h = layers.Concatenate(name="encoder_state_h", dtype=policy)([forward_h, backward_h])
        state_c = layers.Concatenate(name="encoder_state_c", dtype=policy)([forward_c, backward_c])
    else:
        memory, state_h, state_c = layers.LSTM(latent_dim, return_sequences=attention, return_state=True,
                                               dropout=dropout, name="encoder_lstm", recurrent_activation=gates,
                                               dtype=policy)(x)

    decoder_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_ids")
    y = OneHot(num_target_tokens, name="decoder_onehot")(decoder_ids)
    y = layers.LSTM(latent_dim, return_sequences=True, return_state=True, dropout=dropout, name="decoder_lstm",
                    recurrent_activation=gates, dtype=policy)(y, initial_state=[state_h, state_c])[0]
    if dropout:
        y = layers.Dropout(dropout, name="decoder_dropout")(y)
    if attention:
        # float32 like the dense layer: the masked softmax's penalty and its sums need the range.
        mask = SourceMask(source_pad_id, name="source_mask")(encoder_ids)
        y = LuongAttention(name="attention", dtype="float32")([y, memory, mask])
    probs = layers.Dense(num_target_tokens, activation="softmax", name="decoder_dense", dtype="float32")(y)

    model = keras.Model([encoder_ids, decoder_ids], probs, name="seq2seq")
    compile_model(model, learning_rate, optimizer=optimizer, clip_norm=clip_norm)
    return model


@dataclass(frozen=True)
class Layers:
    """The trained layers of a model built by `build_training_model`, found by their names."""

    encoder: layers.LSTM  # a bidirectional encoder's forward LSTM
    decoder: layers.LSTM
    dense: layers.Dense
    num_source_tokens: int
    num_target_tokens: int
    attention: LuongAttention | None = None  # the attention family's, with its mask
    source_mask: SourceMask | None = None
    encoder_backward: layers.LSTM | None = None  # a bidirectional encoder's LSTM from the last position
    encoder_outputs: tuple = ()  # symbolic: the encoder's outputs (the memory), and the h, c that start the decoder
    encoder_layer: layers.Layer | None = None  # the LSTM, or the Bidirectional wrapper of both

    @property
    def architecture(self) -> str:
        return "seed" if self.attention is None else "attention"

    def encode(self, source_ids) -> dict:
        """Source ids -> the encoder's outputs by the bundle's graph names (`runtime.bundle.FAMILIES`),
        computed by these layers: h and c, and the attention family's memory keys, values and mask."""
        x = keras.ops.one_hot(source_ids, self.num_source_tokens)
        if self.encoder_backward is None:
            memory, h, c = self.encoder_layer(x)
        else:
            memory, forward_h, forward_c, backward_h, backward_c = self.encoder_layer(x)
            h = keras.ops.concatenate([forward_h, backward_h], axis=-1)
            c = keras.ops.concatenate([forward_c, backward_c], axis=-1)
        out = {STATE_H: h, STATE_C: c}
        if self.attention is not None:
            out[MEMORY_KEYS], out[MEMORY_VALUES] = self.attention.keys_values(memory)
            out[MEMORY_MASK] = self.source_mask(source_ids)
        return out


def model_layers(model: keras.Model) -> Layers:
    names = {layer.name for layer in model.layers}
    attention = model.get_layer("attention") if "attention" in names else None
    if "encoder_bidirectional" in names:
        both = model.get_layer("encoder_bidirectional")
        encoder, backward = both.forward_layer, both.backward_layer
        outputs = (both.output[0], model.get_layer("encoder_state_h").output,
                   model.get_layer("encoder_state_c").output)
    else:
        encoder = both = model.get_layer("encoder_lstm")
        backward, outputs = None, tuple(encoder.output)
    return Layers(encoder, model.get_layer("decoder_lstm"),
                  model.get_layer("decoder_dense"), model.get_layer("encoder_onehot").depth,
                  model.get_layer("decoder_onehot").depth, attention,
                  model.get_layer("source_mask") if attention is not None else None,
                  backward, outputs, both)


def float32_twin(model: keras.Model) -> keras.Model:
    """A new float32 model of `model`'s architecture (family, sizes, dropout, recurrent activation),
    with fresh weights: copy them in with `set_weights`."""
    found = model_layers(model)
    return build_training_model(found.num_source_tokens, found.num_target_tokens, found.decoder.units,
                                dropout=found.decoder.dropout,
                                recurrent_activation=activation_name(found.decoder.cell.recurrent_activation),
                                architecture=found.architecture,
                                source_pad_id=found.source_mask.pad_id if found.source_mask is not None else None,
                                bidirectional=found.encoder_backward is not None)


def float32_model(model: keras.Model) -> keras.Model:
    """`model` itself when it computes in float32, else a float32 copy with the same weights."""
    if model_layers(model).decoder.dtype_policy.compute_dtype == "float32":  # both LSTMs share it
        return model
    copy = float32_twin(model)
    copy.set_weights(model.get_weights())
    return copy


OPTIMIZERS = ("rmsprop", "adam")


def compile_model(model: keras.Model, learning_rate: float, jit_compile: bool | str = False,
                  optimizer: str = "rmsprop", clip_norm: float | None = None) -> None:
    """Compile for training: `optimizer` (`OPTIMIZERS`) at `learning_rate`, the gradients clipped to
    a global norm of `clip_norm` when it is given."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    options = {"global_clipnorm": clip_norm} if clip_norm else {}
    optimizer = (keras.optimizers.Adam if optimizer == "adam" else keras.optimizers.RMSprop)(learning_rate, **options)
    if model_layers(model).decoder.dtype_policy.name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)  # float16 gradients underflow
    model.compile(
        optimizer=optimizer,
        # Mean over weighted positions: a batch's loss does not shrink with its share of padding.
        loss=keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight"),
        weighted_metrics=["accuracy"],
        jit_compile=jit_compile,
    )


def weight_variables(model: keras.Model) -> dict[str, "keras.Variable"]:
    """The Keras variable behind each of the description's weights (`Seq2SeqSpec.weights`)."""
    found = model_layers(model)
    out = {}
    parts = [("encoder", found.encoder), ("decoder", found.decoder)]
    if found.encoder_backward is not None:
        parts.insert(1, ("encoder_backward", found.encoder_backward))
    for part, layer in parts:
        out.update({f"{part}.kernel": layer.cell.kernel, f"{part}.recurrent_kernel": layer.cell.recurrent_kernel,
                    f"{part}.bias": layer.cell.bias})
    out.update({"dense.kernel": found.dense.kernel, "dense.bias": found.dense.bias})
    if found.attention is not None:
        out.update({f"attention.{name}": getattr(found.attention, name)
                    for name in ("score_kernel", "combine_kernel", "combine_bias")})
    return out


def describe(model: keras.Model, info: RunInfo) -> Seq2SeqSpec:
    """The framework-free description of a trained model (float32 arrays) with its run's
    vocabularies and lengths."""
    found = model_layers(model)
    if found.source_mask is not None and found.source_mask.pad_id != info.source_vocab.pad_id:
        raise ValueError(f"the model masks source id {found.source_mask.pad_id} as padding, but its run's "
                         f"vocabulary pads with id {info.source_vocab.pad_id}")
    arrays = {name: np.asarray(v.numpy(), dtype=np.float32) for name, v in weight_variables(model).items()}

    def lstm(part: str, layer: layers.LSTM) -> LSTMSpec:
        cell = layer.cell
        return LSTMSpec(arrays[f"{part}.kernel"], arrays[f"{part}.recurrent_kernel"], arrays[f"{part}.bias"],
                        activation=activation_name(cell.activation),
                        recurrent_activation=activation_name(cell.recurrent_activation))

    return Seq2SeqSpec(
        source_vocab=info.source_vocab, target_vocab=info.target_vocab,
        max_source_length=info.max_source_length, max_target_length=info.max_target_length,
        encoder=lstm("encoder", found.encoder), decoder=lstm("decoder", found.decoder),
        encoder_backward=None if found.encoder_backward is None else lstm("encoder_backward", found.encoder_backward),
        dense=DenseSpec(arrays["dense.kernel"], arrays["dense.bias"]),
        attention=None if found.attention is None else AttentionSpec(
            arrays["attention.score_kernel"], arrays["attention.combine_kernel"], arrays["attention.combine_bias"]),
        source_form=info.source_form,
    )


def keras_reference(model: keras.Model, encoder_ids: np.ndarray, decoder_ids: np.ndarray):
    """The training model's own encoder outputs (by the bundle's graph names) and softmax outputs
    (teacher forcing): what every exported artifact is compared with. The outputs are the training
    graph's tensors; the attention family's keys and values are its memory projected as
    `LuongAttention` projects it."""
    found = model_layers(model)
    memory, h, c = found.encoder_outputs
    wanted = [h, c] if found.attention is None else [h, c, memory, found.source_mask.output]
    values = [np.asarray(x) for x in keras.Model(model.inputs[0], wanted)(encoder_ids, training=False)]
    encoded = {STATE_H: values[0], STATE_C: values[1]}
    if found.attention is not None:
        keys, projected = found.attention.keys_values(values[2])
        encoded.update({MEMORY_KEYS: np.asarray(keys), MEMORY_VALUES: np.asarray(projected), MEMORY_MASK: values[3]})
    probs = np.asarray(model([encoder_ids, decoder_ids], training=False))
    return encoded, probs


def load_model(path: str | Path, compile: bool = False) -> keras.Model:
    """A saved model file, loaded in safe mode (no arbitrary code from the file)."""
    return keras.saving.load_model(path, custom_objects={"OneHot": OneHot, "SourceMask": SourceMask,
                                                         "LuongAttention": LuongAttention},
                                   safe_mode=True, compile=compile)


@dataclass
class TrainedRun:
    """A run opened once: its record, its model in float32 and that model's description."""

    path: Path
    info: RunInfo
    model: keras.Model  # float32 (a mixed-precision run comes back as float32 layers)
    spec: Seq2SeqSpec
    model_id: str  # sha256 of model.keras


def open_run(run: str | Path, info: RunInfo | None = None) -> TrainedRun:
    """Read a run directory (unless its `info` was read already) and load its model once, in
    float32: decoding, evaluation and every export use float32 arithmetic."""
    run = Path(run)
    if info is None:
        info = read_run(run)  # first: it names a missing or foreign run directory
    model = float32_model(load_model(run / MODEL_FILE))
    return TrainedRun(run, info, model, describe(model, info), sha256_file(run / MODEL_FILE))

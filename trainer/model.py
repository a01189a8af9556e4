"""The seed's model (keras.io lstm_seq2seq) and its inference halves.

Training model: one-hot source -> encoder LSTM (final [h, c] only) -> decoder LSTM started from
[h, c], teacher-forced on the shifted target -> dense softmax. The one-hot encoding happens inside
the graph from integer ids: the same mathematics as the seed's one-hot arrays, without
materialising them. Integer targets with sparse categorical cross-entropy are the seed's
categorical cross-entropy on one-hot targets, computed without the one-hot. The loss is averaged
over the target positions that carry weight (`trainer.pipeline`: padding carries none).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


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


def build_training_model(
    num_source_tokens: int, num_target_tokens: int, latent_dim: int, learning_rate: float = 1e-3,
    compute_dtype: str = "float32", dropout: float = 0.0,
) -> keras.Model:
    """The seed's model, compiled with rmsprop (the seed uses its default rate, 1e-3).

    `compute_dtype` bfloat16 or float16 trains the LSTMs in mixed precision (bfloat16: CPUs with
    AVX512_BF16 and recent GPUs; float16: GPUs, with loss scaling). Inference and export always
    rebuild the model in float32 (`float32_model`), so every artifact is judged against float32.

    `dropout` > 0 regularizes training only (Zaremba et al.'s non-recurrent dropout: on each LSTM's
    inputs and on the decoder's outputs before the dense layer); the trained weights and the
    inference graphs are those of the seed's model. Recurrent dropout is left out: it would rule
    out the cuDNN kernel.
    """
    # The LSTMs' policy; variables stay float32 under every policy, and the dense softmax always
    # computes in float32 (its loss needs the precision, its cost is small).
    policy = "float32" if compute_dtype == "float32" else f"mixed_{compute_dtype}"
    encoder_ids = keras.Input(shape=(None,), dtype="int32", name="encoder_ids")
    x = OneHot(num_source_tokens, name="encoder_onehot")(encoder_ids)
    _, state_h, state_c = layers.LSTM(latent_dim, return_state=True, dropout=dropout, name="encoder_lstm",
                                      dtype=policy)(x)

    decoder_ids = keras.Input(shape=(None,), dtype="int32", name="decoder_ids")
    y = OneHot(num_target_tokens, name="decoder_onehot")(decoder_ids)
    y = layers.LSTM(latent_dim, return_sequences=True, return_state=True, dropout=dropout, name="decoder_lstm",
                    dtype=policy)(y, initial_state=[state_h, state_c])[0]
    if dropout:
        y = layers.Dropout(dropout, name="decoder_dropout")(y)
    probs = layers.Dense(num_target_tokens, activation="softmax", name="decoder_dense", dtype="float32")(y)

    model = keras.Model([encoder_ids, decoder_ids], probs, name="seq2seq")
    compile_model(model, learning_rate)
    return model


def float32_model(model: keras.Model) -> keras.Model:
    """`model` itself when it computes in float32, else a float32 copy with the same weights."""
    if model.get_layer("decoder_lstm").dtype_policy.compute_dtype == "float32":  # both LSTMs share it
        return model
    copy = build_training_model(
        model.get_layer("encoder_onehot").depth, model.get_layer("decoder_onehot").depth,
        model.get_layer("encoder_lstm").units, dropout=model.get_layer("decoder_lstm").dropout,
    )
    copy.set_weights(model.get_weights())
    return copy


def compile_model(model: keras.Model, learning_rate: float, jit_compile: bool | str = False) -> None:
    optimizer = keras.optimizers.RMSprop(learning_rate)
    if model.get_layer("decoder_lstm").dtype_policy.name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)  # float16 gradients underflow
    model.compile(
        optimizer=optimizer,
        # Mean over weighted positions: a batch's loss does not shrink with its share of padding.
        loss=keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight"),
        weighted_metrics=["accuracy"],
        jit_compile=jit_compile,
    )


class InferenceFunctions:
    """The encoder and the single-step decoder of a trained model, as tf.functions.

    Both reuse the trained layers' variables. The step runs the decoder LSTM's cell once (the same
    weights and equations as the layer) and returns logits, the dense layer before its softmax:
    argmax is unchanged, and exported graphs keep scores that survive quantization.
    Outputs are dicts keyed by the bundle's graph names (runtime.bundle).
    """

    def __init__(self, model: keras.Model) -> None:
        from runtime import bundle as b

        self.model = model
        encoder_lstm = model.get_layer("encoder_lstm")
        decoder_lstm = model.get_layer("decoder_lstm")
        dense = model.get_layer("decoder_dense")
        self.num_source_tokens = model.get_layer("encoder_onehot").depth
        self.num_target_tokens = model.get_layer("decoder_onehot").depth
        self.latent_dim = encoder_lstm.units
        latent = self.latent_dim

        self.encoder_signature = [tf.TensorSpec([None, None], tf.int32, name=b.SOURCE_IDS)]
        self.step_signature = [
            tf.TensorSpec([None], tf.int32, name=b.TOKEN_IDS),
            tf.TensorSpec([None, latent], tf.float32, name=b.STATE_H),
            tf.TensorSpec([None, latent], tf.float32, name=b.STATE_C),
        ]

        @tf.function(input_signature=self.encoder_signature)
        def encode(source_ids):
            x = tf.one_hot(source_ids, self.num_source_tokens)
            _, h, c = encoder_lstm(x)
            return {b.STATE_H: h, b.STATE_C: c}

        @tf.function(input_signature=self.step_signature)
        def step(token_ids, state_h, state_c):
            x = tf.one_hot(token_ids, self.num_target_tokens)
            h, (_, c) = decoder_lstm.cell(x, [state_h, state_c])
            logits = tf.matmul(h, dense.kernel) + dense.bias
            return {b.LOGITS: logits, b.NEXT_STATE_H: h, b.NEXT_STATE_C: c}

        self.encode_fn = encode
        self.step_fn = step

    # runtime.decoding.StepModel, so the runtime's greedy loop can run on Keras.
    def encode(self, source_ids):
        from runtime import bundle as b

        out = self.encode_fn(tf.constant(source_ids, tf.int32))
        return out[b.STATE_H].numpy(), out[b.STATE_C].numpy()

    def step(self, token_ids, h, c):
        from runtime import bundle as b

        out = self.step_fn(tf.constant(token_ids, tf.int32), tf.constant(h), tf.constant(c))
        return out[b.LOGITS].numpy(), out[b.NEXT_STATE_H].numpy(), out[b.NEXT_STATE_C].numpy()

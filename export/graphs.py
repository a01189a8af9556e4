"""The encoder and the single-step decoder as TensorFlow graphs, built from a model's description.

Both converters start here, from `trainer.spec.Seq2SeqSpec` alone (never from Keras layers), so a
model from any source converts the same way:
- `step` is the decoder LSTM cell once, then the dense layer without its softmax (logits: the
  argmax is the same, and a quantized softmax output loses it);
- `encode` reads source ids and returns the encoder's final states. `unrolled=False` runs a Keras
  LSTM layer holding the description's weights over a dynamic time axis (tf2onnx turns it into one
  native ONNX `LSTM` op); `unrolled=True` repeats the cell over exactly `max_source_length` steps
  (the runtime pads every source to that length), straight-line builtin ops that the TFLite
  converter takes with a dynamic batch;
- one-hot inputs are `tf.one_hot`, or with `gather_one_hot=True` a GATHER from an identity matrix
  (the same values; unlike ONE_HOT and EMBEDDING_LOOKUP it has TFLite int16x8 kernels). A
  zero-padded model's padding id, `len(vocab)`, gives the all-zero row either way: `tf.one_hot` (and
  ONNX OneHot) map an id past the depth to zeros, and the identity matrix gets a row of zeros;
- the LSTM activations are the description's (`trainer.spec.ACTIVATIONS`). The native ONNX `LSTM`
  op is only made for tanh and sigmoid; with a hard sigmoid (models from Keras < 2.3), the ONNX
  encoder is unrolled as the TFLite one is.
Outputs are dicts keyed by the bundle's graph names (`runtime.bundle.GRAPH_IO`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from runtime.bundle import LOGITS, NEXT_STATE_C, NEXT_STATE_H, SOURCE_IDS, STATE_C, STATE_H, TOKEN_IDS
from trainer.spec import HARD_SIGMOIDS, LSTMSpec, Seq2SeqSpec


def _hard_sigmoid(slope: float, offset: float):
    return lambda x: tf.clip_by_value(slope * x + offset, 0.0, 1.0)


ACTIVATIONS = {"tanh": tf.tanh, "sigmoid": tf.sigmoid,
               **{name: _hard_sigmoid(*line) for name, line in HARD_SIGMOIDS.items()}}
def native_lstm(spec: LSTMSpec) -> bool:
    """Whether tf2onnx turns a Keras LSTM of `spec` into a native ONNX LSTM op (with other
    activations it becomes a Loop)."""
    return spec.activation == "tanh" and spec.recurrent_activation == "sigmoid"


class LSTMCell(tf.Module):
    """One step of an LSTM from its description (Keras's equations and gate order)."""

    def __init__(self, spec: LSTMSpec, name: str) -> None:
        super().__init__(name=name)
        self.spec = spec
        self.kernel = tf.Variable(spec.kernel, name="kernel")
        self.recurrent_kernel = tf.Variable(spec.recurrent_kernel, name="recurrent_kernel")
        self.bias = tf.Variable(spec.bias, name="bias")
        self.activation = ACTIVATIONS[spec.activation]
        self.recurrent_activation = ACTIVATIONS[spec.recurrent_activation]

    def __call__(self, x, h, c):
        z = tf.matmul(x, self.kernel)
        z = tf.add(z, tf.matmul(h, self.recurrent_kernel))
        z = tf.add(z, self.bias)
        z_i, z_f, z_c, z_o = tf.split(z, 4, axis=1)
        i = self.recurrent_activation(z_i)
        f = self.recurrent_activation(z_f)
        c = f * c + i * self.activation(z_c)
        o = self.recurrent_activation(z_o)
        return o * self.activation(c), c


def keras_lstm(spec: LSTMSpec) -> keras.layers.LSTM:
    """A Keras LSTM layer (final states only) holding `spec`'s weights."""
    layer = keras.layers.LSTM(spec.units, activation=spec.activation,
                              recurrent_activation=spec.recurrent_activation, return_state=True,
                              dtype="float32")
    layer.build((None, None, spec.input_size))
    layer.set_weights([spec.kernel, spec.recurrent_kernel, spec.bias])
    return layer


class EdgeGraphs(tf.Module):
    """`encode` and `step` tf.functions of one model; the module tracks every weight, so converters
    freeze them (Keras 3 variables that are not tracked are dropped by the TFLite converter)."""

    def __init__(self, spec: Seq2SeqSpec, *, unrolled: bool, gather_one_hot: bool = False) -> None:
        super().__init__()
        self.spec = spec
        latent, num_source, num_target = spec.latent_dim, len(spec.source_vocab), len(spec.target_vocab)
        self.encoder_cell = LSTMCell(spec.encoder, "encoder")
        self.decoder_cell = LSTMCell(spec.decoder, "decoder")
        self.dense_kernel = tf.Variable(spec.dense.kernel, name="dense_kernel")
        self.dense_bias = tf.Variable(spec.dense.bias, name="dense_bias")
        if gather_one_hot:
            # Rows 0..n-1 of the identity, and for zero padding an all-zero row n (the padding id).
            extra = 1 if spec.padding == "zero" else 0
            source_eye, target_eye = tf.eye(num_source + extra, num_source), tf.eye(num_target + extra, num_target)
            source_one_hot = lambda ids: tf.gather(source_eye, ids)  # noqa: E731
            target_one_hot = lambda ids: tf.gather(target_eye, ids)  # noqa: E731
        else:
            source_one_hot = lambda ids: tf.one_hot(ids, num_source)  # noqa: E731
            target_one_hot = lambda ids: tf.one_hot(ids, num_target)  # noqa: E731

        time = spec.max_source_length if unrolled else None
        self.encoder_signature = [tf.TensorSpec([None, time], tf.int32, name=SOURCE_IDS)]
        self.step_signature = [
            tf.TensorSpec([None], tf.int32, name=TOKEN_IDS),
            tf.TensorSpec([None, latent], tf.float32, name=STATE_H),
            tf.TensorSpec([None, latent], tf.float32, name=STATE_C),
        ]
        if unrolled:
            def encode(source_ids):
                x = source_one_hot(source_ids)
                h = c = tf.zeros([tf.shape(source_ids)[0], latent])
                for t in range(spec.max_source_length):
                    h, c = self.encoder_cell(x[:, t], h, c)
                return {STATE_H: h, STATE_C: c}
        else:
            self.encoder_layer = keras_lstm(spec.encoder)

            def encode(source_ids):
                _, h, c = self.encoder_layer(source_one_hot(source_ids))
                return {STATE_H: h, STATE_C: c}

        def step(token_ids, state_h, state_c):
            h, c = self.decoder_cell(target_one_hot(token_ids), state_h, state_c)
            logits = tf.matmul(h, self.dense_kernel) + self.dense_bias
            return {LOGITS: logits, NEXT_STATE_H: h, NEXT_STATE_C: c}

        self.encode = tf.function(encode, input_signature=self.encoder_signature)
        self.step = tf.function(step, input_signature=self.step_signature)

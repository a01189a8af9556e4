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
- the attention family's encoder also returns its context (`runtime.bundle.FAMILIES`): the
  memory projected once per sentence (keys and values, `trainer.spec`) and the source mask, 1.0 up
  to the last character that is not the padding id; its step scores the keys against the new h,
  masks, softmaxes, sums the values and combines them with h before the dense layer;
- a bidirectional encoder (`Seq2SeqSpec.encoder_backward`) runs a second LSTM from the source's
  last position to its first and joins both directions' states (and outputs) side by side, as
  Keras's `Bidirectional` does;
- the LSTM activations are the description's (`trainer.spec.ACTIVATIONS`). The native ONNX `LSTM`
  op is only made for tanh and sigmoid; with a hard sigmoid (models from Keras < 2.3), the ONNX
  encoder is unrolled as the TFLite one is.
Outputs are dicts keyed by the bundle's graph names (`Seq2SeqSpec.io`).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from runtime.bundle import (
    FAMILIES, LOGITS, MEMORY_KEYS, MEMORY_MASK, MEMORY_VALUES, NEXT_STATE_C, NEXT_STATE_H, STATE_C, STATE_H,
)
from trainer.reference import FunctionStepModel, input_signatures, step_function
from trainer.spec import HARD_SIGMOIDS, MASK_PENALTY, LSTMSpec, Seq2SeqSpec


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

    def first(self, x):
        """The step from a zero state: h @ U and the forget gate drop out (c = i * g), with the same
        values. A converter that folds a constant zero state (a fixed batch) would otherwise leave
        the forget gate's part of a SPLIT unused, and the int8 converter computes such a SPLIT in
        float; here every tensor is used, so full-integer files stay integer-only."""
        units = self.spec.units
        z = tf.add(tf.matmul(x, self.kernel), self.bias)
        i = self.recurrent_activation(z[:, :units])
        c = i * self.activation(z[:, 2 * units : 3 * units])
        o = self.recurrent_activation(z[:, 3 * units :])
        return o * self.activation(c), c


def keras_lstm(spec: LSTMSpec, return_sequences: bool = False) -> keras.layers.LSTM:
    """A Keras LSTM layer (its outputs, then its final states) holding `spec`'s weights."""
    layer = keras.layers.LSTM(spec.units, activation=spec.activation,
                              recurrent_activation=spec.recurrent_activation, return_state=True,
                              return_sequences=return_sequences, dtype="float32")
    layer.build((None, None, spec.input_size))
    layer.set_weights([spec.kernel, spec.recurrent_kernel, spec.bias])
    return layer


class EdgeGraphs(tf.Module):
    """`encode` and `step` tf.functions of one model; the module tracks every weight, so converters
    freeze them (Keras 3 variables that are not tracked are dropped by the TFLite converter).
    `batch` fixes the batch size of every input (None: dynamic); a fixed size makes every shape
    static, as TFLite Micro needs."""

    def __init__(self, spec: Seq2SeqSpec, *, unrolled: bool, gather_one_hot: bool = False,
                 batch: int | None = None) -> None:
        super().__init__()
        self.spec = spec
        latent, num_source, num_target = spec.latent_dim, len(spec.source_vocab), len(spec.target_vocab)
        self.encoder_cell = LSTMCell(spec.encoder, "encoder")
        backward = spec.encoder_backward
        if backward is not None:
            self.encoder_backward_cell = LSTMCell(backward, "encoder_backward")
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

        # The attention family's encoder reads exactly max_source_length ids (the runtime's length),
        # so that its source mask is a fixed matrix product.
        time = spec.max_source_length if unrolled or spec.attention is not None else None
        self.family = FAMILIES[spec.family]
        self.encoder_signature, self.step_signature = input_signatures(self.family, latent, time, batch)
        attention = spec.attention
        if attention is not None:
            self.score_kernel = tf.Variable(attention.score_kernel, name="attention_score_kernel")
            self.value_kernel = tf.Variable(attention.combine_kernel[:latent], name="attention_value_kernel")
            self.query_kernel = tf.Variable(attention.combine_kernel[latent:], name="attention_query_kernel")
            self.combine_bias = tf.Variable(attention.combine_bias, name="attention_combine_bias")

        if unrolled:
            def run_lstm(cell, x, positions):
                outputs = {}
                for n, t in enumerate(positions):  # from a zero state
                    h, c = cell(x[:, t], h, c) if n else cell.first(x[:, t])
                    outputs[t] = h
                memory = (tf.stack([outputs[t] for t in range(len(positions))], axis=1)
                          if attention is not None else None)
                return memory, h, c

            forward = lambda x: run_lstm(self.encoder_cell, x, range(spec.max_source_length))  # noqa: E731
            if backward is not None:
                backward_run = lambda x: run_lstm(  # noqa: E731
                    self.encoder_backward_cell, x, range(spec.max_source_length - 1, -1, -1))
        else:
            self.encoder_layer = keras_lstm(spec.encoder, return_sequences=attention is not None)
            forward = self.encoder_layer
            if backward is not None:
                self.encoder_backward_layer = keras_lstm(backward, return_sequences=attention is not None)

                def backward_run(x):  # the layer reads the reversed source; its outputs turn back
                    memory, h, c = self.encoder_backward_layer(tf.reverse(x, axis=[1]))
                    return (tf.reverse(memory, axis=[1]) if attention is not None else None), h, c

        def run_encoder(x):
            if backward is None:
                return forward(x)
            # Both directions side by side (Keras's Bidirectional, merge_mode "concat").
            (memory, h, c), (memory_b, h_b, c_b) = forward(x), backward_run(x)
            joined = tf.concat([memory, memory_b], axis=2) if attention is not None else None
            return joined, tf.concat([h, h_b], axis=1), tf.concat([c, c_b], axis=1)

        def encode(source_ids):
            x = source_one_hot(source_ids)
            memory, h, c = run_encoder(x)
            out = {STATE_H: h, STATE_C: c}
            if attention is not None:
                out[MEMORY_MASK] = self.source_mask(x)
                out[MEMORY_KEYS] = project(memory, self.score_kernel)
                out[MEMORY_VALUES] = project(memory, self.value_kernel)
            return out

        def step(token_ids, inputs):
            h, c = self.decoder_cell(target_one_hot(token_ids), inputs[STATE_H], inputs[STATE_C])
            out = h
            if attention is not None:
                keys, values, mask = (inputs[name] for name in self.family.context)
                # Batched matrix products, not sums of products: a quantized SUM keeps its input's scale,
                # too narrow for a sum over time.
                scores = tf.squeeze(tf.matmul(keys, tf.expand_dims(h, 2)), 2)
                weights = tf.nn.softmax(scores + (mask - 1.0) * MASK_PENALTY)
                summed = tf.squeeze(tf.matmul(tf.expand_dims(weights, 1), values), 1)
                out = tf.tanh(summed + tf.matmul(h, self.query_kernel) + self.combine_bias)
            logits = tf.matmul(out, self.dense_kernel) + self.dense_bias
            return {LOGITS: logits, NEXT_STATE_H: h, NEXT_STATE_C: c}

        self.encode = tf.function(encode, input_signature=self.encoder_signature)
        self.step = step_function(step, self.step_signature)

    def step_model(self) -> FunctionStepModel:
        """`encode` and `step` as a `runtime.decoding.StepModel`."""
        return FunctionStepModel(self.encode, self.step, self.family)

    def source_mask(self, x):
        """The one-hot source [batch, time, vocab] -> 1.0 up to its last character that is not
        padding, 0.0 after it (sources are padded on the right). Float products and a minimum only
        (no integer or comparison ops, which the int16x8 converter cannot take): per position, 1 or
        0 for "not padding"; then, per position, how many of those lie at or after it; then min(., 1)."""
        spec = self.spec
        vocab, time = len(spec.source_vocab), spec.max_source_length
        not_pad = np.ones((vocab, 1), np.float32)
        if spec.padding == "space":  # zero padding's one-hot row is all zeros already
            not_pad[spec.source_vocab.pad_id] = 0.0
        at_or_after = np.tril(np.ones((time, time), np.float32))  # [s, t] = 1 where s >= t
        flags = tf.reshape(tf.matmul(tf.reshape(x, [-1, vocab]), not_pad), [-1, time])
        return tf.minimum(tf.matmul(flags, at_or_after), 1.0)


def project(memory, kernel):
    """memory [batch, time, latent] @ kernel [latent, latent], as one matrix product."""
    shape = tf.shape(memory)
    flat = tf.matmul(tf.reshape(memory, [-1, kernel.shape[0]]), kernel)
    return tf.reshape(flat, [shape[0], shape[1], kernel.shape[1]])

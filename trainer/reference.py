"""The Keras reference decoder: the trained layers as a `runtime.decoding.StepModel`.

The seed's greedy `decode_sequence`, batched: the trained Keras layers run the encoder and one
decoder step at a time, and the runtime's own decoding loops and input policy drive them. Exported
artifacts are judged against this; they are built from the model's description instead
(`export.graphs`), so the comparison is between two implementations of the same equations.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from runtime.bundle import (
    FAMILIES, LOGITS, MEMORY_KEYS, MEMORY_MASK, MEMORY_VALUES, NEXT_STATE_C, NEXT_STATE_H, SOURCE_IDS, STATE_C,
    STATE_H, TOKEN_IDS, next_name,
)
from runtime.translator import ModelSpec, Translator

from .model import model_layers, open_run


class FunctionStepModel:
    """An encode and a step tf.function whose inputs and outputs are keyed by the bundle's graph
    names of `family` (`runtime.bundle.FAMILIES`), as a `runtime.decoding.StepModel` (numpy in,
    numpy out), so the runtime's loops can drive them."""

    def __init__(self, encode_fn, step_fn, family: str = "seed") -> None:
        self.encode_fn, self.step_fn = encode_fn, step_fn
        self.family = FAMILIES[family]

    def encode(self, source_ids):
        out = self.encode_fn(tf.constant(source_ids, tf.int32))
        return {name: out[name].numpy() for name in self.family.encoder_outputs}

    def step(self, token_ids, state):
        inputs = [tf.constant(state[name]) for name in self.family.state + self.family.context]
        out = self.step_fn(tf.constant(token_ids, tf.int32), *inputs)
        return out[LOGITS].numpy(), {**state, **{name: out[next_name(name)].numpy() for name in self.family.state}}


class InferenceFunctions(FunctionStepModel):
    """The encoder and the single-step decoder of a trained model, as tf.functions.

    Both reuse the trained layers' variables. The step runs the decoder LSTM's cell once (the same
    weights and equations as the layer), the attention layer's `attend` on that one step for the
    attention family, and returns logits, the dense layer before its softmax: argmax is unchanged,
    and exported graphs keep scores that survive quantization.
    Inputs and outputs are keyed by the bundle's graph names of the model's family (runtime.bundle).
    """

    def __init__(self, model: keras.Model) -> None:
        self.model = model
        found = model_layers(model)
        decoder_lstm, dense, attention = found.decoder, found.dense, found.attention
        self.num_source_tokens, self.num_target_tokens = found.num_source_tokens, found.num_target_tokens
        self.latent_dim = decoder_lstm.units
        latent = self.latent_dim
        family = FAMILIES[found.architecture]

        self.encoder_signature = [tf.TensorSpec([None, None], tf.int32, name=SOURCE_IDS)]
        state_specs = [tf.TensorSpec([None, latent], tf.float32, name=n) for n in (STATE_H, STATE_C)]
        if attention is not None:
            state_specs += [tf.TensorSpec([None, None, latent], tf.float32, name=MEMORY_KEYS),
                            tf.TensorSpec([None, None, latent], tf.float32, name=MEMORY_VALUES),
                            tf.TensorSpec([None, None], tf.float32, name=MEMORY_MASK)]
        self.step_signature = [tf.TensorSpec([None], tf.int32, name=TOKEN_IDS), *state_specs]

        @tf.function(input_signature=self.encoder_signature)
        def encode(source_ids):
            x = tf.one_hot(source_ids, self.num_source_tokens)
            memory, h, c = found.encode(x)
            if attention is None:
                return {STATE_H: h, STATE_C: c}
            keys, values = attention.keys_values(memory)
            return {STATE_H: h, STATE_C: c, MEMORY_KEYS: keys, MEMORY_VALUES: values,
                    MEMORY_MASK: found.source_mask(source_ids)}

        def step(token_ids, state_h, state_c, context=()):
            x = tf.one_hot(token_ids, self.num_target_tokens)
            h, (_, c) = decoder_lstm.cell(x, [state_h, state_c])
            out = h if attention is None else attention.attend(h[:, None, :], *context)[:, 0]
            logits = tf.matmul(out, dense.kernel) + dense.bias
            return {LOGITS: logits, NEXT_STATE_H: h, NEXT_STATE_C: c}

        if attention is None:
            step_fn = tf.function(step, input_signature=self.step_signature)
        else:
            step_fn = tf.function(lambda token_ids, state_h, state_c, keys, values, mask:
                                  step(token_ids, state_h, state_c, (keys, values, mask)),
                                  input_signature=self.step_signature)
        super().__init__(encode, step_fn, family.name)


def step_translator(model: keras.Model, spec: ModelSpec, **options) -> Translator:
    """A Translator whose steps run on `model` (float32, the run's layers) with `spec`'s vocabularies."""
    return Translator.from_step_model(InferenceFunctions(model), spec, **options)


def keras_translator(
    run: str | Path, *, max_batch_size: int = 64, on_unknown: str = "error", on_overflow: str = "error"
) -> Translator:
    """A Translator whose steps run on the run's Keras model."""
    trained = open_run(run)
    return step_translator(trained.model, trained.spec, max_batch_size=max_batch_size,
                           on_unknown=on_unknown, on_overflow=on_overflow)

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
    FAMILIES, LOGITS, MEMORY_KEYS, MEMORY_MASK, MEMORY_VALUES, NEXT_STATE_C, NEXT_STATE_H, SEED, SOURCE_IDS,
    STATE_C, STATE_H, TOKEN_IDS, Family, next_name,
)
from runtime.translator import ModelSpec, Translator

from .model import model_layers, open_run


def input_signatures(family: Family, latent: int, time: int | None = None,
                     batch: int | None = None) -> tuple[list, list]:
    """The encoder's and the step's tf.function input signatures of `family`, named as the bundle
    names its graph inputs (`runtime.bundle.FAMILIES`): source ids [batch, time]; token ids [batch],
    then each state [batch, latent] and the context (the attention family's memory keys and values
    [batch, time, latent], its mask [batch, time]). `time` None leaves the source length dynamic,
    `batch` None the batch."""
    shapes = {MEMORY_KEYS: [batch, time, latent], MEMORY_VALUES: [batch, time, latent], MEMORY_MASK: [batch, time]}
    step = [tf.TensorSpec([batch], tf.int32, name=TOKEN_IDS)]
    step += [tf.TensorSpec(shapes.get(name, [batch, latent]), tf.float32, name=name)
             for name in family.state + family.context]
    return [tf.TensorSpec([batch, time], tf.int32, name=SOURCE_IDS)], step


def step_function(step, signature: list) -> tf.function:
    """`step(token_ids, inputs)`, `inputs` a dict of the state and context by name, as a tf.function
    of the step's `signature` (`input_signatures`), one positional input per entry."""
    names = [spec.name for spec in signature[1:]]
    return tf.function(lambda token_ids, *tensors: step(token_ids, dict(zip(names, tensors))),
                       input_signature=signature)


class FunctionStepModel:
    """An encode and a step tf.function whose inputs and outputs are keyed by the bundle's graph
    names of `family` (`runtime.bundle.FAMILIES`), as a `runtime.decoding.StepModel` (numpy in,
    numpy out), so the runtime's loops can drive them."""

    def __init__(self, encode_fn, step_fn, family: Family = SEED) -> None:
        self.encode_fn, self.step_fn = encode_fn, step_fn
        self.family = family

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
        family = FAMILIES[found.architecture]
        self.encoder_signature, self.step_signature = input_signatures(family, self.latent_dim)

        @tf.function(input_signature=self.encoder_signature)
        def encode(source_ids):
            return found.encode(source_ids)

        def step(token_ids, inputs):
            x = tf.one_hot(token_ids, self.num_target_tokens)
            h, (_, c) = decoder_lstm.cell(x, [inputs[STATE_H], inputs[STATE_C]])
            out = h
            if attention is not None:
                out = attention.attend(h[:, None, :], *(inputs[name] for name in family.context))[:, 0]
            logits = tf.matmul(out, dense.kernel) + dense.bias
            return {LOGITS: logits, NEXT_STATE_H: h, NEXT_STATE_C: c}

        super().__init__(encode, step_function(step, self.step_signature), family)


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

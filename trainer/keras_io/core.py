"""What every reader of the script's saved models shares: the weights it finds (`KerasIoModel`), the
script's structure checked in a Keras 2 model configuration (`structure_of`), and the recurrent
activation each Keras version meant (`recurrent_gates`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from runtime.errors import S2SError


class KerasIoError(S2SError, ValueError):
    """A model or its data is not what the keras.io script saves."""


@dataclass(frozen=True)
class LSTMWeights:
    kernel: np.ndarray  # [input width, 4 * latent], gates i, f, c, o
    recurrent_kernel: np.ndarray  # [latent, 4 * latent]
    bias: np.ndarray  # [4 * latent]
    recurrent_activation: str  # a trainer.spec name: sigmoid, hard_sigmoid or hard_sigmoid_keras2


@dataclass(frozen=True)
class KerasIoModel:
    """What the script's model holds, whichever version saved it."""

    encoder: LSTMWeights
    decoder: LSTMWeights
    dense_kernel: np.ndarray  # [latent, decoder tokens]
    dense_bias: np.ndarray
    source: str  # a description for run.json: the format and the Keras version that saved it
    kind: str  # "keras", "savedmodel" or "h5"

    @property
    def num_encoder_tokens(self) -> int:
        return self.encoder.kernel.shape[0]

    @property
    def num_decoder_tokens(self) -> int:
        return self.decoder.kernel.shape[0]

    @property
    def latent_dim(self) -> int:
        return self.encoder.recurrent_kernel.shape[0]


def found_layers(layers) -> str:
    return ", ".join(f"{type(layer).__name__}" for layer in layers) or "no layers"


def json_objects(text: str):
    """The JSON objects embedded in `text` (the metadata strings of a serialized protobuf)."""
    decoder = json.JSONDecoder()
    i = text.find('{"')
    while i >= 0:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find('{"', i + 1)
            continue
        yield obj
        i = text.find('{"', end)


@dataclass(frozen=True)
class Structure:
    """The script's three layers in a Keras 2 model configuration (their JSON), found by structure."""

    encoder: dict
    decoder: dict
    dense: dict
    widths: dict  # layer name ("encoder" and "decoder" for a pair) -> the width of its one-hot input
    pair: bool = False  # the script's inference pair rather than its training model

    def width(self, layer: dict) -> int:
        if self.pair:
            return self.widths["encoder" if layer is self.encoder else "decoder"]
        return self.widths[layer["name"]]


def structure_of(root: dict, path: Path) -> Structure:
    """The encoder LSTM, decoder LSTM and Dense layer of a Keras 2 functional model's configuration
    (`keras_metadata.pb`'s or an HDF5 file's `model_config`), checked to be the script's model."""
    layers = root["config"].get("layers", [])
    kinds = sorted(layer.get("class_name") for layer in layers)
    if kinds == ENCODER_HALF:
        raise KerasIoError(f"{path} is the script's inference encoder (encoder_model): give it with its decoder, "
                           "--model ENCODER --decoder-model DECODER")
    if kinds == DECODER_HALF:
        raise KerasIoError(f"{path} is the script's inference decoder (decoder_model): give it with its encoder, "
                           "--model ENCODER --decoder-model DECODER")
    if kinds != sorted(["InputLayer", "InputLayer", "LSTM", "LSTM", "Dense"]):
        raise KerasIoError(
            f"{path} is not the keras.io lstm_seq2seq model: expected two one-hot inputs, two LSTMs and a "
            f"Dense layer, found {', '.join(kinds) or 'no layers'}")
    by_name = {layer["name"]: layer for layer in layers}

    lstms = [layer for layer in layers if layer["class_name"] == "LSTM"]
    encoder = next((la for la in lstms if not la["config"].get("return_sequences")), None)
    decoder = next((la for la in lstms if la["config"].get("return_sequences")), None)
    (dense,) = [layer for layer in layers if layer["class_name"] == "Dense"]
    if encoder is None or decoder is None or encoder["name"] not in inbound(decoder) \
            or inbound(dense) != [decoder["name"]]:
        raise KerasIoError(f"{path}: expected an encoder LSTM whose states start a decoder LSTM that feeds the "
                           "Dense layer")
    widths = {layer["name"]: one_hot_width(layer, by_name, path) for layer in (encoder, decoder)}
    return checked(Structure(encoder, decoder, dense, widths), path)


def pair_structure(encoder_root: dict, decoder_root: dict, encoder_path: Path, decoder_path: Path) -> Structure:
    """The layers of the script's inference pair: `encoder_model` (one-hot input -> the LSTM's [h, c])
    and `decoder_model` ([one-hot input, h, c] -> [probabilities, h, c])."""
    halves = []
    for root, path, kinds, name in ((encoder_root, encoder_path, ENCODER_HALF, "encoder_model: a one-hot input "
                                     "and an LSTM"),
                                    (decoder_root, decoder_path, DECODER_HALF, "decoder_model: a one-hot input, "
                                     "two state inputs, an LSTM and a Dense layer")):
        layers = root["config"].get("layers", [])
        found = sorted(layer.get("class_name") for layer in layers)
        if found != kinds:
            raise KerasIoError(f"{path} is not the script's {name}; found {', '.join(found) or 'no layers'}")
        halves.append({layer["name"]: layer for layer in layers})
    (encoder,) = [la for la in halves[0].values() if la["class_name"] == "LSTM"]
    (decoder,) = [la for la in halves[1].values() if la["class_name"] == "LSTM"]
    (dense,) = [la for la in halves[1].values() if la["class_name"] == "Dense"]
    if encoder["config"].get("return_sequences") or not encoder["config"].get("return_state") \
            or not decoder["config"].get("return_sequences") or inbound(dense) != [decoder["name"]]:
        raise KerasIoError(f"{encoder_path}, {decoder_path}: expected an encoder LSTM that returns its states and a "
                           "decoder LSTM whose sequence feeds the Dense layer")
    widths = {id(encoder): one_hot_width(encoder, halves[0], encoder_path),
              id(decoder): one_hot_width(decoder, halves[1], decoder_path)}
    return checked(Structure(encoder, decoder, dense, {"encoder": widths[id(encoder)],
                                                       "decoder": widths[id(decoder)]}, pair=True), decoder_path)


ENCODER_HALF = sorted(["InputLayer", "LSTM"])
DECODER_HALF = sorted(["InputLayer", "InputLayer", "InputLayer", "LSTM", "Dense"])


def inbound(layer: dict) -> list[str]:
    nodes = layer.get("inbound_nodes") or [[]]
    return [entry[0] for entry in nodes[0]]


def one_hot_width(layer: dict, by_name: dict, path: Path) -> int:
    """The width of the one-hot input [batch, time, tokens] that feeds `layer`."""
    shapes = []
    for name in inbound(layer):
        if by_name.get(name, {}).get("class_name") == "InputLayer":
            shape = by_name[name]["config"].get("batch_input_shape")
            shapes.append(shape.get("items") if isinstance(shape, dict) else shape)
    wide = [shape for shape in shapes if shape and len(shape) == 3]
    if len(wide) != 1:
        raise KerasIoError(f"{path}: expected one one-hot input [batch, time, tokens] into {layer['name']}, found "
                           f"inputs of shapes {shapes}")
    return int(wide[0][-1])


def checked(structure: Structure, path: Path) -> Structure:
    """`structure`, its activations checked to be the script's."""
    encoder, decoder, dense = structure.encoder, structure.decoder, structure.dense
    for layer in (encoder, decoder):
        config = layer["config"]
        if activation_name(config.get("activation")) != "tanh" or not config.get("use_bias", True):
            raise KerasIoError(f"{path}: an LSTM with activation {activation_name(config.get('activation'))} or no bias is "
                               "not the script's")
    if activation_name(dense["config"].get("activation")) != "softmax":
        raise KerasIoError(f"{path}: the Dense layer's activation is {activation_name(dense['config'].get('activation'))}, "
                           "expected softmax")
    return structure


def activation_name(activation) -> str | None:
    """An activation's name in a Keras 2 configuration: a string, or a serialized function."""
    if isinstance(activation, dict):
        config = activation.get("config")
        return config if isinstance(config, str) else activation.get("class_name")
    return activation


def recurrent_gates(activation, keras_version: str, path: Path) -> str:
    """The `trainer.spec` name of an LSTM's recurrent activation in a model saved by `keras_version`:
    hard_sigmoid means Keras 2's clip(0.2 x + 0.5, 0, 1) in a file Keras 2 wrote, and Keras 3's
    clip(x / 6 + 0.5, 0, 1) in one Keras 3 wrote."""
    name = activation_name(activation)
    if name == "sigmoid":
        return name
    if name == "hard_sigmoid":
        major = keras_version.split(".")[0]
        if not major.isdigit():
            raise KerasIoError(f"{path} does not say which Keras wrote it (keras_version {keras_version!r}), and "
                               "hard_sigmoid differs between Keras 2 and 3")
        return "hard_sigmoid_keras2" if int(major) < 3 else "hard_sigmoid"
    raise KerasIoError(f"{path}: an LSTM with recurrent activation {name} (the script's LSTMs use sigmoid, or "
                       "hard_sigmoid before Keras 2.3)")


def assemble(structure: Structure, weights: Callable[[dict], list[np.ndarray]], keras_version: str,
              path: Path, kind: str, source: str) -> KerasIoModel:
    """The model of a Keras 2 configuration whose layers' weights `weights` reads, checked against
    the configuration's sizes."""
    def lstm(layer) -> LSTMWeights:
        arrays = weights(layer)
        units = int(layer["config"]["units"])
        if len(arrays) != 3 or arrays[0].shape != (structure.width(layer), 4 * units) \
                or arrays[1].shape != (units, 4 * units) or arrays[2].shape != (4 * units,):
            raise KerasIoError(f"{path}: the weights of {layer['name']} do not have the shapes of its configuration")
        return LSTMWeights(*arrays, recurrent_gates(layer["config"].get("recurrent_activation"), keras_version, path))

    enc, dec = lstm(structure.encoder), lstm(structure.decoder)
    dense = weights(structure.dense)
    if len(dense) != 2 or enc.recurrent_kernel.shape != dec.recurrent_kernel.shape or dense[0].shape != (
            dec.recurrent_kernel.shape[0], dec.kernel.shape[0]) or dense[1].shape != (dec.kernel.shape[0],):
        raise KerasIoError(f"{path}: the encoder, decoder and Dense sizes do not fit together")
    return KerasIoModel(enc, dec, dense[0], dense[1], source=source, kind=kind)


def attr_text(value) -> str:
    """An HDF5 attribute as text (h5py gives bytes for files written by old versions)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def major_version(version: str) -> int | None:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None

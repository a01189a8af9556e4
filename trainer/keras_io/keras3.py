"""Keras 3 files of the script's model: `s2s_model.keras` (the keras.io script, 2023 on), or an `.h5`
that Keras 3 wrote; loaded by Keras 3 itself in safe mode, the layers found by structure."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras
import numpy as np

from .core import KerasIoError, KerasIoModel, LSTMWeights, found_layers, recurrent_gates


def read_keras3(path: Path, saved_as: str = ".keras", version: str | None = None) -> KerasIoModel:
    """The weights of a Keras 3 `.keras` file of the script's model (or of an `.h5` file Keras 3
    wrote, `saved_as="HDF5"`), found by structure."""
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a file it cannot read
        raise KerasIoError(f"cannot load {path} with Keras {keras.__version__}: {str(exc).splitlines()[0]}") from None
    kinds = [type(layer).__name__ for layer in model.layers]
    expected = ["InputLayer", "InputLayer", "LSTM", "LSTM", "Dense"]
    if sorted(kinds) != sorted(expected):
        raise KerasIoError(
            f"{path} is not the keras.io lstm_seq2seq model: expected two one-hot inputs, two LSTMs and a "
            f"Dense layer, found {found_layers(model.layers)}"
        )
    if len(model.inputs) != 2 or any(len(x.shape) != 3 for x in model.inputs):
        raise KerasIoError(f"{path}: expected two one-hot inputs [batch, time, tokens], found inputs of shapes "
                           f"{[tuple(x.shape) for x in model.inputs]}")
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    # The encoder keeps only its final state; the decoder returns its whole sequence.
    encoder = next((layer for layer in lstms if not layer.return_sequences and layer.return_state), None)
    decoder = next((layer for layer in lstms if layer.return_sequences), None)
    (dense,) = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if encoder is None or decoder is None or encoder is decoder:
        raise KerasIoError(f"{path}: expected an encoder LSTM that returns its state only and a decoder LSTM "
                           "that returns sequences")
    widths = [int(x.shape[-1]) for x in model.inputs]
    enc_width, dec_width = encoder.cell.kernel.shape[0], decoder.cell.kernel.shape[0]
    if sorted(widths) != sorted([enc_width, dec_width]) or dense.kernel.shape[1] != dec_width:
        raise KerasIoError(f"{path}: input widths {widths} do not match the LSTMs ({enc_width}, {dec_width}) "
                           f"and the Dense layer ({dense.kernel.shape[1]})")
    if encoder.units != decoder.units:
        raise KerasIoError(f"{path}: the encoder has {encoder.units} units and the decoder {decoder.units}")
    if dense.activation.__name__ != "softmax":
        raise KerasIoError(f"{path}: the Dense layer's activation is {dense.activation.__name__}, expected softmax")

    def lstm(layer) -> LSTMWeights:
        if layer.activation.__name__ != "tanh" or not layer.use_bias:
            raise KerasIoError(f"{path}: an LSTM with activation {layer.activation.__name__} or no bias is not "
                               "the script's")
        cell = layer.cell
        return LSTMWeights(np.asarray(cell.kernel), np.asarray(cell.recurrent_kernel), np.asarray(cell.bias),
                           recurrent_gates(layer.recurrent_activation.__name__, version, path))

    version = version or _saved_keras_version(path) or keras.__version__
    return KerasIoModel(lstm(encoder), lstm(decoder), np.asarray(dense.kernel), np.asarray(dense.bias),
                        source=f"keras {version} ({saved_as})", kind="keras")


def _saved_keras_version(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("metadata.json")).get("keras_version")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None

"""HDF5 files of the script's model: Keras 2's `model.save("s2s.h5")` (the 2017 example, and tf.keras
2 runs of the keras.io script), read with h5py; an `.h5` that Keras 3 wrote goes to Keras 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from .core import KerasIoError, KerasIoModel, assemble, attr_text, major_version, structure_of
from .keras3 import read_keras3


def read_h5(path: Path) -> KerasIoModel:
    """The weights of an HDF5 file of the script's model. Keras 2's `model.save("s2s.h5")` (the 2017
    example's format): the architecture from its `model_config`, each layer's weights from
    `model_weights/<layer>` in the order its `weight_names` gives. An `.h5` that Keras 3 wrote (the
    keras.io Keras 3 script saved that way) is read by Keras 3, as a `.keras` file is."""
    parts = h5_parts(path)
    if parts is None:
        return read_keras3(path, saved_as="HDF5", version=h5_version(path))
    root, weights, version = parts
    return assemble(structure_of(root, path), weights, version, path, "h5", source=f"keras {version} (HDF5)")


def h5_version(path: Path) -> str:
    with _open(path) as f:
        return attr_text(f.attrs.get("keras_version", "unknown"))


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise KerasIoError(f"cannot read {path} as HDF5: {exc}") from None


def h5_parts(path: Path) -> tuple[dict, Callable[[dict], list[np.ndarray]], str] | None:
    """The model configuration of a Keras 2 HDF5 file, a function that reads a layer's weights, and
    the Keras version that wrote it; None for a file that Keras 3 wrote."""
    with _open(path) as f:
        if "model_config" not in f.attrs:
            raise KerasIoError(f"{path} holds weights only (no model_config): save the whole model with model.save")
        version = attr_text(f.attrs.get("keras_version", "unknown"))
        if (major_version(version) or 0) >= 3:
            return None
        try:
            root = json.loads(attr_text(f.attrs["model_config"]))
        except ValueError as exc:
            raise KerasIoError(f"{path}: its model_config is not JSON: {exc}") from None
        if not isinstance(root, dict) or root.get("class_name") not in ("Functional", "Model"):
            raise KerasIoError(f"{path} is not a functional Keras model (the script's model is one)")
        arrays = {}
        group = f["model_weights"] if "model_weights" in f else f
        for name in group:
            if isinstance(group[name], h5py.Group):
                arrays[name] = [np.asarray(group[name][attr_text(w)], dtype=np.float32)
                                for w in group[name].attrs.get("weight_names", [])]

    def weights(layer) -> list[np.ndarray]:
        if layer["name"] not in arrays:
            raise KerasIoError(f"{path}: no weights for layer {layer['name']}")
        return arrays[layer["name"]]

    return root, weights, version

"""HDF5 files of the script's model: Keras 2's `model.save("s2s.h5")` (the 2017 example, and tf.keras
2 runs of the keras.io script), read with h5py; an `.h5` that Keras 3 wrote goes to Keras 3."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from .core import KerasIoError, KerasIoModel, assemble, attr_text, major_version, structure_of
from .keras3 import read_keras3


def read_h5(path: Path) -> KerasIoModel:
    """The weights of an HDF5 file of the script's model. Keras 2's `model.save("s2s.h5")` (the 2017
    example's format): the architecture from its `model_config`, each layer's weights from
    `model_weights/<layer>` in the order its `weight_names` gives. An `.h5` that Keras 3 wrote (the
    keras.io Keras 3 script saved that way) is read by Keras 3, as a `.keras` file is."""
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise KerasIoError(f"cannot read {path} as HDF5: {exc}") from None
    with f:
        if "model_config" not in f.attrs:
            raise KerasIoError(f"{path} holds weights only (no model_config): save the whole model with model.save")
        version = attr_text(f.attrs.get("keras_version", "unknown"))
        if (major_version(version) or 0) < 3:
            try:
                root = json.loads(attr_text(f.attrs["model_config"]))
            except ValueError as exc:
                raise KerasIoError(f"{path}: its model_config is not JSON: {exc}") from None
            if not isinstance(root, dict) or root.get("class_name") not in ("Functional", "Model"):
                raise KerasIoError(f"{path} is not a functional Keras model (the script's model is one)")
            group = f["model_weights"] if "model_weights" in f else f

            def weights(layer) -> list[np.ndarray]:
                name = layer["name"]
                if name not in group:
                    raise KerasIoError(f"{path}: no weights for layer {name}")
                return [np.asarray(group[name][attr_text(w)], dtype=np.float32)
                        for w in group[name].attrs.get("weight_names", [])]

            return assemble(structure_of(root, path), weights, version, path, "h5",
                             source=f"keras {version} (HDF5)")
    return read_keras3(path, saved_as="HDF5", version=version)

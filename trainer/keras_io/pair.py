"""The script's inference pair, saved instead of (or beside) its training model: `encoder_model`
(one-hot input -> [h, c]) and `decoder_model` ([one-hot input, h, c] -> [probabilities, h, c]), as
two Keras 2 HDF5 files or two SavedModels, read with the same layout readers as the training model."""

from __future__ import annotations

from pathlib import Path

from .core import KerasIoError, KerasIoModel, assemble, pair_structure
from .h5 import h5_parts
from .savedmodel import savedmodel_parts


def _parts(path: Path):
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return savedmodel_parts(path), "SavedModel", "savedmodel"
    if path.is_file() and path.suffix in (".h5", ".hdf5"):
        parts = h5_parts(path)
        if parts is None:
            raise KerasIoError(f"{path} was written by Keras 3: the inference pair is read from Keras 2 files "
                               "(HDF5 or SavedModel); import the training model (s2s_model.keras) instead")
        return parts, "HDF5", "h5"
    if not path.exists():
        raise KerasIoError(f"model not found: {path}")
    raise KerasIoError(f"{path} is neither a Keras 2 HDF5 file nor a SavedModel directory: the inference pair is "
                       "read from encoder_model.h5 and decoder_model.h5, or from two SavedModel directories")


def read_pair(encoder_path: Path, decoder_path: Path) -> KerasIoModel:
    """The weights of the script's inference pair, found by structure."""
    (encoder_root, encoder_weights, version), saved_as, kind = _parts(encoder_path)
    (decoder_root, decoder_weights, _), decoder_saved_as, _ = _parts(decoder_path)
    if decoder_saved_as != saved_as:
        raise KerasIoError(f"{encoder_path} is {saved_as} and {decoder_path} {decoder_saved_as}: give the two "
                           "halves the script saved together")
    structure = pair_structure(encoder_root, decoder_root, encoder_path, decoder_path)

    def weights(layer: dict):
        return (encoder_weights if layer is structure.encoder else decoder_weights)(layer)

    return assemble(structure, weights, version, decoder_path, kind,
                    source=f"tf.keras {version} (inference pair, {saved_as})")

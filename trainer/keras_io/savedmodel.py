"""TensorFlow SavedModels of the script's model, written by tf.keras 2's `model.save("s2s")`, read
without tf.keras 2: the architecture from the Keras metadata, the weights from the SavedModel's own
checkpoint (`variables/`), found through the checkpoint's object graph. The metadata is
`keras_metadata.pb` from tf.keras 2.5 on; before, the same JSON strings were the `metadata` of the
object graph's user objects inside `saved_model.pb` (the root object's is the model's)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError
from tensorflow.core.protobuf import saved_model_pb2, trackable_object_graph_pb2

from .core import KerasIoError, KerasIoModel, assemble, json_objects, structure_of


def read_savedmodel(path: Path) -> KerasIoModel:
    """The weights of a tf.keras 2 SavedModel of the script's model, without tf.keras 2: the
    architecture from its Keras metadata, the weights from the SavedModel's checkpoint."""
    root, weights, version = savedmodel_parts(path)
    return assemble(structure_of(root, path), weights, version, path, "savedmodel",
                    source=f"tf.keras {version} (SavedModel)")


def savedmodel_parts(path: Path) -> tuple[dict, Callable[[dict], list[np.ndarray]], str]:
    """The model configuration of a tf.keras 2 SavedModel, a function that reads a layer's weights,
    and the Keras version that wrote it."""
    metadata = path / "keras_metadata.pb"
    if metadata.is_file():
        texts = [metadata.read_bytes().decode("utf-8", "replace")]
    else:
        metadata = path / "saved_model.pb"
        texts = _object_graph_metadata(metadata)
    root = next((o for text in texts for o in json_objects(text)
                 if o.get("class_name") in ("Functional", "Model") and "config" in o), None)
    if root is None:
        raise KerasIoError(f"{metadata} holds no functional Keras model description: the SavedModel was not "
                           "written by tf.keras's model.save (tf.saved_model.save keeps no Keras structure); save "
                           "the model with model.save")
    version = str(root.get("keras_version", "unknown"))
    layers = root["config"]["layers"]

    # Each layer's weights through the checkpoint's object graph: the layers that have weights are
    # "layer_with_weights-N" in the order of the model's layers.
    prefix = path / "variables" / "variables"
    try:
        reader = tf.train.load_checkpoint(str(prefix))
        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    except Exception as exc:  # TensorFlow raises its own types for a missing or corrupt checkpoint
        raise KerasIoError(f"cannot read the SavedModel's weights in {prefix}: {str(exc).splitlines()[0]}") from None
    weighted = [layer["name"] for layer in layers if layer["class_name"] in ("LSTM", "Dense")]

    def tensor(*path_names: str) -> np.ndarray:
        node = 0
        for name in path_names:
            node = next((c.node_id for c in graph.nodes[node].children if c.local_name == name), None)
            if node is None:
                raise KerasIoError(f"{prefix}: no {'/'.join(path_names)} in the checkpoint")
        key = next((a.checkpoint_key for a in graph.nodes[node].attributes if a.name == "VARIABLE_VALUE"), None)
        if key is None:
            raise KerasIoError(f"{prefix}: {'/'.join(path_names)} is not a variable")
        return np.asarray(reader.get_tensor(key), dtype=np.float32)

    def weights(layer) -> list[np.ndarray]:
        node = f"layer_with_weights-{weighted.index(layer['name'])}"
        if layer["class_name"] == "Dense":
            return [tensor(node, "kernel"), tensor(node, "bias")]
        return [tensor(node, "cell", "kernel"), tensor(node, "cell", "recurrent_kernel"), tensor(node, "cell", "bias")]

    return root, weights, version


def _object_graph_metadata(path: Path) -> list[str]:
    """The Keras metadata strings of a SavedModel's object graph (tf.keras 2.4 and earlier)."""
    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString(path.read_bytes())
    except (OSError, DecodeError) as exc:
        raise KerasIoError(f"cannot read {path} as a SavedModel: {exc}") from None
    return [node.user_object.metadata for graph in saved.meta_graphs for node in graph.object_graph_def.nodes
            if node.HasField("user_object") and node.user_object.metadata]

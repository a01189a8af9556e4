"""TensorFlow SavedModels of the script's model, written by tf.keras 2's `model.save("s2s")`, read
without tf.keras 2: the architecture from the Keras metadata, the weights from the SavedModel's own
checkpoint (`variables/`), found through the checkpoint's object graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from .core import KerasIoError, KerasIoModel, assemble, json_objects, structure_of


def read_savedmodel(path: Path) -> KerasIoModel:
    """The weights of a tf.keras 2 SavedModel of the script's model, without tf.keras 2: the
    architecture from `keras_metadata.pb`, the weights from the SavedModel's checkpoint."""
    metadata = path / "keras_metadata.pb"
    if not metadata.is_file():
        raise KerasIoError(f"{path} is a SavedModel without keras_metadata.pb: not saved by tf.keras's model.save")
    root = next((o for o in json_objects(metadata.read_bytes().decode("utf-8", "replace"))
                 if o.get("class_name") in ("Functional", "Model") and "config" in o), None)
    if root is None:
        raise KerasIoError(f"{metadata} holds no functional model description")
    structure = structure_of(root, path)
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

    return assemble(structure, weights, version, path, "savedmodel",
                     source=f"tf.keras {version} (SavedModel)")

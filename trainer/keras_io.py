"""Models trained by the keras.io script ("Character-level recurrent sequence-to-sequence model",
examples/nlp/lstm_seq2seq.py), read into an ordinary run directory.

The script's model: two one-hot inputs [batch, time, tokens] (encoder, decoder), an encoder LSTM
that keeps only its final [h, c], a decoder LSTM started from them, a Dense softmax. Its layers are
unnamed, so they are found by the model's structure. Its vocabularies are not saved with the model:
they are the sorted character sets of the first `num_samples` lines of the data file, rebuilt here
exactly as the script built them (or read from vocabulary files, as the Hugging Face Hub repo
`keras-io/char-lstm-seq2seq` ships them).

The weights go into the seed's own Keras model (`trainer.model.build_training_model`, whose LSTM
and Dense weights have the script's shapes), so every command downstream (export, evaluate,
decode, qat) takes the imported run unchanged.

Read here:
- the Keras 3 version (keras.io, 2023 on): `s2s_model.keras`, loaded by Keras 3;
- the tf.keras 2 version (keras.io, 2020-2023, and the Hub repo): a TensorFlow SavedModel directory
  (`s2s/`). Keras 3 cannot load it as a model, so its architecture comes from `keras_metadata.pb` and its
  weights from the SavedModel's own checkpoint (`variables/`), found through the checkpoint's object graph;
- the 2017 Keras example: `s2s.h5`, read with h5py (its `model_config` and `model_weights/`).

The keras.io versions pad with spaces, the 2017 example with all-zero one-hot rows (`padding`,
`runtime.vocab`). Their LSTMs use sigmoid gates, or before Keras 2.3 hard_sigmoid, whose definition
depends on the Keras version that wrote the file (`_gates`).
"""

from __future__ import annotations

import json
import random
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import h5py
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from runtime.errors import S2SError
from runtime.vocab import END, PAD, PADDINGS, START, Vocabulary

from .data import LANGUAGES, Pair
from .fileio import atomic_write_json, replace_dir, replaceable, staging_dir
from .model import build_training_model, model_layers
from .run import (HELDOUT_TSV, MODEL_FILE, RUN_JSON, TRAIN_SAMPLE_TSV, RunError, RunInfo, check_languages,
                  write_pairs)
from .settings import Settings

# The script's settings, which decide its vocabularies and its validation split.
NUM_SAMPLES = 10_000
VALIDATION_SPLIT = 0.2
TRAIN_SAMPLE = 1_000
VOCAB_FILES = ("input_vocab.json", "target_vocab.json")  # the Hub repo's names


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


def _found(layers) -> str:
    return ", ".join(f"{type(layer).__name__}" for layer in layers) or "no layers"


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
            f"Dense layer, found {_found(model.layers)}"
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
                           _gates(layer.recurrent_activation.__name__, version, path))

    version = version or _saved_keras_version(path) or keras.__version__
    return KerasIoModel(lstm(encoder), lstm(decoder), np.asarray(dense.kernel), np.asarray(dense.bias),
                        source=f"keras {version} ({saved_as})", kind="keras")


def _saved_keras_version(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("metadata.json")).get("keras_version")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def _json_objects(text: str):
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
class _Structure:
    """The script's three layers in a Keras 2 model configuration (their JSON), found by structure."""

    encoder: dict
    decoder: dict
    dense: dict
    widths: dict  # layer name -> the width of its one-hot input


def _structure(root: dict, path: Path) -> _Structure:
    """The encoder LSTM, decoder LSTM and Dense layer of a Keras 2 functional model's configuration
    (`keras_metadata.pb`'s or an HDF5 file's `model_config`), checked to be the script's model."""
    layers = root["config"].get("layers", [])
    kinds = [layer.get("class_name") for layer in layers]
    if sorted(kinds) != sorted(["InputLayer", "InputLayer", "LSTM", "LSTM", "Dense"]):
        raise KerasIoError(
            f"{path} is not the keras.io lstm_seq2seq model: expected two one-hot inputs, two LSTMs and a "
            f"Dense layer, found {', '.join(kinds) or 'no layers'}")
    by_name = {layer["name"]: layer for layer in layers}

    def inbound(layer) -> list[str]:
        nodes = layer.get("inbound_nodes") or [[]]
        return [entry[0] for entry in nodes[0]]

    lstms = [layer for layer in layers if layer["class_name"] == "LSTM"]
    encoder = next((la for la in lstms if not la["config"].get("return_sequences")), None)
    decoder = next((la for la in lstms if la["config"].get("return_sequences")), None)
    (dense,) = [layer for layer in layers if layer["class_name"] == "Dense"]
    if encoder is None or decoder is None or encoder["name"] not in inbound(decoder) \
            or inbound(dense) != [decoder["name"]]:
        raise KerasIoError(f"{path}: expected an encoder LSTM whose states start a decoder LSTM that feeds the "
                           "Dense layer")
    widths = {}
    for layer in (encoder, decoder):
        (source,) = [name for name in inbound(layer) if by_name[name]["class_name"] == "InputLayer"]
        shape = by_name[source]["config"].get("batch_input_shape")
        shape = shape.get("items") if isinstance(shape, dict) else shape
        if not shape or len(shape) != 3:
            raise KerasIoError(f"{path}: expected one-hot inputs [batch, time, tokens], found {shape}")
        widths[layer["name"]] = int(shape[-1])
    for layer in (encoder, decoder):
        config = layer["config"]
        if _name(config.get("activation")) != "tanh" or not config.get("use_bias", True):
            raise KerasIoError(f"{path}: an LSTM with activation {_name(config.get('activation'))} or no bias is "
                               "not the script's")
    if _name(dense["config"].get("activation")) != "softmax":
        raise KerasIoError(f"{path}: the Dense layer's activation is {_name(dense['config'].get('activation'))}, "
                           "expected softmax")

    return _Structure(encoder, decoder, dense, widths)


def _name(activation) -> str | None:
    """An activation's name in a Keras 2 configuration: a string, or a serialized function."""
    if isinstance(activation, dict):
        config = activation.get("config")
        return config if isinstance(config, str) else activation.get("class_name")
    return activation


def _gates(activation, keras_version: str, path: Path) -> str:
    """The `trainer.spec` name of an LSTM's recurrent activation in a model saved by `keras_version`:
    hard_sigmoid means Keras 2's clip(0.2 x + 0.5, 0, 1) in a file Keras 2 wrote, and Keras 3's
    clip(x / 6 + 0.5, 0, 1) in one Keras 3 wrote."""
    name = _name(activation)
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


def read_savedmodel(path: Path) -> KerasIoModel:
    """The weights of a tf.keras 2 SavedModel of the script's model, without tf.keras 2: the
    architecture from `keras_metadata.pb`, the weights from the SavedModel's checkpoint."""
    metadata = path / "keras_metadata.pb"
    if not metadata.is_file():
        raise KerasIoError(f"{path} is a SavedModel without keras_metadata.pb: not saved by tf.keras's model.save")
    root = next((o for o in _json_objects(metadata.read_bytes().decode("utf-8", "replace"))
                 if o.get("class_name") in ("Functional", "Model") and "config" in o), None)
    if root is None:
        raise KerasIoError(f"{metadata} holds no functional model description")
    structure = _structure(root, path)
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

    return _assemble(structure, weights, version, path, "savedmodel",
                     source=f"tf.keras {version} (SavedModel)")


def _assemble(structure: _Structure, weights: Callable[[dict], list[np.ndarray]], keras_version: str,
              path: Path, kind: str, source: str) -> KerasIoModel:
    """The model of a Keras 2 configuration whose layers' weights `weights` reads, checked against
    the configuration's sizes."""
    def lstm(layer) -> LSTMWeights:
        arrays = weights(layer)
        units = int(layer["config"]["units"])
        if len(arrays) != 3 or arrays[0].shape != (structure.widths[layer["name"]], 4 * units) \
                or arrays[1].shape != (units, 4 * units) or arrays[2].shape != (4 * units,):
            raise KerasIoError(f"{path}: the weights of {layer['name']} do not have the shapes of its configuration")
        return LSTMWeights(*arrays, _gates(layer["config"].get("recurrent_activation"), keras_version, path))

    enc, dec = lstm(structure.encoder), lstm(structure.decoder)
    dense = weights(structure.dense)
    if len(dense) != 2 or enc.recurrent_kernel.shape != dec.recurrent_kernel.shape or dense[0].shape != (
            dec.recurrent_kernel.shape[0], dec.kernel.shape[0]) or dense[1].shape != (dec.kernel.shape[0],):
        raise KerasIoError(f"{path}: the encoder, decoder and Dense sizes do not fit together")
    return KerasIoModel(enc, dec, dense[0], dense[1], source=source, kind=kind)


def _text(value) -> str:
    """An HDF5 attribute as text (h5py gives bytes for files written by old versions)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _major(version: str) -> int | None:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


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
        version = _text(f.attrs.get("keras_version", "unknown"))
        if (_major(version) or 0) < 3:
            try:
                root = json.loads(_text(f.attrs["model_config"]))
            except ValueError as exc:
                raise KerasIoError(f"{path}: its model_config is not JSON: {exc}") from None
            if not isinstance(root, dict) or root.get("class_name") not in ("Functional", "Model"):
                raise KerasIoError(f"{path} is not a functional Keras model (the script's model is one)")
            group = f["model_weights"] if "model_weights" in f else f

            def weights(layer) -> list[np.ndarray]:
                name = layer["name"]
                if name not in group:
                    raise KerasIoError(f"{path}: no weights for layer {name}")
                return [np.asarray(group[name][_text(w)], dtype=np.float32)
                        for w in group[name].attrs.get("weight_names", [])]

            return _assemble(_structure(root, path), weights, version, path, "h5",
                             source=f"keras {version} (HDF5)")
    return read_keras3(path, saved_as="HDF5", version=version)


def read_model(path: str | Path) -> KerasIoModel:
    path = Path(path)
    if path.is_file() and path.suffix == ".keras":
        return read_keras3(path)
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return read_savedmodel(path)
    if path.is_file() and path.suffix in (".h5", ".hdf5"):
        return read_h5(path)
    if not path.exists():
        raise KerasIoError(f"model not found: {path}")
    raise KerasIoError(f"{path} is not a model the keras.io script saves (s2s_model.keras, an s2s/ SavedModel "
                       "directory, or the 2017 example's s2s.h5)")


@dataclass(frozen=True)
class ScriptData:
    """The pairs and vocabularies the script derived from its data file."""

    pairs: list[Pair]  # (English, French), in file order
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_source_length: int
    max_target_length: int  # START + French + END


@dataclass(frozen=True)
class DataLayout:
    """How the script split its data file into pairs. The keras.io script: tab-separated, English
    first, no header; variants seen in the field use another separator (`^`, a comma), a header line,
    or the columns the other way round. Each line is split as the scripts' `str.split(delimiter)` did
    (no CSV quoting)."""

    delimiter: str = "\t"
    header_lines: int = 0
    swap_columns: bool = False

    def __post_init__(self) -> None:
        if not self.delimiter or "\n" in self.delimiter:
            raise KerasIoError(f"the delimiter must be one or more characters other than a newline, got "
                               f"{self.delimiter!r}")
        if self.header_lines < 0:
            raise KerasIoError(f"header-lines must be 0 or more, got {self.header_lines}")

    def to_json(self) -> dict:
        return {"delimiter": self.delimiter, "header_lines": self.header_lines, "swap_columns": self.swap_columns}


def script_data(data: str | Path, num_samples: int = NUM_SAMPLES, layout: DataLayout = DataLayout()) -> ScriptData:
    """The first `num_samples` lines of `data` (after `layout.header_lines`) read as the script read them:
    the source and the target are the first two fields split by `layout.delimiter` (the target first
    with `layout.swap_columns`); the target is START + text + END; the vocabularies are the sorted
    character sets."""
    data = Path(data)
    if not data.is_file():
        raise KerasIoError(f"data file not found: {data}")
    try:
        lines = data.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise KerasIoError(f"{data} is not UTF-8 text ({exc.reason} at byte {exc.start}), which the script reads")
    if num_samples < 1:
        raise KerasIoError(f"num-samples must be at least 1, got {num_samples}")
    header = layout.header_lines
    lines = lines[header:]
    pairs = []
    source_column, target_column = (1, 0) if layout.swap_columns else (0, 1)
    for number, line in enumerate(lines[: min(num_samples, len(lines) - 1)], start=header + 1):
        fields = line.split(layout.delimiter)
        if len(fields) < 2:
            shown = "TAB" if layout.delimiter == "\t" else repr(layout.delimiter)
            raise KerasIoError(f"{data}, line {number}: expected two fields separated by {shown}, as the script "
                               "reads it: give the script's --delimiter, or --header-lines for a header")
        pairs.append((fields[source_column], fields[target_column]))
    if not pairs:
        raise KerasIoError(f"{data} holds no lines to rebuild the vocabularies from"
                           + (f" after its {header} header lines" if header else ""))
    source = sorted({c for en, _ in pairs for c in en})
    target = sorted({c for _, fr in pairs for c in START + fr + END})
    return ScriptData(pairs, Vocabulary(tuple(source)), Vocabulary(tuple(target)),
                      max(len(en) for en, _ in pairs), max(len(START + fr + END) for _, fr in pairs))


def read_vocab_files(directory: Path) -> tuple[Vocabulary, Vocabulary] | None:
    """The Hub repo's `input_vocab.json` and `target_vocab.json`, when `directory` holds both."""
    files = [directory / name for name in VOCAB_FILES]
    if not all(f.is_file() for f in files):
        return None
    vocabs = []
    for f in files:
        try:
            vocabs.append(Vocabulary(tuple(_chars_in_id_order(json.loads(f.read_text(encoding="utf-8"))))))
        except (ValueError, TypeError) as exc:
            raise KerasIoError(f"{f} is not a vocabulary (a list of characters in id order, or a map between "
                               f"characters and ids): {exc}") from None
    return vocabs[0], vocabs[1]


def _chars_in_id_order(data) -> list[str]:
    """A list of characters in id order; or the script's token index ({char: id}) or its reverse
    ({id: char}, JSON keys being strings)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if all(isinstance(v, int) for v in data.values()):
            pairs = sorted((v, k) for k, v in data.items())
        else:
            pairs = sorted((int(k), v) for k, v in data.items())
        if [i for i, _ in pairs] != list(range(len(pairs))):
            raise ValueError("its ids are not 0, 1, 2, ...")
        return [c for _, c in pairs]
    raise TypeError(f"expected a list or an object, got {type(data).__name__}")


def _check_vocab(side: str, vocab: Vocabulary, width: int, needed: str, hint: str) -> None:
    if len(vocab) != width:
        raise KerasIoError(f"the {side} vocabulary has {len(vocab)} characters but the model's {side} input is "
                           f"{width} wide: {hint}")
    missing = [c for c in needed if c not in vocab]
    if missing:
        raise KerasIoError(f"the {side} vocabulary lacks {', '.join(repr(c) for c in missing)}, which the script's "
                           "padding and decoding need")


def import_keras_io(
    model_path: str | Path, out: str | Path, data: str | Path | None = None, *, num_samples: int = NUM_SAMPLES,
    vocab_dir: str | Path | None = None, padding: str | None = None, layout: DataLayout = DataLayout(),
    languages: dict[str, str] | None = None, log: Callable[..., None] = print,
) -> RunInfo:
    """Write the run directory `out` (atomically) for the keras.io model at `model_path`.

    `padding` is how the script padded its one-hot inputs: "space" (the keras.io versions) or
    "zero" (the 2017 example); by default zero for an HDF5 file that Keras 2 wrote and space otherwise.
    `layout` is how the script split its data file (`DataLayout`); `languages` what the model translates
    from and to ({"source": CODE, "target": CODE}; default English to French, the script's)."""
    out = Path(out)
    if padding is not None and padding not in PADDINGS:
        raise KerasIoError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    if not replaceable(out, RUN_JSON):
        raise RunError(f"--out {out} exists and is not a training run: refusing to replace it")
    if num_samples < 1:
        raise KerasIoError(f"num-samples must be at least 1, got {num_samples}")
    try:
        languages = check_languages(languages if languages is not None else LANGUAGES)
    except ValueError as exc:
        raise KerasIoError(str(exc)) from None
    log(f"reading {model_path} ...")
    found = read_model(model_path)
    if found.encoder.recurrent_activation != found.decoder.recurrent_activation:
        raise KerasIoError(f"{model_path}: the encoder's LSTM uses {found.encoder.recurrent_activation} and the "
                           f"decoder's {found.decoder.recurrent_activation}; the script's use the same")
    padding = padding or ("zero" if found.kind == "h5" else "space")
    log(f"  {found.source}: latent {found.latent_dim}, {found.num_encoder_tokens} encoder / "
        f"{found.num_decoder_tokens} decoder tokens, recurrent activation {found.encoder.recurrent_activation}, "
        f"{padding} padding")
    script = script_data(data, num_samples, layout) if data is not None else None
    vocab_dir = Path(vocab_dir) if vocab_dir is not None else Path(model_path).resolve().parent
    vocabs = read_vocab_files(vocab_dir)
    if vocabs is not None:
        source_vocab, target_vocab = vocabs
        log(f"vocabularies from {vocab_dir}")
    elif script is not None:
        source_vocab, target_vocab = script.source_vocab, script.target_vocab
        log(f"vocabularies rebuilt from the first {len(script.pairs)} lines of {data}")
    else:
        raise KerasIoError("the model's vocabularies are not saved with it: give the script's data file (--data) "
                           f"or a directory holding {' and '.join(VOCAB_FILES)} (--vocab-dir)")
    hint = (f"the script read other lines, or read them otherwise: check the --num-samples it used (now "
            f"{num_samples}), its separator (--delimiter), a header (--header-lines), the column order "
            "(--swap-columns) and the release of the data file"
            if vocabs is None else "the vocabulary files belong to another model")
    pad = PAD if padding == "space" else ""
    _check_vocab("encoder", source_vocab, found.num_encoder_tokens, pad, hint)
    _check_vocab("decoder", target_vocab, found.num_decoder_tokens, START + END + pad, hint)
    source_vocab, target_vocab = Vocabulary(source_vocab.chars, padding), Vocabulary(target_vocab.chars, padding)
    if script is None:
        raise KerasIoError("an imported run needs sentences to validate exports and evaluate on: give the script's "
                           "data file (--data)")
    unknown = {c for en, fr in script.pairs for c in en if c not in source_vocab} | {
        c for _, fr in script.pairs for c in fr if c not in target_vocab}
    if unknown:
        raise KerasIoError(f"the data holds characters the vocabularies lack ({''.join(sorted(unknown))!r}): "
                           "it is not the data this model was trained on")

    model = build_training_model(len(source_vocab), len(target_vocab), found.latent_dim,
                                 recurrent_activation=found.encoder.recurrent_activation)
    layers = model_layers(model)
    for layer, weights in ((layers.encoder, found.encoder), (layers.decoder, found.decoder)):
        layer.set_weights([weights.kernel, weights.recurrent_kernel, weights.bias])
    layers.dense.set_weights([found.dense_kernel, found.dense_bias])

    # The script's validation split: Keras holds out the last 20% of the samples, in file order.
    cut = int(len(script.pairs) * (1 - VALIDATION_SPLIT))
    train, heldout = script.pairs[:cut], script.pairs[cut:]
    settings = Settings(num_samples=num_samples, latent_dim=found.latent_dim, batch_size=64,
                        validation_split=VALIDATION_SPLIT, split="ordered", pipeline="seed",
                        # zero padding: a zero target row carries no loss
                        loss_on_padding=padding == "space",
                        extra={"imported": {"from": str(Path(model_path).resolve()), "format": found.source,
                                            "padding": padding, "data_layout": layout.to_json(),
                                            "recurrent_activation": found.encoder.recurrent_activation}})
    info = RunInfo(source_vocab, target_vocab, script.max_source_length, script.max_target_length,
                   found.latent_dim, settings,
                   data={"source": str(Path(data).resolve()), "pairs": len(script.pairs),
                         "heldout": "the keras.io script's validation split: the last 20% of the lines read",
                         "heldout_is_training_sample": False},
                   best={}, languages=languages)
    staged = staging_dir(out)
    try:
        model.save(staged / MODEL_FILE)
        atomic_write_json(staged / RUN_JSON, info.to_json())
        for name, pairs in ((HELDOUT_TSV, heldout),
                            (TRAIN_SAMPLE_TSV, random.Random(0).sample(train, min(len(train), TRAIN_SAMPLE)))):
            write_pairs(staged / name, pairs)
        replace_dir(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    log(f"run written to {out}: {len(train)} training / {len(heldout)} held-out pairs (the script's split)")
    return info

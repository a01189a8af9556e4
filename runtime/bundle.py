"""The bundle: the contract between training and deployment.

A bundle is a directory holding `manifest.json` beside the model files it names:

    manifest.json         format, model family, vocabularies, special tokens, lengths, artifacts
                          with sha256
    encoder.onnx          source ids [batch, time] int32 -> the decoder's initial state and its
                          context (the family's `encoder_outputs`)
    decoder_step.onnx     token_ids [batch] int32, state, context -> logits [batch, vocab], next state
    greedy.onnx           (optional) source ids -> output_ids [batch, steps] int32: the whole greedy
                          decode in one graph (the encoder, then the step in a Loop, argmax)
    golden.json           (optional, format 4) held-out sentences with each artifact's decodes at
                          export, which a runtime can check on the device (`runtime.golden`)

A model family (`FAMILIES`) names what the decoder carries from step to step:
- "seed" (keras.io lstm_seq2seq): state `state_h`, `state_c` [batch, latent]; no context;
- "attention" (Luong attention over the encoder's outputs): the same state, and a context that is
  constant per row: `memory_keys`, `memory_values` [batch, time, latent] (the encoder's outputs
  projected for scoring and for the combination layer) and `memory_mask` [batch, time] (1.0 at the
  source's characters, 0.0 at its padding).
The step takes the state and the context, and returns the state as `next_<name>`. A runtime keeps
every such tensor by name, re-indexes them all when rows finish or beams reorder, and otherwise
knows nothing of the family.

The graph input/output names are part of the contract: backends map outputs by name, never by
position (converters reorder them). `export/` writes bundles, this module reads and checks them:
the manifest against its JSON Schema (`manifest.schema.json`, beside this file), each file's size
before its bytes are read and its sha256 on them, and (`check_graph`, as a backend loads each graph)
the graphs' names, kinds, ranks and sizes against the manifest.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .errors import BundleError
from .vocab import END, PAD, PLAIN, START, SourceForm, Vocabulary

FORMAT = "s2s-edge-bundle"
# Version 2 adds zero padding ("pad_token": null); version 3 the model family ("family"); version 4
# golden translations ("golden"); version 5 the source's form ("source_form": lowercasing and wrapping
# the user's text, which change what the encoder reads). A bundle is written in the lowest version that holds it: a
# space-padded seed bundle without golden translations is still version 1, which every runtime reads.
FORMAT_VERSION = 5
READ_VERSIONS = (1, 2, 3, 4, 5)
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

# The manifest's JSON Schema, package data of this module (a byte-identical copy is js/src's): the
# one statement of what a manifest may hold. `Manifest.from_json` checks it by hand (this runtime
# needs numpy and onnxruntime only); tests/test_hostile_bundles.py holds that code to the schema.
SCHEMA_FILE = Path(__file__).with_name("manifest.schema.json")
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
# The most characters either length may name: a decode's time and memory follow them (beam search
# may run max_target_length steps), so a manifest cannot ask for unbounded ones.
MAX_LENGTH: int = SCHEMA["$defs"]["length"]["maximum"]
MAX_LATENT_DIM: int = SCHEMA["properties"]["latent_dim"]["maximum"]
MAX_VOCAB_SIZE: int = SCHEMA["$defs"]["vocab_size"]["maximum"]
# The largest model file (ONNX's protobuf and TFLite's flatbuffers stay under 2 GiB).
MAX_ARTIFACT_BYTES: int = SCHEMA["$defs"]["artifact"]["properties"]["size"]["maximum"]
# Brackets nested deeper than this are refused before the JSON is parsed (no parser recursion).
MAX_NESTING: int = SCHEMA["$defs"]["max_nesting"]["const"]
# The largest golden file (docs/bundle.md#golden-translations).
MAX_GOLDEN_BYTES: int = SCHEMA["$defs"]["golden"]["properties"]["size"]["maximum"]

# Graph I/O names (the contract every backend implements).
SOURCE_IDS = "source_ids"
TOKEN_IDS = "token_ids"
STATE_H, STATE_C = "state_h", "state_c"
LOGITS = "logits"
NEXT_STATE_H, NEXT_STATE_C = "next_state_h", "next_state_c"
OUTPUT_IDS = "output_ids"
MEMORY_KEYS, MEMORY_VALUES, MEMORY_MASK = "memory_keys", "memory_values", "memory_mask"

ROLES = ("encoder", "decoder_step")  # every model has these
OPTIONAL_ROLES = ("greedy",)  # an artifact a runtime may use when present


def next_name(state: str) -> str:
    """The step's output name for state tensor `state`."""
    return f"next_{state}"


@dataclass(frozen=True)
class Family:
    """What a model family's graphs take and return (see the module's docstring)."""

    name: str
    state: tuple[str, ...]  # carried from step to step: encoder output, step input, step output next_<name>
    context: tuple[str, ...] = ()  # constant per row: encoder output, step input

    @property
    def encoder_outputs(self) -> tuple[str, ...]:
        return self.state + self.context

    @property
    def io(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Each role's graph inputs and outputs, in this order in the manifest's "io"."""
        return {
            "encoder": ((SOURCE_IDS,), self.encoder_outputs),
            "decoder_step": ((TOKEN_IDS, *self.state, *self.context),
                             (LOGITS, *(next_name(s) for s in self.state))),
            # Greedy decoding in one graph: row i of output_ids holds the argmax ids of each step, up
            # to and including its END id; after END a row holds ids to ignore (the loop runs until
            # every row has ended, or for max_target_length steps).
            "greedy": ((SOURCE_IDS,), (OUTPUT_IDS,)),
        }


FAMILIES = {
    "seed": Family("seed", (STATE_H, STATE_C)),
    "attention": Family("attention", (STATE_H, STATE_C), (MEMORY_KEYS, MEMORY_VALUES, MEMORY_MASK)),
}
SEED = FAMILIES["seed"]
GRAPH_IO = SEED.io  # the seed's graphs (bundles of format versions 1 and 2)


@dataclass(frozen=True)
class Artifact:
    backend: str  # "onnx", ...
    precision: str  # "float32", ...
    role: str  # one of ROLES
    file: str  # a plain file name inside the bundle
    sha256: str
    size: int
    # False when a row's output depends on the other rows of its batch (onnxruntime's dynamic
    # quantization picks one activation scale per tensor): the runtime then decodes row by row.
    batch_invariant: bool = True

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class GoldenFile:
    """The manifest's `golden` entry: the golden translations' file, checked as a model file is."""

    file: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Manifest:
    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_source_length: int  # the encoder reads exactly this many ids (padded: see source_vocab.padding)
    max_target_length: int  # decoder steps at most; longer outputs are cut
    latent_dim: int
    artifacts: tuple[Artifact, ...]
    model_id: str = ""  # sha256 of the Keras model the artifacts came from
    producer: dict[str, str] | None = None
    validation: dict[str, Any] | None = None
    # BCP 47 codes of the source and target sides, e.g. {"source": "en", "target": "fr"} (optional).
    languages: dict[str, str] | None = None
    family: Family = SEED
    # The ids the graphs were built for (the encoder's one-hot depth, the logits' width), recorded by
    # the export (optional: older bundles lack them); each must equal its vocabulary's length.
    source_vocab_size: int | None = None
    target_vocab_size: int | None = None
    golden: GoldenFile | None = None  # golden translations (format version 4)
    # How the model was made, where it matters to a user: for an imported model, the file it came
    # from and how the import was proven (optional, informative: no runtime acts on it).
    provenance: dict[str, Any] | None = None
    source_form: SourceForm = PLAIN  # lowercasing and wrapping of the user's text (format version 5)

    @property
    def padding(self) -> str:
        return self.source_vocab.padding

    @property
    def format_version(self) -> int:
        """The lowest format version that holds this bundle."""
        if self.source_form != PLAIN:
            return 5
        if self.golden is not None:
            return 4
        if self.family != SEED:
            return 3
        return 1 if self.padding == "space" else 2

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            **({"family": self.family.name} if self.format_version >= 3 else {}),
            "source_vocab": "".join(self.source_vocab.chars),
            "target_vocab": "".join(self.target_vocab.chars),
            "start_token": START,
            "end_token": END,
            # The space character, or null: the one-hot row of all zeros (id len(vocab)) pads.
            "pad_token": PAD if self.padding == "space" else None,
            "padding": "right",
            "max_source_length": self.max_source_length,
            "max_target_length": self.max_target_length,
            "latent_dim": self.latent_dim,
            **({"source_vocab_size": self.source_vocab_size} if self.source_vocab_size is not None else {}),
            **({"target_vocab_size": self.target_vocab_size} if self.target_vocab_size is not None else {}),
            "model_id": self.model_id,
            **({"languages": dict(self.languages)} if self.languages else {}),
            **({"source_form": self.source_form.to_json()} if self.source_form != PLAIN else {}),
            "io": {role: {"inputs": list(inputs), "outputs": list(outputs)}
                   for role, (inputs, outputs) in self.family.io.items()},
            "artifacts": [a.to_json() for a in self.artifacts],
            **({"golden": self.golden.to_json()} if self.golden is not None else {}),
            "producer": self.producer or {},
            **({"provenance": self.provenance} if self.provenance else {}),
            "validation": self.validation or {},
        }

    @classmethod
    def from_json(cls, data: Any, where: str = MANIFEST) -> "Manifest":
        """Check `data` (parsed JSON) against the manifest's schema (SCHEMA) and the rules beyond it,
        in the order the JavaScript runtime checks them; a BundleError names the first misfit."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BundleError(f"{where} is not an s2s-edge bundle manifest")
        version = data.get("format_version")
        if _integer(version) not in READ_VERSIONS:
            raise BundleError(
                f"{where} has format_version {_show(version)}; this runtime reads versions "
                f"{', '.join(map(str, READ_VERSIONS))}: re-export the bundle or upgrade s2s-edge"
            )
        version = _integer(version)
        pad_tokens = (PAD, None) if version >= 2 else (PAD,)
        if (not all(isinstance(data.get(k), str) for k in ("start_token", "end_token"))
                or (data["start_token"], data["end_token"]) != (START, END)
                or "pad_token" not in data or data["pad_token"] not in pad_tokens):
            raise BundleError(f"{where} uses special tokens this runtime does not know")
        padding = "space" if data["pad_token"] == PAD else "zero"
        if "padding" in data and data["padding"] != "right":
            raise BundleError(f"{where} pads on the {_show(data['padding'])} side; this runtime pads on the right")
        family = _family(data, version, where)
        _check_io(data.get("io"), family, where)
        malformed = f"{where} is malformed:"
        for key in ("source_vocab", "target_vocab"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise BundleError(f"{malformed} {key} must be a non-empty string, got {_show(data.get(key))}")
        lengths = {key: _bounded(data, key, 1, top, malformed)
                   for key, top in (("max_source_length", MAX_LENGTH), ("max_target_length", MAX_LENGTH),
                                    ("latent_dim", MAX_LATENT_DIM))}
        sizes = {key: _bounded(data, key, 1, MAX_VOCAB_SIZE, malformed) if key in data else None
                 for key in ("source_vocab_size", "target_vocab_size")}
        if "model_id" in data and not isinstance(data["model_id"], str):
            raise BundleError(f"{malformed} model_id must be a string, got {_show(data['model_id'])}")
        languages = _languages(data.get("languages"), where)
        source_form = _source_form(data, version, where) if "source_form" in data else PLAIN
        for key in ("producer", "provenance", "validation"):
            if key in data and not isinstance(data[key], dict):
                raise BundleError(f"{malformed} {key} must be an object, got {_show(data[key])}")
        if not isinstance(data.get("artifacts"), list):
            raise BundleError(f"{malformed} artifacts must be a list")
        artifacts = tuple(_artifact(a, where) for a in data["artifacts"])
        golden = _golden_file(data, version, artifacts, where) if "golden" in data else None
        try:
            source_vocab = Vocabulary(tuple(data["source_vocab"]), padding)
            target_vocab = Vocabulary(tuple(data["target_vocab"]), padding)
        except ValueError as exc:
            raise BundleError(f"{malformed} {exc}") from None
        for char in (START, END, PAD) if padding == "space" else (START, END):
            if char not in target_vocab:
                raise BundleError(f"{where}: target vocabulary lacks {_show(char)}")
        if padding == "space" and PAD not in source_vocab:
            raise BundleError(f"{where}: source vocabulary lacks the padding character")
        if source_form.wrap and not (START in source_vocab and END in source_vocab):
            raise BundleError(f"{where}: source_form wraps the source in the start and end tokens, which "
                              "source_vocab lacks")
        if source_form.wrap and lengths["max_source_length"] < 2:
            raise BundleError(f"{where}: source_form wraps the source in two tokens, but max_source_length is "
                              f"{lengths['max_source_length']}")
        for key, vocab in (("source_vocab", source_vocab), ("target_vocab", target_vocab)):
            built = sizes[f"{key}_size"]
            if built is not None and built != len(vocab):
                raise BundleError(
                    f"{where}: {key} has {len(vocab)} characters, but its graphs were built for {built} "
                    f"({key}_size): the vocabulary does not belong to these graphs; export the bundle again"
                )
        return cls(
            source_vocab=source_vocab,
            target_vocab=target_vocab,
            max_source_length=lengths["max_source_length"],
            max_target_length=lengths["max_target_length"],
            latent_dim=lengths["latent_dim"],
            artifacts=artifacts,
            model_id=data.get("model_id", ""),
            producer=data.get("producer"),
            validation=data.get("validation"),
            languages=languages,
            family=family,
            source_vocab_size=sizes["source_vocab_size"],
            target_vocab_size=sizes["target_vocab_size"],
            golden=golden,
            provenance=data.get("provenance"),
            source_form=source_form,
        )

    def complete_models(self) -> list[tuple[str, str]]:
        """The (backend, precision) pairs with both an encoder and a decoder step, in manifest order."""
        roles: dict[tuple[str, str], set[str]] = {}
        for a in self.artifacts:
            roles.setdefault((a.backend, a.precision), set()).add(a.role)
        return [pair for pair, have in roles.items() if set(ROLES) <= have]

    def select(self, backend: str, precision: str) -> dict[str, Artifact]:
        """The artifacts of one backend and precision by role: encoder and decoder_step, and the
        optional ones (greedy) when the bundle has them."""
        found = {a.role: a for a in self.artifacts if (a.backend, a.precision) == (backend, precision)
                 and a.role in self.family.io}
        if not set(ROLES) <= set(found):
            have = sorted({f"{a.backend}/{a.precision}" for a in self.artifacts})
            raise BundleError(
                f"the bundle has no complete {backend}/{precision} model "
                f"(it has: {', '.join(have) or 'nothing'})"
            )
        return found


# Each graph tensor's kind ("ids": int32; "float": float32, or in a TFLite file with integer I/O an
# integer tensor standing for floats) and axes; `check_graph` sizes the axes from the manifest.
TENSORS: dict[str, tuple[str, tuple[str, ...]]] = {
    SOURCE_IDS: ("ids", ("batch", "time")),
    TOKEN_IDS: ("ids", ("batch",)),
    STATE_H: ("float", ("batch", "latent")),
    STATE_C: ("float", ("batch", "latent")),
    MEMORY_KEYS: ("float", ("batch", "time", "latent")),
    MEMORY_VALUES: ("float", ("batch", "time", "latent")),
    MEMORY_MASK: ("float", ("batch", "time")),
    LOGITS: ("float", ("batch", "vocab")),
    OUTPUT_IDS: ("ids", ("batch", "steps")),
}
for _state in (STATE_H, STATE_C):
    TENSORS[next_name(_state)] = TENSORS[_state]

# An engine's description of a graph's inputs or outputs: {name: (dtype name, shape)}, the dtype as
# numpy names it ("int32", "float32", ...; None if unknown), the shape a tuple with an int for each
# known size and None for the others (or None where even the rank is unknown).
GraphIO = Mapping[str, "tuple[str | None, tuple[int | None, ...] | None]"]
# check(role, inputs, outputs, float_types=("float32",)): what a backend calls on each graph it
# loads, before running it (`check_graph` with the manifest and the file bound).
GraphCheck = Callable[..., None]


def check_graph(manifest: Manifest, role: str, file: str, inputs: GraphIO, outputs: GraphIO,
                float_types: tuple[str, ...] = ("float32",)) -> None:
    """Refuse graph `file`, loaded for `role`, unless its inputs and outputs are the names of that role
    in the manifest's family, with the kinds, ranks and known sizes the manifest implies (the batch
    may be fixed; the source's time axis is max_source_length, the state's size latent_dim, the
    logits' width the target vocabulary's length). One line names the file and the misfit."""
    family = manifest.family
    want_in, want_out = family.io[role]
    listed = f"{file}, listed as the {role} of the {family.name} family,"
    for side, want, have in (("inputs", want_in, inputs), ("outputs", want_out, outputs)):
        if sorted(have) != sorted(want):
            raise BundleError(f"{listed} does not fit its role: its {side} are {', '.join(sorted(have)) or 'none'}; "
                              f"that role's {side} are {', '.join(want)}")
    sizes = {"time": manifest.max_source_length, "latent": manifest.latent_dim, "vocab": len(manifest.target_vocab)}
    for name in (*want_in, *want_out):
        dtype, shape = (inputs if name in inputs else outputs)[name]
        kind, axes = TENSORS[name]
        allowed = ("int32",) if kind == "ids" else float_types
        if dtype is not None and dtype not in allowed:
            raise BundleError(f"{listed} does not fit its role: its {name} is {dtype}, not {' or '.join(allowed)}")
        if shape is None:
            continue
        if len(shape) != len(axes):
            raise BundleError(f"{listed} does not fit its role: its {name} has {len(shape)} axes, not {len(axes)} "
                              f"([{', '.join(axes)}])")
        for have, axis in zip(shape, axes):
            want = sizes.get(axis)
            if have is None or want is None or have == want:
                continue
            what = {"time": f"reads {have} source positions, but max_source_length is {want}",
                    "latent": f"has {have} units, but latent_dim is {want}",
                    "vocab": f"scores {have} ids, but target_vocab has {want} characters"}[axis]
            raise BundleError(f"{listed} does not fit this manifest: its {name} {what}")


def _source_form(data: dict, version: int, where: str) -> SourceForm:
    malformed = f"{where} is malformed:"
    value = data["source_form"]
    if version < 5:
        raise BundleError(f"{malformed} source_form needs format_version 5, got {version}")
    form = SourceForm.from_json(value)
    if form is None:
        raise BundleError(f"{malformed} source_form must be {{\"lowercase\": BOOLEAN, \"wrap\": BOOLEAN}}, got "
                          f"{_show(value)}")
    return form


def _family(data: dict, version: int, where: str) -> Family:
    if version < 3:
        return SEED
    name = data.get("family")
    if not isinstance(name, str):
        raise BundleError(f"{where} is malformed: format_version {version} needs a family name, got {_show(name)}")
    if name not in FAMILIES:
        raise BundleError(f"{where} holds a model of family {_show(name)}; this runtime knows "
                          f"{', '.join(FAMILIES)}: upgrade s2s-edge")
    return FAMILIES[name]


def _check_io(io: Any, family: Family, where: str) -> None:
    # Graph names are part of the format: a manifest that declares others is for another runtime.
    if io is None:
        return
    for role, (inputs, outputs) in family.io.items():
        if isinstance(io, dict) and role not in io and role in OPTIONAL_ROLES:
            continue
        declared = io.get(role) if isinstance(io, dict) else None
        if declared != {"inputs": list(inputs), "outputs": list(outputs)}:
            raise BundleError(
                f"{where} declares graph inputs/outputs for {role} that this runtime does not know: "
                "upgrade s2s-edge"
            )


def _languages(value: Any, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and set(value) == {"source", "target"}
            and all(isinstance(v, str) and v for v in value.values())):
        raise BundleError(f"{where}: languages must be {{\"source\": CODE, \"target\": CODE}}, got {_show(value)}")
    return dict(value)


def _integer(value: Any) -> int | None:
    """`value` as an int when JSON Schema calls it an integer (a number without a fraction: 20 or
    20.0, not true, "20" or 20.5), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _bounded(data: dict, key: str, low: int, high: int, malformed: str) -> int:
    value = _integer(data.get(key))
    if value is None or not low <= value <= high:
        raise BundleError(f"{malformed} {key} must be an integer from {low} to {high}, got {_show(data.get(key))}")
    return value


def _show(value: Any, width: int = 60) -> str:
    """`value` as JSON, as the JavaScript runtime shows it, cut to `width` characters: errors stay one
    short line whatever the manifest holds."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        value = int(value)
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


ARTIFACT_FIELDS = ("backend", "precision", "role", "file", "sha256", "size", "batch_invariant")
GOLDEN_FIELDS = ("file", "sha256", "size")


def _golden_file(data: dict, version: int, artifacts: tuple[Artifact, ...], where: str) -> GoldenFile:
    malformed = f"{where} is malformed:"
    value = data["golden"]
    if version < 4:
        raise BundleError(f"{malformed} golden needs format_version 4, got {version}")
    if not isinstance(value, dict) or sorted(value) != sorted(GOLDEN_FIELDS):
        raise BundleError(f"{malformed} golden must be an object with file, sha256 and size, got {_show(value)}")
    _check_file_name(value["file"], where)
    if not isinstance(value["sha256"], str):
        raise BundleError(f"{malformed} golden sha256 must be a string, got {_show(value['sha256'])}")
    size = _bounded(value, "size", 0, MAX_GOLDEN_BYTES, f"{malformed} golden")
    if value["file"] == MANIFEST or value["file"] in {a.file for a in artifacts}:
        raise BundleError(f"{malformed} golden names {_show(value['file'])}, which is the manifest or a model file")
    return GoldenFile(value["file"], value["sha256"], size)


def _artifact(a: Any, where: str) -> Artifact:
    malformed = f"{where} is malformed:"
    if not isinstance(a, dict):
        raise BundleError(f"{malformed} an artifact is not an object")
    unknown = [k for k in a if k not in ARTIFACT_FIELDS]
    missing = [k for k in ARTIFACT_FIELDS[:6] if k not in a]
    if unknown or missing:
        raise BundleError(f"{malformed} artifact "
                          + (f"has unknown fields {', '.join(unknown)}" if unknown else f"lacks {', '.join(missing)}"))
    for key in ("backend", "precision", "role"):
        if not isinstance(a[key], str) or not a[key]:
            raise BundleError(f"{malformed} artifact {key} must be a non-empty string, got {_show(a[key])}")
    _check_file_name(a["file"], where)
    if not isinstance(a["sha256"], str):
        raise BundleError(f"{malformed} artifact sha256 must be a string, got {_show(a['sha256'])}")
    size = _bounded(a, "size", 0, MAX_ARTIFACT_BYTES, f"{malformed} artifact")
    invariant = a.get("batch_invariant", True)
    if not isinstance(invariant, bool):
        raise BundleError(f"{malformed} artifact batch_invariant must be true or false, got {_show(invariant)}")
    return Artifact(a["backend"], a["precision"], a["role"], a["file"], a["sha256"], size, invariant)


def _check_file_name(name: object, where: str) -> None:
    # Files are plain names inside the bundle: no directories, no way out of it.
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or ":" in name  # a drive (C:x), an NTFS stream, or a URL scheme where a bundle is fetched
        or os.path.isabs(name)
    ):
        raise BundleError(f"{where} names a file outside the bundle: {_show(name)}")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(bundle: str | os.PathLike[str]) -> Manifest:
    root = Path(bundle)
    path = root / MANIFEST
    if not root.is_dir():
        raise BundleError(f"bundle directory not found: {root}")
    try:
        info = path.lstat()
    except OSError:
        info = None
    if info is None or stat.S_ISDIR(info.st_mode):
        raise BundleError(
            f"no {MANIFEST} in {root}: not a bundle (export one with python -m export.to_onnx)"
        )
    # Followed, a link could make any file of the machine "the manifest" (and its bytes an error
    # message): refused, as model files that are links are.
    raw = _read_regular(path, info, limit=MAX_MANIFEST_BYTES)
    manifest = Manifest.from_json(parse_manifest_bytes(raw, str(path)), where=str(path))
    _check_listing(root, manifest)
    return manifest


def parse_manifest_bytes(raw: bytes, where: str, what: str = "a manifest") -> Any:
    """The JSON value of a manifest's bytes (or of another JSON file of the bundle, `what`), as both
    runtimes read it: UTF-8 (no byte-order mark), brackets nested at most MAX_NESTING deep, plain JSON
    (no NaN or Infinity). Errors never quote the bytes: a file that is not a manifest must not leak
    into messages."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"{where} is not valid UTF-8") from None
    depth = json_nesting(text)
    if depth > MAX_NESTING:
        raise BundleError(f"{where} is nested deeper than {MAX_NESTING} levels ({depth}): not {what}")

    def refuse_constant(name: str) -> Any:
        raise json.JSONDecodeError(f"{name} is not JSON", text, 0)

    try:
        return json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise BundleError(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


_ESCAPE = re.compile(r"\\.", re.S)
_JSON_STRING = re.compile(r'"[^"]*"?')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")


def json_nesting(text: str) -> int:
    """The deepest nesting of [ and { in JSON `text` outside its strings (escapes dropped first; an
    unterminated string runs to the end); linear and without recursion, whatever the text. The
    JavaScript runtime counts the same way (js/src/manifest.js jsonNesting)."""
    bare = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", _ESCAPE.sub("", text))).encode("ascii")
    if not bare:
        return 0
    codes = np.frombuffer(bare, dtype=np.uint8)
    return int(np.cumsum(np.where((codes == ord("[")) | (codes == ord("{")), 1, -1), dtype=np.int32).max())


def _check_listing(root: Path, manifest: Manifest) -> None:
    # A bundle holds exactly what its manifest names: anything else is a sign of tampering or of
    # two bundles mixed together, and is refused before any model is loaded.
    expected = {MANIFEST} | {a.file for a in manifest.artifacts} | ({manifest.golden.file} if manifest.golden else set())
    extra = sorted(p.name for p in root.iterdir() if p.name not in expected)
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise BundleError(
            f"bundle {root} holds files its {MANIFEST} does not list: {shown}; "
            "remove them or export the bundle again"
        )


def _read_regular(path: Path, info: os.stat_result | None = None, *, limit: int | None = None,
                  size: int | None = None) -> bytes:
    """The bytes of `path`, a regular file (not a link), of exactly `size` bytes or at most `limit`:
    compared on its size on disk before anything is read, then read through the one open handle."""
    if info is None:
        try:
            info = path.lstat()
        except OSError:
            raise BundleError(f"bundle file missing or not a regular file: {path}") from None
    if stat.S_ISLNK(info.st_mode):
        raise BundleError(f"{path} is a symbolic link, not a regular file: a bundle's files must be its own")
    if not stat.S_ISREG(info.st_mode):
        raise BundleError(f"bundle file missing or not a regular file: {path}")
    # O_NOFOLLOW: a link put in its place since lstat is refused; O_NONBLOCK: a FIFO cannot hang the open.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise BundleError(f"{path} is a symbolic link, not a regular file: a bundle's files must be its own") from None
        raise BundleError(f"bundle file missing or not a regular file: {path}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"bundle file missing or not a regular file: {path}")
        if limit is not None and info.st_size > limit:
            raise BundleError(f"{path} is larger than {limit} bytes: refusing to read it")
        if size is not None and info.st_size != size:
            raise _size_mismatch(path, info.st_size, size)
        want = size if size is not None else info.st_size
        data = f.read(want + 1)  # one more byte: a file that grew since is seen
    if len(data) != want:  # it changed while being read
        raise _size_mismatch(path, len(data), size) if size is not None else BundleError(
            f"{path} changed while it was read")
    return data


def _size_mismatch(path: Path, have: int, want: int) -> BundleError:
    return BundleError(
        f"bundle file {path} does not match its sha256 in {MANIFEST}: it is {have} bytes, not the {want} "
        "listed there; the bundle is corrupt or was modified; export it again"
    )


def read_artifact(bundle: str | os.PathLike[str], artifact: Artifact) -> bytes:
    """The artifact's bytes, after checking they are the ones the manifest names: its size on disk
    first (nothing is read from a file of another size), then the sha256 of the bytes read."""
    path = Path(bundle) / artifact.file
    data = _read_regular(path, size=artifact.size)
    if sha256_bytes(data) != artifact.sha256:
        raise BundleError(
            f"bundle file {path} does not match its sha256 in {MANIFEST}: "
            "the bundle is corrupt or was modified; export it again"
        )
    return data

"""The bundle: the contract between training and deployment.

A bundle is a directory holding `manifest.json` beside the model files it names:

    manifest.json         format, model family, vocabularies, special tokens, lengths, artifacts
                          with sha256
    encoder.onnx          source ids [batch, time] int32 -> the decoder's initial state and its
                          context (the family's `encoder_outputs`)
    decoder_step.onnx     token_ids [batch] int32, state, context -> logits [batch, vocab], next state
    greedy.onnx           (optional) source ids -> output_ids [batch, steps] int32: the whole greedy
                          decode in one graph (the encoder, then the step in a Loop, argmax)

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
position (converters reorder them). `export/` writes bundles, this module reads and checks them.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BundleError
from .vocab import END, PAD, START, Vocabulary

FORMAT = "s2s-edge-bundle"
# Version 2 adds zero padding ("pad_token": null); version 3 the model family ("family"). A bundle
# is written in the lowest version that holds it: a space-padded seed bundle is still version 1,
# which every runtime reads.
FORMAT_VERSION = 3
READ_VERSIONS = (1, 2, 3)
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

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

    @property
    def padding(self) -> str:
        return self.source_vocab.padding

    @property
    def format_version(self) -> int:
        """The lowest format version that holds this bundle."""
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
            "model_id": self.model_id,
            **({"languages": dict(self.languages)} if self.languages else {}),
            "io": {role: {"inputs": list(inputs), "outputs": list(outputs)}
                   for role, (inputs, outputs) in self.family.io.items()},
            "artifacts": [a.to_json() for a in self.artifacts],
            "producer": self.producer or {},
            "validation": self.validation or {},
        }

    @classmethod
    def from_json(cls, data: Any, where: str = MANIFEST) -> "Manifest":
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BundleError(f"{where} is not an s2s-edge bundle manifest")
        version = data.get("format_version")
        if version not in READ_VERSIONS:
            raise BundleError(
                f"{where} has format_version {version!r}; this runtime reads versions "
                f"{', '.join(map(str, READ_VERSIONS))}: re-export the bundle or upgrade s2s-edge"
            )
        pad_tokens = (PAD, None) if version >= 2 else (PAD,)
        if ((data.get("start_token"), data.get("end_token")) != (START, END)
                or data.get("pad_token", "") not in pad_tokens):
            raise BundleError(f"{where} uses special tokens this runtime does not know")
        padding = "space" if data["pad_token"] == PAD else "zero"
        if data.get("padding", "right") != "right":
            raise BundleError(f"{where} pads on the {data.get('padding')!r} side; this runtime pads on the right")
        family = _family(data, version, where)
        _check_io(data.get("io"), family, where)
        try:
            artifacts = tuple(Artifact(**a) for a in data["artifacts"])
            manifest = cls(
                source_vocab=Vocabulary(tuple(data["source_vocab"]), padding),
                target_vocab=Vocabulary(tuple(data["target_vocab"]), padding),
                max_source_length=int(data["max_source_length"]),
                max_target_length=int(data["max_target_length"]),
                latent_dim=int(data["latent_dim"]),
                artifacts=artifacts,
                model_id=str(data.get("model_id", "")),
                producer=data.get("producer"),
                validation=data.get("validation"),
                languages=_languages(data.get("languages"), where),
                family=family,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{where} is malformed: {exc}") from None
        for art in artifacts:
            _check_file_name(art.file, where)
        for char in (START, END, PAD) if padding == "space" else (START, END):
            if char not in manifest.target_vocab:
                raise BundleError(f"{where}: target vocabulary lacks {char!r}")
        if padding == "space" and PAD not in manifest.source_vocab:
            raise BundleError(f"{where}: source vocabulary lacks the padding character")
        if manifest.max_source_length < 1 or manifest.max_target_length < 1:
            raise BundleError(f"{where}: maximum lengths must be positive")
        return manifest

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


def _family(data: dict, version: int, where: str) -> Family:
    if version < 3:
        return SEED
    name = data.get("family")
    if not isinstance(name, str):
        raise BundleError(f"{where} is malformed: format_version 3 needs a family name, got {name!r}")
    if name not in FAMILIES:
        raise BundleError(f"{where} holds a model of family {name!r}; this runtime knows "
                          f"{', '.join(FAMILIES)}: upgrade s2s-edge")
    return FAMILIES[name]


def _check_io(io: Any, family: Family, where: str) -> None:
    # Graph names are part of the format: a manifest that declares others is for another runtime.
    if io is None:
        return
    for role, (inputs, outputs) in family.io.items():
        declared = io.get(role) if isinstance(io, dict) else None
        if declared is None and role in OPTIONAL_ROLES:
            continue
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
        raise BundleError(f"{where}: languages must be {{\"source\": CODE, \"target\": CODE}}, got {value!r}")
    return dict(value)


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
        raise BundleError(f"{where} names a file outside the bundle: {name!r}")


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
    if not path.is_file():
        raise BundleError(
            f"no {MANIFEST} in {root}: not a bundle (export one with python -m export.to_onnx)"
        )
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{path} is larger than {MAX_MANIFEST_BYTES} bytes: refusing to read it")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON: {exc}") from None
    manifest = Manifest.from_json(data, where=str(path))
    _check_listing(root, manifest)
    return manifest


def _check_listing(root: Path, manifest: Manifest) -> None:
    # A bundle holds exactly what its manifest names: anything else is a sign of tampering or of
    # two bundles mixed together, and is refused before any model is loaded.
    expected = {MANIFEST} | {a.file for a in manifest.artifacts}
    extra = sorted(p.name for p in root.iterdir() if p.name not in expected)
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise BundleError(
            f"bundle {root} holds files its {MANIFEST} does not list: {shown}; "
            "remove them or export the bundle again"
        )


def read_artifact(bundle: str | os.PathLike[str], artifact: Artifact) -> bytes:
    """The artifact's bytes, after checking they are the ones the manifest names."""
    path = Path(bundle) / artifact.file
    if path.is_symlink() or not path.is_file():
        raise BundleError(f"bundle file missing or not a regular file: {path}")
    data = path.read_bytes()
    if len(data) != artifact.size or sha256_bytes(data) != artifact.sha256:
        raise BundleError(
            f"bundle file {path} does not match its sha256 in {MANIFEST}: "
            "the bundle is corrupt or was modified; export it again"
        )
    return data

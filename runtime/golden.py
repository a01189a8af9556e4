"""Golden translations: held-out sentences with the decodes each artifact gave at export, which any
runtime can decode again and compare (`Translator.self_check`, `python -m runtime --self-check`).

The file's format is in docs/bundle.md#golden-translations; the manifest names it (`golden`: file,
sha256, size; format version 4). `read_golden` reads and checks it as a bundle loads, as a model file
is checked (size, then sha256), then its structure against the manifest; the JavaScript runtime
(js/src/golden.js) makes the same checks in the same order with the same messages.
"""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

from .bundle import Manifest, _integer, _show, parse_manifest_bytes, read_artifact
from .errors import BundleError
from .vocab import prepare_source

GOLDEN_FORMAT = "s2s-edge-golden"
GOLDEN_VERSION = 1
GOLDEN_FILE = "golden.json"
# How many held-out sentences an export records by default (`--golden N`).
DEFAULT_GOLDEN = 32
# At most this many sentences per artifact, and kernel sets per artifact: a self-check's time and a
# load's memory stay bounded whatever the file holds (it is at most MAX_GOLDEN_BYTES, too).
MAX_GOLDEN_SENTENCES = 1000
MAX_GOLDEN_KERNEL_SETS = 8
# The self-check decodes as the export recorded: stepping the decoder, in batches of up to this many
# sentences of similar length (one at a time for a batch-dependent artifact).
GOLDEN_BATCH = 64
# kernels, engine, engine_version and machine are printed: short printable ASCII only.
_LABEL = re.compile(r"[\x20-\x7e]{1,64}")


class NoGoldenError(BundleError):
    """The bundle has no golden translations for what was asked (none at all, or not for this
    artifact or kernel set)."""


@dataclass(frozen=True)
class GoldenDecodes:
    """An artifact's decodes of the golden sources on one kernel set, and what made them."""

    kernels: str
    engine: str
    engine_version: str
    outputs: tuple[str, ...]
    machine: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kernels": self.kernels, "engine": self.engine, "engine_version": self.engine_version,
                **({"machine": self.machine} if self.machine is not None else {}),
                "outputs": list(self.outputs)}


@dataclass(frozen=True)
class GoldenArtifact:
    backend: str
    precision: str
    sources: tuple[str, ...]
    keras: tuple[str, ...]
    decodes: tuple[GoldenDecodes, ...]

    @property
    def name(self) -> str:
        return f"{self.backend}/{self.precision}"

    def on(self, kernels: str) -> GoldenDecodes | None:
        return next((d for d in self.decodes if d.kernels == kernels), None)

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "precision": self.precision, "sources": list(self.sources),
                "keras": list(self.keras), "decodes": [d.to_json() for d in self.decodes]}


@dataclass(frozen=True)
class Golden:
    artifacts: tuple[GoldenArtifact, ...]

    def get(self, backend: str, precision: str) -> GoldenArtifact | None:
        return next((a for a in self.artifacts if (a.backend, a.precision) == (backend, precision)), None)

    def to_json(self) -> dict[str, Any]:
        return {"format": GOLDEN_FORMAT, "format_version": GOLDEN_VERSION,
                "artifacts": [a.to_json() for a in self.artifacts]}

    def to_bytes(self) -> bytes:
        return (json.dumps(self.to_json(), indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def read_golden(bundle: str | os.PathLike[str], manifest: Manifest) -> Golden | None:
    """The bundle's golden translations, checked (None when the manifest names none)."""
    if manifest.golden is None:
        return None
    where = os.path.join(os.fspath(bundle), manifest.golden.file)
    raw = read_artifact(bundle, manifest.golden)
    return parse_golden(parse_manifest_bytes(raw, where, what="a golden file"), manifest, where)


def parse_golden(data: Any, manifest: Manifest, where: str) -> Golden:
    """Check parsed golden JSON against its format and the manifest (docs/bundle.md#golden-translations)."""
    if not isinstance(data, dict) or data.get("format") != GOLDEN_FORMAT:
        raise BundleError(f"{where} is not an s2s-edge golden file")
    if _integer(data.get("format_version")) != GOLDEN_VERSION:
        raise BundleError(f"{where} has format_version {_show(data.get('format_version'))}; this runtime reads "
                          f"version {GOLDEN_VERSION}: upgrade s2s-edge")
    malformed = f"{where} is malformed:"
    entries = data.get("artifacts")
    if not isinstance(entries, list) or not entries:
        raise BundleError(f"{malformed} artifacts must be a non-empty list")
    models = set(manifest.complete_models())
    seen: set[tuple[str, str]] = set()
    artifacts = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise BundleError(f"{malformed} an entry of artifacts is not an object")
        backend, precision = entry.get("backend"), entry.get("precision")
        if not (isinstance(backend, str) and backend and isinstance(precision, str) and precision):
            raise BundleError(f"{malformed} an entry's backend and precision must be non-empty strings")
        name = f"{backend}/{precision}"
        if (backend, precision) not in models:
            raise BundleError(f"{where} holds golden translations for {name}, which the bundle does not hold")
        if (backend, precision) in seen:
            raise BundleError(f"{malformed} {name} appears twice")
        seen.add((backend, precision))
        sources = entry.get("sources")
        if not _strings(sources) or not sources:
            raise BundleError(f"{malformed} {name}'s sources must be a non-empty list of strings")
        if len(sources) > MAX_GOLDEN_SENTENCES:
            raise BundleError(f"{malformed} {name} has {len(sources)} sources; at most {MAX_GOLDEN_SENTENCES}")
        for i, source in enumerate(sources):
            try:  # as the runtime will read it: lowercased and wrapped where the bundle says so
                prepare_source(source, manifest.source_vocab, manifest.max_source_length, form=manifest.source_form)
            except ValueError:
                raise BundleError(f"{malformed} {name}'s sources[{i}] is not a sentence this model reads (a character "
                                  "outside source_vocab, or longer than max_source_length)") from None
        keras = entry.get("keras")
        if not _strings(keras, len(sources)):
            raise BundleError(f"{malformed} {name}'s keras must be a list of strings, one per source")
        decodes = entry.get("decodes")
        if not isinstance(decodes, list) or not decodes:
            raise BundleError(f"{malformed} {name}'s decodes must be a non-empty list")
        if len(decodes) > MAX_GOLDEN_KERNEL_SETS:
            raise BundleError(f"{malformed} {name} has {len(decodes)} decodes; at most {MAX_GOLDEN_KERNEL_SETS}")
        parsed: list[GoldenDecodes] = []
        kernel_sets: set[str] = set()
        for i, d in enumerate(decodes):
            if not (isinstance(d, dict) and all(_label(d.get(key)) for key in ("kernels", "engine", "engine_version"))
                    and ("machine" not in d or _label(d["machine"]))):
                raise BundleError(f"{malformed} {name}'s decodes[{i}] must be an object with kernels, engine, "
                                  "engine_version (and machine): 1 to 64 printable ASCII characters each; and outputs")
            if not _strings(d.get("outputs"), len(sources)):
                raise BundleError(f"{malformed} {name}'s decodes[{i}] outputs must be a list of strings, "
                                  "one per source")
            if d["kernels"] in kernel_sets:
                raise BundleError(f"{malformed} {name} has two decodes on the {d['kernels']} kernels")
            kernel_sets.add(d["kernels"])
            parsed.append(GoldenDecodes(d["kernels"], d["engine"], d["engine_version"], tuple(d["outputs"]),
                                        d.get("machine")))
        artifacts.append(GoldenArtifact(backend, precision, tuple(sources), tuple(keras), tuple(parsed)))
    return Golden(tuple(artifacts))


def _label(value: Any) -> bool:
    return isinstance(value, str) and _LABEL.fullmatch(value) is not None


def _strings(value: Any, length: int | None = None) -> bool:
    return (isinstance(value, list) and all(isinstance(v, str) for v in value)
            and (length is None or len(value) == length))


def engine(backend: str) -> tuple[str, str]:
    """(name, version) of the engine that runs `backend` in this Python (imports it)."""
    if backend == "onnx":
        import onnxruntime

        return "onnxruntime", onnxruntime.__version__
    if backend == "tflite":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return "ai-edge-litert", version("ai-edge-litert")
        except PackageNotFoundError:
            return "ai-edge-litert", "unknown"
    return backend, "unknown"


def machine() -> str:
    return platform.machine() or "unknown"


@dataclass(frozen=True)
class Difference:
    index: int  # in the golden sources, from 0
    source: str
    recorded: str
    got: str


@dataclass(frozen=True)
class SelfCheck:
    """A runtime's decodes of the golden sources against the ones recorded at export."""

    backend: str
    precision: str
    kernels: str
    engine: str  # what ran here, e.g. "onnxruntime 1.31.1"
    recorded: GoldenDecodes
    identical: int
    total: int
    first_difference: Difference | None = None
    differences: tuple[int, ...] = field(default=())  # indexes of every differing sentence

    @property
    def passed(self) -> bool:
        return self.identical == self.total

    @property
    def k(self) -> int:
        return self.identical

    @property
    def N(self) -> int:  # noqa: N802 (the issue's and the CLI's "k/N")
        return self.total

    def summary(self) -> str:
        """The lines both runtimes' `--self-check` print (docs/runtime.md#self-check)."""
        r = self.recorded
        on = f" on {r.machine}" if r.machine else ""
        lines = [f"{self.backend}/{self.precision}, {self.kernels} kernels, {self.engine}: "
                 f"{self.identical}/{self.total} identical to the golden decodes "
                 f"(recorded with {r.engine} {r.engine_version}{on})"]
        d = self.first_difference
        if d is not None:
            lines += [f"first difference, sentence {d.index + 1} of {self.total}: {_quote(d.source)}",
                      f"  recorded: {_quote(d.recorded)}",
                      f"  here:     {_quote(d.got)}"]
        return "\n".join(lines)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _quote(text: str) -> str:
    # As JavaScript's JSON.stringify writes it, so that both runtimes print the same line: a lone
    # surrogate (JSON may hold one) as its escape, not as a character no encoding can write.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(text, ensure_ascii=False))


def golden_entry(golden: Golden | None, backend: str, precision: str, kernels: str) -> tuple[GoldenArtifact, GoldenDecodes]:
    """The golden sources and recorded decodes for an artifact on a kernel set, or NoGoldenError."""
    if golden is None:
        raise NoGoldenError("this bundle has no golden translations (it was exported before format version 4, "
                            "or with --golden 0): export it again to record them")
    entry = golden.get(backend, precision)
    if entry is None:
        have = ", ".join(a.name for a in golden.artifacts)
        raise NoGoldenError(f"this bundle's golden translations are for {have}; not for {backend}/{precision}: "
                            "export it again to record them")
    decodes = entry.on(kernels)
    if decodes is None:
        have = " and ".join(d.kernels for d in entry.decodes)
        raise NoGoldenError(f"the golden translations of {entry.name} were recorded on the {have} kernels, "
                            f"not on the {kernels} kernels")
    return entry, decodes


def compare(entry: GoldenArtifact, decodes: GoldenDecodes, got: Sequence[str], *, kernels: str,
            engine_here: str) -> SelfCheck:
    differing = tuple(i for i, (want, have) in enumerate(zip(decodes.outputs, got)) if want != have)
    first = None
    if differing:
        i = differing[0]
        first = Difference(i, entry.sources[i], decodes.outputs[i], got[i])
    return SelfCheck(entry.backend, entry.precision, kernels, engine_here, decodes,
                     identical=len(entry.sources) - len(differing), total=len(entry.sources),
                     first_difference=first, differences=differing)

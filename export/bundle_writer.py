"""Writing bundles: staged beside the target, validated, then renamed into place.

A bundle may hold several backends and precisions of the same model. Writing new artifacts keeps
the existing ones of other (backend, precision) pairs when they come from the same Keras model
(same model_id), with their golden translations; a bundle of another model is replaced whole.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Callable, Sequence

from runtime.bundle import (
    FAMILIES,
    MANIFEST,
    Artifact,
    GoldenFile,
    Manifest,
    read_manifest,
    sha256_bytes,
    sha256_file,
)
from runtime.errors import BundleError
from runtime.golden import GOLDEN_FILE, Golden, GoldenArtifact, read_golden
from trainer.data import LANGUAGES
from trainer.fileio import atomic_write_bytes, replace_dir, replaceable, staging_dir
from trainer.spec import Seq2SeqSpec


def write_bundle(
    out: str | Path,
    spec: Seq2SeqSpec,
    model_id: str,
    files: dict[tuple[str, str, str], tuple[str, bytes]],
    producer: dict[str, str],
    validate: Callable[[Path], tuple[dict, Sequence[GoldenArtifact]]] | None = None,
    batch_dependent: set[str] = frozenset(),
    keep_golden: bool = True,
    languages: dict[str, str] = LANGUAGES,
    provenance: dict | None = None,
) -> Manifest:
    """Write `files` ((backend, precision, role) -> (file name, bytes)) into the bundle at `out`.

    `validate(staged_dir)` runs on the complete staged bundle before it becomes visible; it returns
    a report stored in the manifest and the new artifacts' golden translations, or raises to abandon
    the export (the old bundle stays). The golden file holds those and, with `keep_golden`, the kept
    artifacts' (format version 4); without any, the bundle has none.
    Precisions in `batch_dependent` are marked so that the runtime decodes them row by row.
    `languages` are the run's (`RunInfo.languages`); `provenance` what the manifest says of the
    model's making (`RunInfo.provenance`).
    """
    out = Path(out)
    if not replaceable(out, MANIFEST):
        raise BundleError(f"--out {out} exists and is not a bundle: refusing to replace it")
    keep = _reusable_artifacts(out, model_id, {(b, p) for b, p, _ in files})
    kept_golden = _previous_golden(out, model_id, {(a.backend, a.precision) for a in keep}) if keep_golden else []
    staged = staging_dir(out)
    try:
        artifacts: list[Artifact] = []
        for art in keep:
            shutil.copyfile(out / art.file, staged / art.file)
            artifacts.append(art)
        for (backend, precision, role), (name, data) in files.items():
            (staged / name).write_bytes(data)
            artifacts.append(Artifact(backend, precision, role, name, sha256_bytes(data), len(data),
                                      batch_invariant=precision not in batch_dependent))
        manifest = Manifest(
            source_vocab=spec.source_vocab,
            target_vocab=spec.target_vocab,
            max_source_length=spec.max_source_length,
            max_target_length=spec.max_target_length,
            latent_dim=spec.latent_dim,
            artifacts=tuple(artifacts),
            model_id=model_id,
            producer=producer,
            languages=dict(languages),
            provenance=provenance,
            source_form=spec.source_form,
            family=FAMILIES[spec.family],
            # The ids the graphs were built for (the encoder's one-hot depth, the logits' width): a
            # runtime refuses vocabularies of other lengths (the source side cannot be read from the
            # graphs without `onnx`). Optional fields: readers of older s2s-edge ignore them.
            source_vocab_size=spec.encoder.input_size,
            target_vocab_size=int(spec.dense.kernel.shape[1]),
            # Figures of the artifacts kept; the new ones are added by `validate`.
            validation={k: v for k, v in _previous_validation(out, model_id).items()
                        if k in {f"{a.backend}/{a.precision}" for a in keep}},
        )
        # What the runtimes will read, checked as they check it (lengths within the format's cap, ...).
        Manifest.from_json(manifest.to_json(), where=f"the manifest for {out}")
        write_manifest(staged / MANIFEST, manifest)
        golden: list[GoldenArtifact] = list(kept_golden)
        if validate is not None:
            report, recorded = validate(staged)
            manifest.validation.update(report)
            golden += recorded
        if golden:
            data = Golden(tuple(golden)).to_bytes()
            atomic_write_bytes(staged / GOLDEN_FILE, data)
            manifest = dataclasses.replace(manifest, golden=GoldenFile(GOLDEN_FILE, sha256_bytes(data), len(data)))
            Manifest.from_json(manifest.to_json(), where=f"the manifest for {out}")
            read_golden(staged, manifest)  # as the runtimes read it
        write_manifest(staged / MANIFEST, manifest)
        replace_dir(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return manifest


def write_manifest(path: Path, manifest: Manifest) -> None:
    """`manifest` as the JSON both runtimes read: no NaN or Infinity (JSON has none; a figure that
    is not a number is an export bug, refused here rather than in every reader)."""
    text = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def _reusable_artifacts(out: Path, model_id: str, replacing: set[tuple[str, str]]) -> list[Artifact]:
    try:
        manifest = read_manifest(out)
    except BundleError:
        return []  # nothing there, or not a bundle we can extend: start afresh
    if manifest.model_id != model_id:
        return []
    keep = []
    for art in manifest.artifacts:
        if (art.backend, art.precision) in replacing:
            continue
        path = out / art.file
        if path.is_file() and not path.is_symlink() and sha256_file(path) == art.sha256:
            keep.append(art)
    return keep


def _previous_golden(out: Path, model_id: str, kept: set[tuple[str, str]]) -> list[GoldenArtifact]:
    """The golden translations of the kept artifacts, from the bundle being extended (none when it has
    none, or when they do not read back)."""
    try:
        manifest = read_manifest(out)
        golden = read_golden(out, manifest) if manifest.model_id == model_id else None
    except BundleError:
        return []
    return [a for a in golden.artifacts if (a.backend, a.precision) in kept] if golden else []


def _previous_validation(out: Path, model_id: str) -> dict:
    try:
        manifest = read_manifest(out)
    except BundleError:
        return {}
    return dict(manifest.validation or {}) if manifest.model_id == model_id else {}

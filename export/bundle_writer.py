"""Writing bundles: staged beside the target, validated, then renamed into place.

A bundle may hold several backends and precisions of the same model. Writing new artifacts keeps
the existing ones of other (backend, precision) pairs when they come from the same Keras model
(same model_id); a bundle of another model is replaced whole.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from runtime.bundle import (
    FAMILIES,
    MANIFEST,
    Artifact,
    Manifest,
    read_manifest,
    sha256_bytes,
    sha256_file,
)
from runtime.errors import BundleError
from trainer.data import LANGUAGES
from trainer.fileio import atomic_write_json, replace_dir, replaceable, staging_dir
from trainer.spec import Seq2SeqSpec


def write_bundle(
    out: str | Path,
    spec: Seq2SeqSpec,
    model_id: str,
    files: dict[tuple[str, str, str], tuple[str, bytes]],
    producer: dict[str, str],
    validate: Callable[[Path], dict] | None = None,
    batch_dependent: set[str] = frozenset(),
) -> Manifest:
    """Write `files` ((backend, precision, role) -> (file name, bytes)) into the bundle at `out`.

    `validate(staged_dir)` runs on the complete staged bundle before it becomes visible; it returns
    a report stored in the manifest, or raises to abandon the export (the old bundle stays).
    Precisions in `batch_dependent` are marked so that the runtime decodes them row by row.
    """
    out = Path(out)
    if not replaceable(out, MANIFEST):
        raise BundleError(f"--out {out} exists and is not a bundle: refusing to replace it")
    keep = _reusable_artifacts(out, model_id, {(b, p) for b, p, _ in files})
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
            languages=LANGUAGES,
            family=FAMILIES[spec.family],
            # Figures of the artifacts kept; the new ones are added by `validate`.
            validation={k: v for k, v in _previous_validation(out, model_id).items()
                        if k in {f"{a.backend}/{a.precision}" for a in keep}},
        )
        atomic_write_json(staged / MANIFEST, manifest.to_json())
        if validate is not None:
            report = validate(staged)
            manifest.validation.update(report)
            atomic_write_json(staged / MANIFEST, manifest.to_json())
        replace_dir(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return manifest


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


def _previous_validation(out: Path, model_id: str) -> dict:
    try:
        manifest = read_manifest(out)
    except BundleError:
        return {}
    return dict(manifest.validation or {}) if manifest.model_id == model_id else {}

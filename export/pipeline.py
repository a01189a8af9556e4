"""The export flow every backend shares: convert, stage, validate against Keras, then publish."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from runtime.bundle import sha256_file
from runtime.errors import S2SError

from .validate import Baseline, ParityReport, format_table, require_parity


class UsageError(S2SError, ValueError):
    """A bad command-line value."""


@dataclass
class Loaded:
    """A training run opened for export."""

    path: Path
    info: object  # trainer.run.RunInfo
    model: object  # keras.Model
    functions: object  # trainer.model.InferenceFunctions
    model_id: str


def open_run(run: str | Path) -> Loaded:
    from trainer.model import InferenceFunctions
    from trainer.run import MODEL_FILE, load_model, read_run

    run = Path(run)
    info = read_run(run)
    model = load_model(run)
    return Loaded(run, info, model, InferenceFunctions(model), sha256_file(run / MODEL_FILE))


def artifact_name(role: str, precision: str, extension: str) -> str:
    return f"{role}.{precision}.{extension}"


def export_bundle(
    run: str | Path,
    out: str | Path,
    backend: str,
    precisions: Sequence[str],
    convert: Callable[[Loaded, str], dict[str, bytes]],
    extension: str,
    producer: dict[str, str],
    *,
    num_decodes: int = 500,
    min_agreement: dict[str, float] | None = None,
    batch_dependent: set[str] = frozenset(),
    log=print,
):
    """Convert `run` to `backend` in each precision, validate and write the bundle at `out`.

    `convert(loaded, precision)` returns {"encoder": bytes, "decoder_step": bytes}. Returns
    (Manifest, [ParityReport]). Raises ParityError, leaving `out` as it was, when an artifact
    misses its precision's bar (runtime.validate.MIN_AGREEMENT, or `min_agreement`).
    """
    from trainer.decode import keras_translator
    from trainer.run import read_heldout

    from .bundle_writer import write_bundle

    from runtime.bundle import MANIFEST
    from runtime.errors import BundleError
    from runtime.fileio import replaceable

    if not replaceable(out, MANIFEST):  # fail before minutes of conversion
        raise BundleError(f"--out {out} exists and is not a bundle: refusing to replace it")
    if num_decodes < 1:
        raise UsageError(f"num_decodes must be at least 1, got {num_decodes}")
    loaded = open_run(run)
    files = {}
    for precision in precisions:
        started = time.perf_counter()
        log(f"converting to {backend}/{precision} ...")
        graphs = convert(loaded, precision)
        for role, data in graphs.items():
            files[(backend, precision, role)] = (artifact_name(role, precision, extension), data)
        sizes = ", ".join(f"{role} {len(d) / 1024:.0f} KiB" for role, d in graphs.items())
        log(f"  done in {time.perf_counter() - started:.1f}s: {sizes}")

    pairs = read_heldout(loaded.path)
    reports: list[ParityReport] = []

    def validate(staged: Path) -> dict:
        log(f"validating against Keras on up to {num_decodes} held-out sentences ...")
        baseline = Baseline(loaded.model, keras_translator(loaded.path), loaded.info, pairs, num_decodes)
        for precision in precisions:
            reports.append(baseline.compare(staged, backend, precision))
        log(format_table(reports, keras_chrf=baseline.chrf))
        for report in reports:
            require_parity(report, (min_agreement or {}).get(report.precision))
        return {r.name: r.to_json() for r in reports}

    manifest = write_bundle(
        out, loaded.info, loaded.model_id, files, producer=producer, validate=validate,
        batch_dependent=set(batch_dependent),
    )
    log(f"bundle written to {out}")
    return manifest, reports


def parse_min_agreement(values: Sequence[str] | None) -> dict[str, float]:
    """`PRECISION=FRACTION` flags -> {precision: fraction}."""
    out = {}
    for item in values or []:
        precision, sep, value = item.partition("=")
        try:
            fraction = float(value)
        except ValueError:
            fraction = -1.0
        if not sep or not 0.0 <= fraction <= 1.0:
            raise UsageError(f"--min-agreement takes PRECISION=FRACTION (e.g. int8=0.85), got {item!r}")
        out[precision] = fraction
    return out

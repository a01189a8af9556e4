"""The export flow every backend shares: open the run once, convert, stage, validate against Keras,
then publish.

Data flows one way: `trainer.model.open_run` reads the run and loads its Keras model once; the
converters receive its description (`Source.spec`) and training pairs; validation receives the same
Keras model as the reference; the bundle writer receives the files and the description.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from runtime.bundle import MANIFEST
from runtime.errors import BundleError
from runtime.golden import DEFAULT_GOLDEN, MAX_GOLDEN_SENTENCES
from trainer.fileio import replaceable
from trainer.model import TrainedRun, open_run
from trainer.reference import step_translator
from trainer.run import read_heldout

from .bundle_writer import write_bundle
from .source import Converter, UsageError, run_source
from .validate import Baseline, format_table, require_parity


def artifact_name(role: str, precision: str, extension: str) -> str:
    return f"{role}.{precision}.{extension}"


def export_bundle(
    run: str | Path,
    out: str | Path,
    backend: str,
    precisions: Sequence[str],
    convert: Converter,
    extension: str,
    producer: dict[str, str],
    *,
    num_decodes: int = 500,
    min_agreement: dict[str, float] | None = None,
    batch_dependent: set[str] = frozenset(),
    other_kernels: dict[str, Sequence[str]] | None = None,
    golden: int = DEFAULT_GOLDEN,
    log=print,
):
    """Convert `run` to `backend` in each precision, validate and write the bundle at `out`.
    `other_kernels` names, by precision, the backend's other kernel sets whose decodes are checked too.
    `golden` held-out sentences (at most `num_decodes`; 0: none) go into the bundle's golden
    translations with each artifact's decodes of them (docs/bundle.md#golden-translations); with 0,
    the bundle keeps none, not even the kept artifacts'.

    Returns (Manifest, [ParityReport]). Raises ParityError, leaving `out` as it was, when an artifact
    fails its precision's gate (`export.validate.judge`; `min_agreement`, by precision, judges it by
    its share of decodes identical to Keras instead).
    """
    if not replaceable(out, MANIFEST):  # fail before minutes of conversion
        raise BundleError(f"--out {out} exists and is not a bundle: refusing to replace it")
    if num_decodes < 1:
        raise UsageError(f"num_decodes must be at least 1, got {num_decodes}")
    if not 0 <= golden <= MAX_GOLDEN_SENTENCES:
        raise UsageError(f"golden must be 0 (none) to {MAX_GOLDEN_SENTENCES} sentences, got {golden}")
    trained: TrainedRun = open_run(run)
    source = run_source(trained.path, trained.spec)
    files = {}
    for precision in precisions:
        started = time.perf_counter()
        log(f"converting to {backend}/{precision} ...")
        graphs = convert(source, precision)
        for role, data in graphs.items():
            files[(backend, precision, role)] = (artifact_name(role, precision, extension), data)
        sizes = ", ".join(f"{role} {len(d) / 1024:.0f} KiB" for role, d in graphs.items())
        log(f"  done in {time.perf_counter() - started:.1f}s: {sizes}")

    reports = []

    def validate(staged: Path) -> dict:
        log(f"validating against Keras on up to {num_decodes} held-out sentences ...")
        reference = step_translator(trained.model, trained.spec)
        baseline = Baseline(trained.model, reference, trained.spec, read_heldout(trained.path), num_decodes)
        for precision in precisions:
            reports.append(baseline.compare(staged, backend, precision, (other_kernels or {}).get(precision, ()),
                                            golden=golden))
        log(format_table(reports, keras_chrf=baseline.chrf, min_agreement=min_agreement))
        for r in reports:
            if r.greedy_size is not None:
                same = r.decodes_compared - len(r.greedy_differences)
                log(f"{r.name} one-graph greedy decoder ({r.greedy_size / 1024:.0f} KiB): "
                    f"{same}/{r.decodes_compared} decodes identical to stepping")
        for report in reports:
            require_parity(report, (min_agreement or {}).get(report.precision))
        recorded = [r.golden for r in reports if r.golden is not None]
        if recorded:
            log(f"golden translations: {len(recorded[0].sources)} sentences with each artifact's decodes "
                f"({', '.join(f'{r.name} on ' + ' and '.join(d.kernels for d in r.golden.decodes) for r in reports if r.golden)})")
        return {r.name: r.to_json() for r in reports}, recorded

    manifest = write_bundle(
        out, trained.spec, trained.model_id, files, producer=producer, validate=validate,
        batch_dependent=set(batch_dependent), keep_golden=golden > 0, languages=trained.info.languages,
        provenance=trained.info.provenance,
    )
    log(f"bundle written to {out}")
    return manifest, reports

"""Shared fixtures: one tiny model trained on the built-in corpus, and its ONNX bundle.

Tiny on purpose (latent 64, a dozen short epochs): parity holds for any weights, and the suite must run in
minutes on 2 cores. The seed's full settings belong to benchmarks.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fra-eng" / "fra.txt"
TINY = dict(num_samples=2400, epochs=20, latent_dim=64, batch_size=32, learning_rate=5e-3, seed=3)


def quiet(*_args, **_kwargs) -> None:
    pass


# Fixtures that train a model: a test that uses one, directly or through another fixture, is slow.
# Modules whose tests train or export models themselves set `pytestmark = pytest.mark.slow`.
# `pytest -m "not slow"` is the fast lane.
SLOW_FIXTURES = {"tiny_run", "real_run", "keras2_h5_run", "keras2_h5_bundle", "attention_run", "attention_bundle"}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    from trainer.fit import fit

    out = tmp_path_factory.mktemp("runs") / "tiny"
    fit(out, None, verbose=0, log=quiet, **TINY)
    return out


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run, tmp_path_factory) -> Path:
    from export.to_onnx import export_onnx

    out = tmp_path_factory.mktemp("bundles") / "tiny"
    export_onnx(tiny_run, out, log=quiet)
    return out


@pytest.fixture(scope="session")
def attention_run(tmp_path_factory) -> Path:
    """A tiny model of the attention family (the tiny run's settings), with the chrF callback on."""
    from trainer.fit import fit

    out = tmp_path_factory.mktemp("runs") / "attention"
    fit(out, None, verbose=0, log=quiet, architecture="attention", chrf_sample=16, **TINY)
    return out


@pytest.fixture(scope="session")
def attention_bundle(attention_run, tmp_path_factory) -> Path:
    """That run exported: ONNX float32 and int8, TFLite float32, float16, dynamic, int8 and int16x8,
    float32 validated at the export's bars; the quantized ones' agreement is reported, checked by
    the tests."""
    from export.to_onnx import export_onnx
    from export.to_tflite import export_tflite

    out = tmp_path_factory.mktemp("bundles") / "attention"
    accept = {"float16": 0.0, "dynamic": 0.0, "int8": 0.0, "int16x8": 0.0}
    export_onnx(attention_run, out, quantize=("none", "int8"), min_agreement=accept, log=quiet)
    export_tflite(attention_run, out, quantize=("none", "float16", "dynamic", "int8", "int16x8"),
                  min_agreement=accept, log=quiet)
    return out


KERAS2_H5 = Path(__file__).resolve().parent / "fixtures" / "keras_io_h5"


@pytest.fixture(scope="session")
def keras2_h5_run(tmp_path_factory) -> tuple[Path, dict]:
    """The 2017 Keras example's model (fixtures/keras_io_h5: zero padding, Keras 2's hard_sigmoid),
    imported; with the example's own decodes of its held-out sentences."""
    import json

    from trainer.keras_io import import_keras_io

    expected = json.loads((KERAS2_H5 / "expected.json").read_text(encoding="utf-8"))
    run = tmp_path_factory.mktemp("runs") / "keras2_h5"
    import_keras_io(KERAS2_H5 / "s2s.h5", run, KERAS2_H5 / "fra.txt", num_samples=expected["num_samples"],
                    log=quiet)
    return run, expected


@pytest.fixture(scope="session")
def keras2_h5_bundle(keras2_h5_run, tmp_path_factory) -> Path:
    """That run exported: ONNX float32 and int8, TFLite float32 and int8 (validated at export; the
    quantized ones' agreement is reported, not a bar here)."""
    from export.to_onnx import export_onnx
    from export.to_tflite import export_tflite

    out = tmp_path_factory.mktemp("bundles") / "keras2_h5"
    export_onnx(keras2_h5_run[0], out, quantize=("none", "int8"), min_agreement={"int8": 0.0}, log=quiet)
    export_tflite(keras2_h5_run[0], out, quantize=("none", "int8"), min_agreement={"int8": 0.0}, log=quiet)
    return out


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not REAL_DATA.is_file():
        pytest.skip(f"real data absent: {REAL_DATA} (the shared fra-eng corpus is not on this machine)")
    return REAL_DATA


@pytest.fixture(scope="session")
def real_run(real_data, tmp_path_factory) -> Path:
    from trainer.fit import fit

    out = tmp_path_factory.mktemp("runs") / "real"
    fit(out, real_data, num_samples=3000, epochs=3, latent_dim=32, verbose=0, log=quiet)
    return out


@pytest.fixture(scope="session")
def translator(tiny_bundle):
    """A Translator over the tiny bundle, shared by the tests that only read it."""
    from runtime import Translator

    return Translator(tiny_bundle)


@pytest.fixture(scope="session")
def sentences(tiny_run) -> list[str]:
    """The first 40 distinct held-out English sentences of the tiny run."""
    from trainer.run import read_heldout

    return list(dict.fromkeys(en for en, _ in read_heldout(tiny_run)))[:40]


@pytest.fixture
def copy_bundle(tiny_bundle, tmp_path):
    """A private copy of the tiny bundle, for tests that tamper with it."""
    import shutil

    def make(name="bundle") -> Path:
        dst = tmp_path / name
        shutil.copytree(tiny_bundle, dst)
        return dst

    return make


def edit_golden(bundle: Path, edit) -> dict:
    """Change the bundle's golden file (`edit` changes its parsed JSON in place, or returns a new one)
    and list it with its new sha256 and size, as an exporter would. Returns the JSON written."""
    import hashlib
    import json

    from runtime.bundle import MANIFEST

    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    file = bundle / manifest["golden"]["file"]
    golden = json.loads(file.read_text(encoding="utf-8"))
    golden = edit(golden) or golden
    data = json.dumps(golden, ensure_ascii=False).encode("utf-8")
    file.write_bytes(data)
    manifest["golden"].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (bundle / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return golden


def strip_golden(bundle: Path) -> int:
    """Turn a bundle into what an export without golden translations writes (`--golden 0`, or an
    s2s-edge before format version 4): no golden file, the lowest format version that holds the rest.
    Returns that version."""
    import json

    from runtime.bundle import MANIFEST, Manifest

    data = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    (bundle / data.pop("golden")["file"]).unlink()
    version = data["format_version"] = Manifest.from_json(data).format_version
    if version < 3:
        data.pop("family", None)
    (bundle / MANIFEST).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return version


_BLOCK_TENSORFLOW = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('tensorflow', 'keras', 'tf2onnx', 'trainer', 'export'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
"""


@pytest.fixture
def run_without_tensorflow():
    """Run Python code in a fresh interpreter where TensorFlow, Keras, trainer and export cannot be
    imported; it must print 'ok' and leave no TensorFlow module loaded."""
    import subprocess
    import sys

    def run(code: str) -> None:
        check = "\nassert not any(m.split('.')[0] in ('tensorflow', 'keras') for m in sys.modules)\nprint('ok')\n"
        done = subprocess.run([sys.executable, "-c", _BLOCK_TENSORFLOW + code + check],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1] == "ok"

    return run

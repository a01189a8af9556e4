"""The install as pyproject.toml declares it, read from the built metadata (no registry, no network).

onnxruntime and onnxruntime-gpu install the same `onnxruntime` module, so no install may bring both:
the base install holds no onnxruntime, `[cpu]` brings onnxruntime, `[gpu]` onnxruntime-gpu, and the
extras that train, export and test bring the CPU one. Without either, importing the runtime says
which extra to install, in one line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
CPU, GPU = "onnxruntime", "onnxruntime-gpu"

_BUILD_METADATA = """
import sys
from setuptools import build_meta
print(build_meta.prepare_metadata_for_build_wheel(sys.argv[1]))
"""


@pytest.fixture(scope="module")
def requirements(tmp_path_factory) -> list[Requirement]:
    """Requires-Dist of the wheel that pyproject.toml describes, as setuptools builds it offline."""
    src = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    out = src / "metadata"
    out.mkdir()
    done = subprocess.run([sys.executable, "-c", _BUILD_METADATA, str(out)], cwd=src,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    dist_info = out / done.stdout.strip().splitlines()[-1]
    metadata = Parser().parsestr((dist_info / "METADATA").read_text(encoding="utf-8"))
    assert canonicalize_name(metadata["Name"]) == "s2s-edge"
    return [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]


def installs(requirements: list[Requirement], *extras: str) -> set[str]:
    """The distributions (canonical names) that `pip install 's2s-edge[EXTRAS]'` asks for on this
    machine, with the project's own extras (`s2s-edge[train]` inside `[export]`) followed."""
    active, names = {""} | set(extras), set()
    changed = True
    while changed:
        changed = False
        for req in requirements:
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in active):
                continue
            name = canonicalize_name(req.name)
            if name == "s2s-edge":
                changed |= not set(req.extras) <= active
                active |= set(req.extras)
            else:
                names.add(name)
    return names


def test_the_base_install_holds_no_onnxruntime(requirements):
    base = installs(requirements)
    assert "numpy" in base
    assert not {CPU, GPU} & base, "an extra cannot remove a base dependency: [gpu] would bring both"


def test_cpu_brings_onnxruntime_gpu_brings_onnxruntime_gpu_alone(requirements):
    """... and the extras that train, export and test bring the CPU one (`bash scripts/demo` installs
    [export], `bash scripts/test` [dev])."""
    assert {"numpy", CPU} <= installs(requirements, "cpu") and GPU not in installs(requirements, "cpu")
    assert {"numpy", GPU} <= installs(requirements, "gpu") and CPU not in installs(requirements, "gpu")
    assert CPU not in installs(requirements, "gpu", "tflite"), "a GPU app with the TFLite backend"
    for extra in ("train", "export", "dev"):
        names = installs(requirements, extra)
        assert CPU in names and GPU not in names, extra


def test_no_extra_brings_both_onnxruntimes(requirements):
    extras = {e for req in requirements if req.marker is not None
              for e in ("cpu", "gpu", "train", "export", "tflite", "dev") if req.marker.evaluate({"extra": e})}
    assert {"cpu", "gpu"} <= extras
    for extra in sorted(extras):
        assert not {CPU, GPU} <= installs(requirements, extra), extra


_WITHOUT_ONNXRUNTIME = """
import sys
sys.modules["onnxruntime"] = None  # what importing it gives where neither onnxruntime is installed
try:
    import runtime
except ModuleNotFoundError as exc:
    assert exc.name == "onnxruntime", exc.name
    print(str(exc))
else:
    print("imported")
"""


def test_the_runtime_without_onnxruntime_says_which_extra_to_install():
    done = subprocess.run([sys.executable, "-c", _WITHOUT_ONNXRUNTIME], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    message = done.stdout.rstrip("\n")
    assert "\n" not in message, message
    assert "s2s-edge[cpu]" in message and "s2s-edge[gpu]" in message, message

"""Backends run the two graphs of a bundle; each implements `runtime.decoding.StepModel`."""

from __future__ import annotations

from ..bundle import SEED, Artifact, Family, GraphCheck
from ..errors import BackendUnavailableError
from .onnx import OnnxStepModel
from .tflite import TFLiteStepModel  # LiteRT itself is imported when a model is loaded

BACKENDS = ("onnx", "tflite")


def load_backend(
    name: str, encoder: bytes, decoder_step: bytes, *, device: str = "cpu", threads: int | None = None,
    io_binding: bool | None = None, greedy: bytes | None = None, family: Family = SEED, kernels: str = "default",
    check: GraphCheck | None = None,
):
    """A StepModel for backend `name` from the graphs' bytes (already checked by the caller), whose
    graphs take and return `family`'s tensors; `greedy`, the optional one-graph greedy decoder, gives
    the model a `greedy_ids` method. `kernels` picks LiteRT's kernel set (`tflite.KERNELS`).
    `check(role, inputs, outputs)` sees each graph's interface as it is loaded, before it runs
    (`runtime.bundle.check_graph`)."""
    if kernels != "default" and name != "tflite":
        raise BackendUnavailableError(f"kernels={kernels!r}: kernel sets are LiteRT's; backend {name!r} has none")
    if name == "onnx":
        return OnnxStepModel(encoder, decoder_step, device=device, threads=threads, io_binding=io_binding,
                             greedy=greedy, family=family, check=check)
    if greedy is not None:
        raise BackendUnavailableError(f"backend {name!r} has no one-graph greedy decoder")
    if name == "tflite":
        if io_binding:
            raise BackendUnavailableError("io_binding is an onnxruntime feature; backend='tflite' has none")
        return TFLiteStepModel(encoder, decoder_step, device=device, threads=threads, family=family,
                               kernels=kernels, check=check)
    raise BackendUnavailableError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["Artifact", "BACKENDS", "load_backend"]

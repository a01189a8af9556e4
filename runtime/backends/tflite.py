"""LiteRT (TFLite) backend: runs the bundle's .tflite encoder and decoder step on the CPU.

Each file has one `serving_default` signature whose input and output names are the bundle's graph
names; outputs are read by name (LiteRT does not keep the model's output order). The batch axis is
dynamic (signature runners resize their inputs to each call's batch) or fixed (`export.to_tflite
--fixed-batch`, as TFLite Micro needs): a call of another batch then runs in pieces of that size.
A full-integer file may take and return its float tensors (the state, the attention family's
memory, the logits) as integers with their scale and zero point (`export.to_tflite --integer-io`,
for accelerators that need it): the backend quantizes them on the way in and dequantizes them on
the way out with LiteRT's own rounding, as the float-I/O file's QUANTIZE / DEQUANTIZE ops do, so
the decodes are those of the float-I/O file. The one exception is the step's own state: where
`next_<name>` has the quantization of the input `<name>` (the converter calibrates the two apart;
they often agree), the step returns it as the file's integers and takes it back unchanged, as an
accelerator's loop would; the decoding loops only re-index it.
"""

from __future__ import annotations

import threading

import numpy as np

from ..bundle import LOGITS, SEED, SOURCE_IDS, TOKEN_IDS, Family, GraphCheck, next_name
from ..errors import BackendUnavailableError, BundleError


# LiteRT's kernel sets: "default" delegates what it can to XNNPACK; "builtin" runs LiteRT's own
# kernels only. Float files give the same results on both; full-integer (int8) files need not, since
# each set rounds its own way (docs/devices.md), so the export checks those on both.
KERNELS = ("default", "builtin")


def litert_interpreter(kernels: str = "default"):
    """(LiteRT's Interpreter class, the keyword arguments of its constructor that select `kernels`)."""
    if kernels not in KERNELS:
        raise ValueError(f"kernels must be one of {', '.join(KERNELS)}, got {kernels!r}")
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:
        raise BackendUnavailableError(
            "backend='tflite' needs LiteRT: pip install 's2s-edge[tflite]' (ai-edge-litert)"
        ) from None
    if kernels == "builtin":
        return Interpreter, {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    return Interpreter, {}


class TFLiteStepModel:
    def __init__(
        self, encoder: bytes, decoder_step: bytes, *, device: str = "cpu", threads: int | None = None,
        family: Family = SEED, kernels: str = "default", check: GraphCheck | None = None,
    ) -> None:
        if device not in ("cpu", "auto"):
            raise BackendUnavailableError(f"backend='tflite' runs on the CPU only, not {device!r}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        Interpreter, options = litert_interpreter(kernels)
        self.device = "cpu"
        self.family = family
        self._check = check
        self._encoder = self._runner(Interpreter, options, encoder, "encoder", threads)
        self._decoder = self._runner(Interpreter, options, decoder_step, "decoder_step", threads)
        self._encoder_length = self._encoder.get_input_details()[SOURCE_IDS]["shape"][1]
        # Integer state that the step hands back to itself as it is (same type, scale, zero point).
        carried = self._decoder._quantized_inputs, self._decoder._quantized_outputs
        self._integer_state = {next_name(name) for name in family.state
                               if name in carried[0] and carried[0][name] == carried[1].get(next_name(name))}
        self.fixed_batch = {role: _fixed_batch(runner, name) for role, runner, name in
                            (("encoder", self._encoder, SOURCE_IDS), ("decoder_step", self._decoder, TOKEN_IDS))}
        # An interpreter holds its tensors: one call at a time (outputs are copies, so the
        # decoding state itself stays with each caller).
        self._lock = threading.Lock()

    def _runner(self, Interpreter, options, data, role, threads):
        inputs, outputs = self.family.io[role]
        try:
            interpreter = Interpreter(model_content=data, num_threads=1 if threads is None else threads, **options)
            runner = interpreter.get_signature_runner()
        except (ValueError, RuntimeError) as exc:
            raise BundleError(f"the {role} .tflite model cannot be loaded: {exc}") from None
        if self._check is not None:  # names, kinds, ranks and sizes against the manifest
            # A full-integer file with integer I/O takes and returns its floats as int8 or int16.
            self._check(role, graph_io(runner.get_input_details()), graph_io(runner.get_output_details()),
                        float_types=("float32", "int8", "int16"))
        have_in = sorted(runner.get_input_details())
        have_out = sorted(runner.get_output_details())
        if have_in != sorted(inputs) or have_out != sorted(outputs):
            raise BundleError(
                f"the {role} .tflite model has inputs {have_in} and outputs {have_out}, "
                f"expected {sorted(inputs)} and {sorted(outputs)}"
            )
        runner._interpreter_ref = interpreter  # keep the interpreter alive with its runner
        runner._quantized_inputs = quantized_tensors(runner.get_input_details())
        runner._quantized_outputs = quantized_tensors(runner.get_output_details())
        return runner

    def encode(self, source_ids: np.ndarray) -> dict:
        if source_ids.shape[1] != self._encoder_length:
            raise ValueError(
                f"the TFLite encoder reads exactly {self._encoder_length} ids, got {source_ids.shape[1]}"
            )
        out = self._call(self._encoder, self.fixed_batch["encoder"],
                         {SOURCE_IDS: source_ids.astype(np.int32, copy=False)})
        return {name: out[name] for name in self.family.encoder_outputs}

    def step(self, token_ids: np.ndarray, state):
        out = self._call(self._decoder, self.fixed_batch["decoder_step"],
                         {TOKEN_IDS: token_ids.astype(np.int32, copy=False), **state}, self._integer_state)
        return out[LOGITS], {**state, **{name: out[next_name(name)] for name in self.family.state}}

    def _call(self, runner, fixed: int | None, feeds: dict, integer: set = frozenset()) -> dict:
        """Run `runner` on `feeds`; float feeds of integer inputs are quantized, integer outputs
        dequantized, except the outputs named in `integer`."""
        out = self._run(runner, fixed, quantize_feeds(feeds, runner._quantized_inputs))
        return dequantize_outputs(out, runner._quantized_outputs, integer)

    def _run(self, runner, fixed: int | None, feeds: dict) -> dict:
        rows = len(next(iter(feeds.values())))
        if fixed is None or rows == fixed or rows == 0:
            with self._lock:
                return runner(**feeds)
        pieces = []
        for start in range(0, rows, fixed):  # the last piece is filled up with copies of its last row
            take = np.minimum(np.arange(start, start + fixed), rows - 1)
            with self._lock:
                pieces.append(runner(**{name: value[take] for name, value in feeds.items()}))
        return {name: np.concatenate([p[name] for p in pieces])[:rows] for name in pieces[0]}


def graph_io(details: dict) -> dict:
    """A signature runner's input or output details as `runtime.bundle.GraphIO`: {name: (dtype,
    shape)}, -1 (a dynamic size) as None."""
    return {name: (np.dtype(d["dtype"]).name,
                   tuple(int(n) if n > 0 else None for n in d.get("shape_signature", d["shape"])))
            for name, d in details.items()}


def quantized_tensors(details: dict) -> dict[str, tuple]:
    """{name: (dtype, scale, zero point)} of the integer tensors that stand for float ones (a
    nonzero scale); the ids, plain int32, have none."""
    out = {}
    for name, d in details.items():
        scale, zero_point = d.get("quantization", (0.0, 0))
        if np.issubdtype(d["dtype"], np.integer) and scale:
            out[name] = (np.dtype(d["dtype"]), np.float32(scale), int(zero_point))
    return out


def quantize(x: np.ndarray, dtype: np.dtype, scale: np.float32, zero_point: int, reference: bool = False):
    """LiteRT's QUANTIZE: x * (1 / scale) in float32, rounded halves to even, plus the zero point,
    saturated. `reference`: TFLite's reference kernels' (TFLite Micro's), x / scale rounded halves
    away from zero. (Only exact half steps tell the two apart.) An array already of `dtype` is the
    file's own integers (the step's carried state), as it is."""
    if x.dtype == dtype:
        return x
    x = x.astype(np.float32, copy=False)
    if reference:
        v = x / scale
        q = np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))
    else:
        q = np.rint(x * (np.float32(1) / scale))
    info = np.iinfo(dtype)
    return np.clip(q + zero_point, info.min, info.max).astype(dtype)


def quantize_feeds(feeds: dict, quantized: dict, reference: bool = False) -> dict:
    """`feeds` with each input of `quantized` (`quantized_tensors`) quantized."""
    return {name: quantize(value, *quantized[name], reference=reference) if name in quantized else value
            for name, value in feeds.items()}


def dequantize_outputs(out: dict, quantized: dict, keep=frozenset()) -> dict:
    """`out` with each output of `quantized` dequantized, except those named in `keep`."""
    return {name: dequantize(value, *quantized[name]) if name in quantized and name not in keep else value
            for name, value in out.items()}


def dequantize(q: np.ndarray, dtype: np.dtype, scale: np.float32, zero_point: int) -> np.ndarray:
    """TFLite's DEQUANTIZE: (q - zero point) * scale, in float32."""
    return (q.astype(np.float32) - np.float32(zero_point)) * scale


def _fixed_batch(runner, name: str) -> int | None:
    """The batch size that a file's input `name` fixes, or None for a dynamic batch."""
    batch = int(runner.get_input_details()[name]["shape_signature"][0])
    return batch if batch > 0 else None

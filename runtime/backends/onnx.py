"""onnxruntime backend, on CPU or CUDA.

With I/O binding (the default on CUDA) the decoder's state (its recurrent tensors, and the
attention family's memory) stays in onnxruntime's device buffers from one step to the next; only the
logits come back to the host for the choice of the next token, and the state crosses over only when
the batch changes (rows finish, beams reorder; the memory only when a sentence's rows change, see
`runtime.decoding.beam_decode`).
"""

from __future__ import annotations

import numpy as np

try:
    import onnxruntime as ort
except ModuleNotFoundError as exc:  # the base install has none: [cpu] or [gpu] brings one (pyproject.toml)
    if exc.name != "onnxruntime":
        raise
    raise ModuleNotFoundError(
        "the s2s-edge runtime needs onnxruntime: pip install 's2s-edge[cpu]', or 's2s-edge[gpu]' for "
        "onnxruntime-gpu (one of the two, never both)", name="onnxruntime") from None

from ..bundle import LOGITS, OUTPUT_IDS, SEED, SOURCE_IDS, TOKEN_IDS, Family, GraphCheck, next_name
from ..errors import BackendUnavailableError, BundleError

DEVICES = ("cpu", "cuda", "auto")


def providers_for(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise BackendUnavailableError(
                "device='cuda' needs onnxruntime's CUDA execution provider, which this "
                f"onnxruntime lacks (it has: {', '.join(available)}); install it with "
                "pip uninstall -y onnxruntime && pip install 's2s-edge[gpu]' (onnxruntime-gpu, never beside "
                "onnxruntime), or use device='cpu' or 'auto'"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + [
            "CPUExecutionProvider"
        ]
    raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")


def _session(model: bytes, role: str, options, providers) -> ort.InferenceSession:
    try:
        return ort.InferenceSession(model, options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail / InvalidProtobuf / ... types
        raise BundleError(
            f"onnxruntime {ort.__version__} cannot load the bundle's {role} model: "
            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def graph_io(args) -> dict:
    """onnxruntime's NodeArgs as `runtime.bundle.GraphIO`: {name: (dtype, shape)}."""
    def dtype(name: str) -> str:
        name = name.removeprefix("tensor(").removesuffix(")")
        return {"float": "float32", "double": "float64"}.get(name, name)

    def shape(dims) -> tuple | None:
        if not dims:  # unknown rank (a scalar reads the same: onnxruntime tells the two apart nowhere)
            return None
        return tuple(d if isinstance(d, int) and d > 0 else None for d in dims)

    return {a.name: (dtype(a.type), shape(a.shape)) for a in args}


def check_session(session: ort.InferenceSession, role: str, check: GraphCheck | None) -> ort.InferenceSession:
    if check is not None:
        check(role, graph_io(session.get_inputs()), graph_io(session.get_outputs()))
    return session


class DeviceState:
    """A state tensor left in onnxruntime's buffers; indexing it (a batch change) copies it out."""

    __slots__ = ("value",)

    def __init__(self, value: "ort.OrtValue") -> None:
        self.value = value

    def __getitem__(self, rows) -> np.ndarray:
        return self.value.numpy()[rows]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        array = self.value.numpy()
        return array if dtype is None else array.astype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape())


class OnnxStepModel:
    """Runs the encoder and the single-step decoder with onnxruntime, and the one-graph greedy decoder
    when given (`greedy_ids`)."""

    def __init__(
        self, encoder: bytes, decoder_step: bytes, *, device: str = "cpu", threads: int | None = None,
        io_binding: bool | None = None, greedy: bytes | None = None, family: Family = SEED,
        check: GraphCheck | None = None,
    ) -> None:
        self.family = family
        providers = providers_for(device)
        options = ort.SessionOptions()
        # One thread by default: a decoder step is a few small matrix products, which a thread pool
        # cannot split profitably (measured on 2 cores: no faster at batch 1 or 256), and an app on a
        # small device keeps its other cores.
        threads = 1 if threads is None else threads
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Each graph's interface is checked as it is loaded (`check`), before anything runs it.
        self.encoder = check_session(_session(encoder, "encoder", options, providers), "encoder", check)
        self.decoder = check_session(_session(decoder_step, "decoder_step", options, providers), "decoder_step", check)
        self.greedy = (None if greedy is None else
                       check_session(_session(greedy, "greedy", options, providers), "greedy", check))
        self.device = "cuda" if "CUDAExecutionProvider" in self.decoder.get_providers() else "cpu"
        self.io_binding = self.device == "cuda" if io_binding is None else bool(io_binding)

    def encode(self, source_ids: np.ndarray) -> dict:
        names = self.family.encoder_outputs
        values = self.encoder.run(list(names), {SOURCE_IDS: source_ids.astype(np.int32, copy=False)})
        return dict(zip(names, values))

    def greedy_ids(self, source_ids: np.ndarray) -> np.ndarray:
        """The greedy graph's output_ids [batch, steps] (rows run to their END id, then ids to ignore)."""
        (ids,) = self.greedy.run([OUTPUT_IDS], {SOURCE_IDS: source_ids.astype(np.int32, copy=False)})
        return ids

    def step(self, token_ids: np.ndarray, state):
        if self.io_binding:
            return self._bound_step(token_ids, state)
        carried = self.family.state
        logits, *values = self.decoder.run(
            [LOGITS, *(next_name(s) for s in carried)],
            {TOKEN_IDS: token_ids.astype(np.int32, copy=False), **state},
        )
        return logits, {**state, **dict(zip(carried, values))}

    def _bound_step(self, token_ids: np.ndarray, state):
        binding = self.decoder.io_binding()
        binding.bind_cpu_input(TOKEN_IDS, token_ids.astype(np.int32, copy=False))
        # The context is bound on the device once, then carried as a DeviceState like the state.
        state = {name: value if isinstance(value, DeviceState) else _on_device(value, self.device)
                 for name, value in state.items()}
        for name, value in state.items():
            binding.bind_ortvalue_input(name, value.value)
        binding.bind_output(LOGITS, "cpu")
        carried = self.family.state
        for name in carried:
            binding.bind_output(next_name(name), self.device)
        self.decoder.run_with_iobinding(binding)
        logits, *values = binding.get_outputs()
        return logits.numpy(), {**state, **{name: DeviceState(v) for name, v in zip(carried, values)}}


def _on_device(array, device: str) -> DeviceState:
    value = np.ascontiguousarray(array, dtype=np.float32)
    return DeviceState(ort.OrtValue.ortvalue_from_numpy(value, device, 0))

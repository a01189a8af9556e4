"""TFLite Micro, the runtime of microcontrollers, on the exporter's TFLite files: whether it loads a
file (its operator set, static shapes, one arena of fixed size), the smallest arena it needs, and
greedy decoding of a batch-1 encoder and step by TFLite Micro or LiteRT with either kernel set, for
comparing engines. Research and benchmark code: the runtime never imports it.

TFLite Micro comes from `pip install tflite-micro` (the [dev] extra installs it); LiteRT from
`ai-edge-litert`. Files need a fixed batch (`export.tflite_converter.make_converter(batch=1)`): TFLite
Micro refuses the dynamic batch's FILL of the encoder's initial state.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from runtime.bundle import LOGITS, SOURCE_IDS, TOKEN_IDS, Family, next_name

ENGINES = ("tflm", "litert-xnnpack", "litert-builtin")


def micro_interpreter(data: bytes, arena: int):
    """A TFLite Micro interpreter of `data` with an arena of `arena` bytes (RuntimeError if it does
    not load)."""
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, arena_size=arena)


def micro_fit(data: bytes, high: int = 64 << 20, step: int = 1024) -> tuple[str | None, int | None]:
    """(None, the smallest arena in bytes, to `step`) if TFLM loads `data` in an arena of `high`,
    else (the first line of its refusal, None). TFLM writes its complaints to the process's own
    output, and a small arena can crash it, so each try runs in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(data)

        def load(arena: int) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "export.micro", str(path), str(arena)],
                                  capture_output=True, timeout=600, cwd=Path(__file__).resolve().parents[1])

        done = load(high)
        if done.returncode != 0:
            lines = [line for line in (done.stdout + done.stderr).decode(errors="replace").splitlines()
                     if line.strip() and not line.startswith(("Traceback", " "))]
            return (next((line for line in lines if "not supported" in line or "was not true" in line),
                         lines[0] if lines else f"exit status {done.returncode}"), None)
        low = 0
        while high - low > step:
            middle = (low + high) // 2
            if load(middle).returncode == 0:
                high = middle
            else:
                low = middle
        return None, high


def static_shapes(data: bytes) -> bool:
    """Whether every tensor of `data` has a fixed shape (no dynamic dimension)."""
    from ai_edge_litert.interpreter import Interpreter

    details = Interpreter(model_content=data).get_tensor_details()
    return all(-1 not in list(t.get("shape_signature", t["shape"])) for t in details)


class Graph:
    """One .tflite file run by TFLM or LiteRT, inputs and outputs by their signature names."""

    def __init__(self, data: bytes, engine: str) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        lite = Interpreter(model_content=data)
        signature = lite.get_signature_runner()
        inputs = [d["index"] for d in lite.get_input_details()]
        outputs = [d["index"] for d in lite.get_output_details()]
        # TFLM takes inputs and outputs by position among the subgraph's; LiteRT lists them in that order
        self.inputs = {k: inputs.index(v["index"]) for k, v in signature.get_input_details().items()}
        self.outputs = {k: outputs.index(v["index"]) for k, v in signature.get_output_details().items()}
        self.engine = engine
        if engine == "tflm":
            self.micro = micro_interpreter(data, 64 << 20)
        else:
            kernels = ({"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
                       if engine == "litert-builtin" else {})
            self.lite = Interpreter(model_content=data, num_threads=1, **kernels)
            self.lite.allocate_tensors()
            self.input_index, self.output_index = inputs, outputs

    def __call__(self, feeds: dict) -> dict:
        if self.engine == "tflm":
            for name, value in feeds.items():
                self.micro.set_input(value, self.inputs[name])
            self.micro.invoke()
            return {name: self.micro.get_output(i) for name, i in self.outputs.items()}
        for name, value in feeds.items():
            self.lite.set_tensor(self.input_index[self.inputs[name]], value)
        self.lite.invoke()
        return {name: self.lite.get_tensor(self.output_index[i]) for name, i in self.outputs.items()}


def greedy(encoder: Graph, step: Graph, source_ids: np.ndarray, family: Family, start: int, end: int,
           length: int) -> list[int]:
    """Greedy ids of one source (its padded ids, [time]) from a batch-1 encoder and step."""
    encoded = encoder({SOURCE_IDS: source_ids[None].astype(np.int32)})
    state = {name: encoded[name] for name in family.state}
    context = {name: encoded[name] for name in family.context}
    token, out = start, []
    for _ in range(length):
        result = step({TOKEN_IDS: np.array([token], np.int32), **state, **context})
        token = int(np.argmax(result[LOGITS][0]))
        if token == end:
            break
        out.append(token)
        state = {name: result[next_name(name)] for name in family.state}
    return out


if __name__ == "__main__":  # one try of micro_fit: load a file in an arena of the given size
    micro_interpreter(Path(sys.argv[1]).read_bytes(), int(sys.argv[2]))

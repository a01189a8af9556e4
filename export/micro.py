"""TFLite Micro, the runtime of microcontrollers, on the exporter's TFLite files: whether it loads a
file (its operator set, static shapes, one arena of fixed size), the smallest arena it needs, and
the files as a `runtime.decoding.StepModel` run by TFLite Micro or by LiteRT with either of its
kernel sets, for comparing engines. Research and benchmark code: the runtime never imports it.

TFLite Micro comes from `pip install tflite-micro` (the [dev] extra installs it on x86-64 Linux, the
only platform it has wheels for). Files for it have a fixed batch (`export.to_tflite --fixed-batch
1`), so that every shape is static.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from runtime.backends.tflite import dequantize_outputs, litert_interpreter, quantize_feeds, quantized_tensors
from runtime.bundle import LOGITS, SOURCE_IDS, TOKEN_IDS, Family, next_name
from runtime.decoding import greedy_decode
from runtime.vocab import END, START, prepare_source
from trainer.spec import Seq2SeqSpec

ENGINES = ("tflm", "litert-xnnpack", "litert-builtin")

# One try: load a file in TFLite Micro with an arena of the given size. Exit 0: it loads; 3: TFLite
# Micro refused it (its complaints are on this process's output); anything else: the try failed.
_LOAD = """
import sys
from tflite_micro import runtime
try:
    runtime.Interpreter.from_bytes(open(sys.argv[1], "rb").read(), arena_size=int(sys.argv[2]))
except RuntimeError as exc:
    print(exc)
    sys.exit(3)
"""


def require_tflite_micro() -> None:
    if importlib.util.find_spec("tflite_micro") is None:
        raise RuntimeError("TFLite Micro is not installed: pip install tflite-micro (x86-64 Linux wheels)")


def micro_fit(data: bytes, high: int = 64 << 20, step: int = 1024) -> tuple[str | None, int | None]:
    """(None, the smallest arena in bytes, to `step`) if TFLite Micro loads `data` in an arena of
    `high` bytes, else (the first line of its refusal, None). TFLite Micro writes its complaints to
    the process's own output, and a small arena can crash it, so each try runs in a child process."""
    require_tflite_micro()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(data)

        def loads(arena: int) -> bool:
            done = subprocess.run([sys.executable, "-c", _LOAD, str(path), str(arena)], capture_output=True,
                                  timeout=600)
            if done.returncode not in (0, 3):
                if arena == high:
                    raise RuntimeError(f"TFLite Micro's loader failed (exit status {done.returncode}): "
                                       f"{done.stderr.decode(errors='replace').strip()[-500:]}")
                return False  # a small arena can crash it
            refusal[0] = (done.stdout + done.stderr).decode(errors="replace")
            return done.returncode == 0

        refusal = [""]
        if not loads(high):
            lines = [line for line in refusal[0].splitlines() if line.strip()]
            return (next((line for line in lines if "not supported" in line or "was not true" in line),
                         lines[0] if lines else "refused"), None)
        low = 0
        while high - low > step:
            middle = (low + high) // 2
            if loads(middle):
                high = middle
            else:
                low = middle
        return None, high


def static_shapes(data: bytes) -> bool:
    """Whether every tensor of `data` has a fixed shape (no dynamic dimension)."""
    from ai_edge_litert.interpreter import Interpreter

    return all(-1 not in list(t["shape_signature"]) for t in Interpreter(model_content=data).get_tensor_details())


class _Graph:
    """One batch-1 .tflite file run by `engine`, inputs and outputs by their signature names."""

    def __init__(self, data: bytes, engine: str) -> None:
        from ai_edge_litert.interpreter import Interpreter

        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        lite = Interpreter(model_content=data)
        signature = lite.get_signature_runner()
        inputs = [d["index"] for d in lite.get_input_details()]
        outputs = [d["index"] for d in lite.get_output_details()]
        # TFLite Micro takes inputs and outputs by their position among the subgraph's, which is
        # the order in which LiteRT lists them
        self.inputs = {k: inputs.index(v["index"]) for k, v in signature.get_input_details().items()}
        self.outputs = {k: outputs.index(v["index"]) for k, v in signature.get_output_details().items()}
        # An --integer-io file's float tensors: quantized and dequantized here, with the engine's rounding.
        self.quantized_inputs = quantized_tensors(signature.get_input_details())
        self.quantized_outputs = quantized_tensors(signature.get_output_details())
        self.engine = engine
        if engine == "tflm":
            require_tflite_micro()
            from tflite_micro import runtime

            self.micro = runtime.Interpreter.from_bytes(data, arena_size=64 << 20)
        else:
            _, options = litert_interpreter("builtin" if engine == "litert-builtin" else "default")
            self.lite = Interpreter(model_content=data, num_threads=1, **options)
            self.lite.allocate_tensors()
            self.input_index, self.output_index = inputs, outputs

    def __call__(self, feeds: dict) -> dict:
        out = self._invoke(quantize_feeds(feeds, self.quantized_inputs, reference=self.engine == "tflm"))
        return dequantize_outputs(out, self.quantized_outputs)

    def _invoke(self, feeds: dict) -> dict:
        if self.engine == "tflm":
            for name, value in feeds.items():
                self.micro.set_input(value, self.inputs[name])
            self.micro.invoke()
            return {name: self.micro.get_output(i) for name, i in self.outputs.items()}
        for name, value in feeds.items():
            self.lite.set_tensor(self.input_index[self.inputs[name]], value)
        self.lite.invoke()
        return {name: self.lite.get_tensor(self.output_index[i]) for name, i in self.outputs.items()}


class EngineStepModel:
    """A `runtime.decoding.StepModel` of batch-1 files (`export.to_tflite --fixed-batch 1`) run by one
    engine of `ENGINES`, a row at a time."""

    def __init__(self, encoder: bytes, decoder_step: bytes, family: Family, engine: str) -> None:
        self.family = family
        self._encoder, self._step = _Graph(encoder, engine), _Graph(decoder_step, engine)

    def encode(self, source_ids: np.ndarray) -> dict:
        rows = [self._encoder({SOURCE_IDS: row[None].astype(np.int32)}) for row in source_ids]
        return {name: np.concatenate([r[name] for r in rows]) for name in self.family.encoder_outputs}

    def step(self, token_ids: np.ndarray, state: dict):
        rows = [self._step({TOKEN_IDS: token_ids[i : i + 1].astype(np.int32),
                            **{name: value[i : i + 1] for name, value in state.items()}})
                for i in range(len(token_ids))]
        logits = np.concatenate([r[LOGITS] for r in rows])
        return logits, {**state, **{name: np.concatenate([r[next_name(name)] for r in rows])
                                    for name in self.family.state}}


def greedy_texts(model: EngineStepModel, spec: Seq2SeqSpec, sentences: Sequence[str]) -> list[str]:
    """Greedy translations of `sentences` (characters of the model's alphabet) with the runtime's
    greedy loop over `model`."""
    ids = spec.source_vocab.encode([prepare_source(s, spec.source_vocab, spec.max_source_length, form=spec.source_form)
                                    for s in sentences], spec.max_source_length)
    decoded = greedy_decode(model, ids, spec.target_vocab.id(START), spec.target_vocab.id(END),
                            spec.max_target_length)
    return [spec.target_vocab.decode(d.ids) for d in decoded]

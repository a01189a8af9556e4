"""`Translator`: load a bundle once, translate strings: greedy, beam search, sampling, streaming."""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence, overload

import numpy as np

from .backends import load_backend
from .bundle import check_graph, read_artifact, read_manifest
from .decoding import Decoded, StepModel, beam_decode, cut_at_end, greedy_decode, sampling_chooser, stream_decode
from .errors import BundleError, DecodingOptionError
from .golden import GOLDEN_BATCH, SelfCheck, compare, engine, golden_entry, read_golden
from .vocab import END, ON_OVERFLOW, ON_UNKNOWN, START, SourceForm, Vocabulary, prepare_source


# The one-graph greedy decoder saves a call per character but cannot drop finished rows, which
# stepping does. Measured on a seed-size model (latent 256, 2 cores; docs/performance.md): 1.6x faster
# at batch 1 in Python, 1.04-1.5x the throughput at batches 4-16 in Python and Node and level in
# onnxruntime-web at 16; from 32 rows no gain to count on in Python and Node, and 9-14% behind in
# WASM. Larger batches step the decoder.
GREEDY_LOOP_MAX_BATCH = 16


class ModelSpec(Protocol):
    """What decoding needs to know of a model (a bundle's Manifest is one)."""

    source_vocab: Vocabulary
    target_vocab: Vocabulary
    max_source_length: int
    max_target_length: int
    source_form: SourceForm  # how a user's text becomes what the encoder reads


@dataclass(frozen=True)
class Hypothesis:
    text: str
    score: float  # natural-log probability of the output, END included (sum over characters)
    finished: bool  # False when the output was cut at the model's maximum length


class Translator:
    """Translate English to French with an exported bundle.

    Input policy (per call, defaults set here):
    - `on_unknown="error"`: characters outside the vocabulary raise `UnknownCharacterError` (a
      ValueError) naming them; `"skip"` drops them.
    - `on_overflow="error"`: inputs longer than the encoder's maximum raise `InputTooLongError` (a
      ValueError); `"truncate"` cuts them.
    - `""` (also after skipping) translates to `""`; a non-string is a `TypeError`.

    Decoding (per call):
    - greedy by default: the argmax at each step;
    - `beam_size=N`: beam search; `num_hypotheses` (<= beam_size) best outputs with their scores
      via `hypotheses()`; ranked by score / length ** `length_penalty` (0: by plain score);
    - `top_k=K`: sampling among the K most likely characters (0: all), from softmax(scores /
      `temperature`); with `seed`, a sentence's sample depends only on (seed, its text);
    - `translate_stream(text)` yields characters as they are decoded (greedy or sampling).
    `beam_size=1` and `top_k=1` (the defaults) are greedy decoding.

    Outputs stop at the end token or after the bundle's `max_target_length` characters. Large
    inputs are decoded in batches of `max_batch_size` sentences of similar length; results come
    back in input order.
    A Translator holds two onnxruntime sessions, whose `run` is thread-safe; the decoding state lives
    in each call, so one instance may serve several threads.

    Devices and threads: `device="cuda"` needs onnxruntime-gpu and fails if it is absent; "auto"
    takes CUDA when present. `threads` sets onnxruntime's intra-op threads (default 1: one
    sentence's steps are too small to share between cores; run several Translators or calls in
    parallel instead). `io_binding` keeps the decoder's state in onnxruntime's buffers between
    steps (default: on for CUDA).

    `greedy_loop` (default: True on CPU): when the bundle holds the one-graph greedy decoder of
    this backend and precision (the "greedy" role), greedy `translate` runs it on batches of up to
    GREEDY_LOOP_MAX_BATCH sentences, one call per batch instead of one per character, with the same
    outputs; scores, beam search, sampling, streaming and larger batches step the decoder.

    `kernels` (backend "tflite" only): LiteRT's kernel set, "default" (its XNNPACK delegate where it
    applies) or "builtin" (its built-in kernels only; `runtime.backends.tflite.KERNELS`).

    `self_check()` decodes the bundle's golden translations (format version 4) and compares them with
    the decodes recorded at export for this backend, precision and kernel set.
    """

    def __init__(
        self,
        bundle: str | os.PathLike[str],
        backend: str = "onnx",
        device: str = "cpu",
        precision: str = "float32",
        *,
        threads: int | None = None,
        max_batch_size: int = 64,
        on_unknown: str = "error",
        on_overflow: str = "error",
        io_binding: bool | None = None,
        greedy_loop: bool | None = None,
        kernels: str = "default",
    ) -> None:
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        _check_choice("on_unknown", on_unknown, ON_UNKNOWN)
        _check_choice("on_overflow", on_overflow, ON_OVERFLOW)
        self.bundle = os.fspath(bundle)
        self.manifest = read_manifest(bundle)
        artifacts = self.manifest.select(backend, precision)
        # Hashes are checked on the bytes that are then loaded: nothing is read twice.
        encoder = read_artifact(bundle, artifacts["encoder"])
        decoder = read_artifact(bundle, artifacts["decoder_step"])
        # The greedy graph is measured on CPU only (docs/performance.md): off by default elsewhere.
        if greedy_loop is None:
            greedy_loop = device == "cpu"
        greedy = (read_artifact(bundle, artifacts["greedy"])
                  if greedy_loop and "greedy" in artifacts else None)
        # Each graph must fit its role, the family and the manifest's sizes (checked as it loads).
        manifest = self.manifest

        def check(role, inputs, outputs, **kwargs):
            check_graph(manifest, role, artifacts[role].file, inputs, outputs, **kwargs)

        self.model = load_backend(backend, encoder, decoder, device=device, threads=threads,
                                  io_binding=io_binding, greedy=greedy, family=self.manifest.family,
                                  kernels=kernels, check=check)
        # Checked as the bundle loads, after its model files and their graphs: a bad golden file refuses
        # the bundle.
        self.golden = read_golden(bundle, self.manifest)
        self.backend, self.precision, self.kernels = backend, precision, kernels
        self.max_batch_size = max_batch_size
        # A batch-dependent model would make a sentence's translation depend on its batch-mates.
        self.batch_invariant = all(a.batch_invariant for a in artifacts.values())
        self.on_unknown, self.on_overflow = on_unknown, on_overflow

    @classmethod
    def from_step_model(
        cls,
        model: StepModel,
        spec: ModelSpec,
        *,
        max_batch_size: int = 64,
        on_unknown: str = "error",
        on_overflow: str = "error",
    ) -> "Translator":
        """A Translator over any StepModel (the Keras reference decoder uses this)."""
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        _check_choice("on_unknown", on_unknown, ON_UNKNOWN)
        _check_choice("on_overflow", on_overflow, ON_OVERFLOW)
        self = cls.__new__(cls)
        self.bundle, self.manifest, self.model, self.golden = None, spec, model, None
        self.backend, self.precision, self.kernels = type(model).__name__, "float32", "default"
        self.max_batch_size = max_batch_size
        self.batch_invariant = True
        self.on_unknown, self.on_overflow = on_unknown, on_overflow
        return self

    @property
    def max_input_length(self) -> int:
        return self.manifest.max_source_length - self.manifest.source_form.overhead

    def self_check(self) -> SelfCheck:
        """Decode the bundle's golden sources as the export recorded them (greedy, stepping the decoder,
        batches of up to GOLDEN_BATCH sentences, whatever this Translator's own settings) and compare
        with the decodes recorded for this backend, precision and kernel set. Raises
        `runtime.golden.NoGoldenError` (a BundleError) when the bundle has none for them."""
        entry, recorded = golden_entry(self.golden, self.backend, self.precision, self.kernels)
        got = [h[0].text for h in self._decode(list(entry.sources), with_scores=False, batch_size=GOLDEN_BATCH,
                                               greedy_graph=False, on_unknown="error", on_overflow="error")]
        name, version = engine(self.backend)
        return compare(entry, recorded, got, kernels=self.kernels, engine_here=f"{name} {version}")

    @overload
    def translate(self, texts: str, **options) -> str: ...
    @overload
    def translate(self, texts: Sequence[str], **options) -> list[str]: ...

    def translate(self, texts, **options):
        """Translate one string (returns a str) or a list of strings (returns a list, same order).
        Options: see the class docstring and `hypotheses`."""
        if isinstance(texts, str):
            return self.translate_batch([texts], **options)[0]
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"expected a str or a list of str, got {type(texts).__name__}")
        return self.translate_batch(texts, **options)

    def translate_batch(self, texts: Sequence[str], **options) -> list[str]:
        # Greedy without scores skips a log-softmax per step (~10% of a small model's step).
        return [h[0].text for h in self._decode(texts, with_scores=False, **options)]

    def hypotheses(
        self,
        texts: Sequence[str],
        *,
        beam_size: int = 1,
        num_hypotheses: int = 1,
        length_penalty: float = 1.0,
        top_k: int = 1,
        temperature: float = 1.0,
        seed: int | None = None,
        on_unknown: str | None = None,
        on_overflow: str | None = None,
    ) -> list[list[Hypothesis]]:
        """For each text, its `num_hypotheses` best outputs with their scores, best first."""
        return self._decode(texts, beam_size=beam_size, num_hypotheses=num_hypotheses,
                            length_penalty=length_penalty, top_k=top_k, temperature=temperature,
                            seed=seed, on_unknown=on_unknown, on_overflow=on_overflow)

    def _decode(self, texts, *, with_scores: bool = True, beam_size: int = 1, num_hypotheses: int = 1,
                length_penalty: float = 1.0, top_k: int = 1, temperature: float = 1.0,
                seed: int | None = None, on_unknown: str | None = None, on_overflow: str | None = None,
                batch_size: int | None = None, greedy_graph: bool = True):
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"expected a list of str, got {type(texts).__name__}")
        mode = _check_decoding(beam_size, num_hypotheses, length_penalty, top_k, temperature, seed)
        m = self.manifest
        sources = self._prepare(texts, on_unknown, on_overflow)
        results = [[Hypothesis("", 0.0, True)] * num_hypotheses for _ in sources]
        # Longest first: batch-mates of similar length finish together, so fewer steps are wasted.
        todo = sorted((i for i, s in enumerate(sources) if s), key=lambda i: -len(sources[i]))
        start, end = m.target_vocab.id(START), m.target_vocab.id(END)
        batch = (batch_size or self.max_batch_size) if self.batch_invariant else 1
        for lo in range(0, len(todo), batch):
            chunk = todo[lo : lo + batch]
            ids = m.source_vocab.encode([sources[i] for i in chunk], m.max_source_length)
            if mode == "beam":
                decoded = beam_decode(self.model, ids, start, end, m.max_target_length,
                                      beam_size, num_hypotheses, length_penalty)
            elif (mode == "greedy" and not with_scores and len(chunk) <= GREEDY_LOOP_MAX_BATCH
                  and greedy_graph and getattr(self.model, "greedy", None) is not None):
                decoded = [[d] for d in cut_at_end(self.model.greedy_ids(ids), end, m.max_target_length)]
            else:
                choose = (_sampler(temperature, top_k, seed, [sources[i] for i in chunk], start)
                          if mode == "sampling" else None)
                decoded = [[d] for d in greedy_decode(
                    self.model, ids, start, end, m.max_target_length, with_scores=with_scores,
                    **({"choose": choose} if choose else {}))]
            for i, outs in zip(chunk, decoded):
                results[i] = [self._hypothesis(d) for d in outs]
        return results

    def translate_stream(
        self, text: str, *, top_k: int = 1, temperature: float = 1.0, seed: int | None = None,
        on_unknown: str | None = None, on_overflow: str | None = None,
    ) -> Iterator[str]:
        """The translation of `text`, one character at a time as it is decoded (greedy, or
        sampling with `top_k`); joined, it equals `translate(text, ...)` with the same options."""
        mode = _check_decoding(1, 1, 1.0, top_k, temperature, seed)
        if not isinstance(text, str):
            raise TypeError(f"expected a str, got {type(text).__name__}")
        (source,) = self._prepare([text], on_unknown, on_overflow)
        return self._stream(source, mode, top_k, temperature, seed)

    def _stream(self, source, mode, top_k, temperature, seed) -> Iterator[str]:
        if not source:
            return
        m = self.manifest
        ids = m.source_vocab.encode([source], m.max_source_length)
        start = m.target_vocab.id(START)
        kwargs = {"choose": _sampler(temperature, top_k, seed, [source], start)} if mode == "sampling" else {}
        for token in stream_decode(self.model, ids, start, m.target_vocab.id(END),
                                   m.max_target_length, **kwargs):
            yield self._text([token])

    def _prepare(self, texts, on_unknown, on_overflow) -> list[str]:
        m = self.manifest
        on_unknown, on_overflow = on_unknown or self.on_unknown, on_overflow or self.on_overflow
        _check_choice("on_unknown", on_unknown, ON_UNKNOWN)
        _check_choice("on_overflow", on_overflow, ON_OVERFLOW)
        return [prepare_source(t, m.source_vocab, m.max_source_length, on_unknown, on_overflow, m.source_form)
                for t in texts]

    def _hypothesis(self, d: Decoded) -> Hypothesis:
        return Hypothesis(self._text(d.ids), d.score, d.finished)

    def _text(self, ids: Sequence[int]) -> str:
        # A graph whose logits are wider than the target vocabulary is refused at load where its
        # width is known; this catches one that hides it.
        vocab = self.manifest.target_vocab
        for i in ids:
            if not 0 <= i < len(vocab):
                raise BundleError(f"the decoder produced id {i}, past the {len(vocab)} characters of the "
                                  "bundle's target_vocab: the manifest does not belong to these graphs")
        return vocab.decode(ids)


def _check_decoding(beam_size, num_hypotheses, length_penalty, top_k, temperature, seed) -> str:
    """The decoding mode the options ask for: greedy, beam or sampling."""
    for name, value in (("beam_size", beam_size), ("num_hypotheses", num_hypotheses), ("top_k", top_k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if beam_size < 1:
        raise DecodingOptionError(f"beam_size must be at least 1, got {beam_size}")
    if not 1 <= num_hypotheses <= beam_size:
        raise DecodingOptionError(f"num_hypotheses must be between 1 and beam_size ({beam_size}), got "
                         f"{num_hypotheses}: raise beam_size to get more hypotheses")
    if not length_penalty >= 0:
        raise DecodingOptionError(f"length_penalty must be 0 or positive, got {length_penalty}")
    if top_k < 0:
        raise DecodingOptionError(f"top_k must be 0 (all characters) or positive, got {top_k}")
    if not (temperature > 0 and math.isfinite(temperature)):
        raise DecodingOptionError(f"temperature must be a positive finite number, got {temperature}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise DecodingOptionError(f"seed must be a non-negative int or None, got {seed!r}")
    if top_k != 1:
        if beam_size > 1:
            raise DecodingOptionError("sampling (top_k != 1) and beam search (beam_size > 1) do not combine: pick one")
        return "sampling"
    if temperature != 1.0:
        raise DecodingOptionError("temperature applies to sampling only: set top_k too (0 samples from all characters)")
    return "beam" if beam_size > 1 else "greedy"


def _sampler(temperature: float, top_k: int, seed: int | None, sources: Sequence[str], start_id: int):
    # Each sentence draws from a generator seeded by (seed, its text): its sample does not depend
    # on its batch-mates, its position, the batch size or streaming.
    seeds = [np.random.SeedSequence([seed, *_text_words(s)]) if seed is not None else None for s in sources]
    return sampling_chooser(temperature, top_k, seeds, never=(start_id,))


def _text_words(text: str) -> list[int]:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

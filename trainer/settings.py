"""A run's settings, as `trainer.fit` records them in run.json, and the pairs they select.

`Settings` is typed: every reader gets the same defaults for what a run written by an older version
did not record (`Settings.from_json`), and run.json keeps the same keys.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from .builtin import builtin_pairs
from .data import DEFAULT_SPLIT, UNRECORDED_SPLIT, DataError, Pair, read_pairs

PIPELINES = ("bucketed", "seed")
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")  # the LSTMs' Keras policy: float32 or mixed_<dtype>
STRATEGIES = ("none", "mirrored", "multi-worker")


@dataclass(frozen=True)
class Defaults:
    num_samples: int
    latent_dim: int
    batch_size: int
    epochs: int
    learning_rate: float = 1e-3  # rmsprop's default, the seed's
    max_input_length: int | None = None
    vocabulary_words: int | None = None  # built-in corpus only (see trainer.builtin)


SEED_DEFAULTS = Defaults(num_samples=10_000, latent_dim=256, batch_size=64, epochs=100)
# Measured on 2 cores: a few minutes, and most held-out sentences come out exactly right.
BUILTIN_DEFAULTS = Defaults(
    num_samples=4_000, latent_dim=128, batch_size=32, epochs=120, learning_rate=5e-3,
    max_input_length=20, vocabulary_words=80,
)

# What runs written before a setting existed did: the order-based split, the seed's tensors (every
# position, padding included, carried loss).
_UNRECORDED = {"split": UNRECORDED_SPLIT, "pipeline": "seed", "loss_on_padding": True}


@dataclass
class Settings:
    # A run.json that records none of these (not written by trainer.fit) can still be decoded,
    # evaluated and exported; only rebuilding its training split needs them.
    num_samples: int | None = None  # None: the whole file
    epochs: int = 0
    latent_dim: int = 0
    batch_size: int = 0
    validation_split: float = 0.0
    split: str = DEFAULT_SPLIT
    seed: int = 0
    optimizer: str = "rmsprop"  # trainer.model.OPTIMIZERS
    learning_rate: float = 1e-3  # the peak rate when there is a warm-up or decay
    warmup_steps: int = 0
    lr_decay: str = "none"  # trainer.callbacks.LR_DECAYS
    clip_norm: float | None = None  # global gradient norm
    loss: str = "sparse_categorical_crossentropy"
    loss_on_padding: bool = False
    pipeline: str = "bucketed"
    strategy: str = "none"
    compute_dtype: str = "float32"
    architecture: str = "seed"  # trainer.model.ARCHITECTURES
    bidirectional: bool = False
    dropout: float = 0.0
    time_limit_minutes: float | None = None
    chrf_sample: int = 0
    max_input_length: int | None = None
    max_output_length: int | None = None
    vocabulary_words: int | None = None  # built-in corpus only
    strict: bool = False
    preset: str | None = None  # trainer.presets: the preset the run started from
    # trainer.qat's runs: the grid and the run they were fine-tuned from.
    quantization_aware: dict[str, Any] | None = None
    # Keys this version does not know, kept as they were.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        for key in ("quantization_aware", "preset"):
            if out[key] is None:
                del out[key]
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Settings":
        if not isinstance(data, dict):
            raise TypeError("settings must be an object")
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values = {**_UNRECORDED, **{k: v for k, v in data.items() if k in known}}
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


def load_pairs(data: str | os.PathLike[str] | None, settings: Settings,
               log: Callable[..., None] = lambda *a: None) -> tuple[list[Pair], dict[str, Any]]:
    """The pairs a run trains on (the built-in corpus when `data` is None) and the run's data
    report; the same settings always give the same pairs."""
    s = settings
    if data is None:
        words = s.vocabulary_words
        pairs = builtin_pairs(s.num_samples, s.seed, s.max_input_length or None, s.max_output_length,
                              words or None)
        log(f"built-in corpus: {len(pairs)} pairs (seed {s.seed}, {words or 'all'} English "
            f"words, English up to {s.max_input_length or 'any'} characters)")
        return pairs, {"source": "builtin", "seed": s.seed, "pairs": len(pairs),
                       "vocabulary_words": words or None}
    pairs, report = read_pairs(data, num_samples=s.num_samples, strict=s.strict,
                               max_input_length=s.max_input_length or None,
                               max_output_length=s.max_output_length)
    log(report.summary())
    return pairs, {
        "source": os.path.abspath(data), "pairs": len(pairs), "lines_read": report.lines,
        "skipped": len(report.skipped), "skipped_lines": [n for n, _ in report.skipped[:100]],
    }


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DataError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

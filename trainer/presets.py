"""Named training recipes: `trainer.fit --preset NAME` takes a preset's settings as its defaults, and
any flag given beside it overrides them.

A preset is a dict of `trainer.fit.fit` keyword arguments (the flags' names with underscores), so the
Python API takes it too: `fit(out, data, **{**PRESETS["hour"].settings, "batch_size": 128})`.
docs/training.md ("Presets") says how each was chosen and what it measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    summary: str
    settings: dict[str, Any]

    def flags(self) -> str:
        """The settings as the command-line flags that give them."""
        out = []
        for key, value in self.settings.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                out.append(flag)
            elif value is not False:
                out.append(f"{flag} {value:g}" if isinstance(value, float) else f"{flag} {value}")
        return " ".join(out)


PRESETS = {
    "hour": Preset(
        summary="the best recipe measured for 60 minutes of training on a 2-core CPU (fra.txt-sized data)",
        settings=dict(
            num_samples=0, max_input_length=40, validation_split=0.1,
            architecture="attention", bidirectional=True, latent_dim=256,
            batch_size=64, optimizer="adam", learning_rate=3e-3, warmup_steps=100, lr_decay="cosine",
            clip_norm=1.0, compute_dtype="float32", epochs=100, time_limit=60.0,
        ),
    ),
}

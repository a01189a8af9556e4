"""Training curves of a run as a PNG (matplotlib, no display needed)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from .fileio import atomic_write_bytes


def write_curves(path: Path, history: Sequence[dict]) -> None:
    """Loss and accuracy per epoch, training and validation, side by side (and held-out chrF and
    BLEU when the run logged them)."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [row["epoch"] for row in history]
    panels = [(metric, ((metric, "training"), (f"val_{metric}", "validation")))
              for metric in ("loss", "accuracy")]
    if any("val_chrf" in row for row in history):  # trainer.fit --chrf-sample
        panels.append(("held-out score", (("val_chrf", "chrF"), ("val_bleu", "BLEU"))))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, (title, lines) in zip(axes, panels):
        for key, label in lines:
            values = [row.get(key) for row in history]
            if any(v is not None for v in values):
                ax.plot(epochs, values, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("training curves")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())

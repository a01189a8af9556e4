"""s2s-edge runtime: translate with an exported bundle, with numpy and onnxruntime only.

    from runtime import Translator
    t = Translator("bundles/fra")
    t.translate("Go.")            # -> str
    t.translate(["Go.", "Hi."])   # -> list[str], same order

This package never imports TensorFlow, the trainer or the exporter.
"""

from .bundle import FORMAT_VERSION, Manifest, read_manifest
from .errors import (
    BackendUnavailableError,
    BundleError,
    InputTooLongError,
    S2SError,
    UnknownCharacterError,
)
from .translator import Translator
from .vocab import END, PAD, START, Vocabulary

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "BundleError",
    "END",
    "FORMAT_VERSION",
    "InputTooLongError",
    "Manifest",
    "PAD",
    "S2SError",
    "START",
    "Translator",
    "UnknownCharacterError",
    "Vocabulary",
    "read_manifest",
]

"""s2s-edge runtime: translate with an exported bundle, with numpy and onnxruntime only.

    from runtime import Translator
    t = Translator("bundles/fra")
    t.translate("Go.")            # -> str
    t.translate(["Go.", "Hi."])   # -> list[str], same order
    t.hypotheses(["Go."], beam_size=4, num_hypotheses=2)  # -> [[Hypothesis(text, score, finished), ...]]
    t.translate("Go.", top_k=5, temperature=0.8, seed=1)  # sampling
    for char in t.translate_stream("Go."): ...           # characters as they are decoded
    t.self_check()                # the bundle's golden translations, decoded here and compared

This package never imports TensorFlow, the trainer or the exporter.
"""

from .bundle import FORMAT_VERSION, READ_VERSIONS, Manifest, read_manifest
from .errors import (
    BackendUnavailableError,
    BundleError,
    DecodingOptionError,
    InputTooLongError,
    S2SError,
    UnknownCharacterError,
)
from .golden import NoGoldenError, SelfCheck
from .translator import Hypothesis, Translator
from .vocab import END, PAD, PADDINGS, START, Vocabulary

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "BundleError",
    "DecodingOptionError",
    "END",
    "FORMAT_VERSION",
    "Hypothesis",
    "InputTooLongError",
    "Manifest",
    "NoGoldenError",
    "PAD",
    "PADDINGS",
    "READ_VERSIONS",
    "S2SError",
    "SelfCheck",
    "START",
    "Translator",
    "UnknownCharacterError",
    "Vocabulary",
    "read_manifest",
]

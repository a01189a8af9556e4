"""s2s-edge exporters: turn a training run into a validated bundle (see runtime.bundle)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # as in trainer: keep progress output readable

import trainer  # noqa: E402,F401  (installs trainer.tf_startup before anything imports TensorFlow)

"""s2s-edge trainer: data, the seed's Keras model, training and the Keras reference decoder."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) drowns the progress output and breaks the
# command lines' one-line errors: the log level hides most of it, `tf_startup` the lines it does not.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from . import tf_startup  # noqa: E402

tf_startup.install()

"""s2s-edge trainer: data, the seed's Keras model, training and the Keras reference decoder."""

import os

# TensorFlow's C++ start-up chatter (oneDNN, CPU features) drowns the progress output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

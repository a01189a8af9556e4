"""Models trained by the keras.io script ("Character-level recurrent sequence-to-sequence model",
examples/nlp/lstm_seq2seq.py) and by the 2017 Keras example it grew from, read into an ordinary run
directory.

The script's model: two one-hot inputs [batch, time, tokens] (encoder, decoder), an encoder LSTM
that keeps only its final [h, c], a decoder LSTM started from them, a Dense softmax. Its layers are
unnamed, so they are found by the model's structure. Its vocabularies are not saved with the model:
they are the sorted character sets of the first `num_samples` lines of the data file, rebuilt here
exactly as the script built them (`data`), or read from vocabulary files saved beside it.

One reader per layout, over a shared core (`core`):
- `keras3`: the Keras 3 version (keras.io, 2023 on), `s2s_model.keras`, loaded by Keras 3;
- `savedmodel`: the tf.keras 2 version (keras.io, 2020-2023, and the Hub repo), a TensorFlow
  SavedModel directory (`s2s/`), read without tf.keras 2;
- `h5`: Keras 2's HDF5 files (the 2017 example's `s2s.h5`, and tf.keras 2 runs saved as `.h5`), read
  with h5py;
- `pair`: the script's inference pair (`encoder_model`, `decoder_model`), as two HDF5 files or two
  SavedModels, each half read by the readers above.

Every import is proven before it is written (`proof`): on the user's training pairs, and against
the file itself where its own Keras can load it.

The weights go into the seed's own Keras model (`trainer.model.build_training_model`, whose LSTM
and Dense weights have the script's shapes), so every command downstream (export, evaluate,
decode, qat) takes the imported run unchanged. `importer` does the whole import.
"""

from .core import KerasIoError, KerasIoModel, LSTMWeights
from .data import NUM_SAMPLES, VALIDATION_SPLIT, DataLayout, ScriptData, script_data
from .importer import import_keras_io, read_model

__all__ = ["NUM_SAMPLES", "VALIDATION_SPLIT", "DataLayout", "KerasIoError", "KerasIoModel", "LSTMWeights",
           "ScriptData", "import_keras_io", "read_model", "script_data"]

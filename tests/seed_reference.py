"""The keras.io lstm_seq2seq vectorisation (one-hot arrays, space padding), as the seed does it.

The test of the training pipeline compares against it, and the training benchmark trains on it.
"""

from __future__ import annotations

import numpy as np


def seed_tensors(pairs, input_characters=None, target_characters=None):
    """(encoder_input_data, decoder_input_data, decoder_target_data, input_characters,
    target_characters); the alphabets default to the sorted characters of the pairs plus space."""
    input_texts = [en for en, _ in pairs]
    target_texts = ["\t" + fr + "\n" for _, fr in pairs]
    if input_characters is None:
        input_characters = sorted(set("".join(input_texts)) | {" "})
    if target_characters is None:
        target_characters = sorted(set("".join(target_texts)) | {" "})
    input_token_index = {c: i for i, c in enumerate(input_characters)}
    target_token_index = {c: i for i, c in enumerate(target_characters)}
    max_encoder_seq_length = max(len(t) for t in input_texts)
    max_decoder_seq_length = max(len(t) for t in target_texts)
    shape_in = (len(pairs), max_encoder_seq_length, len(input_characters))
    shape_out = (len(pairs), max_decoder_seq_length, len(target_characters))
    encoder_input_data = np.zeros(shape_in, dtype="float32")
    decoder_input_data = np.zeros(shape_out, dtype="float32")
    decoder_target_data = np.zeros(shape_out, dtype="float32")
    for i, (input_text, target_text) in enumerate(zip(input_texts, target_texts)):
        for t, char in enumerate(input_text):
            encoder_input_data[i, t, input_token_index[char]] = 1.0
        encoder_input_data[i, t + 1 :, input_token_index[" "]] = 1.0
        for t, char in enumerate(target_text):
            decoder_input_data[i, t, target_token_index[char]] = 1.0
            if t > 0:
                decoder_target_data[i, t - 1, target_token_index[char]] = 1.0
        decoder_input_data[i, t + 1 :, target_token_index[" "]] = 1.0
        decoder_target_data[i, t:, target_token_index[" "]] = 1.0
    return encoder_input_data, decoder_input_data, decoder_target_data, input_characters, target_characters

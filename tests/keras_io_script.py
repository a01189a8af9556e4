"""The keras.io script "Character-level recurrent sequence-to-sequence model" (examples/nlp/
lstm_seq2seq.py, the Keras 3 version), as functions: its data reading, vectorisation, model, training
and `decode_sequence`, unchanged but for the sizes the tests pass (fewer lines, a smaller latent size,
fewer epochs, optionally a higher learning rate). The import tests train a model with it and compare the imported run's decodes with the
script's own.
"""

from __future__ import annotations

import keras
import numpy as np


def read_data(data_path, num_samples):
    input_texts, target_texts = [], []
    input_characters, target_characters = set(), set()
    with open(data_path, "r", encoding="utf-8") as f:
        lines = f.read().split("\n")
    for line in lines[: min(num_samples, len(lines) - 1)]:
        input_text, target_text, _ = line.split("\t")
        # We use "tab" as the "start sequence" character for the targets, and "\n" as "end sequence".
        target_text = "\t" + target_text + "\n"
        input_texts.append(input_text)
        target_texts.append(target_text)
        for char in input_text:
            if char not in input_characters:
                input_characters.add(char)
        for char in target_text:
            if char not in target_characters:
                target_characters.add(char)
    return input_texts, target_texts, sorted(list(input_characters)), sorted(list(target_characters))


class Script:
    def __init__(self, data_path, num_samples, latent_dim):
        (self.input_texts, self.target_texts, self.input_characters,
         self.target_characters) = read_data(data_path, num_samples)
        self.latent_dim = latent_dim
        self.num_encoder_tokens = len(self.input_characters)
        self.num_decoder_tokens = len(self.target_characters)
        self.max_encoder_seq_length = max([len(txt) for txt in self.input_texts])
        self.max_decoder_seq_length = max([len(txt) for txt in self.target_texts])
        self.input_token_index = dict([(char, i) for i, char in enumerate(self.input_characters)])
        self.target_token_index = dict([(char, i) for i, char in enumerate(self.target_characters)])
        self.reverse_target_char_index = dict((i, char) for char, i in self.target_token_index.items())
        n = len(self.input_texts)
        self.encoder_input_data = np.zeros((n, self.max_encoder_seq_length, self.num_encoder_tokens), dtype="float32")
        self.decoder_input_data = np.zeros((n, self.max_decoder_seq_length, self.num_decoder_tokens), dtype="float32")
        self.decoder_target_data = np.zeros((n, self.max_decoder_seq_length, self.num_decoder_tokens), dtype="float32")
        for i, (input_text, target_text) in enumerate(zip(self.input_texts, self.target_texts)):
            for t, char in enumerate(input_text):
                self.encoder_input_data[i, t, self.input_token_index[char]] = 1.0
            self.encoder_input_data[i, t + 1 :, self.input_token_index[" "]] = 1.0
            for t, char in enumerate(target_text):
                self.decoder_input_data[i, t, self.target_token_index[char]] = 1.0
                if t > 0:
                    self.decoder_target_data[i, t - 1, self.target_token_index[char]] = 1.0
            self.decoder_input_data[i, t + 1 :, self.target_token_index[" "]] = 1.0
            self.decoder_target_data[i, t:, self.target_token_index[" "]] = 1.0

    def train_and_save(self, path, epochs, batch_size=64, learning_rate=None):
        encoder_inputs = keras.Input(shape=(None, self.num_encoder_tokens))
        encoder = keras.layers.LSTM(self.latent_dim, return_state=True)
        encoder_outputs, state_h, state_c = encoder(encoder_inputs)
        encoder_states = [state_h, state_c]
        decoder_inputs = keras.Input(shape=(None, self.num_decoder_tokens))
        decoder_lstm = keras.layers.LSTM(self.latent_dim, return_sequences=True, return_state=True)
        decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
        decoder_dense = keras.layers.Dense(self.num_decoder_tokens, activation="softmax")
        decoder_outputs = decoder_dense(decoder_outputs)
        model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
        # The script compiles with "rmsprop" (learning rate 1e-3); tests may raise the rate to train in seconds.
        optimizer = "rmsprop" if learning_rate is None else keras.optimizers.RMSprop(learning_rate)
        model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit([self.encoder_input_data, self.decoder_input_data], self.decoder_target_data,
                  batch_size=batch_size, epochs=epochs, validation_split=0.2, verbose=0)
        model.save(path)

    def load_for_inference(self, path):
        model = keras.models.load_model(path)
        encoder_inputs = model.input[0]  # input_1
        encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output  # lstm_1
        encoder_states = [state_h_enc, state_c_enc]
        self.encoder_model = keras.Model(encoder_inputs, encoder_states)
        decoder_inputs = model.input[1]  # input_2
        # Named here (the script leaves them unnamed): Keras 3.15 refuses the automatic names, which
        # collide with the loaded model's ("input_layer_1" used twice).
        decoder_state_input_h = keras.Input(shape=(self.latent_dim,), name="decoder_state_input_h")
        decoder_state_input_c = keras.Input(shape=(self.latent_dim,), name="decoder_state_input_c")
        decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
        decoder_lstm = model.layers[3]
        decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
        decoder_states = [state_h_dec, state_c_dec]
        decoder_dense = model.layers[4]
        decoder_outputs = decoder_dense(decoder_outputs)
        self.decoder_model = keras.Model([decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states)

    def decode_sequence(self, input_seq):
        states_value = self.encoder_model.predict(input_seq, verbose=0)
        target_seq = np.zeros((1, 1, self.num_decoder_tokens))
        target_seq[0, 0, self.target_token_index["\t"]] = 1.0
        stop_condition = False
        decoded_sentence = ""
        while not stop_condition:
            output_tokens, h, c = self.decoder_model.predict([target_seq] + states_value, verbose=0)
            sampled_token_index = np.argmax(output_tokens[0, -1, :])
            sampled_char = self.reverse_target_char_index[sampled_token_index]
            decoded_sentence += sampled_char
            if sampled_char == "\n" or len(decoded_sentence) > self.max_decoder_seq_length:
                stop_condition = True
            target_seq = np.zeros((1, 1, self.num_decoder_tokens))
            target_seq[0, 0, sampled_token_index] = 1.0
            states_value = [h, c]
        return decoded_sentence

"""The vocabulary and input policy shared by training and inference."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import InputTooLongError, UnknownCharacterError
from runtime.vocab import END, PAD, START, Vocabulary, prepare_source, wrap_target

VOCAB = Vocabulary.from_texts(["Go.", "Hi!", "I'm cold."])


def test_alphabet_is_sorted_and_holds_the_padding_character():
    assert list(VOCAB.chars) == sorted(set("Go.Hi!I'm cold.") | {PAD})
    assert PAD in VOCAB


def test_vocabulary_refuses_repeats_and_multi_character_entries():
    with pytest.raises(ValueError):
        Vocabulary(("a", "a"))
    with pytest.raises(ValueError):
        Vocabulary(("ab",))


def test_encode_pads_on_the_right_with_spaces():
    ids = VOCAB.encode(["Go.", ""], 5)
    assert ids.dtype == np.int32 and ids.shape == (2, 5)
    assert VOCAB.decode(ids[0]) == "Go.  "
    assert VOCAB.decode(ids[1]) == "     "


def test_zero_padding_pads_with_the_id_past_the_alphabet():
    zero = Vocabulary(tuple("Go."), "zero")
    assert zero.pad_id == 3
    assert zero.encode(["Go", ""], 3).tolist() == [[0, 1, 3], [3, 3, 3]]
    assert zero != Vocabulary(tuple("Go."))  # the padding is part of the vocabulary's identity
    with pytest.raises(ValueError, match="padding must be one of"):
        Vocabulary(tuple("Go."), "ones")
    with pytest.raises(ValueError, match="needs the space character"):
        Vocabulary(tuple("Go.")).encode(["Go"], 3)


def test_encode_refuses_text_longer_than_the_length():
    with pytest.raises(InputTooLongError):
        VOCAB.encode(["I'm cold."], 4)


def test_target_is_wrapped_in_start_and_end():
    assert wrap_target("Va !") == START + "Va !" + END


def test_unknown_characters_are_named_in_the_error():
    with pytest.raises(UnknownCharacterError) as err:
        prepare_source("Go€ü.", VOCAB, 20)
    assert "'€'" in str(err.value) and "'ü'" in str(err.value)
    assert err.value.characters == ["€", "ü"]
    assert isinstance(err.value, ValueError)


def test_unknown_characters_can_be_skipped():
    assert prepare_source("G€o.", VOCAB, 20, on_unknown="skip") == "Go."


def test_overflow_is_an_error_or_truncated():
    with pytest.raises(InputTooLongError, match="longer than the model's maximum of 3"):
        prepare_source("Go. Go.", VOCAB, 3)
    assert prepare_source("Go. Go.", VOCAB, 3, on_overflow="truncate") == "Go."


def test_skipping_happens_before_the_length_check():
    assert prepare_source("G€€€o.", VOCAB, 3, on_unknown="skip") == "Go."


@pytest.mark.parametrize("value", [None, 3, b"Go.", ["Go."]])
def test_non_strings_are_type_errors(value):
    with pytest.raises(TypeError):
        prepare_source(value, VOCAB, 20)


def test_bad_policy_names_are_value_errors():
    with pytest.raises(ValueError, match="on_unknown"):
        prepare_source("Go.", VOCAB, 20, on_unknown="ignore")
    with pytest.raises(ValueError, match="on_overflow"):
        prepare_source("Go.", VOCAB, 20, on_overflow="wrap")


@given(st.text(alphabet=VOCAB.chars, max_size=12))
def test_encode_then_decode_gives_the_padded_text(text):
    assert VOCAB.decode(VOCAB.encode([text], 12)[0]) == text.ljust(12, PAD)


@given(st.text(max_size=40))
def test_prepare_source_either_returns_an_encodable_text_or_raises_a_value_error(text):
    try:
        out = prepare_source(text, VOCAB, 10)
    except ValueError:
        return
    assert len(out) <= 10 and not VOCAB.unknown(out)

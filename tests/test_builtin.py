"""The built-in corpus as training data: core vocabulary, length limits, determinism."""

import pytest

from trainer.builtin import _words, builtin_pairs, core_words
from trainer.data import DataError


def test_core_words_are_the_most_frequent_and_nested():
    small, large = core_words(40), core_words(80)
    assert len(small) == 40 and len(large) == 80 and small < large
    assert {"the", "is"} <= small


def test_selection_respects_vocabulary_and_lengths():
    pairs = builtin_pairs(500, seed=1, max_input_length=20, max_output_length=30, vocabulary_words=80)
    allowed = core_words(80)
    assert len(pairs) == 500 and len({en for en, _ in pairs}) == 500
    for en, fr in pairs:
        assert len(en) <= 20 and len(fr) <= 30 and _words(en) <= allowed


def test_selection_is_deterministic_per_seed():
    a = builtin_pairs(300, seed=4, max_input_length=20, vocabulary_words=80)
    assert a == builtin_pairs(300, seed=4, max_input_length=20, vocabulary_words=80)
    assert a != builtin_pairs(300, seed=5, max_input_length=20, vocabulary_words=80)


def test_asking_for_more_than_qualifies_says_how_many_do():
    everything = builtin_pairs(None, seed=0, max_input_length=12, vocabulary_words=40)
    with pytest.raises(DataError, match=f"has {len(everything)} pairs"):
        builtin_pairs(len(everything) + 1, seed=0, max_input_length=12, vocabulary_words=40)

"""Hostile input and concurrency: the runtime returns a bounded string or raises the documented error."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import Translator
from trainer.run import read_heldout

# Arbitrary Unicode, including control characters, NUL, lone surrogates, combining marks, RTL, emoji.
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=80)
NOT_STR = st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=8),
                    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module", params=[("onnx", "float32"), ("tflite", "float32")])
def translator(request, tiny_run, tiny_bundle, tmp_path_factory):
    from export.to_tflite import export_tflite

    backend, precision = request.param
    if backend == "onnx":
        bundle = tiny_bundle
    else:
        bundle = tmp_path_factory.mktemp("fuzz") / "tflite"
        export_tflite(tiny_run, bundle, num_decodes=50, log=lambda *a: None)
    return Translator(bundle, backend=backend, precision=precision)


def check(translator, text, **policy):
    try:
        out = translator.translate(text, **policy)
    except (ValueError, TypeError) as exc:
        assert str(exc)  # a message, always
        return None
    assert isinstance(out, str) and "\n" not in out
    assert len(out) <= translator.manifest.max_target_length
    return out


@FUZZ
@given(text=ANY_TEXT, on_unknown=st.sampled_from(["error", "skip"]),
       on_overflow=st.sampled_from(["error", "truncate"]))
def test_any_unicode_gives_a_bounded_string_or_a_value_error(translator, text, on_unknown, on_overflow):
    first = check(translator, text, on_unknown=on_unknown, on_overflow=on_overflow)
    assert check(translator, text, on_unknown=on_unknown, on_overflow=on_overflow) == first


@FUZZ
@given(items=st.lists(st.one_of(ANY_TEXT, NOT_STR), max_size=6))
def test_lists_with_anything_in_them(translator, items):
    try:
        out = translator.translate(items, on_unknown="skip", on_overflow="truncate")
    except TypeError:
        assert any(not isinstance(i, str) for i in items)
        return
    assert all(isinstance(i, str) for i in items) and len(out) == len(items)


@FUZZ
@given(value=NOT_STR)
def test_non_strings_are_type_errors(translator, value):
    with pytest.raises(TypeError):
        translator.translate(value)


def test_very_long_input_is_refused_or_truncated_quickly(translator):
    long = "a" * 1_000_000
    with pytest.raises(ValueError):
        translator.translate(long, on_unknown="skip")
    assert isinstance(translator.translate(long, on_unknown="skip", on_overflow="truncate"), str)


def test_eight_threads_share_one_translator(translator, tiny_run):
    texts = list(dict.fromkeys(en for en, _ in read_heldout(tiny_run)))[:48]
    expected = [translator.translate(t) for t in texts]
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            # Each thread mixes single calls and batches, in its own order.
            order = texts[k:] + texts[:k]
            got = [translator.translate(t) for t in order[:12]] + translator.translate(order[12:])
            results[k] = got[len(texts) - k:] + got[: len(texts) - k]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    assert len(results) == 8
    for got in results.values():
        assert got == expected

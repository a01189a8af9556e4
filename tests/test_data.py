"""The Anki-format reader and the train/validation split."""

import pytest

from trainer.data import DataError, read_pairs, split_pairs


def write(tmp_path, content: bytes, name="pairs.txt"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_two_column_file(tmp_path):
    pairs, report = read_pairs(write(tmp_path, "Go.\tVa !\nHi.\tSalut.\n".encode()))
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut.")]
    assert report.pairs == 2 and not report.skipped


def test_three_column_file_drops_the_attribution(tmp_path):
    text = "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\n"
    pairs, _ = read_pairs(write(tmp_path, text.encode()))
    assert pairs == [("Go.", "Va !")]


def test_malformed_lines_are_skipped_and_reported_with_line_numbers(tmp_path):
    content = (
        b"Go.\tVa !\n"
        b"no tab here\n"
        b"\tonly French\n"
        b"Only English\t\n"
        b"Bad \xff byte\tMauvais\n"
        b"a\tb\tc\td\n"
        b"Hi.\tSalut.\n"
    )
    pairs, report = read_pairs(write(tmp_path, content))
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut.")]
    assert [n for n, _ in report.skipped] == [2, 3, 4, 5, 6]
    reasons = dict(report.skipped)
    assert "no tab" in reasons[2]
    assert "empty English" in reasons[3] and "empty French" in reasons[4]
    assert "UTF-8" in reasons[5]
    assert "line 2" in report.summary()


def test_strict_mode_fails_on_the_first_malformed_line(tmp_path):
    path = write(tmp_path, b"Go.\tVa !\nno tab\n")
    with pytest.raises(DataError, match="line 2: no tab"):
        read_pairs(path, strict=True)


def test_bom_crlf_and_blank_lines(tmp_path):
    content = "\ufeffGo.\tVa !\r\n\r\n\nHi.\tSalut.\r\n".encode()
    pairs, report = read_pairs(write(tmp_path, content))
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut.")]
    assert not report.skipped


def test_num_samples_takes_the_first_pairs(tmp_path):
    content = "".join(f"E{i}.\tF{i}.\n" for i in range(10)).encode()
    pairs, _ = read_pairs(write(tmp_path, content), num_samples=3)
    assert pairs == [("E0.", "F0."), ("E1.", "F1."), ("E2.", "F2.")]


def test_missing_and_empty_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_pairs(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="no usable"):
        read_pairs(write(tmp_path, b"garbage\n"))


@pytest.mark.parametrize("method", ["hashed", "ordered"])
def test_split_is_deterministic_and_grouped_by_english(method):
    pairs = [(f"E{i % 40}.", f"F{i}.") for i in range(200)]  # 5 French variants per English
    train, valid = split_pairs(pairs, 0.2, seed=1, method=method)
    assert (train, valid) == split_pairs(pairs, 0.2, seed=1, method=method)
    assert not {en for en, _ in train} & {en for en, _ in valid}
    assert len(train) + len(valid) == len(pairs)
    assert (0.1 if method == "hashed" else 0.15) <= len(valid) / len(pairs) <= 0.3
    assert split_pairs(pairs, 0.2, seed=2, method=method) != (train, valid)


def test_split_refuses_impossible_fractions():
    with pytest.raises(ValueError):
        split_pairs([("a", "b")], 1.0, 0)
    with pytest.raises(DataError):
        split_pairs([("a", "b")], 0.5, 0)


def test_mixed_line_endings_and_lone_carriage_returns(tmp_path):
    content = b"Go.\tVa !\r\nHi.\tSalut.\rRun!\tCours !\nWho?\tQui ?\r\n"
    pairs, report = read_pairs(write(tmp_path, content))
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut."), ("Run!", "Cours !"), ("Who?", "Qui ?")]
    assert not report.skipped


def test_everything_at_once_reports_line_numbers(tmp_path):
    content = b"\xef\xbb\xbfGo.\tVa !\r\n\r\nbad \xc3\x28\tx\nno tab\r\nHi.\tSalut.\n"
    pairs, report = read_pairs(write(tmp_path, content))
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut.")]
    assert [n for n, _ in report.skipped] == [3, 4]


def test_hashed_split_keeps_each_sentence_on_its_side_across_subsets_and_fractions():
    from hypothesis import given, settings, strategies as st

    pairs = [(f"E{i % 500}.", f"F{i}.") for i in range(2000)]
    train, valid = split_pairs(pairs, 0.1, seed=4)
    held = {en for en, _ in valid}
    assert 30 <= len(held) <= 75  # about 10% of the 500 sentences
    assert not held & {en for en, _ in train}

    @settings(max_examples=30, deadline=None)
    @given(st.sets(st.integers(0, 1999), min_size=40))
    def any_subset(rows):
        subset = [pairs[r] for r in sorted(rows)]
        try:
            _, sub_valid = split_pairs(subset, 0.1, seed=4)
        except DataError:  # a subset too small for both sides
            return
        sub_held = {en for en, _ in sub_valid}
        natural = {en for en, _ in subset} & held
        # The sentences held out are the subset's share of the full split's, unless the draw left
        # a side empty and one sentence was moved to fill it.
        assert sub_held == natural or (not natural and len(sub_held) == 1)

    any_subset()
    # A smaller fraction holds out a subset of a larger one (with the same seed).
    assert {en for en, _ in split_pairs(pairs, 0.05, seed=4)[1]} < held
    assert {en for en, _ in split_pairs(pairs, 0.1, seed=5)[1]} != held


def test_hashed_split_fills_both_sides_of_tiny_data():
    for seed in range(20):
        train, valid = split_pairs([("a", "1"), ("b", "2"), ("c", "3")], 0.05, seed)
        assert len(valid) == 1 and len(train) == 2
        train, valid = split_pairs([("a", "1"), ("b", "2")], 0.95, seed)
        assert len(valid) == 1 and len(train) == 1


def test_runs_without_a_recorded_split_rebuild_the_ordered_one(tmp_path):
    from types import SimpleNamespace

    from trainer.run import training_split
    from trainer.settings import Settings

    path = write(tmp_path, "".join(f"E{i % 60}.\tF{i}.\n" for i in range(300)).encode())
    # run.json of a run written before the split was recorded
    settings = {"num_samples": None, "epochs": 1, "latent_dim": 8, "batch_size": 4,
                "validation_split": 0.2, "seed": 1, "strict": False}
    legacy = SimpleNamespace(settings=Settings.from_json(settings), data={"source": str(path)})
    assert legacy.settings.split == "ordered" and legacy.settings.pipeline == "seed"
    pairs, _ = read_pairs(path)
    assert training_split(legacy) == split_pairs(pairs, 0.2, 1, "ordered")
    assert split_pairs(pairs, 0.2, 1, "ordered") != split_pairs(pairs, 0.2, 1, "hashed")
    hashed = SimpleNamespace(settings=Settings.from_json({**settings, "split": "hashed"}),
                             data={"source": str(path)})
    assert training_split(hashed) == split_pairs(pairs, 0.2, 1)
    with pytest.raises(DataError, match="unknown split"):
        split_pairs(pairs, 0.2, 1, "random")


def test_settings_keep_what_they_do_not_know_and_fill_what_old_runs_did_not_record():
    from trainer.settings import Settings

    recorded = {"epochs": 3, "seed": 2, "some_future_key": [1, 2]}
    settings = Settings.from_json(recorded)
    assert (settings.epochs, settings.seed, settings.pipeline, settings.loss_on_padding) == (3, 2, "seed", True)
    assert settings.to_json()["some_future_key"] == [1, 2]
    assert Settings.from_json(settings.to_json()) == settings
    assert Settings.from_json({}).num_samples is None  # a run.json that records no settings


def test_run_json_versions_and_padding(tmp_path):
    """A zero-padded run is run format 2 (version 1 readers refuse it); a space-padded run stays 1;
    a malformed padding is a RunError, not a traceback."""
    import json

    from runtime.vocab import Vocabulary
    from trainer.run import RUN_JSON, RunError, RunInfo, read_run_json
    from trainer.settings import Settings

    def info(padding):
        return RunInfo(Vocabulary(tuple(" ab"), padding), Vocabulary(tuple("\t\n ab"), padding), 4, 6, 8,
                       Settings(), {}, {})

    for padding, version in (("space", 1), ("zero", 2)):
        (tmp_path / RUN_JSON).write_text(json.dumps(info(padding).to_json()))
        assert json.loads((tmp_path / RUN_JSON).read_text())["format_version"] == version
        assert read_run_json(tmp_path).source_vocab.padding == padding
    data = info("zero").to_json()
    for change in ({"format_version": 1}, {"padding": "x"}, {"padding": None}, {"format_version": 4}):
        (tmp_path / RUN_JSON).write_text(json.dumps({**data, **change}))
        with pytest.raises(RunError):
            read_run_json(tmp_path)
    # an imported model's source form makes it format 3, which reads back
    from runtime.vocab import SourceForm

    formed = info("space")
    formed.source_form = SourceForm(lowercase=True, wrap=False)
    (tmp_path / RUN_JSON).write_text(json.dumps(formed.to_json()))
    assert json.loads((tmp_path / RUN_JSON).read_text())["format_version"] == 3
    assert read_run_json(tmp_path).source_form == SourceForm(lowercase=True, wrap=False)

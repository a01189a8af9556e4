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


def test_split_is_deterministic_and_grouped_by_english():
    pairs = [(f"E{i % 40}.", f"F{i}.") for i in range(200)]  # 5 French variants per English
    train, valid = split_pairs(pairs, 0.2, seed=1)
    assert (train, valid) == split_pairs(pairs, 0.2, seed=1)
    assert not {en for en, _ in train} & {en for en, _ in valid}
    assert len(train) + len(valid) == len(pairs)
    assert 0.15 <= len(valid) / len(pairs) <= 0.3
    assert split_pairs(pairs, 0.2, seed=2) != (train, valid)


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

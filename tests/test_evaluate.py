"""trainer.evaluate: metrics equal sacrebleu's, exact match and length-limit share are counted."""

import pytest
import sacrebleu

from trainer.evaluate import evaluate
from trainer.metrics import group_references, score


def test_single_reference_metrics_equal_sacrebleu():
    hyps = ["Je suis fatigué.", "Il a deux chats.", "Va !", "Elle est grande maison."]
    refs = ["Je suis fatigué.", "Il a trois chats.", "Va-t'en !", "La maison est grande."]
    s = score(hyps, [[r] for r in refs], max_length=40)
    assert s.chrf == sacrebleu.corpus_chrf(hyps, [refs]).score
    assert s.bleu == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert s.exact == 0.25 and s.length_limit == 0.0 and s.sentences == 4


def test_several_references_count_as_sacrebleu_streams_and_for_exact_match():
    pairs = [("Go.", "Va !"), ("Go.", "Marche."), ("Hi.", "Salut.")]
    sources, refs = group_references(pairs)
    assert sources == ["Go.", "Hi."] and refs == [["Va !", "Marche."], ["Salut."]]
    hyps = ["Marche.", "Salut !"]
    s = score(hyps, refs, max_length=40)
    assert s.exact == 0.5
    assert s.chrf == sacrebleu.corpus_chrf(hyps, [["Va !", "Salut."], ["Marche.", "Salut."]]).score


def test_length_limit_share():
    s = score(["aaaa", "ab", "abcd"], [["x"], ["y"], ["z"]], max_length=4)
    assert abs(s.length_limit - 2 / 3) < 1e-12


def test_evaluate_keras_and_bundle_agree(tiny_run, tiny_bundle):
    quiet = lambda *a, **k: None  # noqa: E731
    keras_scores = evaluate(tiny_run, limit=60, log=quiet)
    bundle_scores = evaluate(tiny_run, tiny_bundle, limit=60, log=quiet)
    assert keras_scores == bundle_scores and keras_scores.sentences == 60


def test_shared_test_set_leaves_out_what_the_run_trained_on(tiny_run, tiny_bundle, tmp_path):
    from trainer.run import read_heldout

    quiet = lambda *a, **k: None  # noqa: E731
    heldout = read_heldout(tiny_run)
    seen = sorted({en for en, _ in read_heldout(tiny_run, "train_sample.tsv")})[:30]
    mixed = tmp_path / "other.tsv"
    mixed.write_text("".join(f"{en}\t{fr}\n" for en, fr in heldout[:40])
                     + "".join(f"{en}\tx\n" for en in seen), encoding="utf-8")
    shared = evaluate(tiny_run, tiny_bundle, pairs=mixed, log=quiet)
    assert shared.sentences == len({en for en, _ in heldout[:40]})  # the training sentences are left out
    assert shared == evaluate(tiny_run, tiny_bundle, limit=shared.sentences, log=quiet)
    only_seen = tmp_path / "seen.tsv"
    only_seen.write_text("".join(f"{en}\tx\n" for en in seen), encoding="utf-8")
    import pytest

    with pytest.raises(Exception, match="trained on: nothing to score"):
        evaluate(tiny_run, tiny_bundle, pairs=only_seen, log=quiet)


def test_beam_search_evaluation(tiny_run, tiny_bundle):
    quiet = lambda *a, **k: None  # noqa: E731
    beam = evaluate(tiny_run, tiny_bundle, limit=40, beam_size=4, log=quiet)
    assert beam.sentences == 40 and 0 <= beam.chrf <= 100


def test_baseline_is_scored_on_the_same_sentences_less_those_it_trained_on(tiny_run, tmp_path):
    from tests.conftest import TINY
    from trainer.metrics import group_references
    from trainer.fit import fit
    from trainer.run import training_split
    from trainer.run import read_heldout, read_run

    quiet = lambda *a, **k: None  # noqa: E731
    # Same corpus and shuffle, a smaller validation split: it trains on part of tiny_run's held-out.
    other = tmp_path / "other"
    fit(other, None, **{**TINY, "epochs": 2, "latent_dim": 16}, validation_split=0.1, verbose=0, log=quiet)
    compared = evaluate(tiny_run, baseline=other, log=quiet)

    trained = {en for en, _ in training_split(read_run(other))[0]}
    common = [(en, fr) for en, fr in read_heldout(tiny_run) if en not in trained]
    assert compared.sentences == len(group_references(common)[0])
    assert 0 < compared.sentences < len(group_references(read_heldout(tiny_run))[0])
    shared = tmp_path / "common.tsv"
    shared.write_text("".join(f"{en}\t{fr}\n" for en, fr in common), encoding="utf-8")
    alone = evaluate(tiny_run, pairs=shared, log=quiet)
    baseline = evaluate(other, pairs=shared, log=quiet)
    v = compared.versus
    assert (alone.chrf, alone.bleu) == (compared.chrf, compared.bleu) and v.baseline == baseline
    assert compared.chrf > v.baseline.chrf  # 20 epochs at latent 64 beat 2 at latent 16
    assert 0 < v.p_chrf <= 1 and 0 < v.p_bleu <= 1

    # The baseline's decodes of its own held-out sentences stand for it: same sentences, same test.
    decodes = tmp_path / "other.jsonl"
    evaluate(other, decodes_out=decodes, log=quiet)
    assert len(decodes.read_text(encoding="utf-8").splitlines()) == len(group_references(read_heldout(other))[0])
    from_file = evaluate(tiny_run, baseline=decodes, log=quiet)
    assert from_file.sentences == compared.sentences and from_file.chrf == compared.chrf
    assert (from_file.versus.baseline.chrf, from_file.versus.baseline.bleu) == (v.baseline.chrf, v.baseline.bleu)
    assert (from_file.versus.p_chrf, from_file.versus.p_bleu) == (v.p_chrf, v.p_bleu)
    decodes.write_text('{"source": "x"}\n', encoding="utf-8")
    with pytest.raises(Exception, match="not a file of decodes"):
        evaluate(tiny_run, baseline=decodes, log=quiet)


def test_paired_test_of_equal_systems_is_no_evidence():
    from trainer.metrics import paired_test

    refs = [[f"le chat {i} dort ici"] for i in range(40)]
    hyps = [f"le chat {i} dort là" for i in range(40)]
    assert paired_test(hyps, hyps, refs) == (1.0, 1.0)  # sacrebleu alone says 1/1001
    p_chrf, p_bleu = paired_test([f"un chien {i}" for i in range(40)], hyps, refs)
    assert p_chrf < 0.01 and p_bleu < 0.01  # far better on every sentence: not chance

"""trainer.evaluate: metrics equal sacrebleu's, exact match and length-limit share are counted."""

import sacrebleu

from trainer.evaluate import evaluate, group_references, score


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

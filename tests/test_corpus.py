"""Tests for trainer.corpus: the generated English->French training corpus."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from trainer import corpus
from trainer.corpus import MAX_ENGLISH_CHARS, MAX_FRENCH_CHARS, count_distinct, generate_pairs

ROOT = Path(__file__).resolve().parents[1]


def _digest(pairs: list[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode()).hexdigest()


@pytest.fixture(scope="module")
def sample() -> list[tuple[str, str]]:
    return generate_pairs(8000, 0)


@pytest.fixture(scope="module")
def grammar() -> dict[str, str]:
    """The whole grammar as english -> french."""
    return corpus._all_pairs()


# --- API, size, determinism ----------------------------------------------------------------


def test_public_api():
    assert set(corpus.__all__) >= {"generate_pairs", "MAX_ENGLISH_CHARS", "MAX_FRENCH_CHARS"}
    assert (MAX_ENGLISH_CHARS, MAX_FRENCH_CHARS) == (32, 42)


def test_exactly_n_distinct_pairs(sample):
    assert len(sample) == 8000
    assert len({en for en, _ in sample}) == 8000
    assert all(isinstance(en, str) and isinstance(fr, str) for en, fr in sample)
    assert generate_pairs(0) == []
    assert len(generate_pairs(1, 5)) == 1


def test_default_arguments(sample):
    assert generate_pairs() == sample


def test_deterministic_within_process(sample):
    assert generate_pairs(8000, 0) == sample
    assert generate_pairs(123, 7) == generate_pairs(123, 7)


def test_deterministic_across_processes(sample):
    """Catches dependence on salted str hashes (set iteration order, hash())."""
    code = ("import hashlib, json; from trainer.corpus import generate_pairs; "
            "print(hashlib.sha256(json.dumps(generate_pairs(8000, 0), ensure_ascii=False)"
            ".encode()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True)
    assert out.stdout.strip() == _digest(sample)


def test_seeds_give_different_samples(sample):
    other = generate_pairs(8000, 1)
    assert other != sample
    assert len(set(other) & set(sample)) < 0.5 * len(sample)  # a different sample, not a shuffle


def test_grammar_size():
    assert count_distinct() >= 30_000
    assert count_distinct() == len(corpus._all_pairs())
    assert len(generate_pairs(30_000, 3)) == 30_000


def test_too_many_pairs_raise():
    n = count_distinct()
    with pytest.raises(ValueError, match=str(n)):
        generate_pairs(n + 1)
    with pytest.raises(ValueError):
        generate_pairs(-1)


def test_whole_grammar_can_be_drawn(grammar):
    pairs = generate_pairs(count_distinct(), 0)
    assert dict(pairs) == grammar


# --- form ----------------------------------------------------------------------------------


def test_length_caps(sample, grammar):
    assert max(len(en) for en in grammar) <= MAX_ENGLISH_CHARS
    assert max(len(fr) for fr in grammar.values()) <= MAX_FRENCH_CHARS
    # The sample favours short sentences.
    assert sum(len(en) for en, _ in sample) / len(sample) <= 26
    assert sum(len(fr) for _, fr in sample) / len(sample) <= 31


def test_punctuation_and_capitalization(grammar):
    for en, fr in grammar.items():
        assert en[0].isupper() and fr[0].isupper(), (en, fr)
        assert en[-1] in ".!?" and fr[-1] in ".!?", (en, fr)
        assert en[-1] == fr[-1], (en, fr)
        assert "  " not in en and "  " not in fr, (en, fr)
        assert not re.search(r"\s[.,?!]", en), en  # English: no space before punctuation
        assert not re.search(r"\s[.,]|[^ ][?!]", fr), fr  # French: "Es-tu fatigué ?"
        assert "’" not in en + fr and "\t" not in en + fr and "\n" not in en + fr
        assert unicodedata.normalize("NFC", fr) == fr


def test_alphabets(sample):
    en_chars = set("".join(en for en, _ in sample))
    fr_chars = set("".join(fr for _, fr in sample))
    assert en_chars <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ '.,!?")
    assert fr_chars - set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ '.,!?-") <= set(
        "àâçéèêëîïôœùûÉ")
    assert {"é", "è", "ê", "à", "ç", "œ"} <= fr_chars


# --- translation is a function, and correct --------------------------------------------------


def test_mapping_is_a_function_across_seeds():
    a, b = dict(generate_pairs(20_000, 0)), dict(generate_pairs(20_000, 1))
    shared = a.keys() & b.keys()
    assert len(shared) > 1000
    assert all(a[en] == b[en] for en in shared)


def test_balance(sample):
    owner = {en: p.name for p in corpus._pools() for en, _ in p.short + p.long}
    counts = Counter(owner[en] for en, _ in sample)
    assert max(counts.values()) <= 0.25 * len(sample), counts
    assert len(counts) == len(corpus._pools())


def test_construction_variety(sample):
    fr = [f for _, f in sample]
    share = lambda pred: sum(map(pred, fr)) / len(fr)  # noqa: E731
    assert 0.15 < share(lambda f: f.endswith("?")) < 0.45
    assert 0.01 < share(lambda f: f.endswith("!")) < 0.1
    assert 0.1 < share(lambda f: " pas " in f) < 0.4


SPOT_CHECKS = {
    # être + adjective: gender and number agreement
    "The girls are tired.": "Les filles sont fatiguées.",
    "Marie is happy.": "Marie est heureuse.",
    "My sisters are French.": "Mes sœurs sont françaises.",
    "The women are old.": "Les femmes sont vieilles.",
    "The children are ready.": "Les enfants sont prêts.",
    "The cars are expensive.": "Les voitures sont chères.",
    "The water is cold.": "L'eau est froide.",
    "The man is tall.": "L'homme est grand.",
    "She is very angry.": "Elle est très en colère.",
    "I'm not tired.": "Je ne suis pas fatigué.",
    # avoir: idioms, numbers, plurals, "pas de"
    "We are hungry.": "Nous avons faim.",
    "I am cold.": "J'ai froid.",
    "I'm not hungry.": "Je n'ai pas faim.",
    "Is the cat hungry?": "Est-ce que le chat a faim ?",
    "You are right.": "Tu as raison.",
    "I have three books.": "J'ai trois livres.",
    "She has two cats.": "Elle a deux chats.",
    "They have twenty horses.": "Ils ont vingt chevaux.",
    "I have a mouse.": "J'ai une souris.",
    "I don't have a car.": "Je n'ai pas de voiture.",
    "I don't have money.": "Je n'ai pas d'argent.",
    # verbs: elision, articles, partitives, irregular conjugations
    "I like apples.": "J'aime les pommes.",
    "We don't drink water.": "Nous ne buvons pas d'eau.",
    "They drink coffee.": "Ils boivent du café.",
    "We eat bread.": "Nous mangeons du pain.",
    "We buy bread.": "Nous achetons du pain.",
    "They call my father.": "Ils appellent mon père.",
    "They take the bus.": "Ils prennent le bus.",
    "The children read books.": "Les enfants lisent des livres.",
    "We finish the cake.": "Nous finissons le gâteau.",
    "We choose a movie.": "Nous choisissons un film.",
    "She reads the newspaper.": "Elle lit le journal.",
    "He calls your sister.": "Il appelle ta sœur.",
    "They don't see the birds.": "Ils ne voient pas les oiseaux.",
    "I eat my orange.": "Je mange mon orange.",
    "I am looking for my keys.": "Je cherche mes clés.",
    "I am waiting for the bus.": "J'attends le bus.",
    "I listen to music.": "J'écoute de la musique.",
    "I don't listen to music.": "Je n'écoute pas de musique.",
    "He doesn't play the piano.": "Il ne joue pas du piano.",
    "She does her homework.": "Elle fait ses devoirs.",
    "You all do your homework.": "Vous faites vos devoirs.",
    "I don't understand.": "Je ne comprends pas.",
    # places, languages, modals
    "I live in Japan.": "J'habite au Japon.",
    "She doesn't live in Paris.": "Elle n'habite pas à Paris.",
    "I am going to the United States.": "Je vais aux États-Unis.",
    "We go to the park every day.": "Nous allons au parc tous les jours.",
    "She speaks French well.": "Elle parle bien français.",
    "I can't come tomorrow.": "Je ne peux pas venir demain.",
    "I don't want to eat an apple.": "Je ne veux pas manger de pomme.",
    "They want to leave tonight.": "Ils veulent partir ce soir.",
    "Do you all want to leave?": "Est-ce que vous voulez partir ?",
    # questions
    "Are you tired?": "Est-ce que tu es fatigué ?",
    "Does he like apples?": "Est-ce qu'il aime les pommes ?",
    "Is Emma at home?": "Est-ce qu'Emma est à la maison ?",
    "Where is the cat?": "Où est le chat ?",
    "Where are you?": "Où es-tu ?",
    "What does he want?": "Qu'est-ce qu'il veut ?",
    "How many children do you have?": "Combien d'enfants est-ce que tu as ?",
    # weather, imperatives
    "It is cold.": "Il fait froid.",
    "It is raining.": "Il pleut.",
    "The weather is nice.": "Il fait beau.",
    "Don't open the window!": "N'ouvre pas la fenêtre !",
    "Please close the door.": "Ferme la porte, s'il te plaît.",
}


@pytest.mark.parametrize("en", SPOT_CHECKS)
def test_spot_checks(grammar, en):
    assert grammar.get(en) == SPOT_CHECKS[en]


def test_spot_checks_reachable_by_sampling(grammar):
    # The grammar table is exactly what sampling draws from.
    drawn = dict(generate_pairs(count_distinct(), 1))
    assert all(drawn[en] == fr for en, fr in SPOT_CHECKS.items())


def test_adjective_agreement_everywhere(grammar):
    """Every people-adjective in its four forms: il/elle/ils-nouns/elles-nouns."""
    people_adjs = [(en, forms) for en, forms, _, applies in corpus._ADJECTIVES
                   if "P" in applies.split()]
    assert len(people_adjs) >= 10
    for en, (ms, fs, mp, fp) in people_adjs:
        assert grammar[f"He is {en}."] == f"Il est {ms}."
        assert grammar[f"She is {en}."] == f"Elle est {fs}."
        assert grammar[f"The boys are {en}."] == f"Les garçons sont {mp}."
        assert grammar[f"The girls are {en}."] == f"Les filles sont {fp}."
        assert grammar[f"Marie isn't {en}."] == f"Marie n'est pas {fs}."


def test_conjugation_table():
    expected = {
        "être": "suis es est sommes êtes sont", "avoir": "ai as a avons avez ont",
        "aller": "vais vas va allons allez vont", "aimer": "aime aimes aime aimons aimez aiment",
        "finir": "finis finis finit finissons finissez finissent",
        "prendre": "prends prends prend prenons prenez prennent",
    }
    for inf, forms in expected.items():
        assert corpus._CONJ[inf] == tuple(forms.split())
    assert corpus._imperative("ouvrir") == "ouvre"
    assert corpus._imperative("boire") == "bois"


def test_french_orthography(grammar):
    """No missed elision or contraction, no "ma" before a vowel, anywhere in the grammar."""
    missed_elision = re.compile(r"\b(je|ne|que|le|la|de) [aeiouyéèêàâîôœh]", re.IGNORECASE)
    bad = re.compile(r"\b(de le|de les|à le|à les)\b|\b[mts]a [aeiouéœ]")
    for fr in grammar.values():
        assert not missed_elision.search(fr), fr
        assert not bad.search(fr), fr


def test_english_orthography(grammar):
    bad = re.compile(r"\ba [aeio]|\ban [^aeiou]|\bI are\b|\bI is\b|\bdoesn't \w+s\b")
    third_sg = re.compile(r"(He|She|It|Tom|Paul|Marie|Emma) (have|do|are|go|like)\b")
    plural = re.compile(r"(I|You|We|They|You all) (has|does|is|goes|likes)\b")
    for en in grammar:
        assert not bad.search(en), en
        assert not third_sg.match(en) and not plural.match(en), en


def test_hypothesis_properties():
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies

    @hypothesis.settings(max_examples=15, deadline=None)
    @hypothesis.given(st.integers(0, 3000), st.integers(-(2**40), 2**40))
    def check(n, seed):
        pairs = generate_pairs(n, seed)
        assert len(pairs) == n == len({en for en, _ in pairs})
        assert pairs == generate_pairs(n, seed)
        table = corpus._all_pairs()
        assert all(table[en] == fr for en, fr in pairs)

    check()

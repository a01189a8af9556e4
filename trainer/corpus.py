"""Synthetic English->French sentence pairs: the default training corpus (no download needed).

A small compositional grammar (pronoun, name and noun subjects; être and avoir; ~35 verbs in the
present tense; negation; yes/no and wh-questions; numbers 1-20; places and times; imperatives) is
expanded exhaustively into one table english -> french, and `generate_pairs` draws a seeded
sample from it, balanced across constructions and biased towards short sentences.

Conventions that keep the English->French mapping a function (one French sentence per English):
- "I", "you", "we", "they" take masculine agreement; feminine comes from names and nouns
  ("Marie is tired." -> "Marie est fatiguée.", "The girls are ready." -> "Les filles sont
  prêtes.");
- "you" is always "tu" (and "your" is "ton/ta/tes"); "you all" is "vous"; "they" is "ils";
- yes/no questions always use "Est-ce que", never inversion; "Where is X?" is "Où est X ?";
- English affirmatives are written in full ("I am"), negatives contracted ("I'm not", "don't").
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Callable, Iterable, Iterator, NamedTuple

__all__ = ["generate_pairs", "count_distinct", "MAX_ENGLISH_CHARS", "MAX_FRENCH_CHARS"]

MAX_ENGLISH_CHARS = 32
MAX_FRENCH_CHARS = 42
# Samples prefer pairs within these softer targets; _LONG_SHARE of each construction's share
# goes to longer pairs (up to the hard caps) so that the model still sees cap-length sentences.
_SOFT_ENGLISH_CHARS = 28
_SOFT_FRENCH_CHARS = 36
_LONG_SHARE = 0.15

Pair = tuple[str, str]

# ---------------------------------------------------------------------------------------------
# Lexicon
# ---------------------------------------------------------------------------------------------

# kind, English sg/pl, French sg/pl, gender.  Kinds: P person, A animal, F countable food,
# M mass noun ("-": no plural), T thing, V vehicle.
_NOUN_TABLE = """
P man men homme hommes m          P woman women femme femmes f
P boy boys garçon garçons m       P girl girls fille filles f
P child children enfant enfants m P friend friends ami amis m
P mother mothers mère mères f     P father fathers père pères m
P brother brothers frère frères m P sister sisters sœur sœurs f
A dog dogs chien chiens m         A cat cats chat chats m
A horse horses cheval chevaux m   A bird birds oiseau oiseaux m
A mouse mice souris souris f
F apple apples pomme pommes f     F cake cakes gâteau gâteaux m
F egg eggs œuf œufs m             F orange oranges orange oranges f
M bread - pain - m                M water - eau - f
M milk - lait - m                 M coffee - café - m
M soup - soupe - f                M music - musique - f
M money - argent - m
T book books livre livres m       T letter letters lettre lettres f
T key keys clé clés f             T newspaper newspapers journal journaux m
T car cars voiture voitures f     T bike bikes vélo vélos m
T house houses maison maisons f   T door doors porte portes f
T window windows fenêtre fenêtres f   T phone phones téléphone téléphones m
T bag bags sac sacs m             T movie movies film films m
V bus buses bus bus m             V train trains train trains m
V taxi taxis taxi taxis m
"""
# Determiner restrictions that keep noun phrases natural: no "my men" or "my girls" (possessive
# "fille" means daughter), no "the mother", "my fathers" or "your bus".
_NO_POSS = {"man", "woman", "boy", "girl", "bus", "train", "taxi"}
_NO_THE = {"mother", "father", "brother", "sister"}
_SINGULAR_ONLY = {"mother", "father"}


class _Noun(NamedTuple):
    kind: str
    en: str
    en_pl: str
    fr: str
    fr_pl: str
    g: str


def _parse_nouns() -> dict[str, _Noun]:
    w = _NOUN_TABLE.split()
    return {w[i + 1]: _Noun(*w[i : i + 6]) for i in range(0, len(w), 6)}


_NOUNS = _parse_nouns()


def _nouns(spec: str) -> list[_Noun]:
    """Nouns named by `spec`: kind letters (every noun of that kind) and/or English nouns."""
    out: list[_Noun] = []
    for tok in spec.split():
        out += [n for n in _NOUNS.values() if n.kind == tok] if len(tok) == 1 else [_NOUNS[tok]]
    return out


def _adj(ms: str, fs: str = "", mp: str = "") -> tuple[str, str, str, str]:
    """French adjective forms m.sg, f.sg, m.pl, f.pl from the irregular ones given: by default
    the feminine adds -e (not after -e) and the plural adds -s (not after -s or -x)."""
    fs = fs or (ms if ms.endswith("e") else ms + "e")
    mp = mp or (ms if ms[-1] in "sx" else ms + "s")
    return ms, fs, mp, fs + "s"


def _inv(words: str) -> tuple[str, str, str, str]:
    return words, words, words, words


# English, French forms, flags (v: takes "very", t: takes "today"), what it describes (P people,
# A animals, or English nouns).
_ADJECTIVES = [
    ("tired", _adj("fatigué"), "vt", "P A"),
    ("happy", _adj("heureux", "heureuse"), "vt", "P A"),
    ("sad", _adj("triste"), "vt", "P A"),
    ("sick", _adj("malade"), "vt", "P A"),
    ("ready", _adj("prêt"), "t", "P"),
    ("busy", _adj("occupé"), "vt", "P"),
    ("angry", _inv("en colère"), "vt", "P A"),
    ("late", _inv("en retard"), "vt", "P"),
    ("rich", _adj("riche"), "v", "P"),
    ("young", _adj("jeune"), "v", "P A"),
    ("old", _adj("vieux", "vieille"), "v", "P A car house bike book phone bag"),
    ("tall", _adj("grand"), "v", "P"),
    ("French", _adj("français", "française"), "", "P"),
    ("nice", _adj("gentil", "gentille"), "v", "P A"),
    ("small", _adj("petit"), "v", "A key car bike house bag phone book"),
    ("big", _adj("gros", "grosse"), "v", "A"),  # a big animal is "gros",
    ("big", _adj("grand"), "v", "house car bag"),  # a big house "grande"
    ("new", _adj("neuf", "neuve"), "", "car bike house phone bag"),  # brand-new: neuf
    ("expensive", _adj("cher", "chère"), "v", "car bike house phone bag book F coffee"),
    ("beautiful", _adj("beau", "belle", "beaux"), "v", "house car bike bag"),
    ("open", _adj("ouvert"), "", "door window"),
    ("closed", _adj("fermé"), "", "door window"),
    ("good", _adj("bon", "bonne"), "v", "F bread soup coffee milk"),
    ("hot", _adj("chaud"), "v", "coffee soup water"),
    ("cold", _adj("froid"), "v", "coffee soup water milk"),
    ("fresh", _adj("frais", "fraîche"), "v", "bread milk egg apple orange"),
]

# English "be" + adjective, French "avoir" + noun: "I am hungry." -> "J'ai faim."
# (English, French, takes "very", people only)
_AVOIR_IDIOMS = [
    ("hungry", "faim", True, False), ("thirsty", "soif", True, False),
    ("cold", "froid", True, False), ("hot", "chaud", True, False),
    ("afraid", "peur", True, False), ("right", "raison", False, True),
]

# Present tense: je, tu, il/elle, nous, vous, ils/elles.
_CONJ_TABLE = """
être suis es est sommes êtes sont        avoir ai as a avons avez ont
aller vais vas va allons allez vont      faire fais fais fait faisons faites font
voir vois vois voit voyons voyez voient  vouloir veux veux veut voulons voulez veulent
pouvoir peux peux peut pouvons pouvez peuvent
prendre prends prends prend prenons prenez prennent
comprendre comprends comprends comprend comprenons comprenez comprennent
boire bois bois boit buvons buvez boivent  lire lis lis lit lisons lisez lisent
dormir dors dors dort dormons dormez dorment  partir pars pars part partons partez partent
venir viens viens vient venons venez viennent
attendre attends attends attend attendons attendez attendent
ouvrir ouvre ouvres ouvre ouvrons ouvrez ouvrent
finir finis finis finit finissons finissez finissent
choisir choisis choisis choisit choisissons choisissez choisissent
acheter achète achètes achète achetons achetez achètent
appeler appelle appelles appelle appelons appelez appellent
manger mange manges mange mangeons mangez mangent
nager nage nages nage nageons nagez nagent
pleuvoir - - pleut - - -                 neiger - - neige - - -
"""
# Regular -er verbs: stem + e, es, e, ons, ez, ent.
_REGULAR_ER = """aimer parler regarder chercher écouter habiter travailler chanter danser jouer
aider fermer rester"""


def _parse_conj() -> dict[str, tuple[str, ...]]:
    w = _CONJ_TABLE.split()
    table = {w[i]: tuple(w[i + 1 : i + 7]) for i in range(0, len(w), 7)}
    for inf in _REGULAR_ER.split():
        table[inf] = tuple(inf[:-2] + end for end in ("e", "es", "e", "ons", "ez", "ent"))
    return table


_CONJ = _parse_conj()


def _imperative(inf: str) -> str:
    """Tu-imperative: the present "tu" form minus the -s of -es verbs (mange, ouvre, achète)."""
    form = _CONJ[inf][1]
    return form[:-1] if form.endswith("es") else form


# English verbs: base, 3rd person singular, -ing ("_" joins particles: look_for).
_EN_VERB_TABLE = """
be is being  have has having  do does doing  go goes going  like likes liking
eat eats eating  drink drinks drinking  read reads reading  see sees seeing
want wants wanting  buy buys buying  take takes taking  watch watches watching
look_for looks_for looking_for  wait_for waits_for waiting_for  help helps helping
call calls calling  listen_to listens_to listening_to  listen listens listening
open opens opening  close closes closing  finish finishes finishing
choose chooses choosing  live lives living  speak speaks speaking  sleep sleeps sleeping
work works working  sing sings singing  dance dances dancing  swim swims swimming
play plays playing  come comes coming  leave leaves leaving  stay stays staying
wait waits waiting  understand understands understanding  rain rains raining
snow snows snowing
"""


def _parse_en_verbs() -> dict[str, tuple[str, ...]]:
    w = _EN_VERB_TABLE.split()
    return {w[i]: tuple(x.replace("_", " ") for x in w[i : i + 3]) for i in range(0, len(w), 3)}


_EN_VERBS = _parse_en_verbs()

# Adverbs and time/place complements: after the verb, or after "pas" in the negative.
_COMPLEMENTS = {
    "": "", "today": "aujourd'hui", "tomorrow": "demain", "tonight": "ce soir",
    "now": "maintenant", "every day": "tous les jours", "on Sundays": "le dimanche",
    "well": "bien", "a lot": "beaucoup", "at home": "à la maison",
    "here": "ici", "outside": "dehors", "everything": "tout",
}
# Where people (P), animals (A) and things (T) can be.
_LOCATIONS = [
    ("at home", "à la maison", "PA"), ("at school", "à l'école", "P"),
    ("at work", "au travail", "P"), ("in the garden", "dans le jardin", "PA"),
    ("in the kitchen", "dans la cuisine", "PAT"), ("in the car", "dans la voiture", "PAT"),
    ("under the bed", "sous le lit", "AT"), ("on the table", "sur la table", "AT"),
    ("in the bag", "dans le sac", "T"), ("at the park", "au parc", "P"),
    ("at the beach", "à la plage", "P"), ("in Paris", "à Paris", "P"),
    ("in London", "à Londres", "P"), ("in France", "en France", "P"),
    ("in Japan", "au Japon", "P"), ("here", "ici", "PAT"), ("outside", "dehors", "PA"),
]
# Destinations of "go": à + le = au, à + les = aux; "en" before feminine countries, "au" before
# masculine ones.  Local ones (True) also take habits: "I go to school every day."
_DESTINATIONS = [
    ("school", "à l'école", True), ("work", "au travail", True), ("the park", "au parc", True),
    ("the beach", "à la plage", True), ("the movies", "au cinéma", True),
    ("Paris", "à Paris", False), ("London", "à Londres", False),
    ("France", "en France", False), ("Italy", "en Italie", False), ("Japan", "au Japon", False),
    ("the United States", "aux États-Unis", False),
]
_RESIDENCES = [("here", "ici"), ("in the city", "en ville"), ("in a house", "dans une maison")]
_RESIDENCES += [("in " + en, fr) for en, fr, local in _DESTINATIONS if not local]
_LANGUAGES = [("French", "français"), ("English", "anglais"), ("Spanish", "espagnol"),
              ("Italian", "italien")]

_NUM_EN = """one two three four five six seven eight nine ten eleven twelve thirteen fourteen
fifteen sixteen seventeen eighteen nineteen twenty""".split()
_NUM_FR = """un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze
seize dix-sept dix-huit dix-neuf vingt""".split()

# Possessive determiners by possessor (je, tu, il/elle, nous, vous, ils): m.sg, f.sg, plural.
# They agree with the possessed noun, not the possessor: "his mother", "her mother" = "sa mère".
_POSS_FR = [("mon", "ma", "mes"), ("ton", "ta", "tes"), ("son", "sa", "ses"),
            ("notre", "notre", "nos"), ("votre", "votre", "vos"), ("leur", "leur", "leurs")]
_POSS_EN = {"my": 0, "your": 1, "his": 2, "her": 2, "our": 3, "their": 5}
_ALL_POSS = tuple(_POSS_EN)
_OBJ_POSS = ("my", "your", "his", "her")

# ---------------------------------------------------------------------------------------------
# French orthography
# ---------------------------------------------------------------------------------------------

_VOWELS = set("aeiouyàâéèêîïôœûh")  # every h in the lexicon is mute (habiter, homme)
_ELIDABLE = {"je", "le", "la", "ne", "de", "que"}
_NO_ELISION = {"onze", "huit"}  # "le onze", "de huit"


def _starts_vowel(word: str) -> bool:
    return word[0].lower() in _VOWELS and word.split()[0] not in _NO_ELISION


def _finish_fr(tokens: list[str], end: str) -> str:
    """Elide (je aime -> j'aime, que il -> qu'il, de eau -> d'eau), join, capitalize, punctuate.
    French typography puts a space before '?' and '!'."""
    out = ""
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok in _ELIDABLE and nxt and _starts_vowel(nxt):
            tok = tok[:-1] + "'"
        out += tok if (not out or out.endswith("'") or tok == ",") else " " + tok
    return out[0].upper() + out[1:] + (end if end == "." else " " + end)


def _finish_en(text: str, end: str) -> str:
    text = " ".join(text.split())
    return text[0].upper() + text[1:] + end


def _tail(*parts: str) -> tuple[str, ...]:
    return tuple(p for p in parts if p)


# ---------------------------------------------------------------------------------------------
# Noun phrases and subjects
# ---------------------------------------------------------------------------------------------


class _NP(NamedTuple):
    en: str
    fr: tuple[str, ...]  # affirmative
    fr_neg: tuple[str, ...] | None  # under negation ("pas de"); None: not negatable
    pl: bool
    noun: _Noun


def _definite(noun: _Noun, pl: bool) -> str:
    return "les" if pl else ("le" if noun.g == "m" else "la")  # le/la elide later: l'eau


def _poss_fr(person: int, noun: _Noun, pl: bool) -> str:
    m, f, plural = _POSS_FR[person]
    if pl:
        return plural
    return m if noun.g == "m" or _starts_vowel(noun.fr) else f  # "mon orange", not "ma orange"


def _nps(nouns: list[_Noun], dets: str, possessors: tuple[str, ...] = _OBJ_POSS,
         nums: Iterable[int] = range(2, 6)) -> Iterator[_NP]:
    """Noun phrases over `nouns` with the determiners in `dets`:
    the (sg and pl), the1 (sg only), a, poss, num,
    bare: English bare noun = indefinite plural ("apples" -> "des pommes") or partitive
          ("bread" -> "du pain", "water" -> "de l'eau"),
    gen:  generic, English bare noun, French definite ("I like apples." -> "J'aime les pommes.").
    Indefinite and partitive articles become "de" under negation: "pas de pommes", "pas d'eau"."""
    for n in nouns:
        forms = [(False, n.en, n.fr)]
        if n.en_pl != "-" and n.en not in _SINGULAR_ONLY:
            forms.append((True, n.en_pl, n.fr_pl))
        countable = n.en_pl != "-"
        for det in dets.split():
            if (det.startswith("the") and n.en in _NO_THE) or (det == "poss" and n.en in _NO_POSS):
                continue
            if det.startswith("the"):
                for pl, en, fr in forms[:1] if det == "the1" else forms:
                    art = (_definite(n, pl), fr)
                    yield _NP(f"the {en}", art, art, pl, n)
            elif det == "a" and countable:
                a = "an" if n.en[0] in "aeio" else "a"
                un = "un" if n.g == "m" else "une"
                yield _NP(f"{a} {n.en}", (un, n.fr), ("de", n.fr), False, n)
            elif det == "bare" and countable:
                yield _NP(n.en_pl, ("des", n.fr_pl), ("de", n.fr_pl), True, n)
            elif det == "bare":  # partitive: du pain, de la soupe, de l'eau
                du = n.g == "m" and not _starts_vowel(n.fr)
                art = ("du",) if du else ("de", _definite(n, False))
                yield _NP(n.en, (*art, n.fr), ("de", n.fr), False, n)
            elif det == "gen":
                pl, en, fr = (True, n.en_pl, n.fr_pl) if countable else forms[0]
                art = (_definite(n, pl), fr)
                yield _NP(en, art, art, pl, n)
            elif det == "poss":
                for word in possessors:
                    for pl, en, fr in forms:
                        poss = (_poss_fr(_POSS_EN[word], n, pl), fr)
                        yield _NP(f"{word} {en}", poss, poss, pl, n)
            elif det == "num" and len(forms) == 2:
                for k in nums:
                    en, fr = f"{_NUM_EN[k - 1]} {n.en_pl}", (_NUM_FR[k - 1], n.fr_pl)
                    yield _NP(en, fr, None, True, n)


class _Subj(NamedTuple):
    en: str  # as inside a sentence: "I", "you", "the cat", "Tom"
    p: int  # person: 0 I/je, 1 you/tu, 2 he/il, 3 we/nous, 4 you all/vous, 5 they/ils
    fr: tuple[str, ...]
    g: str
    kind: str  # noun kind; P for pronouns and names, W for the weather's "it"
    self_en: str = ""  # possessive referring back to the subject: "She does her homework."


_PRONOUNS = [
    _Subj("I", 0, ("je",), "m", "P", "my"), _Subj("you", 1, ("tu",), "m", "P", "your"),
    _Subj("he", 2, ("il",), "m", "P", "his"), _Subj("she", 2, ("elle",), "f", "P", "her"),
    _Subj("we", 3, ("nous",), "m", "P", "our"), _Subj("you all", 4, ("vous",), "m", "P", "your"),
    _Subj("they", 5, ("ils",), "m", "P", "their"),
]
_NAMES = [_Subj(name, 2, (name,), g, "P", "his" if g == "m" else "her")
          for name, g in (("Tom", "m"), ("Paul", "m"), ("Marie", "f"), ("Emma", "f"))]


def _np_subjects(spec: str, dets: str = "the poss", possessors=_ALL_POSS) -> list[_Subj]:
    out = []
    for np in _nps(_nouns(spec), dets, possessors):
        self_en = "their" if np.pl else ("his" if np.noun.g == "m" else "her")
        out.append(_Subj(np.en, 5 if np.pl else 2, np.fr, np.noun.g, np.noun.kind, self_en))
    return out


_PEOPLE = _PRONOUNS + _NAMES + _np_subjects("P", possessors=("my",))  # subjects of verbs
_ALL_PEOPLE = _PRONOUNS + _NAMES + _np_subjects("P")  # subjects of être/avoir
_ANIMALS = _np_subjects("A")
_MOVABLE = "key phone bag book letter newspaper F bread milk"  # "Where is my phone?"
_THINGS = _np_subjects("T F bread water milk coffee soup")


def _moods(s: _Subj) -> tuple[str, ...]:
    # No "Do I ...?" questions; "You all don't ..." is unidiomatic, so no negative "you all".
    return ("pos", "neg") if s.p == 0 else ("pos", "q") if s.p == 4 else ("pos", "neg", "q")


# ---------------------------------------------------------------------------------------------
# Clauses
# ---------------------------------------------------------------------------------------------


class _VP(NamedTuple):
    aspect: str  # "be" (be + tail), "do" (simple present), "prog" (be + -ing), "can"
    en_verb: str  # key of _EN_VERBS
    en_tail: str
    fr_verb: str  # infinitive
    fr: tuple[str, ...]  # after the verb, affirmative
    fr_neg: tuple[str, ...] | None  # after "ne VERB pas"; None: no negative
    no_q: bool = False  # no question ("Do you speak French a little?")


def _en_clause(s: _Subj, vp: _VP, mood: str) -> str:
    third = s.p == 2
    if vp.aspect in ("be", "prog"):
        be = "am" if s.p == 0 else "is" if third else "are"
        rest = (_EN_VERBS[vp.en_verb][2] + " " if vp.aspect == "prog" else "") + vp.en_tail
        if mood == "q":
            return f"{be} {s.en} {rest}"
        if mood == "neg":
            return ("I'm not" if s.p == 0 else f"{s.en} {be}n't") + " " + rest
        return f"{s.en} {be} {rest}"
    base, s3, _ = _EN_VERBS[vp.en_verb]
    if vp.aspect == "can":
        if mood == "q":
            return f"can {s.en} {base} {vp.en_tail}"
        can = "can" if mood == "pos" else "can't"
        return f"{s.en} {can} {base} {vp.en_tail}"
    do = "does" if third else "do"
    if mood == "q":
        return f"{do} {s.en} {base} {vp.en_tail}"
    if mood == "neg":
        return f"{s.en} {do}n't {base} {vp.en_tail}"
    return f"{s.en} {s3 if third else base} {vp.en_tail}"


def _clause(s: _Subj, vp: _VP, mood: str) -> Pair | None:
    """A statement ("pos"), negative statement ("neg") or yes/no question ("q")."""
    if (mood == "neg" and vp.fr_neg is None) or (mood == "q" and vp.no_q):
        return None
    verb = _CONJ[vp.fr_verb][s.p]
    fr = [*s.fr, "ne", verb, "pas", *vp.fr_neg] if mood == "neg" else [*s.fr, verb, *vp.fr]
    end = "?" if mood == "q" else "."
    if mood == "q":
        fr = ["est-ce", "que", *fr]
    return _finish_en(_en_clause(s, vp, mood), end), _finish_fr(fr, end)


def _clauses(subjects: list[_Subj],
             vps: list[_VP] | Callable[[_Subj], list[_VP]]) -> Iterator[Pair]:
    """Every mood of every (subject, VP); `vps` is a list or a function of the subject."""
    for s in subjects:
        for vp in vps(s) if callable(vps) else vps:
            if s.p == 4 and {"ton", "ta", "tes"} & set(vp.fr):  # "vous ... ton X": odd
                continue
            for mood in _moods(s):
                pair = _clause(s, vp, mood)
                if pair:
                    yield pair


def _modal_vp(vp: _VP, modal: str) -> _VP:
    """ "want to" / "can" + the VP as an infinitive: "want to eat an apple", "vouloir" + "manger
    une pomme".  "pas de" also applies to the infinitive's object: "Je ne veux pas manger de
    pomme." """
    fr = (vp.fr_verb, *vp.fr)
    neg = None if vp.fr_neg is None else (vp.fr_verb, *vp.fr_neg)
    if modal == "can":
        return _VP("can", vp.en_verb, vp.en_tail, "pouvoir", fr, neg)
    en = f"to {_EN_VERBS[vp.en_verb][0]} {vp.en_tail}"
    return _VP("do", "want", en, "vouloir", fr, neg)


def _dets(dets: str, drop: tuple[str, ...] = ("num", "gen"), singular: bool = False) -> str:
    """A determiner list without `drop`, and with "the" singular only if `singular`."""
    kept = [d for d in dets.split() if d not in drop]
    return " ".join("the1" if singular and d == "the" else d for d in kept)


# ---------------------------------------------------------------------------------------------
# Constructions
# ---------------------------------------------------------------------------------------------


def _adjective_vps(s: _Subj) -> list[_VP]:
    """être + adjective agreeing with the subject: fatigué, fatiguée, fatigués, fatiguées."""
    vps = []
    noun = _NOUNS.get(s.en.split()[-1]) or next(
        (n for n in _NOUNS.values() if n.en_pl == s.en.split()[-1]), None)
    for en, forms, flags, applies in _ADJECTIVES:
        targets = applies.split()
        if s.kind not in targets and not (noun and noun.en in targets):
            continue
        form = forms[(2 if s.p >= 3 else 0) + (s.g == "f")]
        for very in ("", "very") if "v" in flags else ("",):
            for today in ("", "today") if "t" in flags else ("",):
                fr = _tail("très" if very else "", form, _COMPLEMENTS[today])
                vps.append(_VP("be", "be", f"{very} {en} {today}", "être", fr, fr))
    return vps


def _be_adjective() -> Iterator[Pair]:
    """ "The girls are tired." -> "Les filles sont fatiguées." """
    yield from _clauses(_ALL_PEOPLE + _ANIMALS, _adjective_vps)


def _be_adjective_things() -> Iterator[Pair]:
    """ "The cars are expensive." -> "Les voitures sont chères." """
    yield from _clauses(_THINGS, _adjective_vps)


def _be_place() -> Iterator[Pair]:
    """ "The cat is under the bed." -> "Le chat est sous le lit." """
    things = _np_subjects(_MOVABLE)
    for group, subjects in (("P", _ALL_PEOPLE), ("A", _ANIMALS), ("T", things)):
        for s in subjects:
            for en, fr, who in _LOCATIONS:
                if group not in who or (en == "in the bag" and "bag" in s.en):
                    continue
                if "horse" in s.en and en not in ("in the garden", "here", "outside"):
                    continue
                yield from _clauses([s], [_VP("be", "be", en, "être", (fr,), (fr,))])


def _have() -> Iterator[Pair]:
    """ "She has two cats." -> "Elle a deux chats."; "I don't have a car." -> "Je n'ai pas de
    voiture." """
    owned = _nouns("A car bike house book key phone bag brother sister friend child money")
    vps = [_VP("do", "have", np.en, "avoir", np.fr, np.fr_neg)
           for np in _nps(owned, "a bare num", nums=range(2, 21))]
    yield from _clauses(_ALL_PEOPLE, vps)


def _avoir_idiom() -> Iterator[Pair]:
    """ "We are hungry." -> "Nous avons faim."; "You are right." -> "Tu as raison." """
    for s in _ALL_PEOPLE + _ANIMALS:
        for en, fr, gradable, people_only in _AVOIR_IDIOMS:
            if people_only and (s.kind != "P" or s.p == 4):  # "Are you all right?": an idiom
                continue
            for very in ("", "very") if gradable else ("",):
                tail = _tail("très" if very else "", fr)
                yield from _clauses([s], [_VP("be", "be", f"{very} {en}", "avoir", tail, tail)])


# English verb, French verb, aspect, object nouns, determiners (see _nps).
_TRANSITIVE = [
    ("like", "aimer", "do", "F bread soup coffee milk music A", "gen the poss"),
    ("eat", "manger", "do", "F bread soup", "a bare the poss num"),
    ("drink", "boire", "do", "water milk coffee", "bare the poss"),
    ("read", "lire", "do", "book letter newspaper", "a bare the poss num"),
    ("see", "voir", "do", "A car house bus train", "a bare the poss num"),
    ("see", "voir", "do", "P", "a the poss num"),
    ("want", "vouloir", "do", "F bread water milk coffee car bike book dog cat", "a bare the num"),
    ("buy", "acheter", "do", "F bread milk car bike book newspaper house", "a bare the num"),
    ("take", "prendre", "do", "V", "a the1"),
    ("take", "prendre", "do", "key book apple", "a the"),
    ("watch", "regarder", "do", "movie bird horse", "a the"),
    ("look_for", "chercher", "prog", "key phone bag book A P", "the poss"),
    ("wait_for", "attendre", "prog", "V", "the1"),
    ("wait_for", "attendre", "prog", "P", "the poss"),
    ("help", "aider", "do", "P", "the poss"),
    ("call", "appeler", "do", "P", "the poss"),
    ("listen_to", "écouter", "do", "P", "the poss"),
    ("open", "ouvrir", "do", "door window bag book", "the poss"),
    ("close", "fermer", "do", "door window bag book", "the poss"),
    ("finish", "finir", "do", "F soup book letter", "the poss"),
    ("choose", "choisir", "do", "book movie cake car", "a the"),
]


def _object_vps(verbs: tuple[str, ...] = (), dets_map: Callable[[str], str] = str,
                possessors: tuple[str, ...] = _OBJ_POSS) -> list[_VP]:
    vps = []
    for en, fr, aspect, objects, dets in _TRANSITIVE:
        if not verbs or en in verbs:
            for np in _nps(_nouns(objects), dets_map(dets), possessors):
                vps.append(_VP(aspect, en, np.en, fr, np.fr, np.fr_neg))
    return vps


def _transitive() -> Iterator[Pair]:
    """ "I eat bread." -> "Je mange du pain."; "He doesn't see a dog." -> "Il ne voit pas de
    chien."; "I like apples." -> "J'aime les pommes." """
    yield from _clauses(_PEOPLE, _object_vps())


# Fixed verb phrases: English verb and tail, French verb and tail (and negative tail if it
# differs: only indefinite/partitive articles turn into "de").
_ACTIVITIES = [
    ("watch", "TV", "regarder", "la télé"), ("listen_to", "the radio", "écouter", "la radio"),
    ("listen_to", "music", "écouter", "de la musique", "de musique"),
    ("do", "the dishes", "faire", "la vaisselle"), ("go", "shopping", "faire", "les courses"),
    ("play", "tennis", "jouer", "au tennis"), ("play", "chess", "jouer", "aux échecs"),
    ("play", "the piano", "jouer", "du piano"),  # "jouer de", not a partitive: kept
    ("play", "the guitar", "jouer", "de la guitare"),
    ("take", "a shower", "prendre", "une douche", "de douche"),
    ("do", "SELF homework", "faire", "SELF devoirs"),  # "She does her homework." (ses devoirs)
]


def _activity_vps(s: _Subj, complements: tuple[str, ...] = ("", "every day", "on Sundays"),
                  ) -> list[_VP]:
    vps = []
    for en, tail, fr, fr_tail, *fr_neg in _ACTIVITIES:
        if "SELF" in tail:
            tail = tail.replace("SELF", s.self_en)
            fr_tail = fr_tail.replace("SELF", _POSS_FR[s.p][2])
        for c in complements:
            neg = (fr_neg or [fr_tail])[0]
            vps.append(_VP("do", en, f"{tail} {c}", fr, _tail(fr_tail, _COMPLEMENTS[c]),
                           _tail(neg, _COMPLEMENTS[c])))
    return vps


def _activity() -> Iterator[Pair]:
    """ "We play chess on Sundays." -> "Nous jouons aux échecs le dimanche." """
    yield from _clauses(_PEOPLE, _activity_vps)


# English verb, French verb, aspect, complements, animals too, "can" allowed (not for skills:
# "I can swim." is "Je sais nager.").
_INTRANSITIVE = [
    ("sleep", "dormir", "do", "|well|a lot|at home|outside", True, True),
    ("work", "travailler", "do", "|today|tomorrow|tonight|at home|a lot|on Sundays", False, True),
    ("sing", "chanter", "do", "|well|a lot|tonight", False, False),
    ("dance", "danser", "do", "|well|a lot|tonight", False, False),
    ("swim", "nager", "do", "|well|every day|a lot", True, False),

    ("play", "jouer", "do", "|outside|at home|a lot", True, True),
    ("read", "lire", "do", "|a lot|every day", False, False),
    ("eat", "manger", "do", "|a lot|well|at home", True, True),
    ("come", "venir", "prog", "|today|tomorrow|tonight", False, True),
    ("leave", "partir", "prog", "|today|tomorrow|tonight|now", False, True),
    ("stay", "rester", "prog", "here|at home", False, True),
    ("wait", "attendre", "prog", "|here|outside", False, True),
    ("understand", "comprendre", "do", "|everything", False, False),
]


def _intransitive_vps(complements: Callable[[str], bool] = lambda c: True) -> Iterator[tuple]:
    for en, fr, aspect, comps, animals, can in _INTRANSITIVE:
        for c in filter(complements, comps.split("|")):
            t = _tail(_COMPLEMENTS[c])
            yield _VP(aspect, en, c, fr, t, t), animals, can


def _intransitive() -> Iterator[Pair]:
    """ "He doesn't sleep well." -> "Il ne dort pas bien." """
    for vp, animals, _ in _intransitive_vps():
        yield from _clauses(_PEOPLE + (_ANIMALS if animals else []), [vp])


def _modal_vps() -> list[_VP]:
    """want to / can + infinitive phrases (with "can" only where it means "pouvoir")."""
    when = ("", "today", "tomorrow", "tonight", "here", "at home", "outside", "now")
    phrases = [(vp, can) for vp, _, can in _intransitive_vps(lambda c: c in when)]
    phrases += [(_VP("do", "go", f"to {en}", "aller", (fr,), (fr,)), True)
                for en, fr, _ in _DESTINATIONS]
    for vp in _object_vps(("eat", "drink", "read", "buy"), _dets):
        phrases.append((vp, vp.en_verb in ("eat", "drink")))
    for vp in _object_vps(("see", "help", "call"), lambda dets: "poss"):
        phrases.append((vp, True))
    for vp in _activity_vps(_PRONOUNS[0], ("",)):
        if "homework" not in vp.en_tail:  # "I can play the piano." is "Je sais jouer du piano."
            phrases.append((vp, vp.fr_verb in ("faire", "prendre")))
    vps = [_modal_vp(vp, "want") for vp, _ in phrases]
    return vps + [_modal_vp(vp, "can") for vp, can in phrases if can]


def _modal() -> Iterator[Pair]:
    """ "Can you come tomorrow?" -> "Est-ce que tu peux venir demain ?" """
    yield from _clauses(_PEOPLE, _modal_vps())


def _go() -> Iterator[Pair]:
    """ "We are going to the beach tomorrow." -> "Nous allons à la plage demain." """
    vps = []
    for en, fr, local in _DESTINATIONS:
        for c in ("", "today", "tomorrow", "tonight"):
            t = _tail(fr, _COMPLEMENTS[c])
            vps.append(_VP("prog", "go", f"to {en} {c}", "aller", t, t))
        for c in ("every day", "on Sundays") if local else ():
            t = (fr, _COMPLEMENTS[c])
            vps.append(_VP("do", "go", f"to {en} {c}", "aller", t, t))
    yield from _clauses(_PEOPLE, vps)


def _live_speak() -> Iterator[Pair]:
    """ "I live in Japan." -> "J'habite au Japon."; "She speaks French well." -> "Elle parle
    bien français." (the adverb comes before the language in French) """
    vps = [_VP("do", "live", en, "habiter", (fr,), (fr,)) for en, fr in _RESIDENCES]
    for en, fr in _LANGUAGES:
        vps.append(_VP("do", "speak", en, "parler", (fr,), (fr,)))
        vps.append(_VP("do", "speak", f"{en} well", "parler", ("bien", fr), ("bien", fr)))
        vps.append(_VP("do", "speak", f"{en} a little", "parler", ("un peu", fr), None, True))
    yield from _clauses(_PEOPLE, vps)


def _wh_question() -> Iterator[Pair]:
    """ "Where is the cat?" -> "Où est le chat ?"; "What does he want?" -> "Qu'est-ce qu'il
    veut ?"; "How many cats do you have?" -> "Combien de chats est-ce que tu as ?" """
    for s in _np_subjects("P A") + _np_subjects(_MOVABLE + " car bike") + _NAMES:
        be = "are" if s.p == 5 else "is"
        fr = ["où", _CONJ["être"][s.p], *s.fr]
        yield _finish_en(f"where {be} {s.en}", "?"), _finish_fr(fr, "?")
    for en, fr in (("are you", "es-tu"), ("is he", "est-il"), ("is she", "est-elle"),
                   ("are we", "sommes-nous"), ("are you all", "êtes-vous"),
                   ("are they", "sont-ils")):
        yield _finish_en(f"where {en}", "?"), _finish_fr(["où", fr], "?")
    counted = _nouns("A brother sister child friend book key car bike F")
    for s in _PEOPLE[1:]:  # not "I"
        do, be = ("does", "is") if s.p == 2 else ("do", "are")

        def ask(en: str, head: list[str], verb: str, *rest: str) -> Pair:
            fr = [*head, "est-ce", "que", *s.fr, _CONJ[verb][s.p], *rest]
            return _finish_en(en, "?"), _finish_fr(fr, "?")

        for v, fr in (("live", "habiter"), ("work", "travailler"), ("sleep", "dormir"),
                      ("eat", "manger")):
            yield ask(f"where {do} {s.en} {v}", ["où"], fr)
        yield ask(f"where {be} {s.en} going", ["où"], "aller")
        yield ask(f"where {do} {s.en} want to go", ["où"], "vouloir", "aller")
        for v, fr in (("want", "vouloir"), ("eat", "manger"), ("drink", "boire"), ("read", "lire"),
                      ("buy", "acheter"), ("see", "voir"), ("like", "aimer"), ("do", "faire"),
                      ("watch", "regarder")):
            yield ask(f"what {do} {s.en} {v}", ["que"], fr)
            if v not in ("want", "like", "see"):
                yield ask(f"what {do} {s.en} want to {v}", ["que"], "vouloir", fr)
        for v, fr in (("looking for", "chercher"), ("waiting for", "attendre")):
            yield ask(f"what {be} {s.en} {v}", ["que"], fr)
        for n in counted:
            for v, fr in (("have", "avoir"), ("want", "vouloir"), ("see", "voir")):
                yield ask(f"how many {n.en_pl} {do} {s.en} {v}", ["combien", "de", n.fr_pl], fr)


def _weather() -> Iterator[Pair]:
    """ "It is cold." -> "Il fait froid." (not "Il est froid"); "It is raining." -> "Il pleut." """
    it = _Subj("it", 2, ("il",), "m", "W")
    weather = _Subj("the weather", 2, ("il",), "m", "W")  # "The weather is nice.": "Il fait beau."
    places = {en: fr for en, fr, _ in _LOCATIONS} | _COMPLEMENTS
    for c in ("", "today", "tonight", "here", "in Paris", "in London", "in Japan"):
        fr_c = places[c]
        vps = [_VP("prog", "rain", c, "pleuvoir", _tail(fr_c), _tail(fr_c)),
               _VP("prog", "snow", c, "neiger", _tail(fr_c), _tail(fr_c))]
        for en, fr in (("cold", "froid"), ("hot", "chaud")):
            for very in ("", "very"):
                t = _tail("très" if very else "", fr, fr_c)
                vps.append(_VP("be", "be", f"{very} {en} {c}", "faire", t, t))
        yield from _clauses([it], vps)
        for very in ("", "very"):
            t = _tail("très" if very else "", "beau", fr_c)
            yield from _clauses([weather], [_VP("be", "be", f"{very} nice {c}", "faire", t, t)])


def _imperatives() -> Iterator[Pair]:
    """ "Don't open the window!" -> "N'ouvre pas la fenêtre !"; "Please close the door." ->
    "Ferme la porte, s'il te plaît." (the tu form, like "you" everywhere) """
    verbs = ("eat", "drink", "read", "open", "close", "take", "call", "help", "listen_to",
             "finish", "buy", "wait_for", "look_for")
    vps = _object_vps(verbs, lambda dets: _dets(dets, singular=True), ("your",))
    vps += _activity_vps(_PRONOUNS[1], ("",))
    for en, fr, c in (("come", "venir", "here"), ("stay", "rester", "here"),
                      ("stay", "rester", "at home"), ("wait", "attendre", "here"),
                      ("leave", "partir", ""), ("wait", "attendre", ""), ("listen", "écouter", ""),
                      ("eat", "manger", ""), ("sleep", "dormir", ""),
                      ("come", "venir", "tomorrow"), ("come", "venir", "tonight"),
                      ("come", "venir", ""), ("leave", "partir", "now"),
                      ("work", "travailler", "")):
        t = _tail(_COMPLEMENTS[c])
        vps.append(_VP("do", en, c, fr, t, t))
    please = (",", "s'il te plaît")
    for vp in vps:
        en = f"{_EN_VERBS[vp.en_verb][0]} {vp.en_tail}"
        imp = _imperative(vp.fr_verb)
        yield _finish_en(en, "!"), _finish_fr([imp, *vp.fr], "!")
        yield _finish_en(f"please {en}", "."), _finish_fr([imp, *vp.fr, *please], ".")
        if vp.fr_neg is not None:
            neg = ["ne", imp, "pas", *vp.fr_neg]
            yield _finish_en(f"don't {en}", "!"), _finish_fr(neg, "!")
            yield _finish_en(f"please don't {en}", "."), _finish_fr(neg + list(please), ".")


# (name, sampling weight, builder).  Weights keep every construction well under 25%.
_CONSTRUCTIONS = [
    ("be_adjective", 0.12, _be_adjective),
    ("be_adjective_things", 0.06, _be_adjective_things),
    ("be_place", 0.06, _be_place),
    ("have", 0.10, _have),
    ("avoir_idiom", 0.06, _avoir_idiom),
    ("transitive", 0.17, _transitive),
    ("activity", 0.06, _activity),
    ("intransitive", 0.07, _intransitive),
    ("modal", 0.09, _modal),
    ("go", 0.06, _go),
    ("live_speak", 0.05, _live_speak),
    ("wh_question", 0.08, _wh_question),
    ("weather", 0.01, _weather),
    ("imperative", 0.05, _imperatives),
]

# ---------------------------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------------------------


class _Pool(NamedTuple):
    name: str
    weight: float
    short: tuple[Pair, ...]  # within the soft length targets
    long: tuple[Pair, ...]  # within the hard caps only


@lru_cache(maxsize=1)
def _pools() -> tuple[_Pool, ...]:
    """Every construction's distinct pairs within the length caps, in a fixed order.  An English
    sentence belongs to the first construction producing it; producing it again with another
    French sentence would be a grammar bug, so it raises."""
    seen: dict[str, str] = {}
    pools = []
    for name, weight, build in _CONSTRUCTIONS:
        short, long = [], []
        for en, fr in build():
            if len(en) > MAX_ENGLISH_CHARS or len(fr) > MAX_FRENCH_CHARS:
                continue
            old = seen.setdefault(en, fr)
            if old != fr:
                raise AssertionError(f"{en!r} has two translations: {old!r} and {fr!r}")
            if old is fr:  # first time seen
                is_short = len(en) <= _SOFT_ENGLISH_CHARS and len(fr) <= _SOFT_FRENCH_CHARS
                (short if is_short else long).append((en, fr))
        pools.append(_Pool(name, weight, tuple(short), tuple(long)))
    return tuple(pools)


@lru_cache(maxsize=1)
def _all_pairs() -> dict[str, str]:
    """The whole grammar as english -> french (for checks and tests)."""
    return {en: fr for pool in _pools() for en, fr in pool.short + pool.long}


def count_distinct() -> int:
    """How many distinct English sentences (hence pairs) the grammar produces."""
    return sum(len(pool.short) + len(pool.long) for pool in _pools())


def _allocate(n: int, sizes: list[int], weights: list[float]) -> list[int]:
    """Split n across pools in proportion to weights, capped by pool sizes (water filling)."""
    alloc = [0] * len(sizes)
    left = n
    active = [i for i, size in enumerate(sizes) if size]
    while left:
        total = sum(weights[i] for i in active)
        give = {i: min(sizes[i] - alloc[i], int(left * weights[i] / total)) for i in active}
        if not any(give.values()):  # rounding leftovers: one each, in order
            give = {i: 1 for i in active[:left]}
        for i, k in give.items():
            alloc[i] += k
            left -= k
        active = [i for i in active if alloc[i] < sizes[i]]
    return alloc


def generate_pairs(n: int = 8000, seed: int = 0) -> list[tuple[str, str]]:
    """n distinct (english, french) pairs, deterministic for (n, seed)."""
    available = count_distinct()
    if not 0 <= n <= available:
        raise ValueError(f"n must be between 0 and {available}, the number of distinct sentences "
                         f"the grammar produces; got {n}")
    pools = _pools()
    rng = random.Random(seed)
    alloc = _allocate(n, [len(p.short) + len(p.long) for p in pools], [p.weight for p in pools])
    pairs: list[Pair] = []
    for pool, k in zip(pools, alloc):
        n_long = max(min(len(pool.long), round(k * _LONG_SHARE)), k - len(pool.short))
        pairs += rng.sample(pool.short, k - n_long) + rng.sample(pool.long, n_long)
    rng.shuffle(pairs)
    return pairs

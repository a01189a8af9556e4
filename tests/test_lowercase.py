"""A bundle whose source_form lowercases (format version 5) is read lowercased by every runtime as
Python's str.lower reads it: on each code point whose lowercase lies in an alphabet of Latin, Greek
and Cyrillic letters, and on strings where the Greek capital sigma's form depends on its context.
Python is the definition; the JavaScript runtime (String.prototype.toLowerCase through prepareSource)
and the C runtime (src/lowercase.c, through native/build*/s2s-lowercase-check) must agree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from runtime.vocab import END, START, SourceForm, Vocabulary, prepare_source

ROOT = Path(__file__).resolve().parents[1]
# the alphabet: every lowercase-stable character of Latin-1, Latin Extended-A and B, Greek and Cyrillic
ALPHABET = sorted({chr(cp) for cp in range(0x20, 0x530) if chr(cp).lower() == chr(cp) and chr(cp).isprintable()})
SIGMA_CASES = [
    "ΟΔΟΣ", "ΟΔΟΣ.", "ΟΔΟΣ ΚΑΙ", "Σ", "ΣΑ", "ΑΣΑ", "Α Σ", "ΑΣ'", "ΑΣ'Β", "Α'Σ", "ΑΣ\u0301", "Α\u0301Σ",
    "ΑΣ\u0301Β", "1Σ", "Α.Σ", "ΣΣ", "ΑΣΣ", "ΑΣΣ Β", "ὈΔΥΣΣΕΎΣ", "ΑΣ\u00adΒ", "ΑΣ\u00ad", "aΣ", "ǅΣ", "ᾼΣ",
    "Κάτι ΜΙΚΡΌΣ, ΜΕΓΆΛΟΣ!", "ΣΑΣ ΑΡΈΣΕΙ;", "İSTANBUL ΣΑΣ",
]


def vectors() -> list[str]:
    """Each code point whose lowercase lies in ALPHABET (alone and between letters), and the sigma
    strings."""
    alphabet = set(ALPHABET)
    single = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and chr(cp) != chr(cp).lower()
              and set(chr(cp).lower()) <= alphabet]
    assert len(single) > 400 and "Σ" in single and "İ" in single and "\u212a" in single  # the Kelvin sign -> k
    return single + [f"A{c}b" for c in single] + SIGMA_CASES


def test_python_s_form_lowercases_then_wraps_and_counts_the_wrapping():
    vocab = Vocabulary(tuple(sorted(set(START + END + " abcdefgσς.")) ))
    form = SourceForm(lowercase=True, wrap=True)
    assert prepare_source("ABΣ. Σa", vocab, 9, form=form) == START + "abς. σa" + END
    with pytest.raises(ValueError, match="longer than the model's maximum of 7"):
        prepare_source("ABCDEFGA", vocab, 9, form=form)
    assert prepare_source("ABCDEFGA", vocab, 9, on_overflow="truncate", form=form) == START + "abcdefg" + END
    assert prepare_source("AXB", vocab, 9, on_unknown="skip", form=form) == START + "ab" + END
    assert prepare_source("", vocab, 9, form=form) == START + END


def _compare(outputs: list[str], inputs: list[str], who: str, keep: set[str] | None = None) -> None:
    def python(text: str) -> str:
        return "".join(c for c in text.lower() if keep is None or c in keep)

    wrong = [(i, o, python(i)) for i, o in zip(inputs, outputs) if o != python(i)]
    assert len(outputs) == len(inputs), who
    assert not wrong, f"{who} lowercases {len(wrong)} of {len(inputs)} otherwise than Python, e.g. {wrong[:5]}"


def test_the_javascript_runtime_lowercases_as_python_does(tmp_path):
    if not shutil.which("node") or not (ROOT / "js" / "node_modules").is_dir():
        if os.environ.get("S2S_REQUIRE_JS") == "1":
            pytest.fail("node or js/node_modules is missing (run scripts/setup-js)")
        pytest.skip("node or js/node_modules is missing (run scripts/setup-js)")
    inputs = vectors()
    (tmp_path / "in.json").write_text(json.dumps({"inputs": inputs, "alphabet": ALPHABET}), encoding="utf-8")
    script = (
        "import { readFileSync } from 'node:fs';"
        "import { Vocabulary, prepareSource } from './src/core.js';"
        f"const {{ inputs, alphabet }} = JSON.parse(readFileSync({json.dumps(str(tmp_path / 'in.json'))}, 'utf8'));"
        "const vocab = new Vocabulary(alphabet.concat(['\\t', '\\n', 'A']).sort());"
        "const form = { lowercase: true, wrap: false };"
        "const out = inputs.map((t) => prepareSource(t, vocab, 100, 'skip', 'error', form));"
        "const plain = inputs.map((t) => t.toLowerCase());"
        "process.stdout.write(JSON.stringify({ out, plain }));"
    )
    done = subprocess.run(["node", "--input-type=module", "-e", script], cwd=ROOT / "js", capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    _compare(result["plain"], inputs, "toLowerCase")
    # prepareSource lowercases before it skips what the vocabulary lacks
    _compare(result["out"], inputs, "prepareSource", set(ALPHABET) | {"A"})


@pytest.mark.parametrize("build", ["build", "build-asan"])
def test_the_c_runtime_lowercases_as_python_does(build):
    cli = ROOT / "native" / build / "s2s-lowercase-check"
    if not cli.is_file():
        if os.environ.get("S2S_REQUIRE_NATIVE") == "1":
            pytest.fail(f"{cli} is missing (run scripts/build-native)")
        pytest.skip(f"{cli} is missing (run scripts/build-native)")
    inputs = vectors()
    done = subprocess.run([str(cli)], input="".join(t + "\n" for t in inputs).encode("utf-8"), capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    _compare(done.stdout.decode("utf-8").split("\n")[:-1], inputs, str(cli))

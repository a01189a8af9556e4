"""The README's examples that follow the main job (`bash scripts/demo`: runs/demo, bundles/demo), run.

The README marks each code block this file runs with a line `<!-- tested: NAME -->` before it. Their
inputs must be sentences of the built-in corpus that the main job trains on (computed from
trainer/corpus.py and scripts/demo's flags, without training), in its source vocabulary; the tiny
test model (tests/conftest.py) stands in for runs/demo and bundles/demo when the commands run. The
Node examples run the way an app would: a throwaway app folder installs js/ as the README says and
runs its snippet. They are skipped only where Node is missing, and fail then under S2S_REQUIRE_JS=1.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
JS = ROOT / "js"
BLOCKS = ("main-job-cli", "main-job-python", "node-cli", "node-app-install", "node-app")
_MARK = re.compile(r"^<!-- tested: ([a-z-]+)\b.*-->$")


def marked_blocks() -> dict[str, tuple[str, str]]:
    """NAME -> (language, code) of the README's marked fenced code blocks."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks: dict[str, tuple[str, str]] = {}
    for i, line in enumerate(lines):
        mark = _MARK.match(line.strip())
        if not mark:
            continue
        fence = lines[i + 1] if i + 1 < len(lines) else ""
        assert fence.startswith("```"), f"README line {i + 2}: a code block must follow {line!r}"
        end = lines.index("```", i + 2)
        assert mark[1] not in blocks, f"two README blocks are marked {mark[1]!r}"
        blocks[mark[1]] = (fence[3:].strip(), "\n".join(lines[i + 2 : end]))
    return blocks


def _all_blocks() -> list[str]:
    found = re.findall(r"^```[a-z]*\n(.*?)^```$", README.read_text(encoding="utf-8"), re.S | re.M)
    return [code.removesuffix("\n") for code in found]


# ---------------------------------------------------------------------------------------------
# The built-in corpus of the main job, from scripts/demo's flags, without training
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def demo_corpus() -> tuple[frozenset[str], frozenset[str], int]:
    """(the English sentences the main job's corpus draws from, the characters of the pairs it
    trains on: its source vocabulary, their longest English sentence)."""
    from trainer.builtin import builtin_pairs
    from trainer.data import vocabularies
    from trainer.settings import BUILTIN_DEFAULTS, Settings, load_pairs

    script = (ROOT / "scripts" / "demo").read_text(encoding="utf-8")
    fit_lines = [line for line in script.splitlines() if "-m trainer.fit" in line]
    assert len(fit_lines) == 1, "scripts/demo should train once with trainer.fit"
    words = shlex.split(fit_lines[0])
    flags = argparse.ArgumentParser(add_help=False)
    for name in ("--num-samples", "--seed", "--max-input-length", "--max-output-length", "--vocabulary-words"):
        flags.add_argument(name, type=int)
    flags.add_argument("--data")
    args, _ = flags.parse_known_args(words[words.index("trainer.fit") + 1 :])
    assert args.data is None, "the main job no longer trains on the built-in corpus: update this test"
    d = BUILTIN_DEFAULTS  # what trainer.fit takes without --data for the flags not given
    settings = Settings(
        num_samples=d.num_samples if args.num_samples is None else args.num_samples,
        seed=args.seed or 0,
        max_input_length=d.max_input_length if args.max_input_length is None else args.max_input_length,
        max_output_length=args.max_output_length,
        vocabulary_words=d.vocabulary_words if args.vocabulary_words is None else args.vocabulary_words,
    )
    pairs, _ = load_pairs(None, settings)
    pool = builtin_pairs(None, settings.seed, settings.max_input_length or None, settings.max_output_length,
                         settings.vocabulary_words or None)
    source, _ = vocabularies(pairs)
    characters = frozenset("".join(en for en, _ in pairs))
    assert all(c in source for c in characters)
    return frozenset(en for en, _ in pool), characters, max(len(en) for en, _ in pairs)


# ---------------------------------------------------------------------------------------------
# The inputs of the examples
# ---------------------------------------------------------------------------------------------


def _cli_texts(argv: list[str]) -> list[str]:
    """The TEXT arguments of a `python -m runtime` / `trainer.decode` / Node CLI command line (they
    share the runtime's flags; trainer.decode's --run stands where --bundle does)."""
    from runtime.__main__ import build_parser

    argv = ["--bundle" if a == "--run" else a for a in argv]
    return build_parser().parse_args(argv).texts


def shell_commands(code: str) -> list[str]:
    return [line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def shell_inputs(code: str) -> list[str]:
    """The sentences that a block of shell command lines translates (arguments and echoed lines)."""
    found = []
    for line in shell_commands(code):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        segments, current = [], []
        for word in words:
            if word in ("|", "&&", ";", "(", ")"):
                segments.append(current)
                current = []
            else:
                current.append(word)
        segments.append(current)
        for seg in segments:
            seg = [w for w in seg if "=" not in w or w.startswith("-")]  # VAR=value prefixes
            if seg[:1] == ["echo"]:
                found.append(" ".join(seg[1:]))
            elif seg[:3] in (["python", "-m", "runtime"], ["python", "-m", "trainer.decode"]):
                found += _cli_texts(seg[3:])
            elif seg[:2] == ["node", "js/bin/translate.mjs"]:
                found += _cli_texts(seg[2:])
    return found


def python_inputs(code: str) -> list[str]:
    """The string arguments of translate / hypotheses / translate_stream calls."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in (
                "translate", "hypotheses", "translate_stream") and node.args:
            arg = node.args[0]
            items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
            found += [item.value for item in items if isinstance(item, ast.Constant)]
    return found


_JS_CALL = re.compile(r"\b(?:translate|translateStream|hypotheses)\(\s*(\[[^\]]*\]|'[^']*'|\"[^\"]*\")")


def js_inputs(code: str) -> list[str]:
    return [json.loads('"' + s[1:-1] + '"') for arg in _JS_CALL.findall(code)
            for s in re.findall(r"'[^']*'|\"[^\"]*\"", arg)]


def block_inputs(language: str, code: str) -> list[str]:
    if language == "python":
        return python_inputs(code)
    if language in ("js", "html"):
        return js_inputs(code)
    return shell_inputs(code)


def test_the_readme_marks_the_examples_that_follow_the_main_job():
    blocks = marked_blocks()
    assert set(BLOCKS) <= set(blocks), f"README blocks marked: {sorted(blocks)}; expected {BLOCKS}"
    marked = {code for _, code in blocks.values()}
    for code in _all_blocks():
        if ("bundles/demo" in code or "runs/demo" in code) and "--out runs/demo" not in code:
            assert code in marked, f"a README block uses the main job's run or bundle untested:\n{code}"
    for name in ("main-job-cli", "main-job-python", "node-cli", "node-app"):
        language, code = blocks[name]
        assert "bundles/demo" in code and "bundles/fra" not in code, name
        assert block_inputs(language, code), f"README block {name!r}: no sentence found to translate"


def test_the_readme_inputs_are_sentences_of_the_built_in_corpus():
    """Every sentence the examples after the main job translate is one the main job's corpus can hold
    (its ~80 English words, its length limit), in the characters of the pairs it trains on."""
    sentences, characters, longest = demo_corpus()
    # Not vacuous: "Go." (the corpus has no G) and fra.txt's sentences fail the checks below.
    assert "G" not in characters and "Go." not in sentences and "I'm cold." not in sentences
    assert shell_inputs('echo "Hi." | python -m runtime --bundle b --stream') == ["Hi."]
    assert shell_inputs('python -m runtime --bundle b --beam-size 4 --scores "A b." "C."') == ["A b.", "C."]
    assert js_inputs("await t.translate(['A.', \"B.\"]); t.translateStream('C.')") == ["A.", "B.", "C."]
    blocks = marked_blocks()
    inputs = [(name, text) for name in BLOCKS if name in blocks for text in block_inputs(*blocks[name])]
    assert inputs
    for name, text in inputs:
        outside = sorted(set(text) - characters)
        assert not outside, f"README block {name!r}: {text!r} has {outside}, outside the main job's vocabulary"
        assert len(text) <= longest, f"README block {name!r}: {text!r} is longer than the main job's inputs"
        assert text in sentences, f"README block {name!r}: {text!r} is not a sentence of the built-in corpus"


# ---------------------------------------------------------------------------------------------
# Running them on the tiny model
# ---------------------------------------------------------------------------------------------


def _stand_in(code: str, run: Path, bundle: Path) -> str:
    return code.replace("bundles/demo", str(bundle)).replace("runs/demo", str(run))


@pytest.fixture(scope="module")
def python_on_path(tmp_path_factory) -> dict[str, str]:
    """An environment whose `python` is this interpreter (the README's commands say `python`)."""
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n')
    (bin_dir / "python").chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


def _bash(command: str, env: dict[str, str], cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_the_main_job_examples_run(tiny_run, tiny_bundle, python_on_path):
    """Each command line of the README's main-job block, and its Python example, on the tiny model."""
    _, code = marked_blocks()["main-job-cli"]
    commands = shell_commands(code)
    assert len(commands) >= 5
    for command in commands:
        done = _bash(_stand_in(command, tiny_run, tiny_bundle), python_on_path)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        assert done.stdout.strip(), command
    _, code = marked_blocks()["main-job-python"]
    done = subprocess.run([sys.executable, "-c", _stand_in(code, tiny_run, tiny_bundle)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip()


def _node_ready() -> None:
    if shutil.which("node") is None:
        if os.environ.get("S2S_REQUIRE_JS") == "1":
            pytest.fail("the README's Node examples cannot run: node is not installed")
        pytest.skip("the README's Node examples cannot run: node is not installed")
    assert shutil.which("npm"), "node is installed without npm"
    assert (JS / "node_modules" / "onnxruntime-node").is_dir(), (
        "js/ is not set up: run the README's `(cd js && ONNXRUNTIME_NODE_INSTALL=skip npm ci)` "
        "(bash scripts/setup-js does it)")


def test_an_app_installs_js_and_runs_the_readme_snippet(tiny_run, tiny_bundle, tmp_path):
    """A throwaway app folder installs js/ with the README's command (offline: npm may not reach a
    registry), then runs the README's snippet, and the README's Node CLI line runs: both give the
    Python runtime's translations."""
    _node_ready()
    from runtime import Translator

    blocks = marked_blocks()
    npm_env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip", npm_config_offline="true",
                   npm_config_audit="false", npm_config_fund="false", npm_config_update_notifier="false")
    python = Translator(tiny_bundle)

    app = tmp_path / "my-app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "my-app", "version": "1.0.0", "private": True}))
    (install,) = shell_commands(blocks["node-app-install"][1])
    assert "npm install" in install and "/path/to/s2s-edge/js" in install
    done = _bash(install.replace("/path/to/s2s-edge/js", shlex.quote(str(JS))), npm_env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "s2s-edge" in json.loads((app / "package.json").read_text())["dependencies"]

    _, snippet = blocks["node-app"]
    (app / "app.mjs").write_text(_stand_in(snippet, tiny_run, tiny_bundle), encoding="utf-8")
    done = subprocess.run(["node", "app.mjs"], cwd=app, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    batch, streamed = re.search(r"translate\((\[[^\]]*\])", snippet)[1], re.search(r"translateStream\(([^)]*)\)", snippet)[1]
    for text in python.translate(js_inputs(f"translate({batch})")):
        assert text in done.stdout, (text, done.stdout)  # console.log quotes them
    assert done.stdout.endswith(python.translate(js_inputs(f"translate({streamed})")[0])), done.stdout

    for command in shell_commands(blocks["node-cli"][1]):
        done = _bash(_stand_in(command, tiny_run, tiny_bundle), dict(os.environ))
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        assert done.stdout.split("\n")[:-1] == python.translate(shell_inputs(command)), command

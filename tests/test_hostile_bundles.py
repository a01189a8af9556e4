"""Bundles that lie about themselves, read by the Python runtime: the cases of tests/hostile/cases.json.

The same file drives the JavaScript runtime's test (js/test/hostile.test.mjs, run by tests/test_js.py),
so both runtimes answer each hostile bundle alike. Here each case is also held to the manifest's JSON
Schema (runtime/manifest.schema.json), with the `jsonschema` library where it is installed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from runtime import BundleError, Translator
from runtime.bundle import (
    MANIFEST,
    MAX_ARTIFACT_BYTES,
    MAX_LENGTH,
    MAX_NESTING,
    SCHEMA,
    SCHEMA_FILE,
    Manifest,
    json_nesting,
    read_manifest,
)

ROOT = Path(__file__).resolve().parents[1]
CASES_FILE = Path(__file__).resolve().parent / "hostile" / "cases.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))
PYTHON_CASES = [c for c in CASES["cases"] if "python" in c.get("runtimes", ["python"])]


def _jsonschema():
    try:
        import jsonschema
    except ImportError:
        return None
    return jsonschema


# --- building a case's bundle (js/test/hostile.test.mjs does the same) ---------------------------

def _matches(artifact: dict, select: dict) -> bool:
    return all(artifact.get(k) == v for k, v in select.items())


def _resolve(data, path):
    """The container and key that `path` names; a dict in a path selects the list item it matches."""
    node = data
    for i, key in enumerate(path):
        if isinstance(key, dict):
            key = next(n for n, item in enumerate(node) if _matches(item, key))
        if i == len(path) - 1:
            return node, key
        node = node[key]
    raise ValueError("empty path")


def _apply_manifest_op(op: dict, manifest: dict, bundle: Path, bundles, raws: dict) -> None:
    kind = op["op"]
    if kind in ("set", "delete", "add", "cut", "append", "split", "raw", "nest", "keys"):
        node, key = _resolve(manifest, op["path"])
        if kind == "set":
            node[key] = copy.deepcopy(op["value"])
        elif kind == "delete":
            del node[key]
        elif kind == "add":
            node[key] += op["by"]
        elif kind == "cut":
            node[key] = node[key][: -op["chars"]]
        elif kind == "append":
            node[key] += op["text"]
        elif kind == "split":
            node[key] = list(node[key])
        else:  # raw JSON text, brackets nested `depth` deep, or an object of one key repeated `count`
            # times (values 0 to count - 1), put in place after serializing
            marker = f"@@raw{len(raws)}@@"
            raws[json.dumps(marker)] = (
                op["json"] if kind == "raw" else "[" * op["depth"] + "]" * op["depth"] if kind == "nest"
                else "{" + ", ".join(f"{json.dumps(op['key'])}: {i}" for i in range(op["count"])) + "}")
            node[key] = marker
    elif kind == "roles":
        for a in manifest["artifacts"]:
            if _matches(a, op["select"]) and a["role"] in op["map"]:
                a["role"] = op["map"][a["role"]]
    elif kind == "golden":  # the golden file rewritten; with "rehash", listed with its new hash
        source = bundles(op["from"]) if "from" in op else bundle
        theirs = json.loads((source / MANIFEST).read_text(encoding="utf-8"))["golden"]["file"]
        if "text" in op:
            data = op["text"].encode("utf-8")
        else:
            golden, golden_raws = json.loads((source / theirs).read_text(encoding="utf-8")), {}
            for edit in op.get("edit", []):
                _apply_manifest_op(edit, golden, bundle, bundles, golden_raws)
            text = json.dumps(golden, ensure_ascii=False)
            for marker, raw in golden_raws.items():
                text = text.replace(marker, raw)
            data = text.encode("utf-8")
        # The file the bundle was exported with (the case's manifest may name another by now).
        mine = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))["golden"]["file"]
        (bundle / mine).write_bytes(data)
        if op.get("rehash"):
            manifest["golden"].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    elif kind == "graft":  # another bundle's files in this bundle's places, listed with their hashes
        other = bundles(op["from"])
        theirs = json.loads((other / MANIFEST).read_text(encoding="utf-8"))["artifacts"]
        for role in op["roles"]:
            mine = next(a for a in manifest["artifacts"] if _matches(a, {**op["select"], "role": role}))
            graft = next(a for a in theirs if _matches(a, {**op["select"], "role": role}))
            shutil.copyfile(other / graft["file"], bundle / mine["file"])
            mine.update(sha256=graft["sha256"], size=graft["size"])
    else:
        raise ValueError(f"unknown manifest operation {kind!r}")


def _apply_file_op(op: dict, manifest: dict, bundle: Path) -> None:
    kind = op["op"]
    path = bundle / MANIFEST
    if kind in ("grow", "shrink", "link_artifact"):
        path = bundle / next(a for a in manifest["artifacts"] if _matches(a, op["select"]))["file"]
    if kind in ("grow", "shrink"):
        os.truncate(path, op["bytes"])  # growing leaves a sparse file: no disk, no time
    elif kind in ("link_artifact", "link_manifest"):
        target = op.get("to", "outside")
        if target == "outside":
            target = bundle.parent / f"elsewhere-{path.name}"
            path.rename(target)
        else:
            path.unlink()
        os.symlink(target, path)
    elif kind == "manifest_text":
        path.write_bytes(op["text"].encode(op.get("encoding", "utf-8")))
    elif kind == "manifest_prefix":
        path.write_bytes(op["text"].encode("utf-8") + path.read_bytes())
    else:
        raise ValueError(f"unknown file operation {kind!r}")


def build_case(case: dict, bundles, out: Path) -> tuple[Path, str]:
    """A copy of the case's bundle in `out`, changed as the case says; also the manifest's text."""
    bundle = out / "bundle"
    shutil.copytree(bundles(case.get("bundle", "seed")), bundle)
    manifest = json.loads((bundle / MANIFEST).read_text(encoding="utf-8"))
    raws: dict[str, str] = {}
    for op in case.get("manifest", []):
        _apply_manifest_op(op, manifest, bundle, bundles, raws)
    text = json.dumps(manifest, ensure_ascii=False)
    for marker, raw in raws.items():
        text = text.replace(marker, raw)
    (bundle / MANIFEST).write_text(text, encoding="utf-8")
    for op in case.get("files", []):
        _apply_file_op(op, manifest, bundle)
    return bundle, text


@pytest.fixture
def bundles(request):
    """bundles(name): the session's bundle of that name, built when first asked for."""
    names = {"seed": "tiny_bundle", "attention": "attention_bundle"}
    return lambda name: request.getfixturevalue(names[name])


# --- the cases ------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", PYTHON_CASES, ids=[c["name"] for c in PYTHON_CASES])
def test_hostile_bundle(case, bundles, sentences, tmp_path):
    bundle, _ = build_case(case, bundles, tmp_path)
    backend = case.get("backend", "onnx")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        if case["error"] is None:
            translator = Translator(bundle, backend=backend)
            translate = case.get("translate")
            if translate is not None:
                options = {"on_unknown": "skip", "on_overflow": "truncate"}
                if translate.get("beam"):
                    out = translator.hypotheses(sentences[:1], beam_size=translate["beam"], **options)[0][0].text
                elif translate.get("scores"):
                    out = translator.hypotheses(sentences[:1], **options)[0][0].text
                else:
                    out = translator.translate(sentences[0], **options)
                assert set(out) <= set(translator.manifest.target_vocab.chars)
        else:
            with pytest.raises(BundleError) as caught:
                Translator(bundle, backend=backend)
            message = str(caught.value)
            assert case["error"] in message, message
            assert case.get("also", "") in message, message
            assert "\n" not in message and len(message) < 600, message
            for leak in case.get("not_in_error", []):
                assert leak not in message, message
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - started
    assert seconds < case.get("seconds", 60), f"{seconds:.1f} s"
    if "max_mib" in case:
        assert peak < case["max_mib"] * 2**20, f"loading took {peak / 2**20:.0f} MiB"


def test_the_schema_judges_every_case_as_the_file_says(bundles, tmp_path):
    """Each case's manifest, by the JSON Schema: as its "schema" says. A manifest the schema refuses
    is one the runtimes refuse (every such case expects an error)."""
    jsonschema = _jsonschema()
    if jsonschema is None:
        pytest.skip("jsonschema is not installed")
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert validator.is_valid(json.loads((bundles("seed") / MANIFEST).read_text(encoding="utf-8")))
    for i, case in enumerate(c for c in CASES["cases"] if "schema" in c):
        _, text = build_case(case, bundles, tmp_path / str(i))
        errors = [e.message[:200] for e in validator.iter_errors(json.loads(text))]
        assert (not errors) == (case["schema"] == "valid"), (case["name"], errors)
        if case["schema"] == "invalid":
            assert case["error"] is not None, case["name"]


def _sweep():
    sweep = CASES["sweep"]
    for path, verdicts in sweep["verdicts"].items():
        keys = [int(k) if k.isdigit() else k for k in path.split("/")]
        assert len(verdicts) == len(sweep["values"]), path
        for value, verdict in zip(sweep["values"], verdicts):
            data = copy.deepcopy(sweep["base"])
            node, key = _resolve(data, keys)
            node[key] = copy.deepcopy(value)
            yield path, value, verdict, data


def test_the_sweep_is_the_schemas_verdict():
    """Every value at every path of the sweep: the schema accepts it where the file says "." or "s"."""
    jsonschema = _jsonschema()
    if jsonschema is None:
        pytest.skip("jsonschema is not installed")
    validator = jsonschema.Draft202012Validator(SCHEMA)
    assert validator.is_valid(CASES["sweep"]["base"])
    wrong = [(path, value, verdict) for path, value, verdict, data in _sweep()
             if validator.is_valid(data) != (verdict in ".s")]
    assert not wrong, wrong


def test_the_python_runtime_gives_the_sweeps_verdicts():
    """The hand-written checks accept exactly what the schema accepts (and refuse, beyond it, vocabulary
    sizes that are not the vocabularies')."""
    wrong = []
    for path, value, verdict, data in _sweep():
        try:
            Manifest.from_json(json.loads(json.dumps(data)))
            got = "."
        except BundleError as exc:
            message = str(exc)
            got = "s" if "its graphs were built for" in message else "x"
            assert "\n" not in message, message
        if got != verdict:
            wrong.append((path, value, verdict, got))
    assert not wrong, wrong


# --- the schema, its copy, its limits -------------------------------------------------------------

def test_the_javascript_copy_of_the_schema_is_byte_identical():
    assert (ROOT / "js" / "src" / "manifest.schema.json").read_bytes() == SCHEMA_FILE.read_bytes()


def test_the_runtime_takes_its_limits_from_the_schema():
    assert MAX_LENGTH == SCHEMA["$defs"]["length"]["maximum"] == 1024
    assert MAX_ARTIFACT_BYTES == 2**31 - 1
    assert MAX_NESTING == SCHEMA["$defs"]["max_nesting"]["const"] == 32


def test_the_schema_is_package_data():
    """An installed runtime carries the schema beside runtime/bundle.py (pyproject's package-data)."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.json" in project["tool"]["setuptools"]["package-data"]["runtime"]


def test_nesting_is_counted_without_recursion():
    assert json_nesting('{"a": [1, {"b": "[[{{"}], "c\\"[": []}') == 3
    assert json_nesting("[" * 3_000_000) == 3_000_000
    assert json_nesting('"' + "[" * 100) == 0  # an unterminated string runs to the end
    assert json_nesting("") == 0


# --- what the export writes -----------------------------------------------------------------------

def test_the_export_records_the_vocabulary_sizes_of_its_graphs(tiny_bundle):
    data = json.loads((tiny_bundle / MANIFEST).read_text(encoding="utf-8"))
    assert data["source_vocab_size"] == len(data["source_vocab"])
    assert data["target_vocab_size"] == len(data["target_vocab"])
    del data["golden"]
    assert Manifest.from_json(data).format_version == 1  # optional fields: no new version
    manifest = read_manifest(tiny_bundle)
    assert (manifest.source_vocab_size, manifest.target_vocab_size) == (data["source_vocab_size"],
                                                                       data["target_vocab_size"])
    assert Manifest.from_json(manifest.to_json()).to_json() == manifest.to_json()


# --- buffers sized by the batch's needs -----------------------------------------------------------

class _EndsAfter:
    """A step model whose every row emits END at step `steps` (no graph)."""

    def __init__(self, steps: int, vocab: int = 6, end: int = 1) -> None:
        self.steps, self.vocab, self.end, self.t = steps, vocab, end, 0

    def encode(self, source_ids):
        self.t = 0
        return {"h": np.zeros((len(source_ids), 2), np.float32)}

    def step(self, tokens, state):
        self.t += 1
        scores = np.zeros((len(tokens), self.vocab), np.float32)
        scores[:, self.end if self.t > self.steps else 2] = 5.0
        return scores, state


@pytest.mark.parametrize("with_scores", [False, True])
def test_greedy_decoding_allocates_for_the_steps_taken_not_the_maximum(with_scores):
    from runtime.decoding import greedy_decode

    tracemalloc.start()
    try:
        out = greedy_decode(_EndsAfter(3), np.zeros((64, 4), np.int32), 0, 1, 10**12, with_scores=with_scores)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [d.ids for d in out] == [[2, 2, 2]] * 64 and all(d.finished for d in out)
    assert peak < 2**20, f"{peak} bytes"
    # An output cut by the limit grows its buffer as it goes, and stays exact.
    cut = greedy_decode(_EndsAfter(500), np.zeros((2, 4), np.int32), 0, 1, 300)
    assert [len(d.ids) for d in cut] == [300, 300] and not any(d.finished for d in cut)


def test_ids_past_the_target_vocabulary_are_a_bundle_error_not_an_index_error(tiny_bundle):
    """A graph that hides its logits' width (no static size) and scores more ids than the vocabulary
    has: the translation is refused with a BundleError, never an IndexError or a wrong character."""
    manifest = read_manifest(tiny_bundle)
    vocab = len(manifest.target_vocab)

    end = manifest.target_vocab.id("\n")

    class Wider:  # scores vocab + 3 ids, picks id vocab + 1, then END
        def encode(self, source_ids):
            self.t = 0
            return {"h": np.zeros((len(source_ids), 2), np.float32)}

        def step(self, tokens, state):
            self.t += 1
            scores = np.zeros((len(tokens), vocab + 3), np.float32)
            scores[:, vocab + 1 if self.t == 1 else end] = 5.0
            return scores, state

    translator = Translator.from_step_model(Wider(), manifest)
    text = next(c for c in manifest.source_vocab.chars if c != " ")
    for call in (lambda: translator.translate(text), lambda: translator.hypotheses([text], beam_size=2),
                 lambda: "".join(translator.translate_stream(text))):
        with pytest.raises(BundleError, match=f"past the {vocab} characters of the bundle's target_vocab"):
            call()

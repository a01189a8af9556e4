"""`import_keras_io`: a saved model of the script and its data, read, proven and written as a run."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from runtime.vocab import END, PAD, PADDINGS, START, Vocabulary

from ..data import LANGUAGES
from ..fileio import atomic_write_json, replace_dir, replaceable, staging_dir
from ..model import build_training_model, model_layers
from ..run import HELDOUT_TSV, MODEL_FILE, RUN_JSON, TRAIN_SAMPLE_TSV, RunError, RunInfo, check_languages, write_pairs
from ..settings import Settings
from .core import KerasIoError, KerasIoModel
from .data import (NUM_SAMPLES, VALIDATION_SPLIT, VOCAB_FILES, DataLayout, ScriptData, read_vocab_file,
                   read_vocab_files, script_data)
from .h5 import read_h5
from .keras3 import read_keras3
from .pair import read_pair
from .proof import (EARLY, OVER_UNIGRAM, PROBABILITY_TOLERANCE, SOURCE_GAIN, compare_with_original, load_original, one_hot,
                    proof_pairs, refusal, score)
from .savedmodel import read_savedmodel

TRAIN_SAMPLE = 1_000


def read_model(path: str | Path) -> KerasIoModel:
    path = Path(path)
    if path.is_file() and path.suffix == ".keras":
        return read_keras3(path)
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return read_savedmodel(path)
    if path.is_file() and path.suffix in (".h5", ".hdf5"):
        return read_h5(path)
    if not path.exists():
        raise KerasIoError(f"model not found: {path}")
    raise KerasIoError(f"{path} is not a model the keras.io script saves (s2s_model.keras, an s2s/ SavedModel "
                       "directory, or the 2017 example's s2s.h5)")


def _check_vocab(side: str, vocab: Vocabulary, width: int, needed: str, hint: str) -> None:
    if len(vocab) != width:
        raise KerasIoError(f"the {side} vocabulary has {len(vocab)} characters but the model's {side} input is "
                           f"{width} wide: {hint}")
    missing = [c for c in needed if c not in vocab]
    if missing:
        raise KerasIoError(f"the {side} vocabulary lacks {', '.join(repr(c) for c in missing)}, which the script's "
                           "padding and decoding need")


def import_keras_io(
    model_path: str | Path, out: str | Path, data: str | Path | None = None, *, num_samples: int = NUM_SAMPLES,
    vocab_dir: str | Path | None = None, padding: str | None = None, layout: DataLayout = DataLayout(),
    languages: dict[str, str] | None = None, decoder_model: str | Path | None = None,
    source_vocab_file: str | Path | None = None, target_vocab_file: str | Path | None = None,
    log: Callable[..., None] = print,
) -> RunInfo:
    """Write the run directory `out` (atomically) for the keras.io model at `model_path`.

    `padding` is how the script padded its one-hot inputs: "space" (the keras.io versions) or
    "zero" (the 2017 example); by default the one that predicts the training pairs best (`proof`).
    The import is proven before it is written: on the training pairs (`proof.score`, judged by
    `proof.Score.passes`) and, where the file's own Keras can load it, against the file itself
    (`proof.compare_with_original`); run.json records how (settings.extra.imported.proof).
    `layout` is how the script split its data file (`DataLayout`); `languages` what the model translates
    from and to ({"source": CODE, "target": CODE}; default English to French, the script's)."""
    out = Path(out)
    if padding is not None and padding not in PADDINGS:
        raise KerasIoError(f"padding must be one of {', '.join(PADDINGS)}, got {padding!r}")
    if not replaceable(out, RUN_JSON):
        raise RunError(f"--out {out} exists and is not a training run: refusing to replace it")
    if num_samples < 1:
        raise KerasIoError(f"num-samples must be at least 1, got {num_samples}")
    try:
        languages = check_languages(languages if languages is not None else LANGUAGES)
    except ValueError as exc:
        raise KerasIoError(str(exc)) from None
    log(f"reading {model_path}{f' and {decoder_model}' if decoder_model else ''} ...")
    found = read_pair(Path(model_path), Path(decoder_model)) if decoder_model else read_model(model_path)
    if found.encoder.recurrent_activation != found.decoder.recurrent_activation:
        raise KerasIoError(f"{model_path}: the encoder's LSTM uses {found.encoder.recurrent_activation} and the "
                           f"decoder's {found.decoder.recurrent_activation}; the script's use the same")
    log(f"  {found.source}: latent {found.latent_dim}, {found.num_encoder_tokens} encoder / "
        f"{found.num_decoder_tokens} decoder tokens, recurrent activation {found.encoder.recurrent_activation}")
    script = script_data(data, num_samples, layout) if data is not None else None
    vocab_dir = Path(vocab_dir) if vocab_dir is not None else Path(model_path).resolve().parent
    vocabs = read_vocab_files(vocab_dir)
    if vocabs is not None:
        source_vocab, target_vocab = vocabs
        log(f"vocabularies from {vocab_dir}")
    elif script is not None:
        source_vocab, target_vocab = script.source_vocab, script.target_vocab
        log(f"vocabularies rebuilt from the first {len(script.pairs)} lines of {data}")
    elif source_vocab_file is None or target_vocab_file is None:
        raise KerasIoError("the model's vocabularies are not saved with it: give the script's data file (--data), "
                           "the vocabulary files (--source-vocab, --target-vocab) or a directory holding "
                           f"{' and '.join(VOCAB_FILES)} (--vocab-dir)")
    if source_vocab_file is not None:
        source_vocab = read_vocab_file(source_vocab_file)
    if target_vocab_file is not None:
        target_vocab = read_vocab_file(target_vocab_file)
    given = [side for side, f in (("source", source_vocab_file), ("target", target_vocab_file)) if f is not None]
    if given:
        log(f"{' and '.join(given)} vocabulary from --{'/--'.join(given)}-vocab")
    hint = (f"the script read other lines, or read them otherwise: check the --num-samples it used (now "
            f"{num_samples}), its separator (--delimiter), a header (--header-lines), the column order "
            "(--swap-columns), lowercasing (--lowercase), a wrapped source (--wrap-source) and the release of the "
            "data file"
            if vocabs is None and not given else "the vocabulary files belong to another model")
    _check_vocab("encoder", source_vocab, found.num_encoder_tokens, "", hint)
    _check_vocab("decoder", target_vocab, found.num_decoder_tokens, START + END, hint)
    if script is None:
        raise KerasIoError("an imported run needs sentences to validate exports and evaluate on: give the script's "
                           "data file (--data)")
    unknown = {c for en, fr in script.pairs for c in script.form.apply(en) if c not in source_vocab} | {
        c for _, fr in script.pairs for c in fr if c not in target_vocab}
    if unknown:
        raise KerasIoError(f"the data holds characters the vocabularies lack ({''.join(sorted(unknown))!r}): "
                           "it is not the data this model was trained on")

    model = build_training_model(len(source_vocab), len(target_vocab), found.latent_dim,
                                 recurrent_activation=found.encoder.recurrent_activation)
    layers = model_layers(model)
    for layer, weights in ((layers.encoder, found.encoder), (layers.decoder, found.decoder)):
        layer.set_weights([weights.kernel, weights.recurrent_kernel, weights.bias])
    layers.dense.set_weights([found.dense_kernel, found.dense_bias])

    # The script's validation split: Keras holds out the last 20% of the samples, in file order.
    cut = int(len(script.pairs) * (1 - VALIDATION_SPLIT))
    train, heldout = script.pairs[:cut], script.pairs[cut:]
    padding, proof = _prove(model, found, model_path, decoder_model, source_vocab, target_vocab, script,
                            train or script.pairs, padding, log)
    source_vocab, target_vocab = Vocabulary(source_vocab.chars, padding), Vocabulary(target_vocab.chars, padding)

    settings = Settings(num_samples=num_samples, latent_dim=found.latent_dim, batch_size=64,
                        validation_split=VALIDATION_SPLIT, split="ordered", pipeline="seed",
                        # zero padding: a zero target row carries no loss
                        loss_on_padding=padding == "space",
                        extra={"imported": {"from": str(Path(model_path).resolve()), "format": found.source,
                                            **({"decoder_from": str(Path(decoder_model).resolve())}
                                               if decoder_model else {}),
                                            "padding": padding, "data_layout": layout.to_json(),
                                            "recurrent_activation": found.encoder.recurrent_activation,
                                            "proof": proof}})
    info = RunInfo(source_vocab, target_vocab, script.max_source_length, script.max_target_length,
                   found.latent_dim, settings,
                   data={"source": str(Path(data).resolve()), "pairs": len(script.pairs),
                         "heldout": "the keras.io script's validation split: the last 20% of the lines read",
                         "heldout_is_training_sample": False},
                   best={}, languages=languages, source_form=script.form)
    staged = staging_dir(out)
    try:
        model.save(staged / MODEL_FILE)
        atomic_write_json(staged / RUN_JSON, info.to_json())
        for name, pairs in ((HELDOUT_TSV, heldout),
                            (TRAIN_SAMPLE_TSV, random.Random(0).sample(train, min(len(train), TRAIN_SAMPLE)))):
            write_pairs(staged / name, pairs)
        replace_dir(staged, out)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    log(f"run written to {out}: {len(train)} training / {len(heldout)} held-out pairs (the script's split)")
    return info


def _prove(model, found: KerasIoModel, model_path: str | Path, decoder_path: str | Path | None,
           source_vocab: Vocabulary, target_vocab: Vocabulary, script: ScriptData, train: list,
           padding: str | None, log: Callable[..., None]) -> tuple[str, dict]:
    """The padding to import with (`padding`, or the candidate that predicts the training pairs best)
    and how the import was proven; a KerasIoError when the proof fails."""
    if padding == "space" and not (PAD in source_vocab and PAD in target_vocab):
        raise KerasIoError("--padding space needs the space character in both vocabularies, and they lack it: "
                           "the script padded with zeros (--padding zero)")
    candidates = [padding] if padding else [p for p in PADDINGS if p == "zero" or (
        PAD in source_vocab and PAD in target_vocab)]
    chosen_by = "--padding" if padding else "score" if len(candidates) > 1 else "the only candidate (no space)"
    pairs = proof_pairs(train)

    def imported(source: np.ndarray, target: np.ndarray) -> np.ndarray:
        return np.asarray(model([source, target], training=False))

    vocabs = {p: (Vocabulary(source_vocab.chars, p), Vocabulary(target_vocab.chars, p)) for p in candidates}
    scores = {p: score(imported, pairs, *vocabs[p], script.max_source_length, script.form) for p in candidates}
    best = max(scores.values(), key=lambda s: s.accuracy)
    log(f"teacher-forced accuracy on {best.pairs} training pairs: " + ", ".join(
        f"{p} padding {s.accuracy:.3f} (first {EARLY} characters {s.early:.3f}, {s.early_withheld:.3f} with the "
        "source withheld)" for p, s in scores.items()) + f"; unigram baseline {best.unigram:.3f}")
    if not best.passes():
        raise KerasIoError(refusal(best))
    padding = best.padding
    proof = {"method": "teacher-forced next-character accuracy on the script's training pairs",
             "pairs": best.pairs, "positions": best.positions, "unigram": round(best.unigram, 4),
             "scores": {p: s.to_json() for p, s in scores.items()},
             "padding": padding, "padding_chosen_by": chosen_by,
             "rules": {"over_unigram": OVER_UNIGRAM, "early_characters": EARLY, "source_gain": SOURCE_GAIN}}
    source, target = vocabs[padding]
    try:
        run, loaded_by = load_original(Path(model_path), Path(decoder_path) if decoder_path else None, found.kind)
        result = compare_with_original(one_hot(run, len(source), len(target)), imported, pairs, source, target,
                                       script.max_source_length, script.max_target_length, script.form)
    except KerasIoError as exc:  # its Keras is missing or cannot load it
        reason = str(exc)
    except Exception as exc:  # the original loaded but does not run on the script's inputs
        reason = f"{loaded_by} loads it but cannot run it: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    else:
        reason = None
    if reason is not None:
        log(f"not compared with {model_path} itself: {reason}; the data score is the proof")
        proof["original"] = {"compared": False, "reason": reason}
        return padding, proof
    proof["original"] = {"compared": True, "loaded_by": loaded_by, **result}
    log(f"compared with {model_path} loaded by {loaded_by}: greedy decodes identical on "
        f"{result['greedy_decodes_identical']} of {result['pairs']} pairs, probabilities within "
        f"{result['max_probability_difference']:.2g}")
    if not result["passed"]:
        raise KerasIoError(f"the imported model does not give what {model_path} gives ({loaded_by}): greedy "
                           f"decodes identical on {result['greedy_decodes_identical']} of {result['pairs']} pairs, "
                           f"probabilities up to {result['max_probability_difference']:.2g} apart (tolerance "
                           f"{PROBABILITY_TOLERANCE}): please report it with the model file")
    return padding, proof

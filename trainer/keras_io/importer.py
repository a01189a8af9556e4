"""`import_keras_io`: a saved model of the script and its data, read, proven and written as a run."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Callable

from runtime.vocab import END, PAD, PADDINGS, START, Vocabulary

from ..data import LANGUAGES
from ..fileio import atomic_write_json, replace_dir, replaceable, staging_dir
from ..model import build_training_model, model_layers
from ..run import HELDOUT_TSV, MODEL_FILE, RUN_JSON, TRAIN_SAMPLE_TSV, RunError, RunInfo, check_languages, write_pairs
from ..settings import Settings
from .core import KerasIoError, KerasIoModel
from .data import NUM_SAMPLES, VALIDATION_SPLIT, VOCAB_FILES, DataLayout, read_vocab_files, script_data
from .h5 import read_h5
from .keras3 import read_keras3
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
    languages: dict[str, str] | None = None, log: Callable[..., None] = print,
) -> RunInfo:
    """Write the run directory `out` (atomically) for the keras.io model at `model_path`.

    `padding` is how the script padded its one-hot inputs: "space" (the keras.io versions) or
    "zero" (the 2017 example); by default zero for an HDF5 file that Keras 2 wrote and space otherwise.
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
    log(f"reading {model_path} ...")
    found = read_model(model_path)
    if found.encoder.recurrent_activation != found.decoder.recurrent_activation:
        raise KerasIoError(f"{model_path}: the encoder's LSTM uses {found.encoder.recurrent_activation} and the "
                           f"decoder's {found.decoder.recurrent_activation}; the script's use the same")
    padding = padding or ("zero" if found.kind == "h5" else "space")
    log(f"  {found.source}: latent {found.latent_dim}, {found.num_encoder_tokens} encoder / "
        f"{found.num_decoder_tokens} decoder tokens, recurrent activation {found.encoder.recurrent_activation}, "
        f"{padding} padding")
    script = script_data(data, num_samples, layout) if data is not None else None
    vocab_dir = Path(vocab_dir) if vocab_dir is not None else Path(model_path).resolve().parent
    vocabs = read_vocab_files(vocab_dir)
    if vocabs is not None:
        source_vocab, target_vocab = vocabs
        log(f"vocabularies from {vocab_dir}")
    elif script is not None:
        source_vocab, target_vocab = script.source_vocab, script.target_vocab
        log(f"vocabularies rebuilt from the first {len(script.pairs)} lines of {data}")
    else:
        raise KerasIoError("the model's vocabularies are not saved with it: give the script's data file (--data) "
                           f"or a directory holding {' and '.join(VOCAB_FILES)} (--vocab-dir)")
    hint = (f"the script read other lines, or read them otherwise: check the --num-samples it used (now "
            f"{num_samples}), its separator (--delimiter), a header (--header-lines), the column order "
            "(--swap-columns) and the release of the data file"
            if vocabs is None else "the vocabulary files belong to another model")
    pad = PAD if padding == "space" else ""
    _check_vocab("encoder", source_vocab, found.num_encoder_tokens, pad, hint)
    _check_vocab("decoder", target_vocab, found.num_decoder_tokens, START + END + pad, hint)
    source_vocab, target_vocab = Vocabulary(source_vocab.chars, padding), Vocabulary(target_vocab.chars, padding)
    if script is None:
        raise KerasIoError("an imported run needs sentences to validate exports and evaluate on: give the script's "
                           "data file (--data)")
    unknown = {c for en, fr in script.pairs for c in en if c not in source_vocab} | {
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
    settings = Settings(num_samples=num_samples, latent_dim=found.latent_dim, batch_size=64,
                        validation_split=VALIDATION_SPLIT, split="ordered", pipeline="seed",
                        # zero padding: a zero target row carries no loss
                        loss_on_padding=padding == "space",
                        extra={"imported": {"from": str(Path(model_path).resolve()), "format": found.source,
                                            "padding": padding, "data_layout": layout.to_json(),
                                            "recurrent_activation": found.encoder.recurrent_activation}})
    info = RunInfo(source_vocab, target_vocab, script.max_source_length, script.max_target_length,
                   found.latent_dim, settings,
                   data={"source": str(Path(data).resolve()), "pairs": len(script.pairs),
                         "heldout": "the keras.io script's validation split: the last 20% of the lines read",
                         "heldout_is_training_sample": False},
                   best={}, languages=languages)
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

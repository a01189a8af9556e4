"""python -m trainer.import_model --model s2s_model.keras --data fra.txt --out RUN: make a model trained
by the keras.io lstm_seq2seq script an ordinary run directory, proven against the training pairs and,
where its own Keras can load it, against the file itself, which `export.to_onnx`,
`export.to_tflite`, `trainer.evaluate`, `trainer.decode` and `trainer.qat` take unchanged
(`trainer.keras_io` does the work).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from runtime.cli import ArgumentParser, add_verbose, non_negative_int, positive_int, run_main
from runtime.vocab import PADDINGS

from .keras_io import NUM_SAMPLES, DataLayout, import_keras_io


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m trainer.import_model",
        description="Import a model trained by the keras.io character-level seq2seq script "
        "(s2s_model.keras, a tf.keras 2 SavedModel or .h5, the 2017 Keras example's s2s.h5, or the inference pair "
        "encoder_model + decoder_model) as a run directory, proven against its training pairs and the file itself, "
        "that the export and evaluation commands take.",
    )
    p.add_argument("--model", required=True, help="the script's saved model: s2s_model.keras (Keras 3), the "
                   "s2s/ SavedModel directory (tf.keras 2), an .h5 file (tf.keras 2, the 2017 Keras example), or "
                   "the inference pair's encoder_model (with --decoder-model)")
    p.add_argument("--decoder-model", help="the script's inference decoder (decoder_model.h5 or a decoder_model/ "
                   "SavedModel), when --model is its inference encoder rather than the training model")
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--data", help="the data file the script read (fra.txt): it rebuilds the vocabularies "
                   "and gives the held-out sentences (the script's validation split)")
    p.add_argument("--num-samples", type=positive_int, default=NUM_SAMPLES,
                   help="lines the script read from --data (its num_samples; default: %(default)s)")
    p.add_argument("--vocab-dir", help="a directory holding input_vocab.json and target_vocab.json "
                   "(default: the model's directory, when it holds them)")
    p.add_argument("--source-vocab", help="the source vocabulary the script saved: JSON (a list of characters in "
                   "id order, or a {char: id} map) or a pickled {char: id} dict or list of characters, read without "
                   "running anything in the file")
    p.add_argument("--target-vocab", help="the target vocabulary, as --source-vocab")
    p.add_argument("--padding", choices=PADDINGS, help="how the script padded its one-hot inputs: space (the "
                   "keras.io versions) or zero (the 2017 example: all-zero rows); default: the one that predicts "
                   "the training pairs best (both scores are reported and recorded)")
    g = p.add_argument_group("how the script read --data (default: the keras.io script's way)")
    g.add_argument("--delimiter", default="\t",
                   help="the separator between the columns of a line, split as str.split does, no CSV quoting "
                   "(default: tab)")
    g.add_argument("--header-lines", type=non_negative_int, default=0,
                   help="lines skipped at the top of --data before the --num-samples lines are counted")
    g.add_argument("--swap-columns", action="store_true",
                   help="the first column is the target language and the second the source")
    g.add_argument("--lowercase", action="store_true",
                   help="the script lowercased both sides (str.lower) as it read them; the bundle then lowercases "
                   "what a user types")
    g.add_argument("--wrap-source", action="store_true",
                   help="the script wrapped the English in a tab and a newline, as it wraps the targets; the bundle "
                   "then wraps what a user types")
    g.add_argument("--source-language", default="en",
                   help="the language of the model's inputs, a code such as en, sr or pt-BR (default: en); the "
                   "bundle's manifest carries it")
    g.add_argument("--target-language", default="fr", help="the language of its outputs (default: fr)")
    add_verbose(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    layout = DataLayout(args.delimiter, args.header_lines, args.swap_columns, args.lowercase, args.wrap_source)
    import_keras_io(args.model, args.out, args.data, num_samples=args.num_samples, vocab_dir=args.vocab_dir,
                    padding=args.padding, layout=layout, decoder_model=args.decoder_model,
                    source_vocab_file=args.source_vocab, target_vocab_file=args.target_vocab,
                    languages={"source": args.source_language, "target": args.target_language})
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "python -m trainer.import_model"))

"""Runtime speed against the seed's loop: a table and a PNG chart, not a test (pytest skips this file).

    python benchmarks/bench_runtime.py --bundle bundles/fra --run runs/fra [--repeats 3] [--png bench.png]

Rows, each measured in its own fresh process (so peak memory is that row's alone), on the run's
held-out sentences:
- seed decode_sequence: the keras.io loop, Keras `predict` once per character (batch 1 only; the
  seed's family only: the keras.io script has no attention);
- keras tf.function: the same trained layers as tf.functions, driven by the runtime's batched loop;
- every artifact of the bundle through the runtime (onnxruntime, LiteRT), greedy (ONNX with the
  bundle's one-graph greedy decoder when it has one, and "stepped" without it); and ONNX float32
  with beam search (beam 4);
- the JavaScript runtime (js/, `js/bench/bench.mjs`) on the same bundle and sentences, greedy: every
  ONNX precision with onnxruntime-node, and ONNX float32 with onnxruntime-web (WASM, one thread) in
  headless Chromium (skipped with --no-js, or when Node's packages are not installed);
- floor: one decoder step's matrix products timed with numpy on this CPU (the LSTM's and the
  logits'; with attention also the scores, the context and h @ query kernel; gates and softmaxes
  left out), times the steps each sentence takes: how close to the arithmetic each row is.
Columns: per-sentence latency at batch 1 (p50, p95), throughput at batch 1, 32 and 256
(sentences/s), peak RSS, cold start (import + load in a fresh interpreter). Every figure is the
median of --repeats runs; the ratios compare p50 latencies.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sentences_of(run: Path, bundle: Path, limit: int) -> list[str]:
    from runtime import read_manifest
    from trainer.run import read_heldout

    m = read_manifest(bundle)
    out = [en for en, _ in read_heldout(run)
           if 0 < len(en) <= m.max_source_length and not m.source_vocab.unknown(en)]
    if not out:
        raise SystemExit(f"{run} has no held-out sentences this bundle can read")
    return list(dict.fromkeys(out))[:limit]


def percentile(values, q):
    values = sorted(values)
    return values[int(q * (len(values) - 1))]


class SeedLoop:
    """The keras.io `decode_sequence`: `predict` on the encoder, then on the decoder per character."""

    def __init__(self, run: Path) -> None:
        import keras
        import numpy as np

        from trainer.model import model_layers, open_run
        from trainer.run import read_run

        self.np = np
        self.info = read_run(run)
        model = open_run(run).model
        _, h, c = model_layers(model).encoder_outputs  # a bidirectional encoder's joined states too
        self.encoder_model = keras.Model(model.inputs[0], [h, c])
        latent = self.info.latent_dim
        ids = keras.Input((None,), dtype="int32")
        sh, sc = keras.Input((latent,)), keras.Input((latent,))
        y = model.get_layer("decoder_onehot")(ids)
        y, h2, c2 = model.get_layer("decoder_lstm")(y, initial_state=[sh, sc])
        self.decoder_model = keras.Model([ids, sh, sc], [model.get_layer("decoder_dense")(y), h2, c2])

    def translate(self, text: str) -> str:
        np, info = self.np, self.info
        source = info.source_vocab.encode([text], info.max_source_length)
        states = self.encoder_model.predict(source, verbose=0)
        target = np.array([[info.target_vocab.id("\t")]], dtype=np.int32)
        decoded = ""
        while True:
            probs, h, c = self.decoder_model.predict([target, *states], verbose=0)
            char = info.target_vocab.chars[int(np.argmax(probs[0, -1, :]))]
            decoded += char
            if char == "\n" or len(decoded) > info.max_target_length:
                return decoded.rstrip("\n")
            target = np.array([[info.target_vocab.id(char)]], dtype=np.int32)
            states = [h, c]


def measure_row(args) -> dict:
    """Run in a worker process: one row of the table."""
    texts = sentences_of(args.run, args.bundle, args.sentences)
    row = args.worker
    started = time.perf_counter()
    options = {}
    if row == "seed decode_sequence":
        model = SeedLoop(args.run)
        texts = texts[: args.seed_sentences]
        one = model.translate
        batched = None
    elif row == "keras tf.function":
        from trainer.reference import keras_translator

        model = keras_translator(args.run)
    else:
        from runtime import Translator

        name, _, rest = row.partition(" ")
        backend, precision = name.split("/")
        if rest == "beam 4":
            options = {"beam_size": 4}
        model = Translator(args.bundle, backend=backend, precision=precision, threads=args.threads,
                           greedy_loop=rest != "stepped")
    load = time.perf_counter() - started
    if row != "seed decode_sequence":
        one = lambda text: model.translate(text, **options)  # noqa: E731

        def batched(batch):
            model.max_batch_size = batch
            n = max(batch, len(texts))
            work = (texts * (n // len(texts) + 1))[:n]
            start = time.perf_counter()
            model.translate(work, **options)
            return n / (time.perf_counter() - start)

    one(texts[0])  # warm up
    p50s, p95s, b1s, b32s, b256s = [], [], [], [], []
    steps = 0
    for _ in range(args.repeats):
        times = []
        for text in texts:
            t = time.perf_counter()
            out = one(text)
            times.append(time.perf_counter() - t)
            steps += len(out) + 1
        p50s.append(statistics.median(times))
        p95s.append(percentile(times, 0.95))
        b1s.append(len(times) / sum(times))
        if batched:
            b32s.append(batched(32))
            b256s.append(batched(256))
    median = lambda v: statistics.median(v) if v else None  # noqa: E731
    return {
        "row": row, "sentences": len(texts), "p50": median(p50s), "p95": median(p95s),
        "b1": median(b1s), "b32": median(b32s), "b256": median(b256s),
        "steps_per_sentence": steps / (args.repeats * len(texts)), "load_s": load,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def js_rows(args, precisions: list[str]) -> list[dict]:
    """The JavaScript runtime's rows: onnxruntime-node per ONNX precision, onnxruntime-web in Chromium."""
    import shutil
    import tempfile

    js = ROOT / "js"
    if shutil.which("node") is None or not (js / "node_modules").is_dir():
        print("no JavaScript rows: node or js/node_modules missing (bash scripts/setup-js)", file=sys.stderr)
        return []
    from runtime import read_manifest

    texts = sentences_of(args.run, args.bundle, args.sentences)
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as f:
        json.dump(texts, f)
        f.flush()
        looped = {a.precision for a in read_manifest(args.bundle).artifacts if a.role == "greedy"}
        runs = [("node", q, True) for q in precisions] + [("node", q, False) for q in precisions if q in looped]
        runs += [("chromium", "float32", True)] + ([("chromium", "float32", False)] if "float32" in looped else [])
        for engine, precision, loop in runs:
            name = (f"{'js node' if engine == 'node' else 'js chromium wasm'} onnx/{precision}"
                    + ("" if loop or precision not in looped else " stepped"))
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            done = subprocess.run(
                ["node", "bench/bench.mjs", "--bundle", str(args.bundle.resolve()), "--sentences", f.name,
                 "--engine", engine, "--precision", precision, "--repeats", str(args.repeats),
                 "--greedy-loop", "true" if loop else "false"],
                capture_output=True, text=True, cwd=js)
            if done.returncode != 0:
                print(done.stderr[-2000:], file=sys.stderr)
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["row"] = name
            rows.append(row)
    return rows


def cold_start(bundle: Path, backend: str, precision: str) -> float:
    code = (
        "import time; s = time.perf_counter(); from runtime import Translator; "
        f"Translator({str(bundle)!r}, backend={backend!r}, precision={precision!r}); "
        "print(time.perf_counter() - s)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def floor(bundle: Path, steps_per_sentence: float, repeats: int) -> dict:
    """The matrix products of one decoder step, timed with numpy at batch 1 and 256."""
    import numpy as np

    from runtime import read_manifest

    m = read_manifest(bundle)
    latent, vocab, time_ = m.latent_dim, len(m.target_vocab), m.max_source_length
    attention = m.family.name == "attention"
    rng = np.random.default_rng(0)
    w = rng.standard_normal((vocab + latent, 4 * latent), dtype=np.float32)
    d = rng.standard_normal((latent, vocab), dtype=np.float32)
    q = rng.standard_normal((latent, latent), dtype=np.float32)
    out = {"flops_per_step": 2 * (vocab + latent) * 4 * latent + 2 * latent * vocab
           + (2 * latent * latent + 4 * time_ * latent if attention else 0)}
    for batch in (1, 256):
        x = rng.standard_normal((batch, vocab + latent), dtype=np.float32)
        hh = rng.standard_normal((batch, latent), dtype=np.float32)
        memory = rng.standard_normal((batch, time_, latent), dtype=np.float32)
        n = 2000 if batch == 1 else 50
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(n):
                x @ w
                hh @ d
                if attention:
                    hh @ q
                    scores = np.matmul(memory, hh[:, :, None])
                    np.matmul(scores.transpose(0, 2, 1), memory)
            runs.append((time.perf_counter() - t) / n)
        step = statistics.median(runs)
        out[f"step_s_b{batch}"] = step
        out[f"gflops_b{batch}"] = batch * out["flops_per_step"] / step / 1e9
    out["p50"] = steps_per_sentence * out["step_s_b1"]
    out["b1"] = 1 / out["p50"]
    out["b256"] = 256 / (steps_per_sentence * out["step_s_b256"])
    return out


def chart(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["row"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(13, 0.45 * len(rows) + 1.5))
    a.barh(names, [r["p50"] * 1e3 for r in rows], color="tab:blue")
    a.set_xscale("log")
    a.set_xlabel("ms per sentence at batch 1 (p50, log scale)")
    a.invert_yaxis()
    b.barh(names, [r.get("b256") or r["b1"] for r in rows], color="tab:green")
    b.set_xscale("log")
    b.set_xlabel("sentences/s at batch 256 (batch 1 where unbatched; log scale)")
    b.invert_yaxis()
    b.set_yticklabels([])
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--run", required=True, type=Path, help="the run the bundle came from")
    p.add_argument("--sentences", type=int, default=100)
    p.add_argument("--seed-sentences", type=int, default=10,
                   help="sentences for the seed's predict loop (about a second each)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None, help="runtime intra-op threads")
    p.add_argument("--png", type=Path, default=Path("bench_runtime.png"))
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    p.add_argument("--no-js", action="store_true", help="leave out the JavaScript rows")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(measure_row(args)))
        return

    from runtime import read_manifest

    artifacts = sorted({(a.backend, a.precision) for a in read_manifest(args.bundle).artifacts},
                       key=lambda bq: (bq[0] != "onnx", bq[1] != "float32", bq))
    seed_family = read_manifest(args.bundle).family.name == "seed"
    names = (["seed decode_sequence"] if seed_family else []) + ["keras tf.function"]
    names += [f"{b}/{q}" for b, q in artifacts]
    # With the one-graph greedy decoder in the bundle, the plain rows use it: also step the decoder.
    looped = sorted({a.precision for a in read_manifest(args.bundle).artifacts if a.role == "greedy"})
    names += [f"onnx/{q} stepped" for q in looped]
    names.append("onnx/float32 beam 4")
    rows = []
    for name in names:
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        cmd = [sys.executable, __file__, "--worker", name, "--bundle", str(args.bundle), "--run", str(args.run),
               "--sentences", str(args.sentences), "--seed-sentences", str(args.seed_sentences),
               "--repeats", str(args.repeats)] + (["--threads", str(args.threads)] if args.threads else [])
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env={**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        if "/" in name and " " not in name:
            backend, precision = name.split("/")
            row["cold_s"] = statistics.median(cold_start(args.bundle, backend, precision)
                                              for _ in range(args.repeats))
        rows.append(row)
    greedy = next(r for r in rows if r["row"] == "onnx/float32")
    fl = floor(args.bundle, greedy["steps_per_sentence"], args.repeats)
    if not args.no_js:
        rows += js_rows(args, [q for b, q in artifacts if b == "onnx"])
    rows.append({"row": "floor (numpy matmuls)", "p50": fl["p50"], "p95": None, "b1": fl["b1"],
                 "b32": None, "b256": fl["b256"], "peak_rss_mib": None})

    def cell(value, fmt, width):
        return f"{'-':>{width}}" if value is None else f"{value:>{width}{fmt}}"

    m = read_manifest(args.bundle)
    seed = next((r for r in rows if r["row"] == "seed decode_sequence"), None)
    print(f"\n{m.family.name} family, latent {m.latent_dim}, {len(m.target_vocab)} target characters; "
          f"{greedy['sentences']} held-out sentences"
          + (f" ({seed['sentences']} for the seed loop)" if seed else "")
          + f", {greedy['steps_per_sentence']:.1f} decoder steps each; medians of {args.repeats} runs")
    print(f"{'row':<30} {'p50 ms':>9} {'p95 ms':>9} {'seed/row':>9} {'tf.fn/row':>9} {'b1 sent/s':>10} "
          f"{'b32 sent/s':>10} {'b256 sent/s':>11} {'peak MiB':>9} {'cold s':>7}")
    tffn = next((r for r in rows if r["row"] == "keras tf.function"), None)
    for r in rows:
        print(f"{r['row']:<30} {cell(r['p50'] * 1e3, '.3f', 9)} "
              f"{cell(r['p95'] and r['p95'] * 1e3, '.3f', 9)} "
              f"{cell(seed and seed['p50'] / r['p50'], '.0f', 9)} {cell(tffn and tffn['p50'] / r['p50'], '.1f', 9)} "
              f"{cell(r['b1'], '.0f', 10)} {cell(r['b32'], '.0f', 10)} {cell(r['b256'], '.0f', 11)} "
              f"{cell(r['peak_rss_mib'], '.0f', 9)} {cell(r.get('cold_s'), '.2f', 7)}")
    print(f"floor: {fl['flops_per_step'] / 1e6:.2f} MFLOP per step and sentence; numpy reaches "
          f"{fl['gflops_b1']:.1f} GFLOP/s at batch 1 and {fl['gflops_b256']:.0f} GFLOP/s at batch 256")
    chart(rows, args.png)
    print(f"chart: {args.png}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "floor": fl}, indent=2))


if __name__ == "__main__":
    main()

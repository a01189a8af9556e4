"""The command lines' plain greedy translation, with the one-graph greedy decoder against stepping.

    python benchmarks/bench_cli_greedy.py --bundle bundles/fra --run runs/fra [--sentences 500] [--repeats 3]

Each row runs a CLI (`python -m runtime`, `node js/bin/translate.mjs`) in a fresh process on its
default flags, its input the run's held-out English sentences: on stdin (--sentences of them, in
batches of the default 64, of 16 and of 1), as one argument, and as 16 arguments. "graph" is the
bundle as exported (the CLI loads its greedy graph where `greedy_graph_pays`: stdin in batches of up
to 16); "stepped" the same bundle without its greedy graph (a copy whose manifest lists no "greedy"
artifact), so the runtime steps the decoder. "--scores" steps the decoder and adds each step's
log-softmax (`hypotheses`). Wall time of the whole process (start,
load, translate), median of --repeats runs; the ratio is stepped / graph.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.tables import print_table  # noqa: E402


def without_greedy(bundle: Path, out: Path) -> Path:
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["artifacts"] = [a for a in manifest["artifacts"] if a["role"] != "greedy"]
    out.mkdir()
    for artifact in manifest["artifacts"]:
        shutil.copy2(bundle / artifact["file"], out / artifact["file"])
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return out


def timed(command: list[str], stdin: str, repeats: int) -> tuple[float, str]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[:4])} ... failed: {done.stderr.strip()[-500:]}")
        out = done.stdout if out is None else out
        if done.stdout != out:
            raise SystemExit("two runs of the same command printed different translations")
    return statistics.median(times), out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True, type=Path)
    p.add_argument("--run", required=True, type=Path, help="the run whose held-out sentences are translated")
    p.add_argument("--sentences", type=int, default=500)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-js", action="store_true", help="leave out the Node CLI")
    args = p.parse_args(argv)

    from runtime import Translator
    from trainer.run import read_heldout

    vocab = Translator(args.bundle).manifest.source_vocab
    sentences = [s for s in dict.fromkeys(en for en, _ in read_heldout(args.run)) if all(c in vocab for c in s)]
    sentences = sentences[: args.sentences]
    clis = {"python": [sys.executable, "-m", "runtime"]}
    if not args.no_js and shutil.which("node") and (ROOT / "js" / "node_modules").is_dir():
        clis["node"] = ["node", str(ROOT / "js" / "bin" / "translate.mjs")]
    lines = "".join(s + "\n" for s in sentences)
    inputs = {
        f"stdin, {len(sentences)} lines (batch 64, the default)": ([], lines),
        f"stdin, {len(sentences)} lines, --batch-size 16": (["--batch-size", "16"], lines),
        f"stdin, {len(sentences)} lines, --batch-size 1": (["--batch-size", "1"], lines),
        "1 argument": (sentences[:1], ""),
        "16 arguments": (sentences[:16], ""),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        stepped = without_greedy(args.bundle, Path(tmp) / "stepped")
        for name, cli in clis.items():
            for label, (texts, stdin) in inputs.items():
                print(f"{name}: {label} ...", file=sys.stderr, flush=True)
                graph_s, graph_out = timed([*cli, "--bundle", str(args.bundle), *texts], stdin, args.repeats)
                step_s, step_out = timed([*cli, "--bundle", str(stepped), *texts], stdin, args.repeats)
                scores_s, _ = timed([*cli, "--bundle", str(args.bundle), "--scores", *texts], stdin, args.repeats)
                if graph_out != step_out:
                    raise SystemExit(f"{name}, {label}: the graph and stepping translate differently")
                rows.append([name, label, f"{graph_s * 1000:.0f}", f"{step_s * 1000:.0f}", f"{scores_s * 1000:.0f}",
                             f"{step_s / graph_s:.2f}x"])
    print(f"{len(sentences)} held-out sentences of {args.run}; bundle {args.bundle}; medians of {args.repeats} runs")
    print_table(["cli", "input", "graph ms", "stepped ms", "--scores ms", "stepped / graph"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())

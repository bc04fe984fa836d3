"""`prepare` on both runners, local and Apache Beam, on the same corpus and tokenizer in one run.

One command (the `beam` extra installed):

    .venv/bin/python benchmarks/prepare_runners.py            # 42 Shakespeare plays, 3 rounds
    .venv/bin/python benchmarks/prepare_runners.py --quick    # one play

The corpus comes from `../shared/data/fetch.sh`. A 1,000-piece SentencePiece tokenizer is trained
once on it (not timed) and every run loads it (`data.tokenizer_path`). Settings are ALBERT's:
sequence 128, static n-gram masking, dupe_factor 1. Runs, each one `prepare()` call timed wall to
wall, writing the same records:
- `local`: the local runner with its defaults;
- `beam multi_processing`: Beam's DirectRunner engine (`runner=FnApiRunner`) with
  `direct_num_workers` worker processes, as a cluster runner splits the work;
- `beam in_memory`: the same pipeline in this process (Beam's own cost without the workers).
Also timed: one worker's start (a Python process importing the pipeline's modules, TensorFlow
included), which each Beam worker pays once. Measured through `benchmarks.harness`: `--rounds`
alternated rounds (the runners' order reversed every other round), each figure the median and
min-max of its rounds, each Beam runner against local per round with the harness' verdict.
Checks that every run wrote the same number of sequences and tokens. Writes
`benchmarks/out/prepare_runners.json`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402,F401

from albert_keras.pipeline import pipeline_from_dict  # noqa: E402
from albert_keras.pretraining_data.corpus import read_documents  # noqa: E402
from albert_keras.pretraining_data.prepare import prepare  # noqa: E402
from albert_keras.tokenizers.tokenizer_files import save_tokenizer  # noqa: E402
from albert_keras.tokenizers.tokenizer_training import train_tokenizer  # noqa: E402
from benchmarks.harness import BenchmarkResult, fetch_data, run_rounds  # noqa: E402


def worker_start_seconds() -> float:
    """Wall time of a fresh Python process importing what a Beam worker imports."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c",
                    "import tensorflow, albert_keras.pretraining_data.runners.beam_stages"],
                   check=True, capture_output=True, cwd=REPO, timeout=600)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one play instead of 42")
    parser.add_argument("--beam-workers", type=int, default=2, help="direct_num_workers")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (>= 3)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "prepare_runners.json"))
    args = parser.parse_args(argv)

    plays = os.path.join(fetch_data(), "corpus", "shakespeare")
    corpus = os.path.join(plays, "hamlet*.txt" if args.quick else "*.txt")
    result = BenchmarkResult("prepare_runners", rounds=args.rounds, settings={
        "corpus": "hamlet" if args.quick else "42 plays", "tokenizer": "sentencepiece 1000",
        "max_sequence_length": 128, "static_masking": "ngram", "dupe_factor": 1,
        "beam_workers": args.beam_workers})
    work = tempfile.mkdtemp(prefix="prepare_runners_")
    engine = ["runner=FnApiRunner"]
    runners = {"local": ("local", []),
               "beam multi_processing": ("beam", [*engine, "direct_running_mode=multi_processing",
                                                  f"direct_num_workers={args.beam_workers}"]),
               "beam in_memory": ("beam", [*engine, "direct_running_mode=in_memory"])}
    try:
        sentences = [s for d in read_documents(corpus) for s in d]
        tokenizer_dir = save_tokenizer(train_tokenizer(sentences, "sentencepiece", 1000),
                                       os.path.join(work, "tokenizer"))

        def timed(name: str):
            runner, options = runners[name]

            def run() -> dict:
                config = pipeline_from_dict({"name": name.replace(" ", "_"), "data": {
                    "corpus": corpus, "output_dir": work, "tokenizer_path": tokenizer_dir,
                    "max_sequence_length": 128, "dupe_factor": 1, "masking": "ngram",
                    "runner": runner, "beam_options": options}})
                start = time.perf_counter()
                summary = prepare(config, static_masking=True, progress=False)
                return {"seconds": time.perf_counter() - start,
                        **{k: summary[k] for k in ("sequences", "tokens", "documents")}}
            return run

        measured = run_rounds({name: timed(name) for name in runners}, args.rounds,
                              log=lambda line: print(line, flush=True))
        starts = run_rounds({"worker start": worker_start_seconds}, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts = {(r["sequences"], r["tokens"]) for runs in measured.values() for r in runs}
    if len(counts) != 1:
        raise SystemExit(f"The runners wrote different counts: {measured}")
    sequences, tokens = counts.pop()
    result.settings.update(sequences=sequences, tokens=tokens)
    device = "CPU"
    for name, runs in measured.items():
        options = runners[name][1]
        result.add_figure(f"{name} seconds", [r["seconds"] for r in runs], unit="s",
                          better="lower", precision="n/a", device=device, beam_options=options)
        result.add_figure(f"{name} sequences/s", [sequences / r["seconds"] for r in runs],
                          unit="seq/s", precision="n/a", device=device)
    result.add_figure("worker start seconds", starts["worker start"], unit="s", better="lower",
                      precision="n/a", device=device)
    for name in ("beam multi_processing", "beam in_memory"):
        result.add_comparison(f"{name} vs local", f"{name} seconds", "local seconds")
    result.note("Each run is one prepare() call in this process, timed wall to wall; a Beam "
                "multi_processing run also pays its workers' start (TensorFlow import), the "
                "'worker start seconds' figure.")
    result.write(args.out)
    for name, comparison in result.comparisons.items():
        print(f"{name}: speed ratio {comparison['median']:.2f} ({comparison['min']:.2f}-"
              f"{comparison['max']:.2f}) {comparison['verdict']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`prepare` on both runners, local and Apache Beam, on the same corpus and tokenizer in one run.

One command (the `beam` extra installed):

    .venv/bin/python benchmarks/prepare_runners.py            # 42 Shakespeare plays, a few minutes
    .venv/bin/python benchmarks/prepare_runners.py --quick    # two plays

The corpus comes from `../shared/data/fetch.sh`. A 1,000-piece SentencePiece tokenizer is trained
once on it (not timed) and every run loads it (`data.tokenizer_path`). Settings are ALBERT's:
sequence 128, static n-gram masking, dupe_factor 1. Runs, each one `prepare()` call timed wall to
wall, writing the same records:
- `local`: the local runner with its defaults;
- `beam multi_processing`: Beam's DirectRunner engine (`runner=FnApiRunner`) with
  `direct_num_workers` worker processes, as a cluster runner splits the work;
- `beam in_memory`: the same pipeline in this process (Beam's own cost without the workers).
Also timed: one worker's start (a Python process importing the pipeline's modules, TensorFlow
included), which each Beam worker pays once. Checks that every run wrote the same number of
sequences and tokens. Writes `benchmarks/out/prepare_runners.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from albert_keras.data.corpus import read_documents  # noqa: E402
from albert_keras.data.prepare import prepare  # noqa: E402
from albert_keras.data.tokenizers import save_tokenizer, train_tokenizer  # noqa: E402
from albert_keras.pipeline import pipeline_from_dict  # noqa: E402


def fetch_data() -> str:
    script = os.path.join(REPO, "..", "shared", "data", "fetch.sh")
    result = subprocess.run(["bash", script], capture_output=True, text=True, check=True,
                            timeout=900)
    return result.stdout.strip().splitlines()[-1]


def worker_start_seconds() -> float:
    """Wall time of a fresh Python process importing what a Beam worker imports."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow, albert_keras.data.beam_stages"],
                   check=True, capture_output=True, cwd=REPO, timeout=600)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two plays instead of 42")
    parser.add_argument("--beam-workers", type=int, default=2, help="direct_num_workers")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "prepare_runners.json"))
    args = parser.parse_args()

    plays = os.path.join(fetch_data(), "corpus", "shakespeare")
    corpus = (",".join(os.path.join(plays, p) for p in ("hamlet*.txt", "macbeth*.txt"))
              if args.quick else os.path.join(plays, "*.txt"))
    work = tempfile.mkdtemp(prefix="prepare_runners_")
    runs = []
    try:
        sentences = [s for d in read_documents(corpus) for s in d]
        tokenizer_dir = save_tokenizer(train_tokenizer(sentences, "sentencepiece", 1000),
                                       os.path.join(work, "tokenizer"))
        engine = ["runner=FnApiRunner"]
        for name, runner, options in (
                ("local", "local", []),
                ("beam multi_processing", "beam", [*engine, "direct_running_mode=multi_processing",
                                                   f"direct_num_workers={args.beam_workers}"]),
                ("beam in_memory", "beam", [*engine, "direct_running_mode=in_memory"])):
            config = pipeline_from_dict({"name": name.replace(" ", "_"), "data": {
                "corpus": corpus, "output_dir": work, "tokenizer_path": tokenizer_dir,
                "max_sequence_length": 128, "dupe_factor": 1, "masking": "ngram",
                "runner": runner, "beam_options": options}})
            start = time.perf_counter()
            summary = prepare(config, static_masking=True, progress=False)
            seconds = time.perf_counter() - start
            runs.append({"run": name, "beam_options": options, "sequences": summary["sequences"],
                         "tokens": summary["tokens"], "documents": summary["documents"],
                         "seconds": round(seconds, 2),
                         "sequences_per_second": round(summary["sequences"] / seconds, 1)})
            print(f"  {name:22s} {summary['sequences']:7,} sequences in {seconds:6.1f}s = "
                  f"{summary['sequences'] / seconds:8,.1f} seq/s", flush=True)
        start_seconds = worker_start_seconds()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if len({(r["sequences"], r["tokens"]) for r in runs}) != 1:
        raise SystemExit(f"The runners wrote different counts: {runs}")

    local, multi = runs[0], runs[1]
    result = {"benchmark": "prepare_runners", "corpus": "2 plays" if args.quick else "42 plays",
              "tokenizer": "sentencepiece 1000", "max_sequence_length": 128,
              "static_masking": "ngram", "dupe_factor": 1, "runs": runs,
              "worker_start_seconds": round(start_seconds, 2),
              "beam_over_local_seconds": round(multi["seconds"] - local["seconds"], 2),
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "tensorflow": tf.__version__,
                          "load_average_1m_at_end": round(os.getloadavg()[0], 2)}}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(f"Beam multi-process costs {result['beam_over_local_seconds']:.1f}s more than local "
          f"here; one worker's start (TensorFlow import) {start_seconds:.1f}s; "
          f"load average at the end {result['machine']['load_average_1m_at_end']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

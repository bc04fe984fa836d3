"""`prepare` throughput (sequences/s) on a real corpus at max_sequence_length 128 and 512 (issue 3).

One command:

    .venv/bin/python benchmarks/prepare_throughput.py            # Shakespeare (~5 MB), ~2-4 min on 2 cores
    .venv/bin/python benchmarks/prepare_throughput.py --quick    # botchan.txt only, seconds

The corpus comes from `../shared/data/fetch.sh` (42 Shakespeare plays, BERT format: blank lines
separate speeches). A SentencePiece tokenizer (vocabulary 8000) is trained once on the corpus;
each timed run then loads it (`data.tokenizer_path`), so the numbers measure what scales with
the corpus: reading, tokenizing (tf.data), pairing (worker processes), writing shards. The
tokenizer's training time is reported on its own. Writes `benchmarks/out/prepare_throughput.json`
and prints sequences/s per length and the ratio 128 / 512.
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus (botchan.txt), lengths 128 only")
    parser.add_argument("--lengths", default=None, help="comma-separated, default 128,512")
    parser.add_argument("--dupe-factor", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out", "prepare_throughput.json"))
    args = parser.parse_args()

    data_dir = fetch_data()
    corpus = (os.path.join(data_dir, "corpus", "botchan.txt") if args.quick
              else os.path.join(data_dir, "corpus", "shakespeare", "*.txt"))
    lengths = [int(n) for n in (args.lengths or ("128" if args.quick else "128,512")).split(",")]
    work = tempfile.mkdtemp(prefix="prepare_throughput_")
    try:
        start = time.perf_counter()
        sentences = [s for d in read_documents(corpus) for s in d]
        tokenizer = train_tokenizer(sentences, "sentencepiece", 8000 if not args.quick else 2000)
        tokenizer_dir = save_tokenizer(tokenizer, os.path.join(work, "tokenizer"))
        tokenizer_seconds = time.perf_counter() - start
        runs = []
        for length in lengths:
            config = pipeline_from_dict({"name": f"seq{length}", "data": {
                "corpus": corpus, "output_dir": work, "tokenizer_path": tokenizer_dir,
                "max_sequence_length": length, "dupe_factor": args.dupe_factor,
                "max_predictions": max(20, round(0.15 * length)), "num_shards": 8}})
            start = time.perf_counter()
            summary = prepare(config, progress=False)
            seconds = time.perf_counter() - start
            runs.append({"max_sequence_length": length, "sequences": summary["sequences"],
                         "documents": summary["documents"], "tokens": summary["tokens"],
                         "seconds": round(seconds, 2),
                         "sequences_per_second": round(summary["sequences"] / seconds, 1),
                         "tokens_per_second": round(summary["tokens"] * args.dupe_factor / seconds)})
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {"benchmark": "prepare_throughput", "corpus": "botchan" if args.quick else "shakespeare",
              "dupe_factor": args.dupe_factor, "tokenizer": "sentencepiece",
              "tokenizer_training_seconds": round(tokenizer_seconds, 2), "runs": runs,
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "tensorflow": tf.__version__}}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(f"prepare throughput ({result['corpus']}, dupe_factor {args.dupe_factor}, "
          f"{os.cpu_count()} cores; tokenizer training {tokenizer_seconds:.1f}s not included):")
    for run in runs:
        print(f"  seq {run['max_sequence_length']:4d}: {run['sequences']:7,} sequences in "
              f"{run['seconds']:6.1f}s = {run['sequences_per_second']:8,.1f} seq/s "
              f"({run['tokens_per_second']:,} corpus tokens/s)")
    if len(runs) >= 2:
        print(f"  ratio seq/s {runs[0]['max_sequence_length']} / {runs[1]['max_sequence_length']}: "
              f"{runs[0]['sequences_per_second'] / runs[1]['sequences_per_second']:.2f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

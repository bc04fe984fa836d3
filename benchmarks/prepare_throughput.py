"""`prepare` throughput (sequences/s) on a real corpus at max_sequence_length 128 and 512 (issue 3).

One command:

    .venv/bin/python benchmarks/prepare_throughput.py            # Shakespeare (~5 MB), ~2-4 min on 2 cores
    .venv/bin/python benchmarks/prepare_throughput.py --quick    # botchan.txt only, seconds

The corpus comes from `../shared/data/fetch.sh` (42 Shakespeare plays, BERT format: blank lines
separate speeches). A SentencePiece tokenizer (vocabulary 8000) is trained once on the corpus;
each timed run then loads it (`data.tokenizer_path`), so the numbers measure what scales with
the corpus: reading, tokenizing (tf.data), pairing (worker processes), writing shards. The
tokenizer's training time is reported on its own. Measured through `benchmarks.harness`: the
lengths take turns in `--rounds` alternated rounds (128, 512 | 512, 128 | ...), each figure the
median and min-max of its rounds, the ratio 128 / 512 taken per round. Writes
`benchmarks/out/prepare_throughput.json` (the harness' schema) and prints the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus (botchan.txt), lengths 128 only")
    parser.add_argument("--lengths", default=None, help="comma-separated, default 128,512")
    parser.add_argument("--dupe-factor", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (>= 3)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out", "prepare_throughput.json"))
    args = parser.parse_args(argv)

    data_dir = fetch_data()
    corpus = (os.path.join(data_dir, "corpus", "botchan.txt") if args.quick
              else os.path.join(data_dir, "corpus", "shakespeare", "*.txt"))
    lengths = [int(n) for n in (args.lengths or ("128" if args.quick else "128,512")).split(",")]
    result = BenchmarkResult("prepare_throughput", rounds=args.rounds, settings={
        "corpus": "botchan" if args.quick else "shakespeare", "dupe_factor": args.dupe_factor,
        "tokenizer": "sentencepiece", "lengths": lengths, "num_shards": 8})
    work = tempfile.mkdtemp(prefix="prepare_throughput_")
    try:
        start = time.perf_counter()
        sentences = [s for d in read_documents(corpus) for s in d]
        tokenizer = train_tokenizer(sentences, "sentencepiece", 8000 if not args.quick else 2000)
        tokenizer_dir = save_tokenizer(tokenizer, os.path.join(work, "tokenizer"))
        result.settings["tokenizer_training_seconds"] = round(time.perf_counter() - start, 2)

        def timed(length: int):
            def run() -> dict:
                config = pipeline_from_dict({"name": f"seq{length}", "data": {
                    "corpus": corpus, "output_dir": work, "tokenizer_path": tokenizer_dir,
                    "max_sequence_length": length, "dupe_factor": args.dupe_factor,
                    "max_predictions": max(20, round(0.15 * length)), "num_shards": 8}})
                begin = time.perf_counter()
                summary = prepare(config, progress=False)
                return {"seconds": time.perf_counter() - begin,
                        **{k: summary[k] for k in ("sequences", "documents", "tokens")}}
            return run

        measured = run_rounds({f"seq {length}": timed(length) for length in lengths},
                              args.rounds, log=lambda line: print(line, flush=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for name, runs in measured.items():
        result.settings[f"{name} sequences"] = runs[0]["sequences"]
        result.add_figure(f"{name} sequences/s", [r["sequences"] / r["seconds"] for r in runs],
                          unit="seq/s", precision="n/a", device="CPU")
        result.add_figure(f"{name} corpus tokens/s",
                          [r["tokens"] * args.dupe_factor / r["seconds"] for r in runs],
                          unit="tokens/s", precision="n/a", device="CPU")
    if len(lengths) >= 2:
        first, second = (f"seq {length}" for length in lengths[:2])
        result.add_comparison(f"{first} vs {second} sequences/s", f"{first} sequences/s",
                              f"{second} sequences/s")
    result.note("Tokenizer training (once, before the rounds) is not in the figures: "
                "settings.tokenizer_training_seconds.")
    result.write(args.out)
    result.print_summary()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

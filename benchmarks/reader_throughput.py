"""Reader with on-the-fly masking vs what the albert_base train step consumes, at seq 128 (issue 3).

One command:

    .venv/bin/python benchmarks/reader_throughput.py             # ~5 min on 2 CPU cores, ~2 on a GPU
    .venv/bin/python benchmarks/reader_throughput.py --quick     # small corpus, 1 train step

Prepares records at max_sequence_length 128 from a real corpus (`../shared/data/fetch.sh`:
Shakespeare; `--quick`: botchan.txt), then measures
1. `pretraining_dataset(...)` sequences/s for each masking mode (token, whole_word, ngram), batch
   `--batch-size`, iterated to the end of `--reader-batches` batches after a warm-up;
2. the albert_base `Pretrainer` train step (`model.fit`, LAMB as in `pretrain`) on the same
   batch size on the same machine (GPU if TensorFlow sees one), sequences/s after warm-up steps
   (on CPUs a step takes tens of seconds, hence few steps).
Measured through `benchmarks.harness`: the three readers and the train step take turns in
`--rounds` alternated rounds (the model built and warmed up once, before them); each figure is
the median and min-max of its rounds, each ratio reader / train step taken per round (goal:
>= 5, the model never waits for data). Writes `benchmarks/out/reader_throughput.json` (the
harness' schema) and prints the figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from albert_keras import Encoder  # noqa: E402
from albert_keras.pipeline import pipeline_from_dict  # noqa: E402
from albert_keras.pretraining_data.prepare import prepare  # noqa: E402
from albert_keras.pretraining_data.reader.pretraining_dataset import (  # noqa: E402
    ReaderOptions, pretraining_dataset)
from albert_keras.pretraining_data.records.records_manifest import read_manifest  # noqa: E402
from benchmarks.harness import BenchmarkResult, default_device, fetch_data, run_rounds  # noqa: E402


def _masking(directory: str, mode: str):
    """The records' masking settings (their manifest's) in `mode`."""
    return dataclasses.replace(read_manifest(directory).masking, mode=mode)


def reader_speed(directory: str, mode: str, batch_size: int, batches: int) -> float:
    dataset = pretraining_dataset(directory, batch_size, masking=_masking(directory, mode),
                                  options=ReaderOptions(seed=1))
    iterator = iter(dataset)
    for _ in range(5):  # Warm-up: fill the shuffle buffer and the prefetch.
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
    batch[0]["token_ids"].numpy()
    return batches * batch_size / (time.perf_counter() - start)


def train_timer(directory: str, vocabulary_size: int, batch_size: int, steps: int,
                warmup_steps: int):
    """Builds and warms up the albert_base Pretrainer once; returns a timer of `steps` steps."""
    from albert_keras.jobs.train_config import TrainConfig
    from albert_keras.models.pretrainer import Pretrainer
    from albert_keras.training.pretraining import compile_pretrainer

    batch = next(iter(pretraining_dataset(directory, batch_size,
                                          masking=_masking(directory, "ngram"))))
    data = tf.data.Dataset.from_tensors(batch).repeat()  # The model's speed alone.
    encoder = Encoder.from_preset("albert_base", vocabulary_size=vocabulary_size)
    pretrainer = Pretrainer(encoder, pair_task="sop")
    compile_pretrainer(pretrainer, TrainConfig())
    pretrainer.fit(data, steps_per_epoch=warmup_steps, epochs=1, verbose=0)  # Trace + warm-up.

    def timed() -> float:
        start = time.perf_counter()
        pretrainer.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
        return steps * batch_size / (time.perf_counter() - start)
    return timed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus and few batches")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--reader-batches", type=int, default=None, help="default 300 (quick: 30)")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="timed steps; default 20 with a GPU, 3 on CPUs (quick: 1)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (>= 3)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out", "reader_throughput.json"))
    args = parser.parse_args(argv)
    reader_batches = args.reader_batches or (30 if args.quick else 300)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    train_steps = args.train_steps or (1 if args.quick else 20 if gpu else 3)
    warmup_steps = 1 if args.quick or not gpu else 5

    data_dir = fetch_data()
    corpus = (os.path.join(data_dir, "corpus", "botchan.txt") if args.quick
              else os.path.join(data_dir, "corpus", "shakespeare", "*.txt"))
    result = BenchmarkResult("reader_throughput", rounds=args.rounds, settings={
        "corpus": "botchan" if args.quick else "shakespeare", "max_sequence_length": 128,
        "batch_size": args.batch_size, "reader_batches": reader_batches,
        "train_steps": train_steps, "goal_ratio": 5.0})
    work = tempfile.mkdtemp(prefix="reader_throughput_")
    try:
        config = pipeline_from_dict({"name": "seq128", "data": {
            "corpus": corpus, "output_dir": work, "vocabulary_size": 8000 if not args.quick else 2000,
            "max_sequence_length": 128, "max_predictions": 20, "num_shards": 8}})
        summary = prepare(config, progress=False)
        result.settings["sequences_in_records"] = summary["sequences"]
        directory = os.path.join(work, "seq128")
        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
            vocabulary_size = json.load(f)["vocabulary_size"]
        contenders = {f"reader {mode}": (lambda mode=mode: reader_speed(
            directory, mode, args.batch_size, reader_batches))
            for mode in ("token", "whole_word", "ngram")}
        contenders["albert_base train step"] = train_timer(directory, vocabulary_size,
                                                           args.batch_size, train_steps,
                                                           warmup_steps)
        measured = run_rounds(contenders, args.rounds, log=lambda line: print(line, flush=True))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    device = default_device()
    for name, values in measured.items():
        result.add_figure(f"{name} sequences/s", values, unit="seq/s", device=device,
                          precision="n/a" if name.startswith("reader") else "float32")
    for mode in ("token", "whole_word", "ngram"):
        comparison = result.add_comparison(
            f"reader {mode} vs albert_base train step", f"reader {mode} sequences/s",
            "albert_base train step sequences/s", goal=5.0)
        comparison["meets_goal_every_round"] = min(comparison["speed_ratio_rounds"]) >= 5.0
    result.note("Goal: every reader at least 5x the train step's sequences/s (the model never "
                "waits for data); `meets_goal_every_round` in each comparison.")
    result.write(args.out)
    result.print_summary(comparisons=False)
    for name, comparison in result.comparisons.items():
        print(f"  {name}: {comparison['median']:.1f}x ({comparison['min']:.1f}-"
              f"{comparison['max']:.1f}); goal 5x in every round: "
              f"{comparison['meets_goal_every_round']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

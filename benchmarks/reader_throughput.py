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
Prints the ratio reader / train step for each mode (goal: >= 5, the model never waits for data)
and writes `benchmarks/out/reader_throughput.json`.
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

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from albert_keras import Encoder  # noqa: E402
from albert_keras.data.prepare import prepare  # noqa: E402
from albert_keras.data.pretraining_dataset import pretraining_dataset  # noqa: E402
from albert_keras.pipeline import pipeline_from_dict  # noqa: E402


def fetch_data() -> str:
    script = os.path.join(REPO, "..", "shared", "data", "fetch.sh")
    result = subprocess.run(["bash", script], capture_output=True, text=True, check=True,
                            timeout=900)
    return result.stdout.strip().splitlines()[-1]


def reader_speed(directory: str, mode: str, batch_size: int, batches: int) -> float:
    dataset = pretraining_dataset(directory, batch_size, masking=mode, seed=1)
    iterator = iter(dataset)
    for _ in range(5):  # Warm-up: fill the shuffle buffer and the prefetch.
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        batch = next(iterator)
    batch[0]["token_ids"].numpy()
    return batches * batch_size / (time.perf_counter() - start)


def train_speed(directory: str, vocabulary_size: int, batch_size: int, steps: int,
                warmup_steps: int) -> float:
    from albert_keras.models.pretrainer import Pretrainer
    from albert_keras.training.pretrain import compile_pretrainer
    from albert_keras.training.train_config import TrainConfig

    batch = next(iter(pretraining_dataset(directory, batch_size, masking="ngram")))
    data = tf.data.Dataset.from_tensors(batch).repeat()  # The model's speed alone.
    encoder = Encoder.from_preset("albert_base", vocabulary_size=vocabulary_size)
    pretrainer = Pretrainer(encoder, pair_task="sop")
    compile_pretrainer(pretrainer, TrainConfig())
    pretrainer.fit(data, steps_per_epoch=warmup_steps, epochs=1, verbose=0)  # Trace + warm-up.
    start = time.perf_counter()
    pretrainer.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch_size / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus and few batches")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--reader-batches", type=int, default=None, help="default 300 (quick: 30)")
    parser.add_argument("--train-steps", type=int, default=None,
                        help="timed steps; default 20 with a GPU, 3 on CPUs (quick: 1)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out", "reader_throughput.json"))
    args = parser.parse_args()
    reader_batches = args.reader_batches or (30 if args.quick else 300)
    gpu = bool(tf.config.list_physical_devices("GPU"))
    train_steps = args.train_steps or (1 if args.quick else 20 if gpu else 3)
    warmup_steps = 1 if args.quick or not gpu else 5

    data_dir = fetch_data()
    corpus = (os.path.join(data_dir, "corpus", "botchan.txt") if args.quick
              else os.path.join(data_dir, "corpus", "shakespeare", "*.txt"))
    work = tempfile.mkdtemp(prefix="reader_throughput_")
    try:
        config = pipeline_from_dict({"name": "seq128", "data": {
            "corpus": corpus, "output_dir": work, "vocabulary_size": 8000 if not args.quick else 2000,
            "max_sequence_length": 128, "max_predictions": 20, "num_shards": 8}})
        summary = prepare(config, progress=False)
        directory = os.path.join(work, "seq128")
        vocabulary_size = json.load(open(os.path.join(directory, "manifest.json")))["vocabulary_size"]
        readers = {mode: reader_speed(directory, mode, args.batch_size, reader_batches)
                   for mode in ("token", "whole_word", "ngram")}
        train = train_speed(directory, vocabulary_size, args.batch_size, train_steps, warmup_steps)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    devices = [d.device_type for d in tf.config.list_physical_devices()]
    result = {"benchmark": "reader_throughput", "corpus": "botchan" if args.quick else "shakespeare",
              "sequences_in_records": summary["sequences"], "max_sequence_length": 128,
              "batch_size": args.batch_size, "train_steps": train_steps,
              "reader_sequences_per_second": {
                  k: round(v, 1) for k, v in readers.items()},
              "albert_base_train_sequences_per_second": round(train, 2),
              "ratio_reader_to_train": {k: round(v / train, 1) for k, v in readers.items()},
              "goal_ratio": 5.0,
              "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                          "devices": devices, "tensorflow": tf.__version__,
                          "keras": keras.__version__}}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(f"reader vs albert_base train step, seq 128, batch {args.batch_size}, devices {devices}:")
    print(f"  albert_base train step: {train:10,.1f} seq/s")
    for mode, speed in readers.items():
        print(f"  reader ({mode:10s}):    {speed:10,.1f} seq/s   ratio {speed / train:8.1f}x "
              f"({'meets' if speed / train >= 5 else 'BELOW'} the 5x goal)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

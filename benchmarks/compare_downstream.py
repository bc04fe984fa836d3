"""Pretrained against random-init, downstream, on another labelled set (issue 11's evidence).

Takes the arms of a finished `albert-keras compare` run (their `encoder.keras` and the shared
tokenizer) and runs the comparison's downstream step again on a labelled CSV: for every arm and
seed, the pretrained encoder and the same architecture from random weights are fine-tuned with
the pipeline's `finetune` settings on a fixed, seeded 80/20 split, each at the rate of
`finetune.learning_rates` it does best with on 20% of the training part held out,
and scored on the 20% test part (`training/downstream_protocol.py`).

    .venv/bin/python benchmarks/compare_downstream.py --run runs/compare_3000 \\
        --csv ~/.cache/albert-keras-data/labeled/uncertainty.csv --seeds 0 1 2 3 4

Prints median [min, max] per arm and the paired gain per seed with its verdict; writes JSON to
`--out` (default `benchmarks/out/compare_downstream.json`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from albert_keras.compare import ArmConfig  # noqa: E402
from albert_keras.models.encoder_config import EncoderConfig  # noqa: E402
from albert_keras.compare.arm_run import downstream_twins  # noqa: E402
from albert_keras.compare.report import format_gain  # noqa: E402
from albert_keras.pipeline import load_pipeline  # noqa: E402


def split_csv(path: str, directory: str, seed: int, test_fraction: float = 0.2) -> tuple[str, str]:
    """A fixed, seeded split of a header-less `label,text` CSV into train.csv and test.csv."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [row for row in csv.reader(f) if len(row) == 2 and row[1].strip()]
    order = np.random.default_rng(seed).permutation(len(rows))
    cut = int(round(len(rows) * (1 - test_fraction)))
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, indices in (("train", order[:cut]), ("test", order[cut:])):
        paths.append(os.path.join(directory, f"{name}.csv"))
        with open(paths[-1], "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows[i] for i in indices)
    return paths[0], paths[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a compare run folder (has report.json)")
    parser.add_argument("--config", default=os.path.join(REPO, "pipelines", "compare.yaml"))
    parser.add_argument("--csv", required=True, help="header-less label,text CSV")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "compare_downstream.json"))
    args = parser.parse_args()

    with open(os.path.join(args.run, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    name = os.path.splitext(os.path.basename(args.csv))[0]
    work = os.path.join(args.run, f"downstream_{name}")
    train, test = split_csv(args.csv, os.path.join(work, "data"), args.split_seed)
    config = load_pipeline(args.config, [
        *args.overrides, f"finetune.train={train}", f"finetune.test={test}",
        "finetune.validation=null", "finetune.validation_fraction=0.2", "finetune.header=false",
        "finetune.column_names=[label, text]", f"compare.downstream_seeds={args.seeds}"])
    tokenizer = os.path.join(report["shared"]["records"], "tokenizer")
    results = {"run": args.run, "csv": name, "seeds": args.seeds, "arms": {}}
    for arm in report["arms"]:
        arm_config = ArmConfig(**arm["arm"])
        encoder = os.path.join(args.run, "arms", arm["name"], "encoder.keras")
        results["arms"][arm["name"]] = downstream_twins(
            config, arm_config, EncoderConfig(**arm["encoder_config"]), tokenizer, encoder,
            os.path.join(work, arm["name"]))
    print(f"{name}: {len(args.seeds)} seeds, test accuracy, median [min, max]")
    for arm_name, scores in results["arms"].items():
        pretrained, random_init = scores["pretrained"], scores["random_init"]
        print(f"  {arm_name:8s} pretrained {pretrained['median']:.3f} [{pretrained['min']:.3f}, "
              f"{pretrained['max']:.3f}]  random init {random_init['median']:.3f} "
              f"[{random_init['min']:.3f}, {random_init['max']:.3f}]  paired gain "
              f"{format_gain(scores['gain'])}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()

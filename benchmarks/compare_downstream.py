"""Pretrained against random-init, downstream, again on a finished comparison's encoders.

Takes the arms of a finished `albert-keras compare` run (their `encoder.keras` and the shared
tokenizer) and runs the comparison's downstream step again: on a labelled CSV (`--csv`), or,
without it, on the built-in task with other settings (`--set finetune.epochs=3`, `--set
compare.downstream_examples_per_label=100`, ...) — the way to choose the downstream settings of
`compare.yaml` without pretraining again. For every arm and seed, the pretrained encoder and the
same architecture from random weights are fine-tuned with the pipeline's `finetune` settings,
each at the rate of `finetune.learning_rates` it does best with on validation rows, and scored
on test rows never used for choosing (`jobs/downstream_protocol.py`). A CSV is split
80/20 (fixed seed) into training and test rows, and 20% of the training rows validate.

    .venv/bin/python benchmarks/compare_downstream.py --run runs/compare_3000 \\
        --csv ~/.cache/albert-keras-data/labeled/uncertainty.csv --seeds 0 1 2 3 4
    .venv/bin/python benchmarks/compare_downstream.py --run runs/compare \\
        --set finetune.epochs=3 --out benchmarks/out/downstream_epochs3.json

Prints median [min, max] per arm, the paired gain per seed with its verdict and the wall time
of each arm's fine-tuning runs; writes one `benchmarks.harness` document to `--out` (default
`benchmarks/out/compare_downstream.json`): per arm, the pretrained encoder's and its twin's
test scores as figures over fine-tuning seeds and the paired gain with the protocol's verdict,
the whole result under `details` (`python -m benchmarks.run_all --tables DIR` makes its
tables).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from albert_keras.compare import ArmConfig  # noqa: E402
from albert_keras.compare.arm_run import downstream_twins  # noqa: E402
from albert_keras.compare.comparison import downstream_task  # noqa: E402
from albert_keras.compare.report import format_gain  # noqa: E402
from albert_keras.models.encoder_config import EncoderConfig  # noqa: E402
from albert_keras.pipeline import load_pipeline  # noqa: E402
from albert_keras.training.precision import resolve_precision  # noqa: E402
from benchmarks.harness import BenchmarkResult, repo_relative  # noqa: E402


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


def records_dir(report: dict, run: str) -> str:
    """The comparison's records folder. `report.json` names it as `compare` saw it: relative to
    the folder it ran in, which for the default `compare.output_dir` (`runs/`) is two levels
    above the run folder; tried as given first."""
    records = report["shared"]["records"]
    candidates = [records]
    if not os.path.isabs(records):
        candidates.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(run))),
                                       records))
    for candidate in candidates:
        if os.path.isdir(candidate):
            return candidate
    raise FileNotFoundError(f"The records of the compare run {run!r} are not at "
                            f"{' or '.join(repr(c) for c in candidates)}: run this from the "
                            "folder the comparison ran in")


def benchmark_result(name: str, results: dict, precision: str) -> BenchmarkResult:
    """The downstream step again as one `benchmarks.harness` document (module docstring)."""
    over = "fine-tuning seeds"
    result = BenchmarkResult(f"compare_downstream_{name}", rounds=len(results["seeds"]),
                             settings={"values_over": over, "csv": results["csv"],
                                       "seeds": results["seeds"],
                                       "finetune": results["finetune"]})
    for arm, scores in results["arms"].items():
        unit = f"{scores['split']} {scores['metric']}"
        for init in ("pretrained", "random_init"):
            result.add_figure(f"{arm} {init} {unit}", scores[init]["values"], unit="",
                              precision=precision, over=over,
                              learning_rate=scores[init]["learning_rate"])
        result.add_gain(f"{arm} downstream gain of pretraining", scores["gain"]["values"],
                        unit=unit, over=over, precision=precision)
        result.note(f"{arm}: {results['seconds'][arm]:.0f} s of fine-tuning runs.")
    result.note(f"The encoders of the compare run {results['run']!r} (its report.json).")
    result.details = results
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="a compare run folder (has report.json)")
    parser.add_argument("--config", default=os.path.join(REPO, "pipelines", "compare.yaml"))
    parser.add_argument("--csv", help="header-less label,text CSV (default: the built-in task)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "compare_downstream.json"))
    args = parser.parse_args()

    with open(os.path.join(args.run, "report.json"), encoding="utf-8") as f:
        report = json.load(f)
    name = os.path.splitext(os.path.basename(args.csv))[0] if args.csv else "built-in"
    work = os.path.join(args.run, f"downstream_{name}")
    overrides = [*args.overrides, f"compare.downstream_seeds={args.seeds}"]
    if args.csv:
        train, test = split_csv(args.csv, os.path.join(work, "data"), args.split_seed)
        overrides += [f"finetune.train={train}", f"finetune.test={test}",
                      "finetune.validation=null", "finetune.validation_fraction=0.2",
                      "finetune.header=false", "finetune.column_names=[label, text]"]
    config, task = downstream_task(load_pipeline(args.config, overrides), work)
    tokenizer = os.path.join(records_dir(report, args.run), "tokenizer")
    results = {"run": repo_relative([os.path.abspath(args.run)])[0], "csv": name, "seeds": args.seeds, "task": task,
               "finetune": {k: v for k, v in dataclasses.asdict(config.finetune).items()
                            if k in ("epochs", "batch_size", "max_sequence_length",
                                     "learning_rates", "dropout", "warmup_fraction")},
               "arms": {}, "seconds": {}}
    for arm in report["arms"]:
        arm_config = ArmConfig(**arm["arm"])
        encoder = os.path.join(args.run, "arms", arm["name"], "encoder.keras")
        start = time.perf_counter()
        results["arms"][arm["name"]] = downstream_twins(
            config, arm_config, EncoderConfig(**arm["encoder_config"]), tokenizer, encoder,
            os.path.join(work, arm["name"]))
        results["seconds"][arm["name"]] = time.perf_counter() - start
    print(f"{name}: {len(args.seeds)} seeds, test accuracy, median [min, max]")
    for arm_name, scores in results["arms"].items():
        pretrained, random_init = scores["pretrained"], scores["random_init"]
        print(f"  {arm_name:8s} pretrained {pretrained['median']:.3f} [{pretrained['min']:.3f}, "
              f"{pretrained['max']:.3f}]  random init {random_init['median']:.3f} "
              f"[{random_init['min']:.3f}, {random_init['max']:.3f}]  paired gain "
              f"{format_gain(scores['gain'])}  ({results['seconds'][arm_name]:.0f} s)")
    precision = resolve_precision(config.finetune.precision)[0]
    benchmark_result(name, results, precision).write(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

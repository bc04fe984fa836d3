"""Task-adaptive pretraining of a published model, measured (issue 24, "Adaptation").

A published checkpoint (MiniLM-L6 from `../shared/data/fetch.sh` by default) is continued with
`pipelines/adapt.yaml` on the unlabelled text of a labelled CSV's training rows (`pretrain`,
`data.corpus: finetune`), then both the published and the adapted encoder are fine-tuned on
those rows, once per seed and learning rate. Each encoder's rate is chosen by its median
validation score; both are scored on a test split that neither the adaptation nor the choice
ever saw, and the paired gain per seed (adapted - published) is summarised with its verdict
(`albert_keras/jobs/downstream_protocol.py`).

    .venv/bin/python benchmarks/adaptation.py --csv <data>/labeled/spam.csv --steps 300
    .venv/bin/python benchmarks/adaptation.py --csv <data>/labeled/uncertainty.csv \\
        --steps 600 --learning-rates 1e-4

The CSV is header-less `label,text`; a name that is not a file (`--csv spam.csv`) is one of
the labelled CSVs `fetch.sh` fetches. It is split 60/20/20 (train/validation/test) with
`--split-seed`. Writes one `benchmarks.harness` document to `--out` (default
`benchmarks/out/adaptation_<csv>.json`): each encoder's test score a figure over fine-tuning
seeds, the paired gain with the protocol's verdict, the adaptation's held-out scores, and the
whole result under `details`.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from albert_keras.jobs.downstream_protocol import (choose_learning_rate, paired_gain,  # noqa: E402
                                                   rate_key, summary)
from albert_keras.jobs.finetune import finetune  # noqa: E402
from albert_keras.pipeline import load_pipeline, prepare_and_pretrain  # noqa: E402
from benchmarks.harness import BenchmarkResult, fetch_data  # noqa: E402

def labelled_csv(name: str) -> str:
    """`name` when it is a file, else the fetched labelled CSV of that name."""
    if os.path.isfile(name):
        return name
    path = os.path.join(fetch_data(), "labeled", name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--csv {name!r} is neither a file nor one of the labelled CSVs "
                                f"fetch.sh fetches (looked for {path})")
    return path


def benchmark_result(name: str, results: dict) -> BenchmarkResult:
    """The measurement as one `benchmarks.harness` document (module docstring)."""
    adaptation = results["adaptation"]
    precision = adaptation["precision"]
    over = "fine-tuning seeds"
    result = BenchmarkResult(f"adaptation_{name}", rounds=len(results["seeds"]), settings={
        "values_over": over, **{k: results[k] for k in (
            "csv", "model", "seeds", "learning_rates", "metric", "split_seed", "epochs")},
        "adaptation_steps": adaptation["steps"]})
    for encoder in ("published", "adapted"):
        part = results[encoder]
        result.add_figure(f"{encoder} test {results['metric']}", part["values"], unit="",
                          precision=precision, over=over, learning_rate=part["learning_rate"])
    result.add_gain("adapted vs published", results["gain"]["values"],
                    unit=f"test {results['metric']}", over=over, precision=precision)
    for score in ("mlm_loss", "mlm_accuracy"):
        result.add_figure(f"adaptation held-out {score}, before -> after",
                          [adaptation["held_out_initial"][score],
                           adaptation["held_out_final"][score]], unit="",
                          better="lower" if score == "mlm_loss" else "higher",
                          precision=precision, over="points (before, after)")
    result.note(f"Adaptation: {adaptation['steps']} steps in {adaptation['seconds']:.0f} s; "
                f"fine-tuning runs: median {results['finetune_seconds_median']:.0f} s each. "
                "Each encoder's rate is its best by median validation score; test rows were "
                "never used for choosing or adapting.")
    result.details = results
    return result


def split_csv(path: str, directory: str, seed: int) -> dict[str, str]:
    """A seeded 60/20/20 split of a header-less `label,text` CSV: `{split: path}`."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = [row for row in csv.reader(f) if len(row) == 2 and row[1].strip()]
    order = np.random.default_rng(seed).permutation(len(rows))
    cuts = [int(round(len(rows) * 0.6)), int(round(len(rows) * 0.8))]
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for name, indices in zip(("train", "validation", "test"), np.split(order, cuts)):
        paths[name] = os.path.join(directory, f"{name}.csv")
        with open(paths[name], "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows[i] for i in indices)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, help="header-less label,text CSV")
    parser.add_argument("--model", help="the published checkpoint (default: fetch.sh's MiniLM)")
    parser.add_argument("--steps", type=int, default=300, help="adaptation steps")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[3e-5, 1e-4])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-sequence-length", type=int, default=128)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--work", default=os.path.join(REPO, "benchmarks", "out", "adaptation"))
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="more pipeline overrides, e.g. train.learning_rate=5e-5")
    parser.add_argument("--out")
    args = parser.parse_args()
    name = os.path.splitext(os.path.basename(args.csv))[0]
    work = os.path.join(args.work, name)
    model = args.model or os.path.join(fetch_data(), "minilm")
    splits = split_csv(labelled_csv(args.csv), os.path.join(work, "data"), args.split_seed)
    length = args.max_sequence_length
    overrides = [
        f"name=adapt_{name}", f"model.pretrained={model}",
        f"finetune.train={splits['train']}", f"finetune.validation={splits['validation']}",
        f"finetune.test={splits['test']}", "finetune.header=false",
        "finetune.column_names=[label, text]", "finetune.pooling=mean",
        f"finetune.epochs={args.epochs}", "finetune.early_stopping_patience=0",
        "finetune.restore_best_checkpoint=false", "finetune.tensorboard=false",
        "finetune.verbose=0", f"finetune.max_sequence_length={length}",
        f"data.max_sequence_length={length}",
        f"data.length_buckets={[b for b in (32, 64, 96) if b < length]}",
        f"data.output_dir={os.path.join(work, 'records')}",
        f"train.output_dir={os.path.join(work, 'runs')}", f"train.steps={args.steps}",
        f"train.steps_per_epoch={min(100, args.steps)}",
        f"train.warmup_steps={max(1, args.steps * 6 // 100)}", "train.verbose=0",
        *args.overrides]
    config = load_pipeline(os.path.join(REPO, "pipelines", "adapt.yaml"), overrides)

    start = time.time()
    keras.utils.set_random_seed(config.train.seed)
    pretraining = prepare_and_pretrain(config)
    adapt_seconds = time.time() - start
    encoders = {"published": model,
                "adapted": os.path.join(config.train.output_dir, config.name, "encoder.keras")}
    metric = "accuracy"
    scores = {encoder: {rate: {"validation": [], "test": []} for rate in args.learning_rates}
              for encoder in encoders}
    finetune_seconds = []
    for seed in args.seeds:
        for rate in args.learning_rates:
            for encoder, path in encoders.items():
                keras.utils.set_random_seed(seed)
                started = time.time()
                run = load_pipeline(os.path.join(REPO, "pipelines", "adapt.yaml"), [
                    *overrides, f"name={encoder}-lr{rate_key(rate)}-seed{seed}",
                    f"model.pretrained={path}", f"finetune.seed={seed}",
                    f"finetune.learning_rate={rate}",
                    f"finetune.output_dir={os.path.join(work, 'finetuned')}"])
                metrics = finetune(run)["metrics"]
                finetune_seconds.append(time.time() - started)
                for split in ("validation", "test"):
                    scores[encoder][rate][split].append(float(metrics[split][metric]))
                print(f"{encoder} lr {rate} seed {seed}: validation "
                      f"{scores[encoder][rate]['validation'][-1]:.3f} test "
                      f"{scores[encoder][rate]['test'][-1]:.3f}", flush=True)

    results = {"csv": name, "model": os.path.basename(os.path.normpath(model)),
               "adaptation": {"steps": args.steps, "seconds": round(adapt_seconds, 1),
                              "held_out_initial": pretraining["initial"],
                              "held_out_final": pretraining["final"],
                              "precision": pretraining["precision"]},
               "seeds": args.seeds, "learning_rates": args.learning_rates, "metric": metric,
               "split_seed": args.split_seed, "epochs": args.epochs,
               "finetune_seconds_median": float(np.median(finetune_seconds))}
    for encoder in encoders:
        validation = {rate: scores[encoder][rate]["validation"] for rate in args.learning_rates}
        chosen = choose_learning_rate(validation)
        values = scores[encoder][chosen]["test"]
        results[encoder] = {"learning_rate": chosen, "values": values, **summary(values),
                            "validation": {rate_key(r): v for r, v in validation.items()}}
    results["gain"] = paired_gain(results["adapted"]["values"], results["published"]["values"])
    gain = results["gain"]
    print(f"{name}: adapted ({args.steps} steps, {adapt_seconds:.0f} s) against published, "
          f"test {metric} over seeds {args.seeds}, median [min, max]")
    for encoder in encoders:
        part = results[encoder]
        print(f"  {encoder:9s} {part['median']:.3f} [{part['min']:.3f}, {part['max']:.3f}] "
              f"at learning rate {part['learning_rate']}")
    print(f"  paired gain {gain['median']:+.3f} [{gain['min']:+.3f}, {gain['max']:+.3f}], "
          f"{gain['positive_seeds']}/{len(gain['values'])} seeds > 0: {gain['verdict']}")
    out = args.out or os.path.join(REPO, "benchmarks", "out", f"adaptation_{name}.json")
    benchmark_result(name, results).write(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

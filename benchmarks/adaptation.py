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

Resumable: the work folder (`--work`/<csv>/) keeps `progress.json`, the adaptation's summary
and every finished fine-tuning run, written after each; started again with the same settings,
the script runs only what is missing (a killed adaptation resumes from `pretrain`'s own
backups), and more `--seeds` may be added. Other settings are refused by name. On a CPU
without native bfloat16 the whole measurement takes hours (MiniLM in float32), so it may be
spread over several starts.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from typing import Any, Mapping, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from albert_keras.jobs.downstream_protocol import (choose_learning_rate, paired_gain,  # noqa: E402
                                                   rate_key, summary)
from albert_keras.jobs.finetune import finetune  # noqa: E402
from albert_keras.pipeline import load_pipeline, prepare_and_pretrain  # noqa: E402
from albert_keras.utils.atomic_files import write_json_atomic  # noqa: E402
from benchmarks.harness import BenchmarkResult, RunStart, fetch_data, run_start  # noqa: E402

def labelled_csv(name: str) -> str:
    """`name` when it is a file, else the fetched labelled CSV of that name."""
    if os.path.isfile(name):
        return name
    path = os.path.join(fetch_data(), "labeled", name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"--csv {name!r} is neither a file nor one of the labelled CSVs "
                                f"fetch.sh fetches (looked for {path})")
    return path


def benchmark_result(name: str, results: dict, start: RunStart | None = None) -> BenchmarkResult:
    """The measurement as one `benchmarks.harness` document (module docstring); `start`: when
    this start of the script began (its wall time and load average before)."""
    adaptation = results["adaptation"]
    precision = adaptation["precision"]
    over = "fine-tuning seeds"
    result = BenchmarkResult(f"adaptation_{name}", rounds=len(results["seeds"]), settings={
        "values_over": over, **{k: results[k] for k in (
            "csv", "model", "seeds", "learning_rates", "metric", "split_seed", "epochs")},
        "adaptation_steps": adaptation["steps"]}, start=start)
    for encoder in ("published", "adapted"):
        part = results[encoder]
        result.add_figure(f"{encoder} test {results['metric']}", part["values"], unit="",
                          precision=precision, over=over, learning_rate=part["learning_rate"])
    result.add_gain("adapted vs published", results["gain"]["values"],
                    unit=f"test {results['metric']}", over=over, precision=precision)
    # One adaptation run: its held-out scores before its first step and after its last, each
    # a figure of one value (a median over "before and after" would mean nothing).
    for score, label in (("mlm_loss", "MLM loss"), ("mlm_accuracy", "MLM accuracy")):
        for moment, scores in (("before", "held_out_initial"), ("after", "held_out_final")):
            result.add_figure(f"adaptation held-out {label}, {moment}",
                              [adaptation[scores][score]], unit="",
                              better="lower" if score == "mlm_loss" else "higher",
                              precision=precision, over="adaptation run")
    result.note(f"Adaptation: {adaptation['steps']} steps in {adaptation['seconds']:.0f} s; "
                f"fine-tuning runs: median {results['finetune_seconds_median']:.0f} s each. "
                "Each encoder's rate is its best by median validation score; test rows were "
                "never used for choosing or adapting.")
    result.note(f"The work, the adaptation and {results['finetune_runs']} fine-tuning runs, "
                f"took {results['work_seconds']:.0f} s in all, kept in the work folder's "
                "progress.json over every start; the document's own wall time and load average "
                "are those of the start that wrote it (the scores do not depend on load).")
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


def load_progress(path: str, settings: Mapping[str, Any]) -> dict:
    """The finished work of an interrupted measurement (`path`, in its work folder): the
    adaptation's summary and each fine-tuning run's scores, when they were made with the same
    `settings`; else an empty progress. Progress of other settings is an error, never mixed in."""
    progress = {"settings": dict(settings), "adaptation": None, "runs": []}
    if not os.path.exists(path):
        return progress
    with open(path, encoding="utf-8") as f:
        previous = json.load(f)
    if previous.get("settings") != progress["settings"]:
        changed = sorted(key for key in set(previous.get("settings", {})) | set(settings)
                         if previous.get("settings", {}).get(key) != settings.get(key))
        raise SystemExit(f"{path} holds an adaptation measured with other settings "
                         f"(differing: {changed}); give another --work, or delete it to start "
                         "again")
    return {**progress, "adaptation": previous.get("adaptation"), "runs": previous["runs"]}


def main(argv: Sequence[str] | None = None) -> None:
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
    args = parser.parse_args(argv)
    start = run_start()  # The document is made at the end; its clock and load start here.
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
    # What the finished work must share to be kept (more seeds may be added later).
    progress_path = os.path.join(work, "progress.json")
    progress = load_progress(progress_path, {
        "csv": name, "model": os.path.abspath(model), "steps": args.steps,
        "learning_rates": args.learning_rates, "epochs": args.epochs,
        "max_sequence_length": length, "split_seed": args.split_seed,
        "overrides": args.overrides})

    encoders = {"published": model,
                "adapted": os.path.join(config.train.output_dir, config.name, "encoder.keras")}
    if progress["adaptation"] is None or not os.path.exists(encoders["adapted"]):
        # A killed adaptation resumes from its own backups (`pretrain`'s fault tolerance).
        start = time.time()
        keras.utils.set_random_seed(config.train.seed)
        pretraining = prepare_and_pretrain(config)
        progress["adaptation"] = {"steps": args.steps, "seconds": round(time.time() - start, 1),
                                  "held_out_initial": pretraining["initial"],
                                  "held_out_final": pretraining["final"],
                                  "precision": pretraining["precision"]}
        write_json_atomic(progress_path, progress)
    metric = "accuracy"
    done = {(r["encoder"], r["learning_rate"], r["seed"]) for r in progress["runs"]}
    for seed in args.seeds:
        for rate in args.learning_rates:
            for encoder, path in encoders.items():
                if (encoder, rate, seed) in done:
                    continue
                keras.utils.set_random_seed(seed)
                started = time.time()
                run = load_pipeline(os.path.join(REPO, "pipelines", "adapt.yaml"), [
                    *overrides, f"name={encoder}-lr{rate_key(rate)}-seed{seed}",
                    f"model.pretrained={path}", f"finetune.seed={seed}",
                    f"finetune.learning_rate={rate}",
                    f"finetune.output_dir={os.path.join(work, 'finetuned')}"])
                metrics = finetune(run)["metrics"]
                progress["runs"].append({
                    "encoder": encoder, "learning_rate": rate, "seed": seed,
                    "validation": float(metrics["validation"][metric]),
                    "test": float(metrics["test"][metric]),
                    "seconds": round(time.time() - started, 1)})
                write_json_atomic(progress_path, progress)  # A kill keeps the finished runs.
                print(f"{encoder} lr {rate} seed {seed}: validation "
                      f"{progress['runs'][-1]['validation']:.3f} test "
                      f"{progress['runs'][-1]['test']:.3f}", flush=True)

    results = summarize(progress, name, model, args.seeds, metric)
    gain = results["gain"]
    adaptation = results["adaptation"]
    print(f"{name}: adapted ({args.steps} steps, {adaptation['seconds']:.0f} s) against "
          f"published, test {metric} over seeds {args.seeds}, median [min, max]")
    for encoder in encoders:
        part = results[encoder]
        print(f"  {encoder:9s} {part['median']:.3f} [{part['min']:.3f}, {part['max']:.3f}] "
              f"at learning rate {part['learning_rate']}")
    print(f"  paired gain {gain['median']:+.3f} [{gain['min']:+.3f}, {gain['max']:+.3f}], "
          f"{gain['positive_seeds']}/{len(gain['values'])} seeds > 0: {gain['verdict']}")
    out = args.out or os.path.join(REPO, "benchmarks", "out", f"adaptation_{name}.json")
    benchmark_result(name, results, start).write(out)
    print(f"wrote {out}")


def summarize(progress: Mapping[str, Any], name: str, model: str, seeds: Sequence[int],
              metric: str) -> dict:
    """The measurement from its finished runs at `seeds`: each encoder's rate chosen by median
    validation score, its test scores per seed, and the paired gain (adapted - published)."""
    settings = progress["settings"]
    rates = settings["learning_rates"]
    score = {(r["encoder"], r["learning_rate"], r["seed"]): r for r in progress["runs"]}
    seconds = [r["seconds"] for r in progress["runs"] if r["seed"] in seeds]
    results = {"csv": name, "model": os.path.basename(os.path.normpath(model)),
               "adaptation": progress["adaptation"], "seeds": list(seeds),
               "learning_rates": rates, "metric": metric, "split_seed": settings["split_seed"],
               "epochs": settings["epochs"],
               "finetune_seconds_median": float(np.median(seconds)),
               # The whole measurement's work, over every start that added to it.
               "work_seconds": round(progress["adaptation"]["seconds"] + sum(seconds), 1),
               "finetune_runs": len(seconds)}
    for encoder in ("published", "adapted"):
        validation = {rate: [score[encoder, rate, seed]["validation"] for seed in seeds]
                      for rate in rates}
        chosen = choose_learning_rate(validation)
        values = [score[encoder, chosen, seed]["test"] for seed in seeds]
        results[encoder] = {"learning_rate": chosen, "values": values, **summary(values),
                            "validation": {rate_key(r): v for r, v in validation.items()}}
    results["gain"] = paired_gain(results["adapted"]["values"], results["published"]["values"])
    return results


if __name__ == "__main__":
    main()

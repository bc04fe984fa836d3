"""The README's main job as a new user runs it: wall time and held-out scores over rounds.

    .venv/bin/python benchmarks/quickstart_time.py              # 3 rounds of the real quickstart
    .venv/bin/python benchmarks/quickstart_time.py --quick      # tiny settings, to check the script

Each round runs `albert-keras pretrain --config pipelines/albert_tiny.yaml` (the README's
command, in a fresh process, with nothing prepared: the records of both phases are made by the
run, as on a first run) into a folder of its own, and records the process' wall time (Python
and TensorFlow start-up, prepare, training, the held-out scores, saving), the seconds of
training steps (`summary.json` `train_seconds`), and the held-out scores the quickstart prints:
MLM accuracy against the most-frequent-token baseline and the sentence-order accuracy, with the
pretrain job's own verdict on whether the pair task was learned. Precision: the pipeline's
(`auto`: bfloat16 on CPUs with avx512_bf16/amx_bf16, else float32), recorded per figure.

One contender, so there is no comparison: the figures are median and min-max over the rounds
(`benchmarks.harness`). The scores are deterministic for the pipeline's seed, so their spread
over rounds is 0 unless something is wrong; the times' spread is the machine's.
Writes benchmarks/out/quickstart_time.json (the harness' schema).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join("pipelines", "albert_tiny.yaml")
# --quick: a few hundred documents and a few steps per phase, the pipeline's other settings.
QUICK = ["data.max_documents=150", "train.steps=6", "train.steps_per_epoch=3",
         "train.warmup_steps=1", "train.eval_batches=2",
         "train.phases=[{steps: 3, max_sequence_length: 32, max_predictions: 10, "
         "length_buckets: [16]}, {steps: 3, warmup_steps: 1}]"]


def run_quickstart(work: str, overrides: list[str]) -> dict:
    """One quickstart in a fresh process and folder; its summary.json plus `wall_seconds`."""
    command = [sys.executable, "-m", "albert_keras.cli", "pretrain", "--config", CONFIG,
               "--set", f"data.output_dir={os.path.join(work, 'tf_records')}",
               "--set", f"train.output_dir={os.path.join(work, 'runs')}"]
    for override in overrides:
        command += ["--set", override]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"the quickstart failed:\n{result.stderr[-3000:]}")
    with open(os.path.join(work, "runs", "albert_tiny", "summary.json"), encoding="utf-8") as f:
        summary = json.load(f)
    return {**summary, "wall_seconds": wall}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny settings (CI)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="a pipeline override for every round (e.g. train.precision=float32)")
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "quickstart_time.json"))
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    from albert_keras.jobs.pretrain_report import pair_task_verdict
    from benchmarks.harness import BenchmarkResult, document_name

    overrides = (QUICK if args.quick else []) + args.overrides
    result = BenchmarkResult(document_name(args.out), rounds=args.rounds, settings={
        "config": CONFIG, "overrides": overrides, "mode": "quick" if args.quick else "full"})
    runs = []
    for index in range(args.rounds):
        with tempfile.TemporaryDirectory() as work:
            runs.append(run_quickstart(work, overrides))
        print(f"round {index + 1}: {runs[-1]['wall_seconds']:.0f} s", flush=True)
    precisions = sorted({run["precision"] for run in runs})
    if len(precisions) > 1:
        raise RuntimeError(f"The rounds trained in different precisions: {precisions}")
    precision = precisions[0]

    def figure(name: str, values: list[float], unit: str, better: str) -> None:
        result.add_figure(name, values, unit=unit, better=better, precision=precision)

    figure("quickstart wall time (records prepared)", [r["wall_seconds"] for r in runs], "s",
           "lower")
    figure("seconds of training steps", [r["train_seconds"] for r in runs], "s", "lower")
    figure("held-out MLM accuracy", [r["final"]["mlm_accuracy"] for r in runs], "", "higher")
    figure("most-frequent-token baseline", [r["most_frequent_token_accuracy"] for r in runs],
           "", "higher")
    figure(f"held-out {runs[0]['pair_task'].upper()} accuracy",
           [r["final"]["pair_accuracy"] for r in runs], "", "higher")
    verdicts = sorted({pair_task_verdict(r["final"]["pair_accuracy"], r["eval_pairs"])
                       for r in runs})
    result.note(f"`albert-keras pretrain --config {CONFIG}`"
                + (" with " + " ".join(f"--set {o!r}" for o in overrides) if overrides else "")
                + f": {runs[0]['steps_run']} steps in {len(runs[0].get('phases') or [1])} "
                f"phase(s), {precision} ({runs[0]['precision_reason']}).")
    result.note("Pair task: " + "; ".join(verdicts) + ".")
    result.write(args.out)
    result.print_summary()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The quickstart's pretraining in float32 and in mixed_bfloat16, side by side (issue 16).

One command:

    .venv/bin/python benchmarks/quickstart_precision.py            # ~20 min on 2 quiet cores
    .venv/bin/python benchmarks/quickstart_precision.py --steps 20 # seconds, to check the script

Runs `albert-keras pretrain --config pipelines/albert_tiny.yaml` (one phase of `--steps`) once per
precision and round, alternated (A B, then B A, ...), each in its own process, on the same records
(prepared once before the first timed run), seed, batches and steps. Reports per precision the
final MLM loss and accuracy on the run's 10 fixed held-out batches and the seconds of training
steps (`summary.json` `train_seconds`), then the goals: bf16 loss within 1% of float32, bf16 steps
at least 1.3x as fast. Measured through `benchmarks.harness`: each figure is the median and min-max
of its rounds, the speed ratio bf16 / float32 is taken per round and given the harness' verdict.
Writes benchmarks/out/quickstart_precision.json (the harness' schema).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRECISIONS = ("float32", "mixed_bfloat16")


def run_pretrain(work: str, precision: str, round_index: int, steps: int) -> dict:
    """One quickstart pretraining run in a fresh process; returns its summary.json."""
    output_dir = os.path.join(work, f"runs-{precision}-{round_index}")
    command = [sys.executable, "-m", "albert_keras.cli", "pretrain",
               "--config", os.path.join(REPO, "pipelines", "albert_tiny.yaml"),
               "--set", f"data.output_dir={os.path.join(work, 'records')}",
               "--set", f"train.output_dir={output_dir}",
               "--set", f"train.precision={precision}",
               "--set", f"train.steps={steps}", "--set", "train.phases=[]",
               "--set", f"train.steps_per_epoch={min(50, steps)}",
               "--set", f"train.warmup_steps={min(50, steps // 2)}",
               "--set", "train.verbose=0"]
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if result.returncode != 0:
        raise RuntimeError(f"pretrain ({precision}) failed:\n{result.stderr[-3000:]}")
    with open(os.path.join(output_dir, "albert_tiny", "summary.json"), encoding="utf-8") as f:
        return json.load(f)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds (>= 3)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "quickstart_precision.json"))
    args = parser.parse_args(argv)
    sys.path.insert(0, REPO)
    from benchmarks.harness import BenchmarkResult, run_rounds

    result = BenchmarkResult("quickstart_precision", rounds=args.rounds, settings={
        "config": "pipelines/albert_tiny.yaml", "steps": args.steps})
    with tempfile.TemporaryDirectory() as work:
        # Records are prepared by the first run; an untimed short run makes them, so every
        # timed run starts from the same files.
        run_pretrain(work, "float32", -1, steps=2)
        counter = iter(range(10**6))
        runs = run_rounds({precision: (lambda precision=precision: run_pretrain(
            work, precision, next(counter), args.steps)) for precision in PRECISIONS},
            args.rounds, log=lambda line: print(line[:200], flush=True))
    for precision, summaries in runs.items():
        result.add_figure(f"{precision} seconds of training steps",
                          [s["train_seconds"] for s in summaries], unit="s", better="lower",
                          precision=precision, device="CPU")
        result.add_figure(f"{precision} final MLM loss",
                          [s["final"]["mlm_loss"] for s in summaries], unit="", better="lower",
                          precision=precision, device="CPU")
        result.add_figure(f"{precision} final MLM accuracy",
                          [s["final"]["mlm_accuracy"] for s in summaries], unit="",
                          precision=precision, device="CPU")
    speed = result.add_comparison("mixed_bfloat16 vs float32 training steps",
                                  "mixed_bfloat16 seconds of training steps",
                                  "float32 seconds of training steps", goal=1.3)
    speed["goal_met_every_round"] = min(speed["speed_ratio_rounds"]) >= 1.3
    losses = [(b["final"]["mlm_loss"] - a["final"]["mlm_loss"]) / a["final"]["mlm_loss"]
              for a, b in zip(runs["float32"], runs["mixed_bfloat16"])]
    result.add_figure("bf16 MLM loss change vs float32", losses, unit="fraction",
                      better="lower", precision="mixed_bfloat16", device="CPU",
                      goal="within +-1% in every round",
                      goal_met_every_round=all(abs(x) <= 0.01 for x in losses))
    result.note("Loss change per round: (bf16 loss - float32 loss) / float32 loss of the same "
                "round; goal within 1%. Speed goal: bf16 at least 1.3x float32 in every round.")
    result.write(args.out)
    result.print_summary(comparisons=False)
    print(f"bf16 speed vs float32: {speed['median']:.2f}x ({speed['min']:.2f}-{speed['max']:.2f})"
          f" {speed['verdict']}; goal 1.3x in every round: {speed['goal_met_every_round']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

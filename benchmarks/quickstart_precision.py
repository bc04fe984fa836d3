"""The quickstart's pretraining in float32 and in mixed_bfloat16, side by side (issue 16).

One command:

    .venv/bin/python benchmarks/quickstart_precision.py            # ~20 min on 2 quiet cores
    .venv/bin/python benchmarks/quickstart_precision.py --steps 20 # seconds, to check the script

Runs `albert-keras pretrain --config pipelines/albert_tiny.yaml` once per precision and round,
alternated (A B, then B A, ...), each in its own process, on the same records (prepared once
before the first timed run), seed, batches and steps. Reports per precision the final MLM loss
and accuracy on the run's 10 fixed held-out batches and the seconds of training steps
(`summary.json` `train_seconds`), then the goals: bf16 loss within 1% of float32, bf16 steps
at least 1.3x as fast (medians over rounds). Writes benchmarks/out/quickstart_precision.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
               "--set", f"train.steps={steps}",
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
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "quickstart_precision.json"))
    args = parser.parse_args(argv)

    runs = {precision: [] for precision in PRECISIONS}
    with tempfile.TemporaryDirectory() as work:
        # Records are prepared by the first run; an untimed short run makes them, so every
        # timed run starts from the same files.
        run_pretrain(work, "float32", -1, steps=2)
        for round_index in range(args.rounds):
            order = PRECISIONS if round_index % 2 == 0 else PRECISIONS[::-1]
            for precision in order:
                summary = run_pretrain(work, precision, round_index, args.steps)
                row = {"round": round_index, "precision": summary["precision"],
                       "train_seconds": summary["train_seconds"],
                       "mlm_loss": summary["final"]["mlm_loss"],
                       "mlm_accuracy": summary["final"]["mlm_accuracy"],
                       "initial_mlm_loss": summary["initial"]["mlm_loss"]}
                runs[precision].append(row)
                print(json.dumps(row), flush=True)

    medians = {precision: {key: statistics.median(row[key] for row in rows)
                           for key in ("train_seconds", "mlm_loss", "mlm_accuracy")}
               for precision, rows in runs.items()}
    f32, bf16 = medians["float32"], medians["mixed_bfloat16"]
    loss_change = (bf16["mlm_loss"] - f32["mlm_loss"]) / f32["mlm_loss"]
    speedup = f32["train_seconds"] / bf16["train_seconds"]
    round_speedups = [a["train_seconds"] / b["train_seconds"]
                      for a, b in zip(runs["float32"], runs["mixed_bfloat16"])]
    results = {"steps": args.steps, "rounds": args.rounds, "runs": runs, "medians": medians,
               "bf16_loss_change": loss_change, "loss_within_1_percent": abs(loss_change) <= 0.01,
               "speedup": speedup, "round_speedups": round_speedups,
               "speedup_at_least_1_3": speedup >= 1.3}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    print(f"\nwrote {args.out}\n")
    print("| precision | final MLM loss (rounds) | MLM accuracy | s of steps (rounds) |")
    print("|---|---|---|---|")
    for precision, rows in runs.items():
        losses = ", ".join(f"{row['mlm_loss']:.4f}" for row in rows)
        seconds = ", ".join(f"{row['train_seconds']:.0f}" for row in rows)
        print(f"| {precision} | {losses} | {medians[precision]['mlm_accuracy']:.4f} | {seconds} |")
    print(f"\nbf16 loss vs float32: {loss_change:+.2%} (goal within 1%: "
          f"{'met' if results['loss_within_1_percent'] else 'NOT met'})")
    rounds = ", ".join(f"{ratio:.2f}" for ratio in round_speedups)
    print(f"bf16 speed: {speedup:.2f}x float32 (rounds {rounds}; goal 1.3x: "
          f"{'met' if results['speedup_at_least_1_3'] else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per-op profile of a train step: where the time of ours and keras-hub's goes.

For each contender (implementation x model, built, compiled and fed one fixed batch by
`train_step_throughput.py`'s functions: same models, LAMB, losses), one child process:

- times `--timing-steps` steps after warmup, `jit_compile=False`, without the profiler;
- profiles `--steps` more steps of that model with `tf.profiler.experimental` and reads the
  op times out of the trace with `op_profile.parse_xplane` (see there how ops are counted);
- times a fresh model compiled with `jit_compile=True` (XLA), without the profiler.

Prints, side by side, the time per step by category (matmul; attention softmax with its scaling,
masking and gradient; layer norm; GELU; dropout; other elementwise; gather/scatter/embedding;
optimizer update; loss/metrics; other), by phase (forward = the model's and the loss' scopes;
backward = `gradient_tape/` and the tape's sums of gradients; optimizer = the optimizer's scope
and other Assign*/ResourceApply*; other) and by op type;
the matmul FLOP/s (`train_step_flops` over the time some matmul runs) against the dense-matmul
limit (`benchmarks.harness.matmul_limits`, median of its rounds), the share of the step with no
matmul running, and jit off vs on.

    .venv/bin/python benchmarks/train_step_profile.py              # bert_base, albert_base
    .venv/bin/python benchmarks/train_step_profile.py --small      # tiny albert_base: checks it
    .venv/bin/python benchmarks/train_step_profile.py --models albert_base \
        --implementations albert_keras

Writes `benchmarks/out/train_step_profile.json` and keeps the traces (TensorBoard's profile
plugin reads them) under `benchmarks/out/train_step_profile_traces/`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import gc
import glob
import json
import os
import shutil
import subprocess
import sys

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCHMARKS)
sys.path[:0] = [ROOT, BENCHMARKS]  # Runs from a checkout without `pip install -e .`.
import train_step_throughput as throughput  # noqa: E402
from op_profile import CATEGORIES, PHASES, parse_xplane  # noqa: E402

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="default: bert_base,albert_base; albert_base with --small")
    parser.add_argument("--implementations", default=",".join(throughput.IMPLEMENTATIONS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--predictions", type=int, default=20, help="masked positions per sequence")
    parser.add_argument("--steps", type=int, default=3, help="profiled steps per contender")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--timing-steps", type=int, default=5,
                        help="timed steps (no profiler) per contender and jit_compile setting")
    parser.add_argument("--precision", default="float32",
                        choices=("float32", "mixed_bfloat16", "mixed_float16"))
    parser.add_argument("--small", action="store_true",
                        help="tiny models, two processes at a time: checks the script (~30 s)")
    parser.add_argument("--out", default=os.path.join(BENCHMARKS, "out", "train_step_profile.json"))
    parser.add_argument("--traces", default=os.path.join(BENCHMARKS, "out",
                                                         "train_step_profile_traces"))
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # Child process: impl:model.
    args = parser.parse_args(argv)
    args.models = args.models or ("albert_base" if args.small else ",".join(throughput.MODELS))
    if args.measure:
        implementation, model = args.measure.split(":")
        if implementation == "matmul":
            print(json.dumps(_matmul_limit(args.precision)))
        else:
            print(json.dumps(profile(implementation, model, args)))
        return 0

    from benchmarks.harness import fingerprint

    results = {"machine": fingerprint(matmul=False), "settings": {
        k: getattr(args, k) for k in ("batch_size", "sequence_length", "predictions", "steps",
                                      "warmup_steps", "timing_steps", "precision", "small")}}
    jobs = [("matmul", "none")] + [(implementation, model) for model in args.models.split(",")
                                   for implementation in args.implementations.split(",")]
    # One at a time; --small runs two at a time (its numbers only check the script).
    with concurrent.futures.ThreadPoolExecutor(2 if args.small else 1) as pool:
        futures = [pool.submit(_child, *job, args) for job in jobs]
        try:
            results["matmul"], *runs = [future.result() for future in futures]
        except BaseException:
            pool.shutdown(cancel_futures=True)  # A failed or interrupted run starts no more.
            raise
    limit = results["matmul"]["flops_per_second"]
    for run in runs:
        _add_rates(run, limit)
    results["runs"] = runs
    _print_tables(runs, limit)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    print(f"wrote {args.out}")
    return 0


def _matmul_limit(precision: str) -> dict:
    """The harness' matmul limit in the run's compute dtype (median of its rounds; float16
    runs are held against the float32 limit, the harness measures float32 and bfloat16)."""
    from benchmarks.harness import matmul_limits

    dtype = "bfloat16" if precision == "mixed_bfloat16" else "float32"
    limit = matmul_limits()[dtype]
    return {**limit, "dtype": dtype, "flops_per_second": limit["median"]}


def _child(implementation: str, model: str, args) -> dict:
    """Measures one contender (or the matmul limit) in a fresh process: runs don't mix."""
    command = [sys.executable, os.path.abspath(__file__), "--measure", f"{implementation}:{model}",
               "--batch-size", str(args.batch_size), "--sequence-length", str(args.sequence_length),
               "--predictions", str(args.predictions), "--steps", str(args.steps),
               "--warmup-steps", str(args.warmup_steps), "--timing-steps", str(args.timing_steps),
               "--precision", args.precision, "--traces", args.traces] + ["--small"] * args.small
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(f"measurement {implementation}:{model} failed:\n"
                           f"{result.stderr[-4000:]}")
    print(f"measured {implementation}:{model}", flush=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def _add_rates(run: dict, limit: float) -> None:
    wall = run["step_seconds"]
    matmul = run["by_category"]["matmul"]
    run["matmul_flops_per_second"] = run["flops_per_step"] / run["matmul_seconds_busy"]
    run["matmul_flops_per_second_summed"] = run["flops_per_step"] / matmul["summed"]
    run["matmul_fraction_of_limit"] = run["matmul_flops_per_second"] / limit
    run["non_matmul_share_of_step"] = 1 - run["matmul_seconds_busy"] / wall
    run["step_fraction_of_limit_jit_off"] = (
        run["flops_per_step"] / run["seconds_per_step_jit_off"] / limit)
    run["step_fraction_of_limit_jit_on"] = (
        run["flops_per_step"] / run["seconds_per_step_jit_on"] / limit)


# === Child process ===

def profile(implementation: str, model: str, args) -> dict:
    """Times steps with jit_compile off (then profiles them) and on, each on a fresh model."""
    import tensorflow as tf

    from albert_keras.models.encoder_config import EncoderConfig

    config = EncoderConfig.preset(model, **throughput._small_overrides(args))
    pretrainer, dataset = _fitted(implementation, config, args, jit_compile=False)
    seconds_jit_off = _seconds_per_step(pretrainer, dataset, args.timing_steps)
    logdir = os.path.join(args.traces, f"{implementation}_{model}")
    shutil.rmtree(logdir, ignore_errors=True)
    tf.profiler.experimental.start(logdir)
    fit_seconds = _seconds_per_step(pretrainer, dataset, args.steps)
    tf.profiler.experimental.stop()
    paths = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)
    if len(paths) != 1:
        raise RuntimeError(f"expected one *.xplane.pb under {logdir}. Received: {paths}")
    optimizer = pretrainer.optimizer
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer.
    result = parse_xplane(paths[0], args.steps, pretrainer.name, optimizer.name)
    del pretrainer, dataset
    gc.collect()  # Frees the first model before the second is built.
    pretrainer, dataset = _fitted(implementation, config, args, jit_compile=True)
    seconds_jit_on = _seconds_per_step(pretrainer, dataset, args.timing_steps)
    flops = throughput.train_step_flops(config, args.batch_size, args.sequence_length,
                                        args.predictions)
    return {"implementation": implementation, "model": model, "flops_per_step": flops,
            "seconds_per_step_jit_off": seconds_jit_off, "seconds_per_step_jit_on": seconds_jit_on,
            "fit_seconds_per_step_profiled": fit_seconds, "trace": paths[0], **result}


def _fitted(implementation: str, config, args, jit_compile: bool):
    """The contender built and compiled as `train_step_throughput` does, after warmup steps."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    dtype = None if args.precision == "float32" else args.precision
    pretrainer = (throughput._ours(config, dtype) if implementation == "albert_keras"
                  else throughput._keras_hub(config, dtype))
    throughput._compile(pretrainer, _with_jit(args, jit_compile))
    dataset = tf.data.Dataset.from_tensors(throughput._batch(config, args)).repeat()
    pretrainer.fit(dataset, steps_per_epoch=args.warmup_steps, epochs=1, verbose=0)
    return pretrainer, dataset


def _with_jit(args, jit_compile: bool) -> argparse.Namespace:
    """`args` with the `jit_compile` field that `train_step_throughput`'s functions read."""
    return argparse.Namespace(**{**vars(args), "jit_compile": jit_compile})


def _seconds_per_step(pretrainer, dataset, steps: int) -> float:
    clock = throughput._step_clock()  # Steps only: not fit's start and end.
    pretrainer.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock])
    return clock.seconds_per_step()


def _print_tables(runs: list[dict], limit: float) -> None:
    names = [f"{r['implementation']} {r['model']}" for r in runs]
    width = max(22, *(len(n) + 2 for n in names))

    def table(title: str, rows: list[tuple[str, list[str]]]) -> None:
        label_width = max(32, *(len(label) + 1 for label, _ in rows))
        print(f"\n{title}\n{'':<{label_width}}" + "".join(f"{n:>{width}}" for n in names))
        for label, cells in rows:
            print(f"{label:<{label_width}}" + "".join(f"{c:>{width}}" for c in cells))

    def each(format_run) -> list[str]:
        return [format_run(r) for r in runs]

    def time_share(seconds: float, run: dict) -> str:
        return f"{1e3 * seconds:9.1f} ms {100 * seconds / run['step_seconds']:5.1f}%"

    def attributed(key: str, label: str):
        return lambda r: time_share(r[key].get(label, {"attributed": 0.0})["attributed"], r)

    idle = ("(no op running)", each(lambda r: time_share(r["step_seconds"] - r["op_seconds_busy"],
                                                         r)))
    for key, labels in (("by_category", CATEGORIES), ("by_phase", PHASES)):
        table(f"{key.replace('_', ' ')}: attributed time per step, % of the step",
              [(label, each(attributed(key, label))) for label in labels] + [idle])
    top = sorted({t for r in runs for t in list(r["by_type"])[:12]}, key=lambda t: -max(
        r["by_type"].get(t, {"attributed": 0.0})["attributed"] / r["step_seconds"] for r in runs))
    table("by op type (the largest): attributed time per step, % of the step",
          [(t, each(attributed("by_type", t))) for t in top])
    table(f"summary (dense matmul limit {limit / 1e9:.1f} GFLOP/s)", [
        ("step wall (profiled call)", each(lambda r: f"{1e3 * r['step_seconds']:.1f} ms")),
        ("fit wall / step (profiled)",
         each(lambda r: f"{1e3 * r['fit_seconds_per_step_profiled']:.1f} ms")),
        ("op time summed", each(lambda r: time_share(r["op_seconds_summed"], r))),
        ("op time busy (an op running)", each(lambda r: time_share(r["op_seconds_busy"], r))),
        ("ops / step", each(lambda r: f"{r['ops_per_step']:.0f}")),
        ("GFLOP / step", each(lambda r: f"{r['flops_per_step'] / 1e9:.1f}")),
        ("a matmul running", each(lambda r: time_share(r["matmul_seconds_busy"], r))),
        ("matmul GFLOP/s (matmul running)",
         each(lambda r: f"{r['matmul_flops_per_second'] / 1e9:.1f}")),
        ("  % of the matmul limit", each(lambda r: f"{100 * r['matmul_fraction_of_limit']:.1f}%")),
        ("matmul GFLOP/s (summed time)",
         each(lambda r: f"{r['matmul_flops_per_second_summed'] / 1e9:.1f}")),
        ("step share, no matmul running",
         each(lambda r: f"{100 * r['non_matmul_share_of_step']:.1f}%")),
        ("step, no profiler, jit off",
         each(lambda r: f"{1e3 * r['seconds_per_step_jit_off']:.1f} ms")),
        ("step, no profiler, jit on",
         each(lambda r: f"{1e3 * r['seconds_per_step_jit_on']:.1f} ms")),
        ("  jit on / jit off", each(
            lambda r: f"{r['seconds_per_step_jit_on'] / r['seconds_per_step_jit_off']:.3f}")),
        ("step % of limit, jit off",
         each(lambda r: f"{100 * r['step_fraction_of_limit_jit_off']:.1f}%")),
        ("step % of limit, jit on",
         each(lambda r: f"{100 * r['step_fraction_of_limit_jit_on']:.1f}%"))])
    for run, name in zip(runs, names):
        print(f"\n{name}: category x phase, attributed ms per step")
        print(f"{'':<26}" + "".join(f"{p:>12}" for p in PHASES))
        for category in CATEGORIES:
            cells = [run["by_category_phase"].get(f"{category}|{p}", {"attributed": 0.0})
                     for p in PHASES]
            print(f"{category:<26}" + "".join(f"{1e3 * c['attributed']:12.1f}" for c in cells))
        print(f"\n{name}: the largest ops (layers summed), ms per step: attributed, summed, count")
        for op, row in list(run["by_name"].items())[:15]:
            tail = "/".join(op.split("/")[-5:])
            print(f"{1e3 * row['attributed']:9.1f} {1e3 * row['summed']:9.1f} {row['count']:5.0f}  "
                  f"{'bwd ' if 'gradient_tape/' in op else ''}{tail}")
        if run["dropped_non_leaf_ops"]:
            print(f"non-leaf op events left out: {run['dropped_non_leaf_ops']}")
        if run["op_seconds_outside_steps"]:
            print(f"op time outside the step calls: {1e3 * run['op_seconds_outside_steps']:.1f} "
                  "ms/step (not counted)")


if __name__ == "__main__":
    sys.exit(main())

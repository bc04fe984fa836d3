"""On a GPU or TPU: training tokens/s and MFU, ours vs keras-hub, serving latency, largest batch.

One command, on whatever device TensorFlow sees (issue 28):

    python benchmarks/accelerator.py                 # GPU/TPU: the full grid below
    python benchmarks/accelerator.py --models bert_base --sequence-lengths 128 --xla on
    python benchmarks/accelerator.py --quick         # CPU, tiny models: checks the script works

Measures, through `benchmarks.harness` (alternated rounds, median and min-max, verdicts):
- training tokens/s of a full train step (forward, backward, LAMB) for `bert_base`, `albert_base`
  and `albert_large` at sequence 128 and 512, in `mixed_bfloat16`, with XLA (`jit_compile`) off
  and on, ours (`Pretrainer`) against keras-hub's backbones with equivalent heads, all in the same
  run. Each measurement is a `benchmarks/train_step_throughput.py --measure` child process (the
  same models, losses and optimizer as that benchmark), so each has the device to itself;
- MFU: achieved matmul FLOP/s (`train_step_throughput.train_step_flops`) over the device's
  nominal dense bf16 peak (`NOMINAL_PEAK`, when the device is one listed there), and over the
  bf16 matmul limit measured in the same run (`harness.matmul_limits`);
- serving latency of our exported SavedModel on the device: `serve_ids` on full-length rows at
  batch 1 and 32, loaded as `tensorflow_model_server` loads it (TF1 loader in a Session);
- the largest batch that fits for each model and length: doubling from `--batch-size` until a
  step runs out of memory, then bisecting (a step of `--max-batch` rows or more is not tried).
  On a CPU the search is one probe at the batch size (it checks the search runs; host memory
  is not the question).
Anchors, not measured here: NVIDIA's TF2 BERT-large on one A100 reaches ~486 sequences/s at
sequence 128 with AMP; keras-hub on the same device is measured here, in the same run.

A full grid is 24 contenders; each contender costs a process start and a compile per round. On a
machine with a time limit, run part of it (`--models`, `--sequence-lengths`, `--xla`) per call.
Writes `benchmarks/out/accelerator.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks.harness import (BenchmarkResult, default_device, matmul_limits,  # noqa: E402
                                run_rounds)

MODELS = ("bert_base", "albert_base", "albert_large")
IMPLEMENTATIONS = ("albert_keras", "keras_hub")
PRECISION = "mixed_bfloat16"
# Dense bf16 tensor-core peaks (no sparsity), FLOP/s, from the vendors' data sheets.
NOMINAL_PEAK = {"H200": 989e12, "H100 SXM": 989e12, "H100 PCIe": 756e12, "H100": 989e12,
                "A100": 312e12, "L4": 121e12, "A10G": 70e12}
_OUT_OF_MEMORY = ("ResourceExhausted", "OOM when allocating", "out of memory")


def train_command(model: str, implementation: str, sequence_length: int, batch_size: int,
                  xla: bool, args: argparse.Namespace, steps: int | None = None) -> list[str]:
    """The `train_step_throughput.py --measure` child that times one contender."""
    command = [sys.executable, os.path.join(ROOT, "benchmarks", "train_step_throughput.py"),
               "--measure", f"{implementation}:{model}", "--batch-size", str(batch_size),
               "--sequence-length", str(sequence_length),
               "--predictions", str(max(1, round(0.15 * sequence_length))),
               "--steps", str(steps or args.steps), "--warmup-steps", str(args.warmup_steps),
               "--precision", PRECISION]
    return command + ["--jit-compile"] * xla + ["--small"] * args.quick


def run_child(command: list[str]) -> dict | None:
    """The child's measurement, or None when it ran out of memory (other failures raise)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if result.returncode:
        if any(marker in result.stderr for marker in _OUT_OF_MEMORY):
            return None
        raise RuntimeError(f"{command[2:6]} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def largest_batch(model: str, sequence_length: int, start: int, limit: int,
                  args: argparse.Namespace) -> dict:
    """Doubles the batch from `start` until a step runs out of memory, then bisects."""
    fits, fails, probes = 0, None, []
    batch = start
    while batch <= limit:
        ok = run_child(train_command(model, "albert_keras", sequence_length, batch,
                                     args.batch_search_xla, args, steps=1)) is not None
        probes.append([batch, ok])
        if not ok:
            fails = batch
            break
        fits, batch = batch, batch * 2
    while fails is not None and fails - fits > max(1, fits // 8):
        batch = (fits + fails) // 2
        ok = run_child(train_command(model, "albert_keras", sequence_length, batch,
                                     args.batch_search_xla, args, steps=1)) is not None
        probes.append([batch, ok])
        fits, fails = (batch, fails) if ok else (fits, batch)
    return {"largest_batch": fits, "first_failing_batch": fails, "searched_up_to": limit,
            "probes": probes}


def serving_latencies(config_name: str, args: argparse.Namespace, result: BenchmarkResult,
                      device: str) -> None:
    """Our SavedModel's `serve_ids` on the device, batch 1 and 32, alternated rounds."""
    import numpy as np
    import tensorflow as tf

    from albert_keras import Encoder, EncoderConfig
    from albert_keras.export import export_for_serving
    from albert_keras.tokenizers.tokenizer_training import train_tokenizer

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)
    overrides = _small() if args.quick else {}
    config = EncoderConfig.preset(config_name, **overrides)
    texts = [f"sentence number {i} of a tiny corpus for the tokenizer." for i in range(200)]
    tokenizer = train_tokenizer(texts, "sentencepiece", vocabulary_size=64)
    path = export_for_serving(Encoder(**config.to_dict()), tokenizer,
                              os.path.join(args.workdir, config_name), version=1, overwrite=True,
                              sequence_length=args.serving_sequence_length)
    session = tf.compat.v1.Session(graph=tf.Graph())
    meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], path)
    signature = meta_graph.signature_def["serve_ids"]
    fetches = [signature.outputs[name].name for name in sorted(signature.outputs)]
    rng = np.random.default_rng(0)

    def timer(batch_size: int):
        shape = (batch_size, args.serving_sequence_length)
        feed = {signature.inputs["token_ids"].name: rng.integers(5, 60, shape).astype("int32"),
                signature.inputs["segment_ids"].name: np.zeros(shape, "int32"),
                signature.inputs["padding_mask"].name: np.ones(shape, "int32")}
        for _ in range(args.serving_warmup):
            session.run(fetches, feed)

        def measure() -> list[float]:
            values = []
            for _ in range(args.serving_iterations):
                start = time.perf_counter()
                session.run(fetches, feed)
                values.append(1000.0 * (time.perf_counter() - start))
            return values
        return measure

    measured = run_rounds({f"batch {b}": timer(b) for b in (1, 32)}, args.rounds)
    for name, rounds in measured.items():
        result.add_figure(f"serving {config_name} serve_ids {name} p50",
                          [float(np.percentile(r, 50)) for r in rounds], unit="ms",
                          better="lower", precision="float32", device=device,
                          sequence_length=args.serving_sequence_length)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--sequence-lengths", default="128,512")
    parser.add_argument("--batch-sizes", default="128:32,512:8",
                        help="training batch per sequence length, LENGTH:BATCH,...")
    parser.add_argument("--xla", default="off,on", help="off, on, or off,on")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per measurement")
    parser.add_argument("--warmup-steps", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.0)
    parser.add_argument("--max-batch", type=int, default=4096,
                        help="the largest-batch search stops here")
    parser.add_argument("--batch-search-xla", action="store_true",
                        help="search the largest batch with XLA on (default off)")
    parser.add_argument("--skip-batch-search", action="store_true")
    parser.add_argument("--serving-model", default="bert_base")
    parser.add_argument("--serving-sequence-length", type=int, default=128)
    parser.add_argument("--serving-iterations", type=int, default=50)
    parser.add_argument("--serving-warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true",
                        help="CPU check: tiny albert_base only, sequence 16, few steps")
    parser.add_argument("--workdir", default=os.path.join(ROOT, "benchmarks", "out",
                                                          "accelerator_work"))
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "out",
                                                      "accelerator.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.models, args.sequence_lengths, args.batch_sizes = "albert_base", "16", "16:4"
        args.steps, args.warmup_steps, args.serving_iterations = 3, 1, 10
        args.serving_model, args.serving_sequence_length, args.serving_warmup = (
            "albert_base", 16, 2)
    models = args.models.split(",")
    lengths = [int(s) for s in args.sequence_lengths.split(",")]
    batches = dict(tuple(int(x) for x in pair.split(":")) for pair in args.batch_sizes.split(","))
    xla_modes = [mode == "on" for mode in args.xla.split(",")]
    device = default_device()
    result = BenchmarkResult("accelerator", rounds=args.rounds, settings={
        "models": models, "sequence_lengths": lengths, "batch_sizes": batches,
        "xla": args.xla, "precision": PRECISION, "steps": args.steps,
        "warmup_steps": args.warmup_steps, "quick": args.quick, "device": device,
        "tolerance": args.tolerance})
    if device == "CPU":
        result.note("No accelerator: this run only checks that the script works (tiny models "
                    "with --quick); its figures say nothing about a GPU or TPU.")

    contenders = {}
    for model in models:
        for length in lengths:
            for xla in xla_modes:
                for implementation in IMPLEMENTATIONS:
                    name = f"{implementation} {model} seq{length} xla {'on' if xla else 'off'}"
                    command = train_command(model, implementation, length, batches[length], xla,
                                            args)
                    contenders[name] = (lambda command=command: run_child(command))
    measured = run_rounds(contenders, args.rounds,
                          log=lambda line: print(line[:160], file=sys.stderr, flush=True))
    limits = result.matmul_limits = matmul_limits()
    peak = next((value for key, value in NOMINAL_PEAK.items() if key in device), None)
    result.settings["nominal_bf16_peak_flops"] = peak
    for name, runs in measured.items():
        if any(run is None for run in runs):
            result.note(f"{name}: out of memory in some round at its batch size; not reported.")
            continue
        rates = [run["tokens_per_second"] for run in runs]
        flops_per_token = runs[0]["flops_per_step"] / runs[0]["tokens_per_step"]
        result.add_figure(f"{name} tokens/s", rates, unit="tokens/s", precision=PRECISION,
                          device=device, parameters=runs[0]["parameters"],
                          peak_memory_bytes=[run["peak_memory_bytes"] for run in runs])
        result.add_figure(f"{name} fraction of bf16 matmul limit",
                          [rate * flops_per_token / limits["bfloat16"]["median"]
                           for rate in rates], unit="fraction", precision=PRECISION,
                          device=device)
        if peak:
            result.add_figure(f"{name} MFU", [rate * flops_per_token / peak for rate in rates],
                              unit="fraction", precision=PRECISION, device=device,
                              nominal_peak_flops=peak)
    for name in measured:
        if name.startswith("albert_keras") and f"{name} tokens/s" in result.figures:
            hub = name.replace("albert_keras", "keras_hub", 1)
            if f"{hub} tokens/s" in result.figures:
                result.add_comparison(f"{name.split(' ', 1)[1]} tokens/s ours vs keras_hub",
                                      f"{name} tokens/s", f"{hub} tokens/s", args.tolerance)
    if not args.skip_batch_search:
        limit = args.max_batch if device != "CPU" else min(batches.values())
        for model in models:
            for length in lengths:
                search = largest_batch(model, length, batches[length], limit, args)
                result.settings.setdefault("largest_batch", {})[f"{model} seq{length}"] = search
                result.note(f"Largest batch that fits, {model} seq{length} ({PRECISION}, XLA "
                            f"{'on' if args.batch_search_xla else 'off'}, ours): "
                            f"{search['largest_batch']} (first failing: "
                            f"{search['first_failing_batch']}, searched up to {limit}).")
                print(f"largest batch {model} seq{length}: {search}", file=sys.stderr, flush=True)
    serving_latencies(args.serving_model, args, result, device)
    result.note("Anchor (not measured here): NVIDIA's TF2 BERT-large, one A100, AMP, sequence "
                "128: ~486 sequences/s.")
    result.write(args.out)
    result.print_summary()
    print(f"wrote {args.out}")
    return 0


def _small() -> dict:
    """The tiny model of `train_step_throughput.py --small` (vocabulary 8192, hidden 64)."""
    return dict(vocabulary_size=8192, num_layers=2, num_heads=2, hidden_dim=64,
                intermediate_dim=128, max_sequence_length=512)


if __name__ == "__main__":
    sys.exit(main())

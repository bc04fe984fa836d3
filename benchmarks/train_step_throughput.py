"""Train-step throughput of our Pretrainer vs keras-hub's backbones with equivalent heads.

One command measures, in one run and on one machine:

- tokens/s of a full train step (forward + backward + LAMB update) for `bert_base` and
  `albert_base` at sequence length 128: ours (`Encoder` + `Pretrainer`) and keras-hub's
  `BertBackbone` / `AlbertBackbone` with an equivalent masked-LM head (keras-hub `MaskedLMHead`
  tied to the token embedding, gathered at the masked positions) and pair head, the same losses
  and the same optimizer;
- the dense-matmul FLOP/s this machine reaches (its practical limit), so that each step's
  achieved FLOP/s can be given as a fraction of it (MFU on a GPU);
- peak memory of each training run (each measurement runs in its own process);
- with `--records`, useful (non-padding) tokens/s on batches of real pretraining records, as
  our reader makes them: padded to the full length (what keras-hub and ours get without
  bucketing) and length-bucketed (`pretraining_dataset(..., length_buckets=...)`).

    python benchmarks/train_step_throughput.py              # the real measurement
    python benchmarks/train_step_throughput.py --precisions float32,mixed_bfloat16 \
        --accumulation 1,4 --repeats 5                      # rows per precision and accumulation
    python benchmarks/train_step_throughput.py --records 'tf_records/albert_tiny/*.tfrecord'
    python benchmarks/train_step_throughput.py --small      # tiny models: checks the script works
    python benchmarks/train_step_throughput.py --precision mixed_bfloat16 --jit-compile  # GPU

The equal-work contenders run in rounds: every contender once per round, the order reversed
every other round (ABBA...), each in its own process. A ratio (ours / keras-hub) is taken within
each round and reported as the median over rounds with its lowest and highest value; when that
range is wider than `--spread-limit` either side of the median and straddles 1.0, the run says
it cannot conclude. Gradient accumulation rows: ours computes `--batch-size` x N rows per step as
N micro-batches (`use_gradient_accumulation`); keras-hub runs N `fit` steps of `--batch-size`
rows with Keras' `Optimizer(gradient_accumulation_steps=N)`: the same rows per update.

Writes `benchmarks/out/train_step_throughput.json` and prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # Runs from a checkout without `pip install -e .`.
MODELS = ("bert_base", "albert_base")
IMPLEMENTATIONS = ("albert_keras", "keras_hub")
# Real-record contenders: (implementation, batches). keras-hub has no pretraining reader, so
# its users pad; the bucketed keras-hub row shows how much of the gain is the reader's.
RECORD_CONTENDERS = (("albert_keras", "padded"), ("keras_hub", "padded"),
                     ("albert_keras", "bucketed"), ("keras_hub", "bucketed"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--predictions", type=int, default=20, help="masked positions per sequence")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per measurement")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5,
                        help="rounds: measurements per contender, alternated; medians count")
    parser.add_argument("--precisions", default="float32",
                        help="comma-separated: float32, mixed_bfloat16, mixed_float16, auto")
    parser.add_argument("--accumulation", default="1",
                        help="comma-separated gradient accumulation steps, e.g. 1,4")
    parser.add_argument("--spread-limit", type=float, default=0.05,
                        help="half-range of a ratio's rounds, relative to its median, beyond "
                             "which a ratio that straddles 1.0 is called inconclusive")
    parser.add_argument("--precision", default="float32", help=argparse.SUPPRESS)  # Child.
    parser.add_argument("--accumulation-steps", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--small", action="store_true", help="tiny models, to check the script")
    parser.add_argument("--records", help="TFRecord glob of real pretraining data (e.g. "
                        "'tf_records/albert_tiny/*.tfrecord'): also measure useful (non-padding) "
                        "tokens/s on its batches, padded and length-bucketed")
    parser.add_argument("--length-buckets", default="32,64,96",
                        help="bucket lengths of the bucketed reader (the full length is added)")
    parser.add_argument("--record-steps", type=int, default=24,
                        help="timed steps per real-record measurement")
    parser.add_argument("--skip-equal-work", action="store_true",
                        help="only the real-record measurements")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "out",
                                                      "train_step_throughput.json"))
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # Child: impl:model[:batches].
    args = parser.parse_args(argv)
    if args.measure:
        implementation, model, *batches = args.measure.split(":")
        print(json.dumps(measure(implementation, model, args, *batches)))
        return 0

    precisions = [_resolved(p) for p in args.precisions.split(",")]
    accumulations = [int(a) for a in args.accumulation.split(",")]
    results = {"machine": _machine(), "settings": {
        k: getattr(args, k) for k in ("batch_size", "sequence_length", "predictions", "steps",
                                      "warmup_steps", "repeats", "jit_compile", "small",
                                      "records", "length_buckets", "record_steps",
                                      "spread_limit")}}
    results["settings"].update(precisions=precisions, accumulation=accumulations)
    results["matmul"] = {precision: _child(["--measure", "matmul:none"], args, precision)
                         for precision in precisions}
    contenders = [] if args.skip_equal_work else [
        (implementation, model, precision, steps) for precision in precisions
        for steps in accumulations for model in args.models.split(",")
        for implementation in IMPLEMENTATIONS]
    if args.records:
        contenders += [(implementation, model, precisions[0], 1, batches)
                       for model in args.models.split(",")
                       for implementation, batches in RECORD_CONTENDERS]
    rounds: dict[tuple, list[dict]] = {key: [] for key in contenders}
    for index in range(args.repeats):  # ABBA: the order flips every other round.
        for key in (contenders if index % 2 == 0 else contenders[::-1]):
            implementation, model, precision, steps, *batches = key
            rounds[key].append(_child(
                ["--measure", ":".join([implementation, model, *batches])], args, precision,
                steps))
    runs = []
    for key, measured in rounds.items():
        run = dict(min(measured, key=lambda r: abs(r["tokens_per_second"] - statistics.median(
            m["tokens_per_second"] for m in measured))))  # The median round's measurement.
        run["tokens_per_second_rounds"] = [m["tokens_per_second"] for m in measured]
        run["tokens_per_second"] = statistics.median(run["tokens_per_second_rounds"])
        if "useful_tokens_per_second" in run:
            run["useful_tokens_per_second"] = statistics.median(
                m["useful_tokens_per_second"] for m in measured)
        run["flops_per_second"] = run["flops_per_step"] * run["tokens_per_second"] / run["tokens_per_step"]
        runs.append(run)
    for run in runs:
        limit = results["matmul"][run["precision"]]["flops_per_second"]
        run["fraction_of_matmul_limit"] = run["flops_per_second"] / limit
        useful = (f"{run['useful_tokens_per_second']:>8.0f} useful tokens/s "
                  f"({run['batches']}, {100 * run['real_token_share']:.1f}% real)  "
                  if "batches" in run else "")
        print(f"{run['implementation']:>12} {run['model']:<12} {run['precision']:<14} "
              f"x{run['accumulation_steps']} {run['tokens_per_second']:>8.0f} tokens/s  {useful}"
              f"{run['flops_per_second'] / 1e9:6.1f} GFLOP/s  "
              f"{100 * run['fraction_of_matmul_limit']:5.1f}% of matmul limit  "
              f"peak memory {run['peak_memory_bytes'] / 2**20:,.0f} MiB", flush=True)
    results["runs"] = runs
    results["ratios"] = _ratios(runs)
    results["round_ratios"] = _round_ratios(rounds, args.spread_limit)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    for precision, matmul in results["matmul"].items():
        print(f"dense matmul limit {precision}: {matmul['flops_per_second'] / 1e9:.1f} GFLOP/s")
    for name, value in results["ratios"].items():
        print(f"{name}: {value:.3f}")
    for name, ratio in results["round_ratios"].items():
        print(f"{name}: median {ratio['median']:.3f} (rounds {ratio['low']:.3f}-"
              f"{ratio['high']:.3f}): {ratio['verdict']}")
    print(f"wrote {args.out}")
    return 0


def _resolved(precision: str) -> str:
    if precision != "auto":
        return precision
    from albert_keras.training.precision import resolve_precision

    return resolve_precision("auto")[0]


def _round_ratios(rounds: dict, spread_limit: float) -> dict:
    """Ours / keras-hub tokens/s per round, for each equal-work pair: median, range, verdict."""
    ratios = {}
    for key, ours in rounds.items():
        implementation, model, precision, steps, *batches = key
        hub = rounds.get(("keras_hub", model, precision, steps, *batches))
        if implementation != "albert_keras" or batches or not hub:
            continue
        values = [a["tokens_per_second"] / b["tokens_per_second"] for a, b in zip(ours, hub)]
        median, low, high = statistics.median(values), min(values), max(values)
        half_range = max(median - low, high - median) / median
        if low > 1.0:
            verdict = "ours faster in every round"
        elif high < 1.0:
            verdict = "keras-hub faster in every round"
        elif half_range <= spread_limit:
            verdict = f"level (within +-{100 * half_range:.1f}%)"
        else:
            verdict = (f"cannot conclude: rounds spread +-{100 * half_range:.1f}% around the "
                       f"median, beyond the {100 * spread_limit:.0f}% limit")
        name = f"{model} {precision} x{steps} tokens/s ours / keras-hub"
        ratios[name] = {"median": median, "low": low, "high": high, "rounds": values,
                        "verdict": verdict}
    return ratios


def _child(extra: list[str], args, precision: str = "float32", accumulation: int = 1) -> dict:
    """Runs one measurement in a fresh process, so peak memory is its own."""
    command = [sys.executable, os.path.abspath(__file__), *extra,
               "--batch-size", str(args.batch_size), "--sequence-length", str(args.sequence_length),
               "--predictions", str(args.predictions), "--steps", str(args.steps),
               "--warmup-steps", str(args.warmup_steps), "--precision", precision,
               "--accumulation-steps", str(accumulation),
               "--length-buckets", args.length_buckets, "--record-steps", str(args.record_steps)]
    command += ["--jit-compile"] * args.jit_compile + ["--small"] * args.small
    command += ["--records", args.records] if args.records else []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode:
        raise RuntimeError(f"measurement {extra} failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _ratios(runs: list[dict]) -> dict[str, float]:
    first = min((r["precision"], r["accumulation_steps"]) for r in runs)  # float32 x1 if run.
    by = {(r["implementation"], r["model"]): r for r in runs if "batches" not in r
          and (r["precision"], r["accumulation_steps"]) == first}
    real = {(r["implementation"], r["model"], r["batches"]): r for r in runs if "batches" in r}
    ratios = {}
    for model in sorted({r["model"] for r in real.values()}):
        useful = {key[0:1] + key[2:]: r["useful_tokens_per_second"] for key, r in real.items()
                  if key[1] == model}
        ours = useful.get(("albert_keras", "bucketed"))
        for other in (("keras_hub", "padded"), ("albert_keras", "padded")):
            if ours and other in useful:
                ratios[f"{model} useful tokens/s ours bucketed / {' '.join(other)}"] = (
                    ours / useful[other])
    for run in runs:
        if run["implementation"] == "albert_keras" and "batches" not in run:
            ratios[f"{run['model']} {run['precision']} x{run['accumulation_steps']} ours "
                   "fraction of matmul limit"] = run["fraction_of_matmul_limit"]
    for implementation in IMPLEMENTATIONS:
        bert, albert = by.get((implementation, "bert_base")), by.get((implementation, "albert_base"))
        if bert and albert:
            ratios[f"{implementation} peak memory bert_base / albert_base"] = (
                bert["peak_memory_bytes"] / albert["peak_memory_bytes"])
            ratios[f"{implementation} tokens/s albert_base / bert_base"] = (
                albert["tokens_per_second"] / bert["tokens_per_second"])
    return ratios


def _machine() -> dict:
    import tensorflow as tf

    from albert_keras.training.precision import BF16_CPU_FLAGS, read_cpu_flags

    flags = read_cpu_flags()
    return {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "tensorflow": tf.__version__,
            "cpu_bf16_flags": sorted(f for f in BF16_CPU_FLAGS if f in flags),
            "cpu_flags": sorted(f for f in flags if f.startswith(("avx", "amx", "fma"))),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


# === Child process ===

def measure(implementation: str, model: str, args, batches: str | None = None) -> dict:
    import keras
    import tensorflow as tf

    if implementation == "matmul":
        return _matmul_limit(args)
    from albert_keras.models.encoder_config import EncoderConfig

    config = EncoderConfig.preset(model, **_small_overrides(args))
    keras.utils.set_random_seed(0)
    dtype = None if args.precision == "float32" else args.precision
    pretrainer = (_ours(config, dtype) if implementation == "albert_keras"
                  else _keras_hub(config, dtype))
    accumulation = args.accumulation_steps
    _compile(pretrainer, args, implementation, accumulation)
    rows = args.batch_size
    if batches is None:  # One fixed synthetic batch: equal work for every contender.
        steps = args.steps
        if implementation == "albert_keras":  # One step of N micro-batches...
            rows = args.batch_size * accumulation
        else:  # ...or N steps of one, Keras' optimizer updating every N-th.
            steps *= accumulation
        warmup = tf.data.Dataset.from_tensors(_batch(config, args, rows)).repeat()
        timed, shapes = warmup, [(args.sequence_length, args.predictions)] * steps
    else:
        steps = args.record_steps
        warmup, timed, shapes, real_tokens = _record_batches(args, batches, steps)
    warmup_steps = args.warmup_steps * (accumulation if rows == args.batch_size else 1)
    pretrainer.fit(warmup, steps_per_epoch=warmup_steps, epochs=1, verbose=0)
    clock = _step_clock()
    pretrainer.fit(timed, steps_per_epoch=steps, epochs=1, verbose=0, callbacks=[clock])
    seconds = clock.seconds_per_step()
    tokens = sum(rows * length for length, _ in shapes) / steps
    flops = sum(train_step_flops(config, rows, length, predictions)
                for length, predictions in shapes) / steps
    run = {"implementation": implementation, "model": model, "precision": args.precision,
           "accumulation_steps": accumulation, "seconds_per_step": seconds,
           "tokens_per_step": tokens, "tokens_per_second": tokens / seconds, "flops_per_step": flops,
           "flops_per_second": flops / seconds, "peak_memory_bytes": _peak_memory(),
           "parameters": int(pretrainer.count_params())}
    if batches is not None:
        run.update(batches=batches, real_token_share=real_tokens / (tokens * steps),
                   useful_tokens_per_second=real_tokens / steps / seconds,
                   batch_lengths=[length for length, _ in shapes])
    return run


def _step_clock():
    """A callback timing a `fit` call's steps, from the first one's start to the last one's end.

    `fit`'s own start and end (making the iterator, and deleting it, which took seconds in
    profiles on this machine) are not part of a train step, so they are left out.
    """
    import keras

    class StepClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.begins, self.ends = [], []

        def on_train_batch_begin(self, batch, logs=None):
            self.begins.append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

        def seconds_per_step(self) -> float:
            return (self.ends[-1] - self.begins[0]) / len(self.ends)

    return StepClock()


def _record_batches(args, batches: str, steps: int, skip: int = 100):
    """Warmup and timed batches of real records, cached in memory, and the timed shapes.

    The first `skip` batches are left out: rare buckets fill later than common ones, so the
    start of a bucketed stream holds fewer short batches than its steady state.
    """
    import numpy as np
    import tensorflow as tf

    from albert_keras.data.pretraining_dataset import pretraining_dataset

    buckets = [int(b) for b in args.length_buckets.split(",")] if batches == "bucketed" else ()
    stream = pretraining_dataset(args.records, args.batch_size, seed=0, verify=False,
                                 length_buckets=buckets).skip(skip)
    # keras-hub's model takes a weight per output, as the synthetic batch has.
    stream = stream.map(lambda x, y, w: (x, y, {**w, "pair": tf.ones_like(y["pair"], "float32")}))
    cached = stream.take(args.warmup_steps + steps).cache()
    shapes, real_tokens = [], 0
    # One pass fills the cache (reading is not timed) and counts the timed batches' tokens.
    for x, _, _ in cached.skip(args.warmup_steps).as_numpy_iterator():
        shapes.append((x["token_ids"].shape[1], x["mask_positions"].shape[1]))
        real_tokens += int(np.sum(x["padding_mask"]))
    warmup, timed = cached.take(args.warmup_steps), cached.skip(args.warmup_steps)
    return warmup.repeat(), timed.repeat(), shapes, real_tokens


def _small_overrides(args) -> dict:
    if not args.small:
        return {}
    return dict(vocabulary_size=8192, num_layers=2, num_heads=2, hidden_dim=64,
                intermediate_dim=128, max_sequence_length=args.sequence_length)


def _ours(config, dtype):
    from albert_keras.models.encoder import Encoder
    from albert_keras.models.pretrainer import Pretrainer

    pair_task = "nsp" if config.share == "none" else "sop"
    return Pretrainer(Encoder(**config.to_dict(), dtype=dtype), pair_task=pair_task)


def _keras_hub(config, dtype):
    """keras-hub backbone + keras-hub MaskedLMHead (tied, gathered) + Dense(2) pair head."""
    import keras
    import keras_hub

    common = dict(vocabulary_size=config.vocabulary_size, num_layers=config.num_layers,
                  num_heads=config.num_heads, hidden_dim=config.hidden_dim,
                  intermediate_dim=config.intermediate_dim, dropout=config.dropout,
                  max_sequence_length=config.max_sequence_length,
                  num_segments=config.num_segments, dtype=dtype)
    if config.share == "none":
        backbone = keras_hub.models.BertBackbone(**common)
    else:
        backbone = keras_hub.models.AlbertBackbone(
            **common, embedding_dim=config.effective_embedding_dim, num_groups=config.num_groups,
            num_inner_repetitions=1)
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask", "mask_positions")}
    outputs = backbone({k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")})
    mlm_head = keras_hub.layers.MaskedLMHead(
        vocabulary_size=config.vocabulary_size, token_embedding=backbone.token_embedding,
        intermediate_activation=keras.activations.gelu, dtype=dtype, name="mlm_head")
    pair_head = keras.layers.Dense(2, dtype=dtype, name="pair_head")
    return keras.Model(inputs, {
        "mlm": keras.ops.cast(mlm_head(outputs["sequence_output"], inputs["mask_positions"]),
                              "float32"),
        "pair": keras.ops.cast(pair_head(outputs["pooled_output"]), "float32")})


def _compile(model, args, implementation: str = "albert_keras", accumulation: int = 1) -> None:
    import keras

    from albert_keras.training.gradient_accumulation import use_gradient_accumulation
    from albert_keras.training.lamb import Lamb
    from albert_keras.training.masked_lm_loss import MaskedLMLoss

    keras_accumulation = accumulation if implementation == "keras_hub" and accumulation > 1 else None
    optimizer = Lamb(learning_rate=1e-4, gradient_accumulation_steps=keras_accumulation)
    if args.precision == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer,
                  loss={"mlm": MaskedLMLoss(),
                        "pair": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
                  jit_compile=args.jit_compile)
    if implementation == "albert_keras":
        use_gradient_accumulation(model, accumulation)


def _batch(config, args, rows: int | None = None):
    import numpy as np

    rng = np.random.default_rng(0)
    b, s, p = rows or args.batch_size, args.sequence_length, args.predictions
    x = {"token_ids": rng.integers(5, config.vocabulary_size, (b, s)).astype("int32"),
         "segment_ids": (np.arange(s)[None, :] >= s // 2).repeat(b, 0).astype("int32"),
         "padding_mask": np.ones((b, s), "int32"),
         "mask_positions": np.sort(rng.integers(1, s, (b, p)), 1).astype("int32")}
    y = {"mlm": rng.integers(5, config.vocabulary_size, (b, p)).astype("int32"),
         "pair": rng.integers(0, 2, b).astype("int32")}
    return x, y, {"mlm": np.ones((b, p), "float32"), "pair": np.ones((b,), "float32")}


def train_step_flops(config, batch_size: int, sequence_length: int, predictions: int) -> float:
    """Matmul FLOPs of one train step (forward x 3 for backward), embeddings lookups excluded."""
    h, i, e, v = (config.hidden_dim, config.intermediate_dim, config.effective_embedding_dim,
                  config.vocabulary_size)
    tokens = batch_size * sequence_length
    per_layer = 2 * tokens * (4 * h * h + 2 * h * i)  # Q, K, V, output; FFN in and out.
    per_layer += 2 * 2 * tokens * sequence_length * h  # Scores and weighted sum.
    forward = config.num_layers * per_layer
    if e != h:
        forward += 2 * tokens * e * h  # Embedding projection.
    forward += 2 * batch_size * h * h + 2 * batch_size * h * 2  # Pooler, pair head.
    forward += 2 * batch_size * predictions * (h * e + e * v)  # MLM dense + tied decoder.
    return 3.0 * forward


def _matmul_limit(args) -> dict:
    """Best FLOP/s of a large dense matmul (the model's FFN shape) in the run's precision."""
    import tensorflow as tf

    m, k, n = max(args.batch_size * args.sequence_length, 1024), 768, 3072
    dtype = tf.bfloat16 if args.precision == "mixed_bfloat16" else (
        tf.float16 if args.precision == "mixed_float16" else tf.float32)
    a = tf.random.normal((m, k), dtype=tf.float32)
    b = tf.random.normal((k, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)),
                         jit_compile=args.jit_compile)
    for _ in range(3):
        matmul(a, b).numpy()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(10):
            result = matmul(a, b)
        result.numpy()
        best = min(best, (time.perf_counter() - start) / 10)
    return {"shape": [m, k, n], "seconds": best, "flops_per_second": 2.0 * m * k * n / best,
            "dtype": dtype.name}


def _peak_memory() -> int:
    """Peak bytes: GPU allocator peak when there is a GPU, else the process' peak RSS."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


if __name__ == "__main__":
    sys.exit(main())

"""Train-step throughput of our Pretrainer vs keras-hub's backbones with equivalent heads.

One command measures, in one run and on one machine:

- tokens/s of a full train step (forward + backward + LAMB update) for `bert_base` and
  `albert_base` at sequence length 128: ours (`Encoder` + `Pretrainer`) and keras-hub's
  `BertBackbone` / `AlbertBackbone` with an equivalent masked-LM head (keras-hub `MaskedLMHead`
  tied to the token embedding, gathered at the masked positions) and pair head, the same losses
  and the same optimizer;
- the float32 and bfloat16 dense-matmul FLOP/s this machine reaches in the same run (its
  practical limit, `benchmarks.harness.matmul_limits`), so that each step's achieved FLOP/s is
  given as a fraction of it (MFU on a GPU);
- peak memory of each training run (each measurement runs in its own process);
- with `--records`, useful (non-padding) tokens/s on batches of real pretraining records, as
  our reader makes them: padded to the full length (what keras-hub and ours get without
  bucketing) and length-bucketed (`ReaderOptions(length_buckets=...)`).

    python benchmarks/train_step_throughput.py              # the real measurement
    python benchmarks/train_step_throughput.py --precisions float32,mixed_bfloat16 \
        --accumulation 1,4 --rounds 5                       # rows per precision and accumulation
    python benchmarks/train_step_throughput.py --records 'tf_records/albert_tiny/*.tfrecord'
    python benchmarks/train_step_throughput.py --small      # tiny models: checks the script works
    python benchmarks/train_step_throughput.py --precisions mixed_bfloat16 --jit-compile  # GPU

Measured through `benchmarks.harness`: every contender once per round, the order reversed every
other round (ABBA...), each in its own process. Each figure is the median and min-max of its
rounds; each ratio (ours / keras-hub, albert_base / bert_base) is taken within a round, then
summarised, with the harness' verdict rule ("faster" / "slower" only when every round agrees,
else "cannot conclude"; `--tolerance` widens the band around 1.0). Peak memory albert_base /
bert_base is a per-round ratio figure (memory has no faster or slower).

Gradient accumulation rows: ours computes `--batch-size` x N rows per step as N micro-batches
(`use_gradient_accumulation`); keras-hub runs N `fit` steps of `--batch-size` rows with Keras'
`Optimizer(gradient_accumulation_steps=N)`: the same rows per update.

Writes `benchmarks/out/train_step_throughput.json` (the harness' schema) and prints the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    parser.add_argument("--rounds", "--repeats", dest="rounds", type=int, default=5,
                        help="alternated rounds: one measurement of every contender each")
    parser.add_argument("--precisions", default="float32",
                        help="comma-separated: float32, mixed_bfloat16, mixed_float16, auto")
    parser.add_argument("--accumulation", default="1",
                        help="comma-separated gradient accumulation steps, e.g. 1,4")
    parser.add_argument("--tolerance", type=float, default=0.0,
                        help="the verdict rule's tolerance: 'faster' needs every round's speed "
                             "ratio above 1 + tolerance")
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

    from benchmarks.harness import BenchmarkResult, default_device, matmul_limits, run_rounds

    precisions, merged = _precision_rows(args.precisions.split(","))
    accumulations = [int(a) for a in args.accumulation.split(",")]
    result = BenchmarkResult("train_step_throughput", rounds=args.rounds, settings={
        k: getattr(args, k) for k in ("models", "batch_size", "sequence_length", "predictions",
                                      "steps", "warmup_steps", "jit_compile", "small", "records",
                                      "length_buckets", "record_steps", "tolerance")})
    result.settings.update(precisions=precisions, accumulation=accumulations)
    contenders = [] if args.skip_equal_work else [
        (implementation, model, precision, steps) for precision in precisions
        for steps in accumulations for model in args.models.split(",")
        for implementation in IMPLEMENTATIONS]
    if args.records:
        contenders += [(implementation, model, precisions[0], 1, batches)
                       for model in args.models.split(",")
                       for implementation, batches in RECORD_CONTENDERS]

    def child(key):
        implementation, model, precision, steps, *batches = key
        return lambda: _child(["--measure", ":".join([implementation, model, *batches])], args,
                              precision, steps)

    measured = run_rounds({_name(key): child(key) for key in contenders}, args.rounds,
                          log=lambda line: print(line[:160], file=sys.stderr, flush=True))
    # The machine's limits, measured in this run (float32 and bfloat16), for MFU.
    limits = result.matmul_limits = matmul_limits()
    result.settings["matmul_limits_for_mfu"] = {k: v["median"] for k, v in limits.items()}
    device = default_device()
    for key in contenders:
        implementation, model, precision, steps, *batches = key
        runs = measured[_name(key)]
        first = runs[0]
        rates = [r["tokens_per_second"] for r in runs]
        extra = {"seconds_per_step_rounds": [r["seconds_per_step"] for r in runs],
                 "tokens_per_step": first["tokens_per_step"],
                 "flops_per_step": first["flops_per_step"], "parameters": first["parameters"],
                 "jit_compile": args.jit_compile}
        result.add_figure(f"{_name(key)} tokens/s", rates, unit="tokens/s", precision=precision,
                          device=device, **extra)
        limit = limits.get(_limit_dtype(precision))
        if limit:
            flops_per_token = first["flops_per_step"] / first["tokens_per_step"]
            result.add_figure(f"{_name(key)} fraction of matmul limit",
                              [rate * flops_per_token / limit["median"] for rate in rates],
                              unit="fraction", precision=precision, device=device,
                              limit_flops_per_second=limit["median"])
        result.add_figure(f"{_name(key)} peak memory", [r["peak_memory_bytes"] for r in runs],
                          unit="bytes", better="lower", precision=precision, device=device)
        if batches:
            result.add_figure(f"{_name(key)} useful tokens/s",
                              [r["useful_tokens_per_second"] for r in runs], unit="tokens/s",
                              precision=precision, device=device,
                              real_token_share=first["real_token_share"])
    _comparisons(result, contenders, args.tolerance)
    for note in merged:
        result.note(note)
    result.note("Each measurement runs in its own process (peak memory is its own); every "
                "contender once per round, the order reversed every other round.")
    if args.jit_compile:
        result.note("The matmul limits are measured without XLA; the train steps with it.")
    result.write(args.out)
    result.print_summary()
    print(f"wrote {args.out}")
    return 0


def _name(key: tuple) -> str:
    """A contender's figure prefix: "albert_keras bert_base float32 x1[ bucketed]"."""
    implementation, model, precision, steps, *batches = key
    return " ".join([implementation, model, precision, f"x{steps}", *batches])


def _limit_dtype(precision: str) -> str:
    return {"float32": "float32", "mixed_bfloat16": "bfloat16"}.get(precision, precision)


def _comparisons(result, contenders: list[tuple], tolerance: float) -> None:
    """Ours vs keras-hub (equal work), ALBERT vs BERT per implementation, bucketed vs padded."""
    names = {_name(key) for key in contenders}
    for key in contenders:
        implementation, model, precision, steps, *batches = key
        name = _name(key)
        hub = _name(("keras_hub", model, precision, steps, *batches))
        if implementation == "albert_keras" and not batches and hub in names:
            result.add_comparison(f"{model} {precision} x{steps} tokens/s ours vs keras_hub",
                                  f"{name} tokens/s", f"{hub} tokens/s", tolerance)
        bert = _name((implementation, "bert_base", precision, steps, *batches))
        if model == "albert_base" and not batches and bert in names:
            result.add_comparison(f"{implementation} {precision} x{steps} tokens/s albert_base "
                                  "vs bert_base", f"{name} tokens/s", f"{bert} tokens/s",
                                  tolerance)
            # Memory is no speed: a per-round ratio figure, not a faster/slower verdict.
            result.add_figure(
                f"{implementation} {precision} x{steps} peak memory albert_base / bert_base",
                [a / b for a, b in zip(result.figures[f"{name} peak memory"]["rounds"],
                                       result.figures[f"{bert} peak memory"]["rounds"])],
                unit="ratio", better="lower", precision=precision,
                device=result.figures[f"{name} peak memory"]["device"])
        if implementation == "albert_keras" and batches == ["bucketed"]:
            for other in ("keras_hub", "albert_keras"):
                padded = _name((other, model, precision, steps, "padded"))
                if padded in names:
                    result.add_comparison(
                        f"{model} useful tokens/s ours bucketed vs {other} padded",
                        f"{name} useful tokens/s", f"{padded} useful tokens/s", tolerance)


def _precision_rows(requested: list[str], resolve=None) -> tuple[list[str], list[str]]:
    """The Keras dtype policies to measure, each once, and a note for each request merged.

    `auto` becomes the policy it resolves to on this machine (`float32` on a CPU without native
    bfloat16); a precision already listed is measured once, not twice under two names.
    """
    if resolve is None:
        from albert_keras.training.precision import resolve_precision as resolve

    rows, notes = [], []
    for precision in requested:
        policy, reason = resolve(precision) if precision == "auto" else (precision, "")
        reason = reason.removeprefix("auto: ")
        if policy in rows:
            notes.append(f"`{precision}` is {policy} on this machine ({reason or 'as listed'}): "
                         f"its rows are the {policy} rows, measured once.")
        else:
            rows.append(policy)
    return rows, notes


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


# === Child process ===

def measure(implementation: str, model: str, args, batches: str | None = None) -> dict:
    import keras
    import tensorflow as tf

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

    from albert_keras.pretraining_data.reader.pretraining_dataset import (ReaderOptions,
                                                                          pretraining_dataset)

    buckets = [int(b) for b in args.length_buckets.split(",")] if batches == "bucketed" else ()
    stream = pretraining_dataset(args.records, args.batch_size, options=ReaderOptions(
        seed=0, verify=False, length_buckets=buckets)).skip(skip)
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


def _peak_memory() -> int:
    """Peak bytes: GPU allocator peak when there is a GPU, else the process' peak RSS."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


if __name__ == "__main__":
    sys.exit(main())

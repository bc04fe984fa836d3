"""ONNX and LiteRT against the SavedModel (issue 14): file size, latency, accuracy, int8's cost.

    .venv/bin/python benchmarks/portable_formats.py              # ~10 min on 2 cores
    .venv/bin/python benchmarks/portable_formats.py --epochs 1 --rounds 3 --calls 5

One fine-tuned model, exported four ways, each run on the same token ids:

- the model: MiniLM-L6 (`../shared/data/fetch.sh`) fine-tuned as a `TextClassifier` on the fixed
  80/20 split of `labeled/uncertainty.csv` (the split of `finetune_real_data.py`);
- SavedModel (`export_for_serving`; its `serve_ids` signature, loaded with `tf.saved_model.load`),
  ONNX (ONNX Runtime, CPU), LiteRT float32 and LiteRT dynamic-range int8 (`ai_edge_litert`);
- test accuracy of each on the 600 held-out rows (ids from the task's preprocessor, batches of
  32 padded to their longest row), so int8's accuracy change is measured on real data;
- latency: one request of 1 row and of 8 rows (the first test rows, padded to the longest),
  measured through `benchmarks.harness`: `--rounds` alternated rounds (the runtimes' order
  reversed every other round), `--calls` requests per runtime per round, a round's figure the
  median of its calls; each ratio against the SavedModel taken per round, with the harness'
  verdict;
- size on disk of each export (the SavedModel directory without its warmup requests).

Writes JSON to `--out` (the harness' schema; sizes and accuracies in its settings) and prints
the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

BENCHMARKS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(BENCHMARKS))
sys.path.insert(0, BENCHMARKS)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import finetune_real_data as real  # noqa: E402


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path)
               if "assets.extra" not in root for name in names)


def _runners(model, tokenizer, work: str) -> dict:
    """name -> (function from an ids dict to logits, size in bytes)."""
    import tensorflow as tf

    from albert_keras.export.export_for_serving import export_for_serving
    from albert_keras.export.portable_export import export_portable

    saved = export_for_serving(model, tokenizer, os.path.join(work, "saved_models", "m"),
                               sequence_length=128)
    serve_ids = tf.saved_model.load(saved).signatures["serve_ids"]
    runners = {"saved_model": (lambda x: serve_ids(**{k: tf.constant(v) for k, v in x.items()})
                               ["logits"].numpy(), _size(saved))}

    onnx_path = export_portable(model, os.path.join(work, "onnx"), "onnx")
    import onnxruntime

    session = onnxruntime.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    runners["onnx"] = (lambda x: session.run(None, {i.name: x[i.name]
                                                    for i in session.get_inputs()})[0],
                       _size(onnx_path))
    from ai_edge_litert.interpreter import Interpreter

    for name, quantize in (("litert", "none"), ("litert_int8", "dynamic_int8")):
        path = export_portable(model, os.path.join(work, name), "litert", quantize=quantize)
        runner = Interpreter(model_path=path).get_signature_runner()
        runners[name] = ((lambda run: lambda x: next(iter(run(**x).values())))(runner),
                         _size(path))
    return runners


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="alternated latency rounds (>= 3)")
    parser.add_argument("--calls", type=int, default=10,
                        help="requests per runtime per round; a round's figure is their median")
    parser.add_argument("--out", default=os.path.join(BENCHMARKS, "out", "portable_formats.json"))
    args = parser.parse_args(argv)
    data_dir = real.fetch_data()
    if data_dir is None:
        print("No data: fetch.sh failed.", file=sys.stderr)
        return 1
    import keras

    from albert_keras.jobs.finetune import finetune
    from albert_keras.tasks import task_named
    from albert_keras.tasks.inputs.labeled_batches import make_dataset
    from albert_keras.tokenizers.tokenizer_files import load_tokenizer
    from benchmarks.harness import BenchmarkResult, run_rounds

    result = BenchmarkResult("portable_formats", rounds=args.rounds, settings={
        "model": "MiniLM-L6 TextClassifier on labeled/uncertainty.csv", "epochs": args.epochs,
        "calls_per_round": args.calls})
    work = tempfile.mkdtemp(prefix="portable_formats_")
    train, test = real.uncertainty_split(data_dir, work)
    config = real.classifier_config(os.path.join(data_dir, "minilm"), train, test,
                                    os.path.join(work, "runs"), epochs=args.epochs,
                                    precision="float32", verbose=0)
    keras.utils.set_random_seed(0)
    report = finetune(config)
    run_dir = report["run_dir"]
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    tokenizer = load_tokenizer(os.path.join(run_dir, "tokenizer"))
    runners = _runners(model, tokenizer, work)

    task = task_named("text_classification")
    ft = config.finetune
    examples = task.read_examples(test, ft, "test")
    encoded = task.encode(examples, tokenizer, tuple(report["labels"]), ft, training=False)
    batches = [{k: np.asarray(v, np.int32) for k, v in x.items()}
               for x, _ in make_dataset(encoded, 32, training=False)]
    result.settings.update(finetune_test_accuracy=report["metrics"]["test"]["accuracy"],
                           test_rows=len(examples))
    for name, (run, size) in runners.items():
        predicted = np.concatenate([np.asarray(run(x)).argmax(-1) for x in batches])
        result.settings[f"{name} size_bytes"] = size
        result.settings[f"{name} accuracy"] = float(np.mean(predicted == np.asarray(encoded.y)))
    requests = {rows: {k: v[:rows] for k, v in batches[0].items()} for rows in (1, 8)}
    for rows, x in requests.items():
        longest = int(x["padding_mask"].sum(1).max())
        x = {k: np.ascontiguousarray(v[:, :longest]) for k, v in x.items()}
        for run, _ in runners.values():  # Warm up every runtime at this shape.
            run(x)

        def timer(run, x=x):
            def measure() -> float:
                values = []
                for _ in range(args.calls):
                    started = time.perf_counter()
                    run(x)
                    values.append(1000 * (time.perf_counter() - started))
                return statistics.median(values)
            return measure

        measured = run_rounds({name: timer(run) for name, (run, _) in runners.items()},
                              args.rounds)
        for name, values in measured.items():
            result.add_figure(f"{name} batch {rows} latency", values, unit="ms", better="lower",
                              precision="int8 weights" if "int8" in name else "float32",
                              device="CPU", tokens=longest)
        for name in runners:
            if name != "saved_model":
                result.add_comparison(f"{name} vs saved_model batch {rows} latency",
                                      f"{name} batch {rows} latency",
                                      f"saved_model batch {rows} latency")
    result.write(args.out)
    base = result.settings["saved_model size_bytes"]
    for name in runners:
        print(f"{name:<13} {result.settings[f'{name} size_bytes'] / 1e6:8.1f} MB "
              f"(x{result.settings[f'{name} size_bytes'] / base:.2f}) "
              f"accuracy {result.settings[f'{name} accuracy']:.4f}")
    for name, comparison in result.comparisons.items():
        print(f"{name}: speed ratio {comparison['median']:.2f} ({comparison['min']:.2f}-"
              f"{comparison['max']:.2f}) {comparison['verdict']}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

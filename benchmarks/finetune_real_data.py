"""Fine-tuning on real data, with real pretrained weights (issue 7). One command:

    .venv/bin/python benchmarks/finetune_real_data.py            # everything, ~50 min on 2 cores
    .venv/bin/python benchmarks/finetune_real_data.py --skip-pos # classification + bucketing only
    .venv/bin/python benchmarks/finetune_real_data.py --precision-gate --seeds 0,1,2

1. Classification: MiniLM-L6 (Hugging Face BERT, imported with `from_pretrained`; mean pooling,
   which this sentence-transformers model was trained for) fine-tuned for 3 epochs on a fixed
   80/20 split of `labeled/uncertainty.csv` (trained on 90% of the 80%; the other 10% is only
   reported), against a bag-of-words logistic regression (Keras `TextVectorization`, tf-idf of
   unigrams and bigrams, a softmax layer) trained on the same rows and early-stopped on the 10%.
2. Tagging: MiniLM-L6 fine-tuned for part-of-speech tags on `labeled/pos-oanc.txt`, tested on a
   fixed held-out 10% (target: token accuracy >= 0.95).
3. Precision (`--precision-gate`, issue 16): the classification run in float32 and in
   mixed_bfloat16 for several seeds (initial head weights, dropout, shuffling), same split: is
   the bf16 accuracy within the float32 runs' seed spread?
4. Speed: one training epoch with length-bucketed batches (padded to the batch's longest row)
   against batches padded to `max_sequence_length`, same model and rows (steady state: the
   second epoch is timed).

Data comes from `../shared/data/fetch.sh` (skipped with a message when it fails). Writes JSON
to `--out` (default benchmarks/out/finetune_real_data.json) and prints the numbers and ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from albert_keras.jobs.finetune import finetune, read_splits  # noqa: E402
from albert_keras.jobs.finetune_config import FinetuneConfig  # noqa: E402
from albert_keras.pipeline import pipeline_from_dict  # noqa: E402
from albert_keras.tasks import read_examples, task_named  # noqa: E402
from albert_keras.tasks.finetune_metrics import classification_metrics  # noqa: E402
from albert_keras.tasks.inputs import labeled  # noqa: E402
from albert_keras.tasks.inputs.labeled_batches import make_dataset  # noqa: E402

FETCH = os.path.join(REPO, "..", "shared", "data", "fetch.sh")
SPLIT_SEED = 0


def fetch_data() -> str | None:
    """The data directory from `fetch.sh`, or None when it cannot fetch."""
    try:
        result = subprocess.run(["bash", FETCH], capture_output=True, text=True, timeout=900,
                                env={**os.environ, "PYTHON": sys.executable})
    except (OSError, subprocess.TimeoutExpired) as error:
        print(f"fetch.sh failed: {error}", file=sys.stderr)
        return None
    if result.returncode != 0:
        print(f"fetch.sh failed ({result.returncode}): {result.stderr[-2000:]}", file=sys.stderr)
        return None
    return result.stdout.strip().splitlines()[-1]


def uncertainty_split(data_dir: str, out_dir: str) -> tuple[str, str]:
    """Writes the fixed 80/20 split of uncertainty.csv as train/test CSVs; returns their paths."""
    config = FinetuneConfig(header=False, column_names=("label", "text"))
    examples = read_examples(os.path.join(data_dir, "labeled", "uncertainty.csv"), config)
    train, test = labeled.split_examples(examples, 0.2, seed=SPLIT_SEED)
    paths = []
    for name, rows in (("uncertainty_train.csv", train), ("uncertainty_test.csv", test)):
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "text"])
            writer.writerows((e.label, e.text) for e in rows)
        paths.append(path)
    return paths[0], paths[1]


def pos_split(data_dir: str, out_dir: str) -> tuple[str, str]:
    """Writes a fixed 90/10 split of pos-oanc.txt as word/TAG files; returns their paths."""
    config = FinetuneConfig(task="token_classification")
    examples = read_examples(os.path.join(data_dir, "labeled", "pos-oanc.txt"), config)
    train, test = labeled.split_examples(examples, 0.1, seed=SPLIT_SEED)
    paths = []
    for name, rows in (("pos_train.txt", train), ("pos_test.txt", test)):
        path = os.path.join(out_dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(" ".join(f"{w}/{t}" for w, t in zip(e.words, e.tags)) + "\n"
                         for e in rows)
        paths.append(path)
    return paths[0], paths[1]


def classifier_config(minilm: str, train: str, test: str, out_dir: str, **finetune_args):
    """The pipeline config of the MiniLM classification run."""
    return pipeline_from_dict({
        "name": "minilm_uncertainty", "model": {"pretrained": minilm},
        "finetune": {"task": "text_classification", "train": train, "test": test,
                     "validation_fraction": 0.1, "max_sequence_length": 128, "batch_size": 32,
                     # A fixed 3 epochs, last weights kept: 240 validation rows are too few
                     # to pick an epoch by (one row is 0.4%); they are reported, not used.
                     "epochs": 3, "learning_rate": 1e-4, "early_stopping_patience": 0,
                     "restore_best_checkpoint": False,
                     "pooling": "mean",  # all-MiniLM-L6-v2 is trained for mean pooling.
                     "output_dir": out_dir, "verbose": 2, **finetune_args}})


def bag_of_words_baseline(config, test_path: str, max_epochs: int = 60) -> dict:
    """Logistic regression on tf-idf unigrams+bigrams, same train/validation rows as `finetune`.

    Early-stopped on the validation rows; evaluated on the test file. Returns its metrics.
    """
    splits = read_splits(config.finetune)
    labels = task_named("text_classification").label_vocabulary(splits["train"])
    test = read_examples(test_path, config.finetune, "test")
    index = {label: i for i, label in enumerate(labels)}

    def data(examples):
        texts = tf.constant([e.text for e in examples])
        return texts, np.array([index[e.label] for e in examples], np.int32)

    (train_x, train_y), (val_x, val_y), (test_x, test_y) = (
        data(splits["train"]), data(splits["validation"]), data(test))
    started = time.perf_counter()
    vectorizer = keras.layers.TextVectorization(max_tokens=20000, ngrams=2, output_mode="tf_idf")
    vectorizer.adapt(train_x)
    train_f, val_f, test_f = vectorizer(train_x), vectorizer(val_x), vectorizer(test_x)
    # Logistic regression is convex: start from zeros and stop on the (smooth) validation loss,
    # so the baseline does not depend on the initialization and hardly on the batch order.
    model = keras.Sequential([keras.Input((train_f.shape[1],)),
                              keras.layers.Dense(len(labels), kernel_initializer="zeros")])
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")])
    stop = keras.callbacks.EarlyStopping("val_loss", mode="min", patience=5,
                                         restore_best_weights=True)
    history = model.fit(train_f, train_y, validation_data=(val_f, val_y), epochs=max_epochs,
                        batch_size=32, callbacks=[stop], verbose=0)
    predicted = model.predict(test_f, verbose=0).argmax(-1)
    metrics = classification_metrics(test_y, predicted, labels)
    return {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "confusion_matrix": metrics["confusion_matrix"], "epochs_run": len(history.epoch),
            "best_epoch": int(np.argmin(history.history["val_loss"])) + 1,
            "train_seconds": time.perf_counter() - started, "examples": {
                "train": len(splits["train"]), "validation": len(splits["validation"]),
                "test": len(test)}}


def precision_gate(minilm: str, train: str, test: str, work: str, epochs: int,
                   seeds: list[int]) -> dict:
    """Test accuracy of the classification run per precision and seed, and the verdict."""
    runs = {}
    for seed in seeds:
        for precision in ("float32", "mixed_bfloat16"):  # Alternated, so drift hits both.
            keras.utils.set_random_seed(seed)  # Head initialization and dropout.
            config = classifier_config(minilm, train, test, work, epochs=epochs, seed=seed,
                                       precision=precision, verbose=0)
            report = finetune(config)
            runs.setdefault(precision, []).append({
                "seed": seed, "accuracy": report["metrics"]["test"]["accuracy"],
                "macro_f1": report["metrics"]["test"]["macro_f1"],
                "train_seconds": report["train_seconds"], "precision": report["precision"]})
            print(f"precision gate: {precision} seed {seed}: {json.dumps(runs[precision][-1])}")
    summary = {}
    for precision, rows in runs.items():
        accuracies = [row["accuracy"] for row in rows]
        summary[precision] = {"mean_accuracy": float(np.mean(accuracies)),
                              "min_accuracy": min(accuracies), "max_accuracy": max(accuracies),
                              "mean_train_seconds": float(np.mean([r["train_seconds"] for r in rows]))}
    f32, bf16 = summary["float32"], summary["mixed_bfloat16"]
    spread = f32["max_accuracy"] - f32["min_accuracy"]
    difference = bf16["mean_accuracy"] - f32["mean_accuracy"]
    return {"runs": runs, "summary": summary, "float32_seed_spread": spread,
            "mean_difference": difference,
            "within_seed_spread": bool(abs(difference) <= spread),
            "speedup": f32["mean_train_seconds"] / bf16["mean_train_seconds"]}


def bucketing_speedup(config, num_examples: int = 320, epochs: int = 2) -> dict:
    """Seconds for one steady-state training epoch, bucketed vs padded to max length."""
    from albert_keras.jobs.finetune import load_finetune_tokenizer
    from albert_keras.models.task import load_pretrained_encoder

    ft = config.finetune
    tokenizer = load_finetune_tokenizer(config)
    examples = read_splits(ft)["train"][:num_examples]
    task = task_named(ft.task)
    labels = task.label_vocabulary(examples)
    encoded = task.encode(examples, tokenizer, labels, ft)
    lengths = encoded.lengths
    result = {"examples": len(examples), "batch_size": ft.batch_size,
              "max_sequence_length": ft.max_sequence_length,
              "mean_length": float(np.mean(lengths)), "max_length": int(np.max(lengths))}
    for bucketed in (True, False):
        dataset = make_dataset(encoded, ft.batch_size, training=True, bucket_by_length=bucketed,
                               max_sequence_length=ft.max_sequence_length, seed=0)
        model = task.build_model(ft, load_pretrained_encoder(config.model.pretrained), labels)
        model.compile(optimizer=keras.optimizers.AdamW(ft.learning_rate),
                      **task.compile_arguments(ft))
        times = EpochTimes()
        model.fit(dataset, epochs=epochs, callbacks=[times], verbose=0)
        result["bucketed_seconds" if bucketed else "padded_seconds"] = times.seconds[-1]
    result["speedup"] = result["padded_seconds"] / result["bucketed_seconds"]
    return result


class EpochTimes(keras.callbacks.Callback):
    """Wall time of each epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def _summary(report: dict, split: str, keys: tuple[str, ...]) -> dict:
    return {**{k: report["metrics"][split][k] for k in keys}, "epochs_run": report["epochs_run"],
            "best_epoch": report["best_epoch"], "train_seconds": report["train_seconds"],
            "examples": report["examples"], "truncated": report["truncated"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "finetune_real_data.json"))
    parser.add_argument("--epochs", type=int, default=3, help="classification epochs (max)")
    parser.add_argument("--pos-epochs", type=int, default=3)
    parser.add_argument("--skip-classification", action="store_true")
    parser.add_argument("--skip-pos", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--precision-gate", action="store_true",
                        help="only the float32 vs mixed_bfloat16 classification runs")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the precision gate")
    args = parser.parse_args(argv)

    data_dir = fetch_data()
    if data_dir is None:
        print("SKIPPED: ../shared/data/fetch.sh could not fetch the data.")
        return 0
    out_dir = os.path.dirname(os.path.abspath(args.out))
    work = os.path.join(out_dir, "finetune_real_data")
    os.makedirs(work, exist_ok=True)
    minilm = os.path.join(data_dir, "minilm")
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
               "tensorflow": tf.__version__, "keras": keras.__version__}
    started = time.perf_counter()

    train, test = uncertainty_split(data_dir, work)
    config = classifier_config(minilm, train, test, work, epochs=args.epochs)
    if args.precision_gate:
        seeds = [int(seed) for seed in args.seeds.split(",")]
        results["precision_gate"] = precision_gate(minilm, train, test, work, args.epochs, seeds)
        args.skip_classification = args.skip_speed = args.skip_pos = True
    if not args.skip_classification:
        results["bag_of_words"] = bag_of_words_baseline(config, test)
        print("bag-of-words:", json.dumps(results["bag_of_words"]))
        report = finetune(config)
        results["minilm_classifier"] = _summary(
            report, "test", ("accuracy", "macro_f1", "confusion_matrix"))
        results["minilm_classifier"]["validation_accuracy"] = \
            report["metrics"]["validation"]["accuracy"]
        results["classification_margin"] = (results["minilm_classifier"]["accuracy"]
                                            - results["bag_of_words"]["accuracy"])

    if not args.skip_speed:
        results["bucketing"] = bucketing_speedup(config)
        print("bucketing:", json.dumps(results["bucketing"]))

    if not args.skip_pos:
        pos_train, pos_test = pos_split(data_dir, work)
        pos_config = pipeline_from_dict({
            "name": "minilm_pos", "model": {"pretrained": minilm},
            "finetune": {"task": "token_classification", "train": pos_train, "test": pos_test,
                         "validation_fraction": 0.02, "max_sequence_length": 128,
                         "batch_size": 32, "epochs": args.pos_epochs, "learning_rate": 1e-4,
                         "output_dir": work, "verbose": 2}})
        pos_report = finetune(pos_config)
        results["minilm_pos"] = _summary(pos_report, "test", ("token_accuracy", "macro_f1"))
        results["minilm_pos"]["meets_target"] = results["minilm_pos"]["token_accuracy"] >= 0.95

    results["total_seconds"] = time.perf_counter() - started
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    _print(results, args.out)
    return 0


def _print(results: dict, out: str) -> None:
    print(f"\nwrote {out}\n")
    print("| task | model | metric | value | epochs | train s |")
    print("|---|---|---|---|---|---|")
    if "bag_of_words" in results:
        bow, clf = results["bag_of_words"], results["minilm_classifier"]
        print(f"| uncertainty.csv (20% test) | bag-of-words LR | accuracy / macro-F1 | "
              f"{bow['accuracy']:.4f} / {bow['macro_f1']:.4f} | {bow['epochs_run']} | {bow['train_seconds']:.0f} |")
        print(f"| uncertainty.csv (20% test) | MiniLM-L6 fine-tuned | accuracy / macro-F1 | "
              f"{clf['accuracy']:.4f} / {clf['macro_f1']:.4f} | {clf['epochs_run']} | {clf['train_seconds']:.0f} |")
    if "minilm_pos" in results:
        pos = results["minilm_pos"]
        print(f"| pos-oanc.txt (10% test) | MiniLM-L6 fine-tuned | token accuracy / macro-F1 | "
              f"{pos['token_accuracy']:.4f} / {pos['macro_f1']:.4f} | {pos['epochs_run']} | {pos['train_seconds']:.0f} |")
    if "classification_margin" in results:
        print(f"\nMiniLM - bag-of-words accuracy: {results['classification_margin']:+.4f}")
    if "precision_gate" in results:
        gate = results["precision_gate"]
        for precision, row in gate["summary"].items():
            accuracies = ", ".join(f"{r['accuracy']:.4f}" for r in gate["runs"][precision])
            print(f"{precision}: test accuracy {accuracies} (mean {row['mean_accuracy']:.4f}), "
                  f"{row['mean_train_seconds']:.0f} s per run")
        print(f"bf16 - float32 mean accuracy {gate['mean_difference']:+.4f}; float32 seed spread "
              f"{gate['float32_seed_spread']:.4f}: "
              f"{'within' if gate['within_seed_spread'] else 'OUTSIDE'} the spread; "
              f"bf16 {gate['speedup']:.2f}x the float32 speed")
    if "bucketing" in results:
        b = results["bucketing"]
        print(f"length bucketing: {b['bucketed_seconds']:.1f} s vs padded to {b['max_sequence_length']}: "
              f"{b['padded_seconds']:.1f} s per epoch -> {b['speedup']:.2f}x faster")
    print(f"total wall time: {results['total_seconds']:.0f} s")


if __name__ == "__main__":
    sys.exit(main())

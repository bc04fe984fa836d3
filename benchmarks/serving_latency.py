"""Raw-text serving latency: our export against keras-hub's backbone + preprocessor (issue 4).

One command:

    .venv/bin/python benchmarks/serving_latency.py              # albert_tiny, ~5 min on 2 cores
    .venv/bin/python benchmarks/serving_latency.py --preset albert_base --iterations 50

Both models have the same size (an ALBERT preset: `albert_tiny` by default) and random weights;
both tokenize with the same SentencePiece model (trained here on the standard-library corpus)
and pack to `--sequence-length` (128). Ours is `export_for_serving(Encoder, tokenizer, ...)`;
keras-hub's is `AlbertBackbone` + `AlbertTextClassifierPreprocessor` exported with
`keras.export.ExportArchive` (track both, one endpoint `text -> preprocessor -> backbone`), the
way keras-hub's export guide does. Each SavedModel is loaded the way `tensorflow_model_server`
loads it (the TF1 loader in a Session) and its raw-text signature is timed on batches of real
sentences (1 and 32 texts), the two models taking turns. Writes JSON to `--out` (default
`benchmarks/out/serving_latency.json`) and prints p50/p99 latency, throughput and the ratios
ours / keras-hub (goal: p50 <= 0.8).

Two kinds of traffic: `sentences` (real single sentences, mostly far shorter than 128 tokens)
and `long_texts` (a dozen sentences each, every row fills the 128 positions). Our raw-text
signature drops the padding columns no row uses (`trim_padding`), keras-hub's runs all 128;
on `long_texts` there is nothing to drop, which isolates the rest of the graph.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_text  # noqa: E402,F401

from albert_keras import Encoder, EncoderConfig  # noqa: E402
from albert_keras.data.corpus import read_documents  # noqa: E402
from albert_keras.data.tokenizers import train_tokenizer  # noqa: E402
from albert_keras.export import export_for_serving  # noqa: E402


def sentences(count: int) -> list[str]:
    found = []
    for document in read_documents("stdlib"):
        found.extend(s for s in document if len(s.split()) >= 5)
        if len(found) >= count:
            break
    return found[:count]


def export_ours(config: EncoderConfig, tokenizer, sequence_length: int, directory: str) -> str:
    encoder = Encoder(**config.to_dict())
    return export_for_serving(encoder, tokenizer, os.path.join(directory, "ours"),
                              version=1, overwrite=True, sequence_length=sequence_length)


def export_keras_hub(config: EncoderConfig, proto: bytes, sequence_length: int,
                     directory: str) -> str:
    backbone = keras_hub.models.AlbertBackbone(
        vocabulary_size=config.vocabulary_size, num_layers=config.num_layers,
        num_heads=config.num_heads, embedding_dim=config.effective_embedding_dim,
        hidden_dim=config.hidden_dim, intermediate_dim=config.intermediate_dim,
        num_groups=config.num_groups, dropout=config.dropout,
        max_sequence_length=config.max_sequence_length)
    preprocessor = keras_hub.models.AlbertTextClassifierPreprocessor(
        keras_hub.models.AlbertTokenizer(proto=proto), sequence_length=sequence_length)
    preprocessor(tf.constant(["build it"]))  # ExportArchive tracks built layers only
    archive = keras.export.ExportArchive()
    archive.track(backbone)
    archive.track(preprocessor)

    def serve(text):
        outputs = backbone(preprocessor(text), training=False)
        return {"embeddings": outputs["pooled_output"],
                "sequence_output": outputs["sequence_output"]}

    archive.add_endpoint("serving_default", serve,
                         input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    path = os.path.join(directory, "keras_hub", "1")
    shutil.rmtree(path, ignore_errors=True)
    archive.write_out(path, verbose=False)
    return path


class LoadedModel:
    """A SavedModel in a TF1 Session, as the model server holds it."""

    def __init__(self, path: str):
        self.session = tf.compat.v1.Session(graph=tf.Graph())
        meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], path)
        signature = meta_graph.signature_def["serving_default"]
        self.text = signature.inputs["text"].name
        self.fetches = [signature.outputs[name].name for name in sorted(signature.outputs)]

    def __call__(self, texts):
        return self.session.run(self.fetches, {self.text: texts})


def time_models(models: dict, corpus: list[bytes], batch_size: int, iterations: int,
                warmup: int) -> dict:
    rng = np.random.default_rng(batch_size)
    batches = [rng.choice(np.array(corpus, dtype=object), batch_size) for _ in range(iterations)]
    for model in models.values():
        for batch in batches[:warmup]:
            model(batch)
    seconds = {name: [] for name in models}
    for batch in batches:
        for name, model in models.items():  # take turns, so load drift hits both
            start = time.perf_counter()
            model(batch)
            seconds[name].append(time.perf_counter() - start)
    results = {}
    for name, values in seconds.items():
        values = np.array(values) * 1000.0
        results[name] = {"p50_ms": float(np.percentile(values, 50)),
                         "p99_ms": float(np.percentile(values, 99)),
                         "mean_ms": float(values.mean()),
                         "texts_per_second": float(batch_size * 1000.0 / values.mean())}
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="albert_tiny")
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workdir", default=os.path.join(REPO, "benchmarks", "out", "serving"))
    parser.add_argument("--out", default=os.path.join(REPO, "benchmarks", "out",
                                                      "serving_latency.json"))
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    corpus = sentences(5000)
    tokenizer = train_tokenizer(corpus, "sentencepiece", vocabulary_size=2000)
    config = EncoderConfig.preset(args.preset)
    ours = export_ours(config, tokenizer, args.sequence_length, args.workdir)
    theirs = export_keras_hub(config, tokenizer.proto, args.sequence_length, args.workdir)
    models = {"ours": LoadedModel(ours), "keras_hub": LoadedModel(theirs)}
    texts = {"sentences": [s.encode("utf-8") for s in corpus],
             # Texts of several sentences that fill the sequence: nothing to trim.
             "long_texts": [" ".join(corpus[i:i + 12]).encode("utf-8")
                            for i in range(0, len(corpus) - 12, 12)]}
    # Same answers first: the comparison is only fair if both compute the same thing.
    check = np.asarray(texts["long_texts"][:4], dtype=object)
    same_shapes = [o.shape for o in models["ours"](check)] == \
        [o.shape for o in models["keras_hub"](check)]

    report = {"preset": args.preset, "sequence_length": args.sequence_length,
              "iterations": args.iterations, "same_output_shapes": same_shapes,
              "machine": {"processor": platform.processor() or platform.machine(),
                          "cpus": os.cpu_count(), "tensorflow": tf.__version__,
                          "keras_hub": keras_hub.__version__},
              "batches": {}}
    for kind, corpus_texts in texts.items():
        tokens = tokenizer.tokenize([text.decode() for text in corpus_texts[:500]])
        lengths = np.array([len(row) + 2 for row in tokens])  # with [CLS] and [SEP]
        report[f"{kind}_mean_tokens"] = float(np.minimum(lengths, args.sequence_length).mean())
        for batch_size in args.batch_sizes:
            results = time_models(models, corpus_texts, batch_size, args.iterations, args.warmup)
            results["ratio_p50"] = results["ours"]["p50_ms"] / results["keras_hub"]["p50_ms"]
            results["ratio_p99"] = results["ours"]["p99_ms"] / results["keras_hub"]["p99_ms"]
            results["ratio_throughput"] = (results["ours"]["texts_per_second"]
                                           / results["keras_hub"]["texts_per_second"])
            report["batches"][f"{kind}/{batch_size}"] = results

    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    print(f"{args.preset}, sequence {args.sequence_length}, {args.iterations} batches each "
          f"(TF1 Session, as tensorflow_model_server)")
    print(f"mean tokens per text: sentences {report['sentences_mean_tokens']:.1f}, "
          f"long_texts {report['long_texts_mean_tokens']:.1f}")
    print(f"{'texts/batch':>15} {'model':>9} {'p50 ms':>8} {'p99 ms':>8} {'texts/s':>9}")
    for key, results in report["batches"].items():
        for name in ("ours", "keras_hub"):
            r = results[name]
            print(f"{key:>15} {name:>9} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                  f"{r['texts_per_second']:9.1f}")
        print(f"{key:>15} {'ratio':>9} {results['ratio_p50']:8.2f} "
              f"{results['ratio_p99']:8.2f} {results['ratio_throughput']:9.2f}"
              f"   (ours / keras-hub; goal p50 <= 0.8)")
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

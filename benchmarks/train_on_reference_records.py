"""`pretrain` on the records of google-research/albert's `create_pretraining_data.py`, as they are.

Proof that records made elsewhere train here without a manifest or conversion (issue 26):

1. writes a small BERT-format corpus (`--documents` documents of the built-in `stdlib` corpus)
   and trains a SentencePiece model with ALBERT's special pieces on it (`albert_keras`'
   trainer; a 2,000-piece `.model`);
2. runs the unmodified reference script on it (`prepare_vs_reference.run_reference`: the
   TF1-compat shim, sequence 128, SOP, static n-gram masks, 20 predictions, dupe factor
   `--dupe-factor`), which writes `reference.tfrecord`;
3. runs our `pretrain` on that file with `train.records`, `data.tokenizer_path` (the `.model`)
   and `data.records_format: auto` (recognised from the first record), a 2-layer ALBERT for
   `--steps` steps, and prints the MLM loss and accuracy before and after (on the first
   `eval_batches` batches of the records, fixed).

    git clone https://github.com/google-research/albert ../albert-reference   # not vendored
    .venv/bin/python benchmarks/train_on_reference_records.py --reference ../albert-reference

Writes `benchmarks/out/train_on_reference_records/` (corpus, tokenizer, records, run) and
`benchmarks/out/train_on_reference_records.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SETTINGS = {"max_sequence_length": 128, "dupe_factor": 2, "max_predictions": 20,
            "mask_rate": 0.15, "max_ngram": 3, "short_seq_prob": 0.1, "seed": 12345}


def write_corpus(path: str, documents: int) -> dict:
    """The first `documents` documents of the built-in corpus, one sentence a line."""
    from albert_keras.pretraining_data.corpus import read_documents

    docs = list(read_documents("stdlib", max_documents=documents))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\n".join("\n".join(doc) for doc in docs) + "\n")
    return {"documents": len(docs), "sentences": sum(len(d) for d in docs),
            "bytes": os.path.getsize(path)}


def train_spm(corpus: str, directory: str, vocabulary_size: int) -> str:
    from albert_keras.pretraining_data.corpus import read_documents
    from albert_keras.tokenizers.tokenizer_files import save_tokenizer
    from albert_keras.tokenizers.tokenizer_training import train_tokenizer

    sentences = [s for doc in read_documents(corpus) for s in doc]
    save_tokenizer(train_tokenizer(sentences, "sentencepiece", vocabulary_size), directory)
    return os.path.join(directory, "spiece.model")


def pipeline(work: str, records: str, spm_model: str, steps: int) -> dict:
    """The pretraining pipeline, as a dict: reference records in, a 2-layer ALBERT."""
    return {
        "name": "albert_on_reference_records",
        "model": {"preset": "albert_tiny", "num_layers": 2, "hidden_dim": 128, "num_heads": 2,
                  "intermediate_dim": 512, "embedding_dim": 64, "max_sequence_length": 128,
                  "dropout": 0.0},
        "data": {"tokenizer_path": spm_model, "records_format": "auto", "pair_task": "sop",
                 "max_sequence_length": SETTINGS["max_sequence_length"],
                 "max_predictions": SETTINGS["max_predictions"], "output_dir": work},
        "train": {"records": records, "global_batch_size": 32, "steps": steps,
                  "steps_per_epoch": max(1, steps // 4), "warmup_steps": max(1, steps // 10),
                  "optimizer": "lamb", "learning_rate": 0.005, "eval_batches": 4,
                  "precision": "float32", "verbose": 0, "seed": 0,
                  "output_dir": os.path.join(work, "runs")},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True,
                        help="folder with google-research/albert's create_pretraining_data.py "
                             "and tokenization.py")
    parser.add_argument("--documents", type=int, default=300)
    parser.add_argument("--vocabulary-size", type=int, default=2000)
    parser.add_argument("--dupe-factor", type=int, default=SETTINGS["dupe_factor"])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--work", default=os.path.join(REPO, "benchmarks", "out",
                                                       "train_on_reference_records"))
    args = parser.parse_args()
    from prepare_vs_reference import run_reference

    from albert_keras.pipeline import pipeline_from_dict, prepare_and_pretrain
    from albert_keras.pretraining_data.records.reference_records import read_layout

    os.makedirs(args.work, exist_ok=True)
    corpus = os.path.join(args.work, "corpus.txt")
    counts = write_corpus(corpus, args.documents)
    spm_model = train_spm(corpus, os.path.join(args.work, "spm"), args.vocabulary_size)
    settings = {**SETTINGS, "dupe_factor": args.dupe_factor}
    reference = run_reference(args.reference, corpus, spm_model, args.work, settings)
    records = os.path.join(args.work, "reference.tfrecord")
    layout = read_layout([records])
    print(f"reference create_pretraining_data.py: {reference.get('sequences')} sequences in "
          f"{reference['wall_seconds']} s -> {records} (features: input_ids ... "
          f"{'token_boundary' if layout.token_boundary else ''}; seq {layout.max_sequence_length},"
          f" {layout.max_predictions} predictions)")

    start = time.perf_counter()
    summary = prepare_and_pretrain(pipeline_from_dict(pipeline(args.work, records, spm_model,
                                                                args.steps)))
    seconds = time.perf_counter() - start
    initial, final = summary["initial"], summary["final"]
    print(f"pretrain on the reference records: {summary['steps_run']} steps in {seconds:.0f} s "
          f"({summary['encoder_parameters']:,} encoder parameters, batch 32, SOP)")
    print(f"MLM loss {initial['mlm_loss']:.3f} -> {final['mlm_loss']:.3f}, MLM accuracy "
          f"{initial['mlm_accuracy']:.3f} -> {final['mlm_accuracy']:.3f} (most-frequent-token "
          f"baseline {summary['most_frequent_token_accuracy']:.3f}); SOP accuracy "
          f"{initial['pair_accuracy']:.3f} -> {final['pair_accuracy']:.3f}")
    result = {"corpus": counts, "settings": settings, "reference": reference,
              "records": {"path": records, "max_sequence_length": layout.max_sequence_length,
                          "max_predictions": layout.max_predictions,
                          "token_boundary": layout.token_boundary},
              "pretrain": {key: summary[key] for key in (
                  "steps_run", "encoder_parameters", "initial", "final",
                  "most_frequent_token_accuracy", "train_seconds", "status")},
              "pretrain_wall_seconds": round(seconds, 1)}
    out = os.path.join(REPO, "benchmarks", "out", "train_on_reference_records.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")
    return 0 if summary["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())

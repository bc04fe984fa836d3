"""The scores and the summary of a pretraining run: before/after scores on fixed batches, the
most-frequent-token baseline, the printed report, and the files `pretrain` leaves in its run
directory (`encoder.keras`, `pretrainer.keras`, `tokenizer/`, `summary.json`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

import keras
import numpy as np

from albert_keras.models.dtype_copy import save_float32
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_json_atomic
from albert_keras.utils.published_run import publish_run
from albert_keras.utils.tokenizer_beside import TOKENIZER_DIR


def format_summary(summary: dict[str, Any]) -> str:
    """The lines printed at the end of a run: loss and accuracy, start -> end, vs the baseline."""
    first, last = summary["initial"], summary["final"]
    pair = summary["pair_task"].upper()
    source = {"held_out": "held-out records: documents never trained on",
              "training": "training records"}[summary.get("eval_source", "training")]
    budget = (f", the time budget of {summary['max_minutes']} min reached"
              if summary.get("stopped_by_time_budget") else "")
    if summary.get("time_budget_first_step_seconds") is not None:
        budget += (f" (the first step, which traces the model, took "
                   f"{summary['time_budget_first_step_seconds']}s outside the budget)")
    lines = [
        f"[pretrain] {summary['name']}: {summary.get('steps_run', summary['steps'])} steps in "
        f"{summary['train_seconds']}s{budget} (scores on {summary['eval_batches']} fixed "
        f"batches of the {source})",
        f"  MLM loss      {first['mlm_loss']:.3f} -> {last['mlm_loss']:.3f}",
        f"  MLM accuracy  {first['mlm_accuracy']:.3f} -> {last['mlm_accuracy']:.3f}  "
        f"(most-frequent-token baseline {summary['most_frequent_token_accuracy']:.3f})",
        f"  {pair} loss      {first['pair_loss']:.3f} -> {last['pair_loss']:.3f}",
        f"  {pair} accuracy  {first['pair_accuracy']:.3f} -> {last['pair_accuracy']:.3f}",
        f"  {pair}: {pair_task_verdict(last['pair_accuracy'], summary.get('eval_pairs', 0))}",
        f"  saved to {summary['run_dir']}/ (encoder.keras, pretrainer.keras, tokenizer/)",
    ]
    if summary.get("phases"):  # Scores are the last phase's: its records, from where it began.
        lines[1:1] = ["  in phases: " + ", then ".join(
            f"{entry['steps_run']} steps of {entry['max_sequence_length']} tokens "
            f"({entry['train_seconds']}s)" for entry in summary["phases"])
            + "; scores of the last phase, from its start"]
    return "\n".join(lines)


def pair_task_verdict(accuracy: float, pairs: int) -> str:
    """Whether the sentence-pair task was learned: accuracy above chance (0.5) by more than two
    standard errors of a coin over the `pairs` scored (pairs from one document are not quite
    independent, so this is a lenient bar)."""
    if not pairs or accuracy != accuracy:  # No scored pairs, or NaN.
        return "not scored"
    error = (0.25 / pairs) ** 0.5
    margin = (accuracy - 0.5) / error
    if margin > 2:
        return (f"learned (accuracy {accuracy:.3f} over {pairs} pairs, {margin:.1f} standard "
                "errors above chance 0.5)")
    return (f"not learned (accuracy {accuracy:.3f} over {pairs} pairs is within 2 standard "
            f"errors ({2 * error:.3f}) of chance 0.5)")


def scores(pretrainer: Pretrainer, eval_data, steps: int) -> dict[str, float]:
    """Loss and accuracies on the `steps` fixed batches (NaN when there are none)."""
    if steps == 0:
        return {name: float("nan") for name in
                ("loss", "mlm_loss", "mlm_accuracy", "pair_loss", "pair_accuracy")}
    result = pretrainer.evaluate(eval_data, steps=steps, verbose=0, return_dict=True)
    return {name: float(value) for name, value in result.items()}


def initial_scores(pretrainer: Pretrainer, eval_data, steps: int,
                   run_dir: str, resumed: bool = False) -> dict[str, float]:
    """Scores before training; a resumed run reuses those of its first start.

    A resumed run never evaluates here (its weights are no longer the initial ones): it reads
    `initial_scores.json`, or reports NaN scores without one (a non-chief worker writes its
    files to a temporary folder). Every worker of a multi-worker run thus evaluates, or not,
    alike: evaluation takes part in collective ops.
    """
    path = os.path.join(run_dir, "initial_scores.json")
    if resumed:
        if file_io.isfile(path):
            return json.loads(file_io.read_text(path))
        return {name: float("nan") for name in
                ("loss", "mlm_loss", "mlm_accuracy", "pair_loss", "pair_accuracy")}
    result = scores(pretrainer, eval_data, steps)
    write_json_atomic(path, result)
    return result


def save_run(run_dir: str, pretrainer: Pretrainer, tokenizer_dir: str,
             summary: dict[str, Any]) -> None:
    """Publishes `encoder.keras`, `pretrainer.keras`, `tokenizer/` and `summary.json` as one
    unit (`publish_run`): a kill leaves the previous run's set or this one, never a mix. The
    record beside them holds the tokenizer's fingerprint (what `export` checks). Both models
    are saved in float32 (`save_float32`; `pretrainer.keras` with its optimizer state), so they
    load and run alike on any hardware; the training precision is in `summary["precision"]`,
    also written to the record.
    `tokenizer_dir` is a saved tokenizer directory (copied as it is) or any other path
    `load_tokenizer` reads, e.g. the `vocab.txt` of reference records (saved as one)."""
    from albert_keras import tokenizers

    if not tokenizers.is_saved_tokenizer(tokenizer_dir):
        with tempfile.TemporaryDirectory() as scratch:
            saved = tokenizers.save_tokenizer(tokenizers.load_tokenizer(tokenizer_dir),
                                              os.path.join(scratch, TOKENIZER_DIR))
            return save_run(run_dir, pretrainer, saved, summary)

    def write(staging: str) -> None:
        save_float32(pretrainer.encoder, os.path.join(staging, "encoder.keras"))
        save_float32(pretrainer, os.path.join(staging, "pretrainer.keras"))
        file_io.copy_tree(tokenizer_dir, os.path.join(staging, TOKENIZER_DIR))
        file_io.write_text(os.path.join(staging, "summary.json"),
                           json.dumps(json_safe(summary), indent=2))

    file_io.makedirs(run_dir)
    publish_run(run_dir, write, {
        "job": "pretrain", "name": summary.get("name"),
        "tokenizer_fingerprint": tokenizers.tokenizer_fingerprint(tokenizer_dir),
        "vocabulary_size": int(pretrainer.encoder.vocabulary_size),
        "precision": summary.get("precision")})


def weights_digest(model) -> str:
    """SHA-256 of the model's weights (every array's bytes, in `model.weights` order): equal on
    every worker of a multi-worker run that stayed in step, and equal to a saved copy's."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable)).tobytes())
    return digest.hexdigest()


def json_safe(value):
    """`value` with numpy numbers as Python ones and tuples as lists, for `json.dump`."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value

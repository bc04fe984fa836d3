"""Held-out accuracies of a trained arm with 95% intervals that respect documents.

The held-out pairs come from a few hundred documents, and pairs of one document are alike
(topic, style, words): counting them as independent draws overstates how precise a held-out
accuracy is. So after training, each arm scores every example of the same fixed held-out
batches as its learning curve (`arm_pretraining.held_out_dataset`), keeps per example what it
got right, and resamples whole held-out documents (`utils.grouped_bootstrap`): a percentile
bootstrap of the masked-LM accuracy (correct masked positions over masked positions) and of
the pair accuracy (correct pairs over pairs). Records without `document_id` (made before it,
or by a reference `create_pretraining_data.py`) fall back to one group per pair, and say so.

The arm's `held_out_intervals` entry of `report.json`:
- `step`: the step the scores are at (the arm's last);
- `mlm_accuracy`, `pair_accuracy`: the point values (the arm's `final` ones: same batches,
  same weights), each with `*_low` and `*_high`, the interval's ends;
- `interval_grouping`: `"document"` (documents resampled) or `"pair"` (no document ids);
- `num_documents` (held-out documents among the scored pairs; None without document ids),
  `num_pairs`, `num_masked_tokens` (the masked positions' summed weights);
- `confidence` (0.95), `resamples` (1000), `seed` (`train.seed`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from albert_keras.pretraining_data.reader.pretraining_dataset import record_document_ids
from albert_keras.utils.grouped_bootstrap import document_bootstrap

RESAMPLES = 1000
CONFIDENCE = 0.95


def held_out_intervals(pretrainer, held_out, batches: int, held_out_dir: str, *, step: int,
                       seed: int) -> dict[str, Any]:
    """The arm's held-out accuracies with bootstrap intervals over held-out documents.

    Args:
        pretrainer: `Pretrainer`. The trained model (its `mlm` and `pair` logits).
        held_out: `tf.data.Dataset` of `(x, y, sample_weight)`: the fixed, unshuffled held-out
            batches of `held_out_dataset`.
        batches: int. How many of them are scored.
        held_out_dir: str. The held-out records they were read from, for the document ids.
        step: int. The step the model is at.
        seed: int. Seed of the resampling.

    Returns:
        The `held_out_intervals` entry described in the module docstring.
    """
    scores = example_scores(pretrainer, held_out, batches)
    num_pairs = len(scores["pair_correct"])
    documents = record_document_ids(held_out_dir, num_pairs)
    if documents is not None and len(documents) != num_pairs:
        raise ValueError(f"The held-out records in {held_out_dir} hold {len(documents)} "
                         f"document ids for {num_pairs} scored pairs")
    groups = documents if documents is not None else np.arange(num_pairs)
    entry: dict[str, Any] = {
        "step": int(step), "interval_grouping": "pair" if documents is None else "document",
        "num_documents": None if documents is None else int(len(np.unique(documents))),
        "num_pairs": num_pairs, "num_masked_tokens": float(scores["mlm_weights"].sum()),
        "confidence": CONFIDENCE, "resamples": RESAMPLES, "seed": int(seed)}
    parts = {"mlm_accuracy": (scores["mlm_correct"], scores["mlm_weights"]),
             "pair_accuracy": (scores["pair_correct"], np.ones(num_pairs))}
    for name, (correct, weights) in parts.items():
        low, high = document_bootstrap(correct, weights, groups, RESAMPLES, seed, CONFIDENCE)
        entry.update({name: float(correct.sum() / weights.sum()), f"{name}_low": low,
                      f"{name}_high": high})
    return entry


def example_scores(pretrainer, held_out, batches: int) -> dict[str, np.ndarray]:
    """What each example of the first `batches` batches got right, in order.

    Computed as the compiled accuracies compute it (`predict_on_batch`, the model's own
    compiled forward pass; arg-max of the logits against the labels), so the totals give the
    accuracies `evaluate` reports on the same batches.

    Returns:
        float64 arrays `[examples]`: `mlm_correct` (the weights of the masked positions
        predicted right), `mlm_weights` (the weights of all its masked positions) and
        `pair_correct` (1.0 or 0.0).
    """
    mlm_correct, mlm_weights, pair_correct = [], [], []
    for x, y, sample_weight in held_out.take(batches).as_numpy_iterator():
        size = len(y["pair"])
        # Under several replicas each runs the whole batch: the first rows are the batch.
        outputs = {k: np.asarray(v)[:size] for k, v in pretrainer.predict_on_batch(x).items()}
        weights = sample_weight["mlm"].astype(np.float64)  # (batch, predictions)
        hits = np.argmax(outputs["mlm"], axis=-1) == y["mlm"]  # (batch, predictions)
        mlm_correct.append((hits * weights).sum(axis=1))
        mlm_weights.append(weights.sum(axis=1))
        pair_correct.append((np.argmax(outputs["pair"], axis=-1) == y["pair"]).astype(np.float64))
    return {"mlm_correct": np.concatenate(mlm_correct), "mlm_weights": np.concatenate(mlm_weights),
            "pair_correct": np.concatenate(pair_correct)}

"""Metrics of the fine-tuning report, from predictions: plain numpy, no framework state.

Classification: accuracy, macro-F1, per-label precision/recall/F1, confusion matrix (rows =
true label, columns = predicted). Tagging: token accuracy, per-label F1, macro-F1, and entity
F1 (exact-match chunks, as conlleval) when the tags use a B-/I- scheme. Spans: SQuAD exact
match and token F1, best over the reference answers.
"""

from __future__ import annotations

import collections
import re
import string
from typing import Any, Sequence

import numpy as np


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                           labels: Sequence[str]) -> dict[str, Any]:
    """Single-label metrics from class ids `(n,)`."""
    num_classes = len(labels)
    confusion = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(confusion, (np.asarray(y_true), np.asarray(y_pred)), 1)
    per_label = _per_label(np.diag(confusion), confusion.sum(axis=0), confusion.sum(axis=1), labels)
    return {"examples": int(confusion.sum()),
            "accuracy": float(np.trace(confusion) / max(confusion.sum(), 1)),
            "macro_f1": _macro_f1(per_label), "per_label": per_label,
            "confusion_matrix": confusion.tolist()}


def multi_label_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                        labels: Sequence[str]) -> dict[str, Any]:
    """Multi-label metrics from multi-hot `(n, num_classes)` arrays."""
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    hits = (y_true & y_pred).sum(axis=0)
    per_label = _per_label(hits, y_pred.sum(axis=0), y_true.sum(axis=0), labels)
    micro = _f1(hits.sum(), y_pred.sum(), y_true.sum())
    return {"examples": int(len(y_true)),
            "subset_accuracy": float(np.mean(np.all(y_true == y_pred, axis=1))),
            "micro_f1": micro["f1"], "macro_f1": _macro_f1(per_label), "per_label": per_label}


def tagging_metrics(true_tags: list[Sequence[str]], predicted_tags: list[Sequence[str | None]],
                    labels: Sequence[str]) -> dict[str, Any]:
    """Word-level metrics; a predicted tag of None (word cut off by truncation) is wrong."""
    index = {label: i for i, label in enumerate(labels)}
    flat_true = [index[t] for tags in true_tags for t in tags]
    flat_pred = [index[p] if p is not None else -1 for tags in predicted_tags for p in tags]
    flat_true, flat_pred = np.array(flat_true), np.array(flat_pred)
    correct = flat_true == flat_pred
    hits = np.bincount(flat_true[correct], minlength=len(labels))
    predicted = np.bincount(flat_pred[flat_pred >= 0], minlength=len(labels))
    support = np.bincount(flat_true, minlength=len(labels))
    per_label = _per_label(hits, predicted, support, labels)
    result = {"sentences": len(true_tags), "words": int(len(flat_true)),
              "token_accuracy": float(np.mean(correct)) if len(correct) else 0.0,
              "macro_f1": _macro_f1(per_label), "per_label": per_label}
    if any(label[:2] in ("B-", "I-") for label in labels):
        true_chunks = {c for i, tags in enumerate(true_tags) for c in _chunks(i, tags)}
        pred_chunks = {c for i, tags in enumerate(predicted_tags) for c in _chunks(i, tags)}
        result["entity_f1"] = _f1(len(true_chunks & pred_chunks), len(pred_chunks),
                                  len(true_chunks))["f1"]
    return result


def span_metrics(predictions: list[str], references: list[Sequence[str]]) -> dict[str, Any]:
    """SQuAD v1.1 exact match and F1 (in %), each the best over an example's references."""
    exact, f1 = [], []
    for prediction, answers in zip(predictions, references):
        answers = list(answers) or [""]
        exact.append(max(float(_normalize(prediction) == _normalize(a)) for a in answers))
        f1.append(max(_token_f1(prediction, a) for a in answers))
    return {"examples": len(predictions), "exact_match": 100.0 * float(np.mean(exact or [0.0])),
            "f1": 100.0 * float(np.mean(f1 or [0.0]))}


def report_markdown(report: dict[str, Any]) -> str:
    """The human-readable `report.md` for a `finetune` report."""
    lines = [f"# Fine-tuning report: {report['name']}", "",
             f"- task: {report['task']}", f"- encoder: {report['encoder']}",
             f"- epochs run: {report['epochs_run']} (best: {report['best_epoch']})",
             f"- train time: {report['train_seconds']:.1f} s", ""]
    for split, metrics in report["metrics"].items():
        lines += [f"## {split}", ""]
        scalars = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
                  for k, v in scalars.items()]
        lines.append("")
        if "per_label" in metrics:
            lines += ["| label | precision | recall | f1 | support |", "|---|---|---|---|---|"]
            lines += [f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} "
                      f"| {m['support']} |" for label, m in metrics["per_label"].items()]
            lines.append("")
        if "confusion_matrix" in metrics:
            labels = list(metrics["per_label"])
            lines += ["Confusion matrix (rows: true, columns: predicted):", "",
                      "| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
            lines += [f"| {label} | " + " | ".join(map(str, row)) + " |"
                      for label, row in zip(labels, metrics["confusion_matrix"])]
            lines.append("")
    return "\n".join(lines)


def _per_label(hits, predicted, support, labels) -> dict[str, dict[str, float]]:
    return {label: {**_f1(int(h), int(p), int(s)), "support": int(s)}
            for label, h, p, s in zip(labels, hits, predicted, support)}


def _f1(hits: int, predicted: int, support: int) -> dict[str, float]:
    precision = hits / predicted if predicted else 0.0
    recall = hits / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def _macro_f1(per_label: dict[str, dict[str, float]]) -> float:
    scores = [m["f1"] for m in per_label.values() if m["support"] > 0]
    return float(np.mean(scores)) if scores else 0.0


def _chunks(sentence: int, tags: Sequence[str | None]) -> list[tuple[int, int, int, str]]:
    """`(sentence, start, end, type)` for each B-/I- chunk; an I- without its B- starts one."""
    chunks, start, kind = [], None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        tag = tag or "O"
        prefix, _, tag_type = tag.partition("-")
        continues = prefix == "I" and kind == tag_type
        if start is not None and not continues:
            chunks.append((sentence, start, i, kind))
            start, kind = None, None
        if prefix in ("B", "I") and tag_type and not continues:
            start, kind = i, tag_type
    return chunks


def _normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _token_f1(prediction: str, answer: str) -> float:
    predicted, truth = _normalize(prediction).split(), _normalize(answer).split()
    if not predicted or not truth:
        return float(predicted == truth)
    common = sum((collections.Counter(predicted) & collections.Counter(truth)).values())
    if not common:
        return 0.0
    precision, recall = common / len(predicted), common / len(truth)
    return 2 * precision * recall / (precision + recall)

"""`evaluate_split`: a fine-tuned model's loss, Keras metrics and task metrics on one split."""

from __future__ import annotations

from typing import Any

import numpy as np

from albert_keras.models.span_extractor import best_spans
from albert_keras.training import finetune_metrics


def evaluate_split(model, ft, encoded, dataset, labels) -> dict[str, Any]:
    """Loss and Keras metrics from `evaluate`, then the task's metrics from predictions."""
    logs = model.evaluate(dataset, verbose=0, return_dict=True)
    outputs = [model.predict_on_batch(batch[0]) for batch in dataset]
    examples = encoded["examples"]
    if ft.task == "text_classification":
        logits = np.concatenate(outputs)
        if ft.multi_label:
            task_metrics = finetune_metrics.multi_label_metrics(encoded["y"], logits > 0, labels)
        else:
            task_metrics = finetune_metrics.classification_metrics(
                encoded["y"], logits.argmax(-1), labels)
    elif ft.task == "token_classification":
        predicted = [row.argmax(-1) for batch in outputs for row in batch]
        tags = []
        for example, positions, row in zip(examples, encoded["word_positions"], predicted):
            words = [labels[i] for i in row[positions]]
            tags.append(words + [None] * (len(example["tags"]) - len(words)))
        task_metrics = finetune_metrics.tagging_metrics(
            [e["tags"] for e in examples], tags, labels)
    else:
        answers = span_answers(outputs, encoded, ft.max_answer_length)
        task_metrics = finetune_metrics.span_metrics(
            answers, [[a["text"] for a in e["answers"]] for e in examples])
    return {**{k: float(v) for k, v in logs.items()}, **task_metrics}


def span_answers(outputs: list[dict], encoded: dict, max_answer_length: int) -> list[str]:
    """The answer text of each example: the best legal span over the context tokens of all its
    windows (rows)."""
    examples = encoded["examples"]
    answers, best = [""] * len(examples), np.full(len(examples), -np.inf)
    row = 0
    for batch in outputs:
        size, seq = batch["start_logits"].shape
        valid = np.zeros((size, seq), bool)
        for i in range(size):
            token_to_word = encoded["token_to_word"][row + i]
            valid[i, :len(token_to_word)] = token_to_word >= 0
        starts, ends, scores = best_spans(batch["start_logits"], batch["end_logits"], valid,
                                          max_answer_length)
        for i, (start, end, score) in enumerate(zip(*map(np.asarray, (starts, ends, scores)))):
            example = encoded["window_example"][row + i]
            token_to_word = encoded["token_to_word"][row + i]
            offsets = encoded["word_offsets"][row + i]
            if not offsets or start >= len(token_to_word) or token_to_word[start] < 0 \
                    or not score > best[example]:
                continue
            best[example] = score
            context = examples[example]["context"]
            answers[example] = context[offsets[token_to_word[start]][0]:
                                       offsets[token_to_word[end]][1]]
        row += size
    return answers

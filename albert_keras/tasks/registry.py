"""The fine-tuning tasks by name: the one place a task name is looked up.

A new task is one new module with a `FineTuningTask` subclass, added to `TASKS`. The table
names modules rather than importing them, so a config can check `finetune.task` without
importing TensorFlow; `task_named` imports the task's module on first use.
"""

from __future__ import annotations

import importlib

from albert_keras.tasks.inputs.labeled_examples import LabeledExample

# finetune.task -> (module, class)
TASKS = {
    "text_classification": ("albert_keras.tasks.text_classification", "TextClassification"),
    "token_classification": ("albert_keras.tasks.token_classification", "TokenClassification"),
    "span_extraction": ("albert_keras.tasks.span_extraction", "SpanExtraction"),
}
_LOADED = {}


def task_named(name: str):
    """The `FineTuningTask` that `finetune.task = name` means; a clear error for another name."""
    if name not in TASKS:
        raise ValueError(f"`finetune.task` must be one of {tuple(TASKS)}. Received: task={name!r}")
    if name not in _LOADED:
        module, class_name = TASKS[name]
        _LOADED[name] = getattr(importlib.import_module(module), class_name)()
    return _LOADED[name]


def task_of_model(model):
    """The task whose model `model` is (its class or a subclass), or None (an encoder, a
    pretrainer, any other model)."""
    for name in TASKS:
        task = task_named(name)
        if isinstance(model, task.model_class):
            return task
    return None


def read_examples(source: str, config, split: str = "train",
                  skipped: list[str] | None = None) -> list[LabeledExample]:
    """`config.task`'s reader on `source` (see `FineTuningTask.read_examples`): a list of that
    task's example dataclass (`ClassificationExample`, `TaggingExample`, `SpanExample`)."""
    return task_named(config.task).read_examples(source, config, split, skipped)

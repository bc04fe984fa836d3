"""`ServingSettings`: the `labels.json` contract between `finetune` and the export.

`finetune` writes a fine-tuned model's serving settings beside it (`labels.json`, built by the
task's `serving_settings`); `export` reads them back and hands them to `export_for_serving`, which
serves with them. A span extractor's `doc_stride` is stored resolved (the value its windows were
trained with); a file from before it was stored gets the default the training used
(`default_doc_stride`), so training and serving read a long context in the same windows on
every path.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from albert_keras.tasks.registry import TASKS
from albert_keras.tokenizers.sequence_layout import MAX_QUERY_LENGTH, default_doc_stride
from albert_keras.utils import file_io

LABELS_FILE = "labels.json"  # Beside a fine-tuned `model.keras`.
SPAN_TASK = "span_extraction"  # The task whose settings include context windows.


@dataclasses.dataclass(frozen=True)
class ServingSettings:
    """What a task's serving signature needs besides the model and its tokenizer.

    Field names are the keys of `labels.json`. A span extractor's `max_query_length` and
    `doc_stride` are resolved when the settings are made: unset, they take the defaults that
    `finetune` trains with (`finetune.max_query_length: 64`, `finetune.doc_stride: null` = half
    of a window's room for the context, `default_doc_stride`), computed from
    `max_sequence_length`; other tasks leave them None.

    Args:
        task: str or None. The `finetune.task` of the run; None when not known (an export
            finds it from the model). Defaults to None.
        labels: tuple of str or None. Class (or tag) names, index = class id; None takes the
            model's own. Defaults to None.
        multi_label: bool or None. Sigmoid per class instead of softmax; None takes the
            model's `multi_label`. Defaults to None.
        max_sequence_length: int or None. The sequence length the model was trained with;
            None when not known (an export takes the length it serves). Defaults to None.
        max_query_length: int or None. Question tokens kept (span extraction). Defaults to
            None: 64 for span extraction.
        max_answer_length: int or None. The run's longest answer in tokens (the model holds
            its own; recorded for reference). Defaults to None.
        doc_stride: int or None. Context tokens between the starts of consecutive windows
            (span extraction). Defaults to None: `default_doc_stride(max_sequence_length,
            max_query_length)`, as in training.

    Example:
    ```python
    settings = ServingSettings(task="span_extraction", max_sequence_length=128)
    assert settings.doc_stride == 30  # (128 - 3 - 64) // 2: what `finetune` trains with
    settings.write("labels.json")
    assert ServingSettings.read("labels.json") == settings
    ```
    """

    task: str | None = None
    labels: tuple[str, ...] | None = None
    multi_label: bool | None = None
    max_sequence_length: int | None = None
    max_query_length: int | None = None
    max_answer_length: int | None = None
    doc_stride: int | None = None

    def __post_init__(self) -> None:
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"`task` must be one of {tuple(TASKS)} or None. "
                             f"Received: task={self.task!r}")
        if self.labels is not None:
            if isinstance(self.labels, str) or not all(isinstance(name, str)
                                                       for name in self.labels):
                raise ValueError("`labels` must be a list of strings or None. "
                                 f"Received: labels={self.labels!r}")
            object.__setattr__(self, "labels", tuple(self.labels))
        if self.multi_label is not None and not isinstance(self.multi_label, bool):
            raise ValueError("`multi_label` must be true, false or None. "
                             f"Received: multi_label={self.multi_label!r}")
        for name in ("max_sequence_length", "max_query_length", "max_answer_length",
                     "doc_stride"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"`{name}` must be a positive integer or None. "
                                 f"Received: {name}={value!r}")
        if self.task == SPAN_TASK:
            if self.max_query_length is None:
                object.__setattr__(self, "max_query_length", MAX_QUERY_LENGTH)
            if self.doc_stride is None and self.max_sequence_length is not None:
                object.__setattr__(self, "doc_stride", default_doc_stride(
                    self.max_sequence_length, self.max_query_length))

    def to_json(self) -> dict[str, Any]:
        """The `labels.json` object: every field that is set."""
        fields = dataclasses.asdict(self)
        if self.labels is not None:
            fields["labels"] = list(self.labels)
        return {name: value for name, value in fields.items() if value is not None}

    @classmethod
    def from_json(cls, fields: Any, where: str = LABELS_FILE) -> "ServingSettings":
        """Settings from a `labels.json` object; a `ValueError` naming `where` and the bad
        entry otherwise."""
        if not isinstance(fields, dict):
            raise ValueError(f"{where} must hold a JSON object. "
                             f"Received: {type(fields).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; the known ones are "
                             f"{sorted(known)}")
        try:
            return cls(**fields)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None

    def write(self, path: str) -> None:
        """Writes the settings to `path` (a `labels.json`; a URL too)."""
        file_io.write_text(path, json.dumps(self.to_json(), indent=2))

    @classmethod
    def read(cls, path: str) -> "ServingSettings":
        """The settings in `path` (a `labels.json`; a URL too)."""
        try:
            fields = json.loads(file_io.read_text(path))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        return cls.from_json(fields, path)

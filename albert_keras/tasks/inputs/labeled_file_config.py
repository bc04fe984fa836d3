"""`LabeledFileConfig`: how the labelled files of a fine-tuning task are read."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class LabeledFileConfig:
    """The settings of the labelled-file readers (each task's `read_examples`).

    Owned by the fine-tuning inputs; `FinetuneConfig` (the pipeline's `finetune` section) extends it
    with the task, where the files are and how the model trains, so these are `finetune.*`
    YAML keys.

    Args:
        format: str. `"auto"` (by extension / `tfds:` prefix), `"csv"`, `"tsv"`, `"jsonl"`,
            `"tagged"` (word/TAG per token, a sentence per line) or `"squad"`.
        header: bool. CSV/TSV files start with a row of column names. Defaults to True.
        column_names: list of str. Column names for CSV/TSV files without a header row,
            e.g. `[label, text]`. Defaults to none.
        text_column, text_pair_column, label_column: str. Column (or TFDS feature) names. With
            `text_pair_column` set, every row must have a non-empty pair. For tagging from TFDS,
            `text_column` is the words feature and `label_column` the tags feature.
        multi_label: bool. Each row has several labels (a JSONL list, or joined by
            `label_separator`). Defaults to False.
        label_separator: str. Separator of labels in a CSV/TSV cell when `multi_label`.

    Example:
    ```python
    # needs: a reviews.csv file
    from albert_keras.tasks import task_named

    config = LabeledFileConfig(header=False, column_names=("label", "text"))
    examples = task_named("text_classification").read_examples("reviews.csv", config)
    ```
    """

    format: Literal["auto", "csv", "tsv", "jsonl", "tagged", "squad"] = "auto"
    header: bool = True
    column_names: tuple[str, ...] = ()
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    multi_label: bool = False
    label_separator: str = "|"

    def __post_init__(self) -> None:
        if not self.label_separator:
            raise ValueError("`finetune.label_separator` must not be empty.")

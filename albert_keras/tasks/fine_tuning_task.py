"""`FineTuningTask`: what a fine-tuning task is, from its labelled files to its serving outputs.

One subclass per task, one module each (`text_classification`, `token_classification`,
`span_extraction`), listed once in `albert_keras.tasks.registry`. `finetune`, the evaluation
and the export ask the task; none of them branches on its name.

The contract is typed: a task reads its files into its own frozen example dataclass
(`inputs.labeled_examples`: `ClassificationExample`, `TaggingExample`, `SpanExample`), is a
`FineTuningTask[ThatExample]`, and every method that trains or serves takes the pipeline's
`finetune` section as `ft: FinetuneConfig`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Generic, Sequence, TypeVar

import keras
import tensorflow as tf

from albert_keras.tasks.inputs import labeled
from albert_keras.tasks.inputs.encoded_split import EncodedSplit
from albert_keras.tasks.inputs.labeled_examples import LabeledExample
from albert_keras.tasks.inputs.labeled_file_config import LabeledFileConfig
from albert_keras.tasks.inputs.padding import trim_padding
from albert_keras.tasks.serving_settings import ServingSettings

if TYPE_CHECKING:  # Types only: the jobs rank above the tasks (DESIGN.md, Layering).
    from albert_keras.jobs.finetune_config import FinetuneConfig

# The example dataclass of a task (`ClassificationExample`, `TaggingExample`, `SpanExample`).
ExampleT = TypeVar("ExampleT", bound=LabeledExample)


class FineTuningTask(Generic[ExampleT]):
    """One fine-tuning task: reader, preprocessor, model, compile settings, decoding, serving.

    Subclasses set `name` (the `finetune.task` value) and `model_class`, name their example
    type (`class TextClassification(FineTuningTask[ClassificationExample])`), and implement the
    methods that raise `NotImplementedError` here. Readers return lists of that example type;
    `encode`, `example_labels`, `corpus_texts` and `leave_out` take it.
    """

    name: str = ""
    model_class: type | None = None
    # The metric `finetune` watches for early stopping and the best checkpoint.
    monitor: tuple[str, str] = ("val_accuracy", "max")
    # Whether the task learns named labels (then `label_vocabulary` gives them).
    has_labels: bool = True
    # The entry of `metrics(...)` that ranks runs (e.g. `compare`'s downstream score).
    score: str = "accuracy"

    # --- Configuration --------------------------------------------------------------------

    def score_name(self, ft: FinetuneConfig) -> str:
        """The key of the headline number in this task's `metrics(...)` for the config `ft`."""
        return self.score

    def check_config(self, ft: FinetuneConfig) -> None:
        """Raises `ValueError` naming a `finetune.*` setting this task cannot use."""
        if ft.multi_label:
            raise ValueError("`finetune.multi_label` applies to text_classification only. "
                             f"Received: finetune.task={self.name!r}, finetune.multi_label=True")

    # --- Reading --------------------------------------------------------------------------

    # Whether examples share their text (SQuAD: a context per question), so that a corpus
    # made from them (`task_corpus.py`) keeps each distinct text once.
    shared_texts: bool = False

    def corpus_texts(self, example: ExampleT) -> list[str]:
        """The unlabelled text of one example, in reading order, for a pretraining corpus
        (task-adaptive pretraining, `task_corpus.py`)."""
        raise NotImplementedError

    def read_examples(self, source: str, config: LabeledFileConfig, split: str = "train",
                      skipped: list[str] | None = None) -> list[ExampleT]:
        """Reads one split of labelled data.

        Args:
            source: str. A file path, or `tfds:NAME` / `tfds:NAME:SPLIT`.
            config: `LabeledFileConfig` (or the `FinetuneConfig` that extends it). Format and
                column names.
            split: str. `"train"`, `"validation"` or `"test"`: the TFDS split when `source`
                names none.
            skipped: list or None. Receives `"SOURCE row N"` for each row left out.

        Returns:
            A non-empty list of the task's examples (e.g. `ClassificationExample`).

        Raises:
            LabeledDataError: naming the file (and row, and column) of bad or missing data.
        """
        if source.startswith(labeled.TFDS_PREFIX):
            examples = [self.read_tfds_record(record, features, where, row, config)
                        for where, row, record, features in labeled.tfds_records(source, split)]
        else:
            labeled.check_file(source, split)
            examples = self.read_file(source, self.file_format(source, config), config)
        examples = self.leave_out(examples, skipped)
        if not examples:
            raise labeled.LabeledDataError(f"{source}: no examples (the {split} data is empty)")
        return examples

    def file_format(self, path: str, config: LabeledFileConfig) -> str:
        """The reader for `path`: `config.format`, or guessed from the extension."""
        raise NotImplementedError

    def read_file(self, path: str, file_format: str,
                  config: LabeledFileConfig) -> list[ExampleT]:
        """The examples of one labelled file (`file_format` from `file_format`)."""
        raise NotImplementedError

    def read_tfds_record(self, record: dict, features, where: str, row: int,
                         config: LabeledFileConfig) -> ExampleT:
        """The example of one TFDS record (`record`: feature name -> numpy value)."""
        raise NotImplementedError

    def leave_out(self, examples: list[ExampleT], skipped: list[str] | None) -> list[ExampleT]:
        """The examples worth training on; those left out are named in `skipped`."""
        return examples

    # --- Labels ---------------------------------------------------------------------------

    def example_labels(self, example: ExampleT) -> Sequence[str]:
        """The label (or tag) names of one example."""
        raise NotImplementedError

    def label_vocabulary(self, examples: list[ExampleT]) -> tuple[str, ...]:
        """The sorted label (or tag) names seen in the training examples."""
        return labeled.sorted_labels(name for e in examples for name in self.example_labels(e))

    def check_labels(self, examples: list[ExampleT], labels: tuple[str, ...],
                     column: str) -> None:
        """Raises `LabeledDataError` naming the file, row and column of a label not in `labels`."""
        known = set(labels)
        for example in examples:
            for label in self.example_labels(example):
                if label not in known:
                    raise labeled.LabeledDataError(
                        f"{example.source} row {example.row}, column {column!r}: unknown "
                        f"label {label!r}; the training data has {', '.join(labels)}")

    # --- Training -------------------------------------------------------------------------

    def encode(self, examples: list[ExampleT], tokenizer, labels: tuple[str, ...] | None,
               ft: FinetuneConfig, training: bool = True) -> EncodedSplit:
        """Token-id rows and targets, made by the task's TF-op preprocessor (the one its
        serving signature runs)."""
        raise NotImplementedError

    def build_model(self, ft: FinetuneConfig, encoder: keras.Model,
                    labels: tuple[str, ...] | None) -> keras.Model:
        """The task's model on `encoder` (a fresh head for `labels`)."""
        raise NotImplementedError

    def compile_arguments(self, ft: FinetuneConfig) -> dict[str, Any]:
        """`loss`, `metrics` (and `loss_weights`, `weighted_metrics`) for `model.compile`."""
        raise NotImplementedError

    def metrics(self, outputs: list, encoded: EncodedSplit, labels: tuple[str, ...] | None,
                ft: FinetuneConfig) -> dict[str, Any]:
        """The task's own metrics from the model's outputs on `encoded`, batch by batch."""
        raise NotImplementedError

    def report_fields(self, ft: FinetuneConfig,
                      encoded: dict[str, EncodedSplit]) -> dict[str, Any]:
        """Task-specific entries of the fine-tuning report (`encoded`: per split)."""
        return {}

    def serving_settings(self, ft: FinetuneConfig,
                         labels: tuple[str, ...] | None) -> ServingSettings:
        """What the export needs to serve this run's model (`finetune` writes it as
        `labels.json`): the labels learned and the settings of `ft` that the serving
        signature must share with training."""
        return ServingSettings(task=self.name, labels=labels, multi_label=ft.multi_label,
                               max_sequence_length=ft.max_sequence_length)

    # --- Serving --------------------------------------------------------------------------

    def add_serving_outputs(self, model, inputs: dict, named: dict) -> dict:
        """Extra outputs computed from the ids and the named outputs (all signatures)."""
        return named

    def serve_text(self, run: Callable, model, preprocessor, text: tf.Tensor,
                   text_pair: tf.Tensor, settings: ServingSettings) -> dict:
        """`serving_default`: raw `text` (and `text_pair`, may be empty) to the named outputs."""
        return serve_texts(run, preprocessor, text, text_pair)


def serve_texts(run: Callable, preprocessor, text: tf.Tensor, text_pair: tf.Tensor) -> dict:
    """Single texts or pairs, packed by the `TextPreprocessor`, through `run`."""
    x = tf.cond(tf.size(text_pair) > 0,
                lambda: preprocessor(text, text_pair), lambda: preprocessor(text))
    return run(trim_padding(x))

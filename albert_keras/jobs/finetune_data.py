"""A fine-tuning run's inputs: its tokenizer and its splits, read, labelled and encoded.

`load_finetune_tokenizer` finds the tokenizer (`finetune.tokenizer`, or the one stored with
`model.pretrained`); `read_splits` reads train, validation and test (rows with empty text left
out and named); `encode_splits` learns the labels from train, checks them on the other splits,
and encodes each split with the task's preprocessor. `finetune` (`finetune.py`) makes batches
of them.
"""

from __future__ import annotations

import sys

from albert_keras.tasks.inputs import labeled
from albert_keras.tasks.inputs.labeled_examples import LabeledExample
from albert_keras.tasks.registry import task_named
from albert_keras.tokenizers.tokenizer_files import load_tokenizer
from albert_keras.utils import file_io
from albert_keras.utils.tokenizer_beside import tokenizer_beside


def load_finetune_tokenizer(config):
    """`finetune.tokenizer`, or the tokenizer stored with `model.pretrained`.

    A `.keras` encoder's tokenizer is the `tokenizer/` directory beside it (what `pretrain`
    and `convert` write); an imported checkpoint's is its own `vocab.txt` / `.model`.
    """
    path = finetune_tokenizer_path(config)
    if path:
        return load_tokenizer(path)
    pretrained = config.model.pretrained
    if pretrained and not pretrained.endswith(".keras"):
        from albert_keras.convert import load_pretrained_tokenizer

        try:
            return load_pretrained_tokenizer(pretrained)
        except FileNotFoundError:
            pass
    raise ValueError("No tokenizer: set finetune.tokenizer (a tokenizer directory, .model or "
                     "vocab.txt), or use a model.pretrained that has one beside it. Received: "
                     f"finetune.tokenizer=None, model.pretrained={pretrained!r}")


def finetune_tokenizer_path(config) -> str | None:
    """`finetune.tokenizer`, or the `tokenizer/` directory beside a `.keras` `model.pretrained`;
    None otherwise (an imported checkpoint's tokenizer is its own vocabulary file)."""
    if config.finetune.tokenizer:
        return config.finetune.tokenizer
    pretrained = config.model.pretrained
    if pretrained and pretrained.endswith(".keras"):
        directory = tokenizer_beside(pretrained)
        if file_io.isdir(directory):
            return directory
    return None


def read_splits(ft, skipped: list[str] | None = None
                ) -> dict[str, list[LabeledExample] | None]:
    """Train, validation and test examples (the task's example dataclass; validation held out
    of train when asked, None when there is none); rows with empty text are left out and named
    in `skipped`."""
    read = task_named(ft.task).read_examples
    train, validation = labeled.split_training(read(ft.train, ft, "train", skipped), ft)
    if ft.validation:
        validation = read(ft.validation, ft, "validation", skipped)
    test = read(ft.test, ft, "test", skipped) if ft.test else None
    return {"train": train, "validation": validation, "test": test}


def encode_splits(task, ft, tokenizer):
    """`(splits, skipped rows, labels, encoded)`: every split read, labels learned from train
    and checked on the others, each split encoded by the task's preprocessor."""
    skipped_rows: list[str] = []
    splits = read_splits(ft, skipped_rows)
    if skipped_rows:
        print(f"[finetune] left out {len(skipped_rows)} row(s) with empty text: "
              f"{', '.join(skipped_rows[:5])}{' ...' if len(skipped_rows) > 5 else ''}",
              file=sys.stderr)
    labels = None
    if task.has_labels:
        labels = task.label_vocabulary(splits["train"])
        for split in ("validation", "test"):
            if splits.get(split):
                task.check_labels(splits[split], labels, ft.label_column)
    encoded = {split: task.encode(examples, tokenizer, labels, ft, training=split == "train")
               for split, examples in splits.items() if examples}
    if not encoded["train"].token_ids:
        raise ValueError(f"{ft.train}: no training example fits max_sequence_length="
                         f"{ft.max_sequence_length} with its answer")
    return splits, skipped_rows, labels, encoded

"""A pretraining corpus from a fine-tuning task's training file (task-adaptive pretraining).

`write_task_corpus(config.finetune, path)` reads `finetune.train` with the task's own reader and
the settings `finetune` uses (`task`, `format`, `header`, `column_names`, the column names),
and writes its text as a corpus in the original BERT format (one sentence per line, a blank
line between documents) that `data.corpus` reads: pretrain on it, then fine-tune on the same
YAML (Gururangan et al., 2020, https://arxiv.org/abs/2004.10964).

Only the examples `finetune` trains on become text: never `finetune.validation` or
`finetune.test` (not even opened), nor the training examples `finetune` holds out as
validation (`validation_fraction`) or leaves out (`max_train_examples`), so the downstream
scores stay fair.

What a document is, per task (each task's `corpus_texts`):
- text_classification: one per example, its `text` then its `text_pair` when there is one;
- token_classification: one per example (a sentence of a tagged file), its words joined by
  spaces;
- span_extraction: one per distinct context, in reading order (SQuAD repeats a context for
  each of its questions; a context met again is not written again). Questions are left out:
  short, not prose, and read by the model only as the query segment.
A document's sentences are the lines of its texts (split on line breaks) with whitespace
collapsed; blank lines are dropped, lines longer than `corpus.MAX_LINE_CHARS` are cut as the
corpus reader cuts them (lone UTF-16 surrogates, JSON `"\\ud800"`, are U+FFFD already: the
readers' `labeled.as_text`), so that
`corpus.read_documents(path)` reads back exactly the documents of `task_documents`.
"""

from __future__ import annotations

import collections

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.pretraining_data.corpus import split_long_line
from albert_keras.pretraining_data.data_config import task_text_path
from albert_keras.tasks.inputs import labeled
from albert_keras.tasks.registry import task_named
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_text_atomic

def task_documents(finetune_config: FinetuneConfig) -> tuple[list[list[str]], dict[str, int]]:
    """The documents of the pretraining corpus made from `finetune.train`.

    Args:
        finetune_config: `FinetuneConfig`. The pipeline's `finetune` section: `train` is read
            with `task_named(task).read_examples(train, finetune_config, "train", skipped)`.

    Returns:
        `(documents, counts)`: documents as lists of sentences (see the module docstring), and
        int counts: `examples` (read from the file), `left_out` (held out as validation by
        `validation_fraction`, or past `max_train_examples`), `empty_examples` (no text left
        once whitespace is collapsed), `repeated_documents` (a context already written),
        `documents` (= examples - left_out - empty_examples - repeated_documents),
        `sentences`, `skipped` (rows the reader left out, e.g. empty text) and
        `long_lines_split`.
    """
    ft = finetune_config
    train = ft.train
    if not train or not isinstance(train, str):
        raise ValueError("`finetune.train` must name the training file (or `tfds:NAME`) whose "
                         f"text makes the corpus. Received: finetune.train={train!r}")
    if not train.startswith(labeled.TFDS_PREFIX) and not file_io.isfile(train):
        raise labeled.LabeledDataError(
            f"`finetune.train` file not found. Received: finetune.train={train!r}")
    task = task_named(ft.task)
    skipped: list[str] = []
    examples = task.read_examples(train, ft, "train", skipped)
    used, _ = labeled.split_training(examples, ft)  # What finetune trains on.
    stats = collections.Counter()
    documents, seen = [], set()
    for example in used:
        document = [sentence for text in task.corpus_texts(example)
                    for sentence in _sentences(text, stats)]
        if not document:
            stats["empty_examples"] += 1
            continue
        if task.shared_texts:
            key = tuple(document)
            if key in seen:
                stats["repeated_documents"] += 1
                continue
            seen.add(key)
        documents.append(document)
    if not documents:
        raise labeled.LabeledDataError(
            f"`finetune.train` has no text to pretrain on: all {len(used)} training examples "
            f"are empty. Received: finetune.train={train!r}")
    counts = {"examples": len(examples), "left_out": len(examples) - len(used),
              "empty_examples": stats["empty_examples"],
              "repeated_documents": stats["repeated_documents"], "documents": len(documents),
              "sentences": sum(map(len, documents)), "skipped": len(skipped),
              "long_lines_split": stats["long_lines_split"]}
    return documents, counts


def write_task_corpus(finetune_config: FinetuneConfig, path: str) -> dict[str, int]:
    """Writes the text of `finetune.train` as a BERT-format corpus file.

    One sentence per line, a blank line between documents, UTF-8, written atomically (a kill
    leaves the previous file). `data.corpus = path` then pretrains on it.

    Args:
        finetune_config: `FinetuneConfig`. The pipeline's `finetune` section.
        path: str. The corpus file to write (a local path).

    Returns:
        The counts of `task_documents`.

    Example:
    ```python
    import pathlib
    from albert_keras.jobs.finetune_config import FinetuneConfig

    pathlib.Path("reviews.csv").write_text('text,label\\n"A fine film.\\nSee it.",pos\\n')
    counts = write_task_corpus(FinetuneConfig(train="reviews.csv"), "corpus.txt")
    assert counts["documents"] == 1 and counts["sentences"] == 2
    ```
    """
    documents, counts = task_documents(finetune_config)
    write_text_atomic(path, "\n\n".join("\n".join(document) for document in documents) + "\n")
    return counts


def prepare_records(config, static_masking: bool = False, progress: bool = True) -> dict:
    """`prepare` for a pipeline, after writing its task text when `data.corpus` is `finetune`.

    The `prepare` job (CLI `prepare`, `pretrain`'s prepare-if-missing, `compare`) calls this
    rather than `albert_keras.pretraining_data.prepare.prepare`, which reads corpus files only.

    Args:
        config: `PipelineConfig`.
        static_masking: bool. As in `prepare`. Defaults to False.
        progress: bool. As in `prepare`. Defaults to True.
    """
    from albert_keras.pretraining_data.prepare import prepare

    data = config.data
    if config.finetune.train and data.corpus == task_text_path(data.output_dir, config.name):
        file_io.makedirs(data.output_dir)
        counts = write_task_corpus(config.finetune, data.corpus)
        if progress:
            print(f"[prepare] data.corpus=finetune: {counts['documents']} documents, "
                  f"{counts['sentences']} sentences from finetune.train={config.finetune.train} "
                  f"({counts['left_out']} examples held out for validation or left out) -> "
                  f"{data.corpus}")
    return prepare(config, static_masking=static_masking, progress=progress)


def _sentences(text: str, stats: collections.Counter) -> list[str]:
    """The non-blank lines of `text`, whitespace collapsed, cut like the corpus reader cuts."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return [piece for line in lines if line for piece in split_long_line(line, stats)]

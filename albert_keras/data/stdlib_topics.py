"""An offline, labelled text-classification task: which stdlib package a passage comes from.

`write_stdlib_topic_task(directory)` cuts the docstrings of a few standard-library packages
(the built-in corpus of `albert_keras.data.corpus`) into passages of consecutive sentences,
labels each with its package and writes a balanced, seeded `train.csv` and `validation.csv`
(columns `label,text`) that `finetune` reads as is. No download; the packages' vocabularies
overlap (objects, errors, connections, files), so the task is learnable but not trivial.

The split is by source file, not by row: neighbouring sentences of one module share names and
phrasing, so a row-level split would let a model match validation passages to near-duplicates
in training. A passage seen before (boilerplate docstrings) is dropped.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import sysconfig
import tempfile
from typing import Sequence

import numpy as np

from albert_keras.data.corpus import STDLIB_PACKAGES, _stdlib_document, stdlib_files

# Packages with the most docstring prose: each has over 200 two-sentence passages.
DEFAULT_PACKAGES = ("asyncio", "email", "http", "importlib", "unittest", "xml")
MIN_PASSAGES = 20
MIN_WORDS = 8


@dataclasses.dataclass(frozen=True)
class StdlibTopicTask:
    """The written task: paths of its two CSV files and what they hold.

    Args:
        train: str. Path of `train.csv`.
        validation: str. Path of `validation.csv`.
        labels: tuple of str. The package names, sorted.
        train_examples: int. Rows of `train.csv`.
        validation_examples: int. Rows of `validation.csv`.
        counts: dict. Rows per label, per split: `{"train": {label: n}, "validation": {...}}`.
        description: str. A one-line statement of the task.
    """

    train: str
    validation: str
    labels: tuple[str, ...]
    train_examples: int
    validation_examples: int
    counts: dict[str, dict[str, int]]
    description: str


def write_stdlib_topic_task(directory: str, *, packages: Sequence[str] = DEFAULT_PACKAGES,
                            examples_per_label: int = 200, sentences_per_example: int = 2,
                            validation_fraction: float = 0.25, seed: int = 0) -> StdlibTopicTask:
    """Writes `directory/train.csv` and `directory/validation.csv` (see the module docstring).

    Args:
        directory: str. Created if missing; the two files are replaced atomically.
        packages: sequence of str. Labels, from `STDLIB_PACKAGES`. Defaults to `DEFAULT_PACKAGES`.
        examples_per_label: int. At most this many passages per label (all of them when a
            package has fewer). At least 20. Defaults to 200.
        sentences_per_example: int. Consecutive sentences per passage. Defaults to 2.
        validation_fraction: float. About this share of each label's passages is held out,
            in whole source files. Defaults to 0.25.
        seed: int. Seeds the sampling, the split and the row order. Defaults to 0.

    Returns:
        A `StdlibTopicTask`; its `counts` show labels with fewer than `examples_per_label`.

    Example:
    ```python
    # needs: a writable data/ folder
    task = write_stdlib_topic_task("data/stdlib_topics", examples_per_label=100)
    print(task.description, task.counts["validation"])
    # finetune with train=task.train, validation=task.validation
    ```
    """
    if isinstance(packages, str) or not packages or len(set(packages)) != len(packages) or any(
            package not in STDLIB_PACKAGES for package in packages):
        raise ValueError(f"`packages` must be distinct names from {STDLIB_PACKAGES}. "
                         f"Received: packages={packages!r}")
    if examples_per_label < MIN_PASSAGES:
        raise ValueError(f"`examples_per_label` must be at least {MIN_PASSAGES}. "
                         f"Received: examples_per_label={examples_per_label}")
    if sentences_per_example < 1:
        raise ValueError(f"`sentences_per_example` must be at least 1. "
                         f"Received: sentences_per_example={sentences_per_example}")
    if not 0 < validation_fraction < 1:
        raise ValueError(f"`validation_fraction` must be between 0 and 1. "
                         f"Received: validation_fraction={validation_fraction}")
    rng, labels = np.random.default_rng(seed), tuple(sorted(packages))
    splits = _split_by_file(_passages(labels, sentences_per_example), examples_per_label,
                            validation_fraction, rng)
    os.makedirs(directory, exist_ok=True)
    paths, counts = {}, {}
    for name, rows in splits.items():
        rows = [rows[i] for i in rng.permutation(len(rows))]
        paths[name] = _write_csv(os.path.join(directory, f"{name}.csv"), rows)
        counts[name] = {label: sum(row[0] == label for row in rows) for label in labels}
    return StdlibTopicTask(
        train=paths["train"], validation=paths["validation"], labels=labels,
        train_examples=len(splits["train"]), validation_examples=len(splits["validation"]),
        counts=counts, description=f"Which standard-library package a docstring passage comes "
                                   f"from ({len(labels)} labels)")


def _passages(packages: tuple[str, ...], sentences_per_example: int) -> dict[str, list]:
    """`{package: [(source_path, text), ...]}`: passages in file order, repeats dropped."""
    root, seen = sysconfig.get_paths()["stdlib"], set()
    passages: dict[str, list] = {package: [] for package in packages}
    for path in stdlib_files():
        parts = os.path.relpath(path, root).split(os.sep)
        if len(parts) < 2 or parts[0] not in passages:
            continue
        sentences, _ = _stdlib_document(path)
        for start in range(0, len(sentences), sentences_per_example):
            text = " ".join(sentences[start:start + sentences_per_example])
            if len(text.split()) >= MIN_WORDS and text not in seen:
                seen.add(text)
                passages[parts[0]].append((path, text))
    return passages


def _split_by_file(passages: dict[str, list], examples_per_label: int,
                   validation_fraction: float, rng: np.random.Generator) -> dict[str, list]:
    """Samples each label's passages and splits them by source file.

    Returns `{"train": rows, "validation": rows}`, rows `(label, text, source_path)`. Files,
    in a seeded order, go to validation when they bring its count closer to
    `validation_fraction` of the label's passages without passing 1.5 times that.
    """
    splits: dict[str, list] = {"train": [], "validation": []}
    for label in sorted(passages):
        found = passages[label]
        if len(found) < MIN_PASSAGES:
            raise ValueError(f"Package {label!r} has {len(found)} passages, fewer than "
                             f"{MIN_PASSAGES} (examples_per_label={examples_per_label})")
        keep = sorted(rng.permutation(len(found))[:examples_per_label])
        by_file: dict[str, list] = {}
        for path, text in (found[i] for i in keep):
            by_file.setdefault(path, []).append((label, text, path))
        files, held_out, count, target = sorted(by_file), set(), 0, validation_fraction * len(keep)
        for i in rng.permutation(len(files)):
            size = len(by_file[files[i]])
            if abs(count + size - target) < abs(count - target) and count + size <= 1.5 * target:
                held_out.add(files[i])
                count += size
        if not held_out or len(held_out) == len(files):
            raise ValueError(f"Package {label!r} cannot be split by file: its {len(keep)} "
                             f"passages come from {len(files)} file(s)")
        for path in files:
            splits["validation" if path in held_out else "train"].extend(by_file[path])
    return splits


def _write_csv(path: str, rows: list) -> str:
    """Writes `label,text` rows to `path` through a temporary file and `os.replace`."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
    try:
        with open(handle, "w", encoding="utf-8", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "text"])
            writer.writerows((label, text) for label, text, _ in rows)
        os.chmod(temporary, 0o644)  # mkstemp makes it private; the data is not.
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise
    return path

"""An offline, labelled text-classification task: which stdlib package a passage comes from.

`write_stdlib_topic_task(directory)` cuts the docstrings of a few standard-library packages
(the built-in corpus of `albert_keras.pretraining_data.corpus`) into passages of consecutive
sentences, labels each with its package and writes a balanced, seeded `train.csv`,
`validation.csv` and, when asked, `test.csv` (columns `label,text`) that `finetune` reads as is. No download; the packages' vocabularies
overlap (objects, errors, connections, files), so the task is learnable but not trivial.

The split is by source file, not by row: neighbouring sentences of one module share names and
phrasing, so a row-level split would let a model match validation (or test) passages to
near-duplicates in training. A passage seen before (boilerplate docstrings) is dropped.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import sysconfig
from typing import Sequence

import numpy as np

from albert_keras.pretraining_data.corpus import STDLIB_PACKAGES, _stdlib_document, stdlib_files
from albert_keras.utils import file_io
from albert_keras.utils.atomic_files import write_text_atomic

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
        test: str or None. Path of `test.csv` (files of its own), when asked for.
        test_examples: int. Rows of `test.csv` (0 without one).
    """

    train: str
    validation: str
    labels: tuple[str, ...]
    train_examples: int
    validation_examples: int
    counts: dict[str, dict[str, int]]
    description: str
    test: str | None = None
    test_examples: int = 0


def write_stdlib_topic_task(directory: str, *, packages: Sequence[str] = DEFAULT_PACKAGES,
                            examples_per_label: int = 200, sentences_per_example: int = 2,
                            validation_fraction: float = 0.25, test_fraction: float = 0.0,
                            seed: int = 0) -> StdlibTopicTask:
    """Writes `directory/train.csv`, `validation.csv` (and `test.csv`) (module docstring).

    Args:
        directory: str. Created if missing; the two files are replaced atomically.
        packages: sequence of str. Labels, from `STDLIB_PACKAGES`. Defaults to `DEFAULT_PACKAGES`.
        examples_per_label: int. At most this many passages per label (all of them when a
            package has fewer). At least 20. Defaults to 200.
        sentences_per_example: int. Consecutive sentences per passage. Defaults to 2.
        validation_fraction: float. About this share of each label's passages is held out,
            in whole source files. Defaults to 0.25.
        test_fraction: float. About this share of each label's passages goes to `test.csv`,
            in whole source files of its own (drawn before validation's). Defaults to 0.0:
            no test split.
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
    if not 0 < validation_fraction < 1 or not 0 <= test_fraction < 1 or \
            validation_fraction + test_fraction >= 1:
        raise ValueError("`validation_fraction` must be between 0 and 1, `test_fraction` in "
                         "[0, 1), and their sum below 1. Received: validation_fraction="
                         f"{validation_fraction}, test_fraction={test_fraction}")
    rng, labels = np.random.default_rng(seed), tuple(sorted(packages))
    held_out = {"test": test_fraction, "validation": validation_fraction} if test_fraction \
        else {"validation": validation_fraction}
    splits = _split_by_file(_passages(labels, sentences_per_example), examples_per_label,
                            held_out, rng)
    file_io.makedirs(directory)
    paths, counts = {}, {}
    for name, rows in splits.items():
        rows = [rows[i] for i in rng.permutation(len(rows))]
        paths[name] = _write_csv(os.path.join(directory, f"{name}.csv"), rows)
        counts[name] = {label: sum(row[0] == label for row in rows) for label in labels}
    return StdlibTopicTask(
        train=paths["train"], validation=paths["validation"], labels=labels,
        train_examples=len(splits["train"]), validation_examples=len(splits["validation"]),
        counts=counts, description=f"Which standard-library package a docstring passage comes "
                                   f"from ({len(labels)} labels)",
        test=paths.get("test"), test_examples=len(splits.get("test", ())))


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
                   held_out: dict[str, float], rng: np.random.Generator) -> dict[str, list]:
    """Samples each label's passages and splits them by source file.

    Returns `{"train": rows, **{split: rows for split in held_out}}`, rows `(label, text,
    source_path)`. For each held-out split in turn, files (in a seeded order, among those not
    taken yet) go to it when they bring its count closer to its fraction of the label's
    passages without passing 1.5 times that; when every file is bigger, the smallest one.
    """
    splits: dict[str, list] = {"train": [], **{name: [] for name in held_out}}
    for label in sorted(passages):
        found = passages[label]
        if len(found) < MIN_PASSAGES:
            raise ValueError(f"Package {label!r} has {len(found)} passages, fewer than "
                             f"{MIN_PASSAGES} (examples_per_label={examples_per_label})")
        keep = sorted(rng.permutation(len(found))[:examples_per_label])
        by_file: dict[str, list] = {}
        for path, text in (found[i] for i in keep):
            by_file.setdefault(path, []).append((label, text, path))
        files, assigned = sorted(by_file), {}
        for name, fraction in held_out.items():
            count, target = 0, fraction * len(keep)
            for i in rng.permutation(len(files)):
                size = len(by_file[files[i]])
                if files[i] not in assigned and abs(count + size - target) < abs(count - target) \
                        and count + size <= 1.5 * target:
                    assigned[files[i]] = name
                    count += size
            free = [path for path in files if path not in assigned]
            if not count and len(free) > 1:  # Every file is too big: the smallest one.
                assigned[min(free, key=lambda path: (len(by_file[path]), path))] = name
            elif not count:
                raise ValueError(f"Package {label!r} cannot be split by file: its {len(keep)} "
                                 f"passages come from {len(files)} file(s), none left for "
                                 f"{name}")
        if len(assigned) == len(files):
            raise ValueError(f"Package {label!r} cannot be split by file: its {len(keep)} "
                             f"passages come from {len(files)} file(s), none left for training")
        for path in files:
            splits[assigned.get(path, "train")].extend(by_file[path])
    return splits


def _write_csv(path: str, rows: list) -> str:
    """Writes `label,text` rows to `path` (a local path or a URL) atomically."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["label", "text"])
    writer.writerows((label, text) for label, text, _ in rows)
    return write_text_atomic(path, out.getvalue())

import csv
import os

import numpy as np
import pytest

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.tasks import read_examples
from albert_keras.tasks.inputs.stdlib_topics import (DEFAULT_PACKAGES, StdlibTopicTask, _passages,
                                                     _split_by_file, write_stdlib_topic_task)


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    """The default task, written once."""
    return write_stdlib_topic_task(str(tmp_path_factory.mktemp("topics") / "task"))


def _rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["label", "text"]
        return list(reader)


def test_csv_files_read_back_with_package_labels(task):
    assert isinstance(task, StdlibTopicTask)
    assert task.labels == tuple(sorted(DEFAULT_PACKAGES))
    assert task.description == ("Which standard-library package a docstring passage comes "
                                f"from ({len(DEFAULT_PACKAGES)} labels)")
    train, validation = _rows(task.train), _rows(task.validation)
    assert (len(train), len(validation)) == (task.train_examples, task.validation_examples)
    for name, rows in (("train", train), ("validation", validation)):
        assert {row["label"] for row in rows} == set(DEFAULT_PACKAGES)
        assert all(len(row["text"].split()) >= 8 for row in rows)
        assert task.counts[name] == {label: sum(row["label"] == label for row in rows)
                                     for label in task.labels}
    assert not {row["text"] for row in train} & {row["text"] for row in validation}
    assert sorted(os.listdir(os.path.dirname(task.train))) == ["train.csv", "validation.csv"]


def test_balanced_and_split_about_the_validation_fraction(task):
    for label in task.labels:
        total = task.counts["train"][label] + task.counts["validation"][label]
        assert total == 200, label  # Every default package has more than 200 passages.
        assert 0.1 <= task.counts["validation"][label] / total <= 0.375, label


def test_small_package_keeps_all_its_passages(tmp_path):
    available = len(_passages(("http",), 2)["http"])
    assert 20 <= available < 400
    small = write_stdlib_topic_task(str(tmp_path), packages=("xml", "http"),
                                    examples_per_label=400, seed=3)
    assert small.labels == ("http", "xml")
    assert small.counts["train"]["http"] + small.counts["validation"]["http"] == available


@pytest.mark.parametrize("held_out", [{"validation": 0.25},
                                      {"test": 0.2, "validation": 0.2}])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_source_file_in_two_splits(held_out, seed):
    passages = _passages(DEFAULT_PACKAGES, 2)
    splits = _split_by_file(passages, 200, held_out, np.random.default_rng(seed))
    assert set(splits) == {"train", *held_out}
    files = {name: {path for _, _, path in rows} for name, rows in splits.items()}
    for name, paths in files.items():
        assert paths, name
        for other in files:
            assert other == name or not paths & files[other], (name, other)
    total = sum(len(rows) for rows in splits.values())
    for name, fraction in held_out.items():  # Near the asked share (whole files).
        assert 0.4 * fraction < len(splits[name]) / total < 1.6 * fraction, name
    for label, _, path in (row for rows in splits.values() for row in rows):
        assert f"{os.sep}{label}{os.sep}" in path


def test_test_split_is_written_when_asked(tmp_path):
    task = write_stdlib_topic_task(str(tmp_path), examples_per_label=60, test_fraction=0.2,
                                   validation_fraction=0.2, seed=3)
    assert task.test and os.path.isfile(task.test) and task.test_examples > 0
    texts = {name: {row["text"] for row in csv.DictReader(open(path, encoding="utf-8"))}
             for name, path in (("train", task.train), ("validation", task.validation),
                                ("test", task.test))}
    assert not texts["test"] & (texts["train"] | texts["validation"])
    assert len(texts["test"]) == task.test_examples
    with pytest.raises(ValueError, match="test_fraction=0.8"):
        write_stdlib_topic_task(str(tmp_path), validation_fraction=0.25, test_fraction=0.8)


def test_same_seed_same_files_other_seed_other_sample(tmp_path, task):
    again = write_stdlib_topic_task(str(tmp_path / "again"))
    other = write_stdlib_topic_task(str(tmp_path / "other"), seed=1)
    for name in ("train", "validation"):
        with open(getattr(task, name), "rb") as a, open(getattr(again, name), "rb") as b:
            assert a.read() == b.read()
    assert again.counts == task.counts
    assert {r["text"] for r in _rows(other.train)} != {r["text"] for r in _rows(task.train)}


def test_readable_by_the_labelled_data_reader(task):
    config = FinetuneConfig(task="text_classification", train=task.train,
                            validation=task.validation)
    train = read_examples(task.train, config, "train")
    validation = read_examples(task.validation, config, "validation")
    assert (len(train), len(validation)) == (task.train_examples, task.validation_examples)
    assert {example.label for example in train} == set(task.labels)
    assert all(example.text_pair is None for example in train)


@pytest.mark.parametrize("arguments, message", [
    (dict(packages=()), "packages"),
    (dict(packages=("asyncio", "tkinter")), "packages=.*tkinter"),
    (dict(packages="asyncio"), "packages"),
    (dict(packages=("email", "email")), "packages"),
    (dict(examples_per_label=19), "examples_per_label=19"),
    (dict(sentences_per_example=0), "sentences_per_example=0"),
    (dict(validation_fraction=0.0), "validation_fraction=0.0"),
    (dict(validation_fraction=1.0), "validation_fraction=1.0"),
])
def test_bad_arguments_are_errors_naming_them(tmp_path, arguments, message):
    with pytest.raises(ValueError, match=message):
        write_stdlib_topic_task(str(tmp_path), **arguments)
    assert not os.listdir(tmp_path)


def test_packages_too_small_or_in_one_file_are_errors(tmp_path):
    with pytest.raises(ValueError, match=r"'html' has \d+ passages.*examples_per_label=50"):
        write_stdlib_topic_task(str(tmp_path), packages=("email", "html"), examples_per_label=50)
    with pytest.raises(ValueError, match=r"'collections' cannot be split by file"):
        write_stdlib_topic_task(str(tmp_path), packages=("collections", "email"))


def test_written_to_a_url_as_to_a_local_folder(tmp_path):
    from albert_keras.utils import file_io

    settings = dict(packages=("xml", "http"), examples_per_label=30, test_fraction=0.2, seed=3)
    local = write_stdlib_topic_task(str(tmp_path), **settings)
    remote = write_stdlib_topic_task("ram://stdlib-topics/task", **settings)
    for split in ("train", "validation", "test"):
        assert getattr(remote, split).startswith("ram://stdlib-topics/task/")
        assert file_io.read_text(getattr(remote, split)) == file_io.read_text(getattr(local, split))
    assert not any(name.startswith(".partial-")
                   for name in file_io.listdir("ram://stdlib-topics/task"))

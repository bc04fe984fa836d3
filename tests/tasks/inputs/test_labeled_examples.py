"""The typed examples the readers return (`labeled_examples`): the right dataclass and fields
from every file format, frozen, and bad rows still named by file and row."""

import dataclasses
import json

import pytest

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.tasks import read_examples, task_named
from albert_keras.tasks.inputs.labeled import LabeledDataError
from albert_keras.tasks.inputs.labeled_examples import (ClassificationExample, LabeledExample,
                                                     SpanAnswer, SpanExample, TaggingExample)
from tests.helpers import finetune_data

# --- Each reader returns its task's dataclass -----------------------------------------------


def test_csv_gives_classification_examples_with_source_and_row(tmp_path):
    path = finetune_data.write_csv(tmp_path, "reviews.csv", [("good film", "pos"), ("bad", "neg")])
    assert read_examples(path, FinetuneConfig()) == [
        ClassificationExample(text="good film", label="pos", text_pair=None, source=path, row=2),
        ClassificationExample(text="bad", label="neg", text_pair=None, source=path, row=3)]


def test_tsv_pairs_and_jsonl_multi_label(tmp_path):
    tsv = finetune_data.write_csv(tmp_path, "pairs.tsv", [("a b", "c", "yes")], delimiter="\t",
                                  header=("premise", "hypothesis", "gold"))
    config = FinetuneConfig(text_column="premise", text_pair_column="hypothesis",
                            label_column="gold")
    assert read_examples(tsv, config) == [
        ClassificationExample(text="a b", text_pair="c", label="yes", source=tsv, row=2)]
    jsonl = tmp_path / "topics.jsonl"
    jsonl.write_text('{"text": "x", "label": ["c", "a"]}\n\n{"text": "y", "label": []}\n')
    examples = read_examples(str(jsonl), FinetuneConfig(multi_label=True))
    assert [(type(e), e.label, e.row) for e in examples] == [
        (ClassificationExample, ("c", "a"), 1), (ClassificationExample, (), 3)]


def test_tagged_and_jsonl_files_give_tagging_examples(tmp_path):
    tagged = tmp_path / "pos.txt"
    tagged.write_text("The/DT dog/NN\n\nran/VBD\n")
    config = FinetuneConfig(task="token_classification")
    assert read_examples(str(tagged), config) == [
        TaggingExample(words=("The", "dog"), tags=("DT", "NN"), source=str(tagged), row=1),
        TaggingExample(words=("ran",), tags=("VBD",), source=str(tagged), row=3)]
    jsonl = tmp_path / "ner.jsonl"
    jsonl.write_text(json.dumps({"tokens": ["EU", "rejects"], "ner": ["B-ORG", "O"]}) + "\n")
    config = FinetuneConfig(task="token_classification", text_column="tokens", label_column="ner")
    assert read_examples(str(jsonl), config) == [TaggingExample(
        words=("EU", "rejects"), tags=("B-ORG", "O"), source=str(jsonl), row=1)]


def test_squad_and_jsonl_files_give_span_examples(tmp_path):
    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"data": [{"paragraphs": [{"context": "The fox ran.", "qas": [
        {"id": "q1", "question": "Who ran?", "answers": [{"text": "fox", "answer_start": 4},
                                                          {"text": "The fox", "answer_start": 0}]},
        {"question": "Unanswered?", "answers": []}]}]}]}))
    config = FinetuneConfig(task="span_extraction")
    first, second = read_examples(str(squad), config)
    assert first == SpanExample(
        id="q1", question="Who ran?", context="The fox ran.", source=str(squad), row=1,
        answers=(SpanAnswer(text="fox", answer_start=4), SpanAnswer(text="The fox", answer_start=0)))
    assert (second.id, second.answers, second.row) == ("2", (), 2)  # No id: its question number.
    answer = first.answers[0]
    assert first.context[answer.answer_start:answer.answer_end] == answer.text
    jsonl = tmp_path / "qa.jsonl"
    jsonl.write_text(json.dumps({"question": "Who?", "context": "Ann.",
                                 "answers": [{"text": "Ann", "answer_start": 0}]}) + "\n")
    assert read_examples(str(jsonl), config) == [SpanExample(
        id="1", question="Who?", context="Ann.", answers=(SpanAnswer(text="Ann", answer_start=0),),
        source=str(jsonl), row=1)]


# --- The dataclasses -------------------------------------------------------------------------


@pytest.mark.parametrize("example, field", [
    (ClassificationExample(text="a", label="x", source="m", row=1), "label"),
    (TaggingExample(words=("a",), tags=("X",), source="m", row=1), "tags"),
    (SpanExample(id="1", question="q", context="c", source="m", row=1), "answers"),
    (SpanAnswer(text="c", answer_start=0), "answer_start"),
])
def test_examples_are_frozen_and_hashable(example, field):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(example, field, getattr(example, field))
    assert hash(example) == hash(dataclasses.replace(example))


def test_examples_are_built_by_keyword_and_share_where_they_came_from():
    with pytest.raises(TypeError):
        ClassificationExample("a", "x", None, "m", 1)  # Text and pair cannot be swapped.
    for cls in (ClassificationExample, TaggingExample, SpanExample):
        assert issubclass(cls, LabeledExample)
        assert [f.name for f in dataclasses.fields(cls)][:2] == ["source", "row"]
    assert ClassificationExample(text="a", label="x", source="m", row=1).text_pair is None


# --- Bad rows are still named by file and row ------------------------------------------------


def test_bad_rows_name_file_row_and_column(tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"text": "x", "label": "a"}\n{"text": "y", "label": ["a", "b"]}\n')
    with pytest.raises(LabeledDataError,
                       match=r"labels\.jsonl row 2, column 'label': expected one label"):
        read_examples(str(labels), FinetuneConfig())
    tags = tmp_path / "tags.jsonl"
    tags.write_text('{"words": ["a"], "tags": ["X"]}\n{"words": ["a", "b"], "tags": ["X"]}\n')
    with pytest.raises(LabeledDataError, match=r"tags\.jsonl row 2: 2 words in 'words' but 1 tags"):
        read_examples(str(tags), FinetuneConfig(task="token_classification", text_column="words",
                                                label_column="tags"))
    spans = tmp_path / "spans.jsonl"
    spans.write_text('{"question": "q", "context": "c", "answers": [{"text": "c"}]}\n')
    with pytest.raises(LabeledDataError, match=r"spans\.jsonl row 1: each answer needs 'text' "
                                               r"and an integer 'answer_start'"):
        read_examples(str(spans), FinetuneConfig(task="span_extraction"))


def test_label_checks_and_left_out_rows_name_the_example_source_and_row(tmp_path):
    path = finetune_data.write_csv(tmp_path, "val.csv", [("x", "pos"), (" ", "neg"), ("y", "maybe")])
    skipped = []
    examples = read_examples(path, FinetuneConfig(), "validation", skipped)
    assert skipped == [f"{path} row 3"] and [e.row for e in examples] == [2, 4]
    with pytest.raises(LabeledDataError, match=r"val\.csv row 4, column 'label': unknown label"):
        task_named("text_classification").check_labels(examples, ("neg", "pos"), "label")


# --- Lone surrogates (JSON "\ud800") reach no tensor ------------------------------------------


@pytest.mark.parametrize("task, record", [
    ("text_classification", {"text": "a \ud800 b", "text_pair": "\udfff", "label": "x\udc00"}),
    ("token_classification", {"tokens": ["a", "\ud800"], "tags": ["O", "B\udfff"]}),
    ("span_extraction", {"id": "q\ud800", "question": "who \udbff", "context": "c \ud800 d",
                         "answers": [{"text": "c", "answer_start": 0}]}),
])
def test_lone_surrogates_become_replacement_characters_in_every_reader(tmp_path, task, record):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")  # json writes "\ud800" escaped
    columns = {"text_classification": {"text_pair_column": "text_pair"},
               "token_classification": {"text_column": "tokens", "label_column": "tags"}}
    config = FinetuneConfig(task=task, **columns.get(task, {}))
    [example] = read_examples(str(path), config)
    texts = [v for v in dataclasses.astuple(example) if isinstance(v, str)]
    texts += [w for v in dataclasses.astuple(example) if isinstance(v, tuple)
              for w in v if isinstance(w, str)]
    assert any("\ufffd" in text for text in texts)
    for text in texts:
        text.encode("utf-8")  # Raises on a lone surrogate: TensorFlow would refuse the str.

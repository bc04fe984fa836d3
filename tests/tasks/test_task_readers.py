"""The labelled-file readers of the fine-tuning tasks (`FineTuningTask.read_examples`): CSV,
TSV, JSON lines, word/TAG text, SQuAD JSON and TFDS datasets, and the errors they name."""

import json

import pytest
import tensorflow as tf

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.tasks import read_examples, task_named
from albert_keras.tasks.inputs import labeled
from albert_keras.tasks.inputs.labeled import LabeledDataError
from albert_keras.tasks.inputs.labeled_examples import SpanAnswer
from tests.helpers import finetune_data


def _config(**kwargs):
    return FinetuneConfig(**kwargs)


# --- Readers --------------------------------------------------------------------------------


def test_csv_with_header_pair_column_and_quotes(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('premise,hypothesis,gold\n"a, b",c,yes\nd,"e ""f""",no\n', encoding="utf-8")
    config = _config(text_column="premise", text_pair_column="hypothesis", label_column="gold")
    examples = read_examples(str(path), config)
    assert [(e.text, e.text_pair, e.label, e.row) for e in examples] == [
        ("a, b", "c", "yes", 2), ("d", 'e "f"', "no", 3)]


def test_headerless_csv_with_byte_order_mark(tmp_path):
    path = tmp_path / "uncertainty.csv"
    path.write_text('\ufeff"1","First sentence."\n"-1","Second one."\n', encoding="utf-8")
    config = _config(header=False, column_names=("label", "text"))
    examples = read_examples(str(path), config)
    assert [(e.label, e.text) for e in examples] == [("1", "First sentence."), ("-1", "Second one.")]
    assert task_named("text_classification").label_vocabulary(examples) == ("-1", "1")


def test_tsv_and_jsonl_multi_label(tmp_path):
    tsv = finetune_data.write_csv(tmp_path, "a.tsv", [("x y", "a|b"), ("z", "b")], delimiter="\t")
    config = _config(multi_label=True)
    assert [e.label for e in read_examples(tsv, config)] == [("a", "b"), ("b",)]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"text": "x", "label": ["c", "a"]}\n\n{"text": "y", "label": ["a"]}\n')
    examples = read_examples(str(jsonl), config)
    assert task_named("text_classification").label_vocabulary(examples) == ("a", "c")


def test_csv_and_tsv_cells_over_the_csv_module_default_limit_are_read(tmp_path):
    long_text = "word " * 40_000  # 200,000 characters: over csv's default 131,072.
    for name, delimiter in (("long.csv", ","), ("long.tsv", "\t")):
        path = finetune_data.write_csv(tmp_path, name, [(long_text, "a"), ("short", "b")],
                                       delimiter=delimiter)
        examples = read_examples(path, _config())
        assert [len(e.text) for e in examples] == [200_000, 5]
        assert [e.label for e in examples] == ["a", "b"]


def test_labelled_files_are_read_from_urls(ram_dir):
    from albert_keras.utils import file_io

    file_io.write_text(f"{ram_dir}/pairs.csv", '\ufeffpremise,gold\r\n"a,\r\nb",yes\r\nc,no\r\n')
    file_io.write_text(f"{ram_dir}/tags.txt", "Has/VBZ the/DT\n\nits/PRP$\n")
    examples = read_examples(f"{ram_dir}/pairs.csv", _config(text_column="premise",
                                                              label_column="gold"))
    assert [(e.text, e.label) for e in examples] == [("a,\r\nb", "yes"), ("c", "no")]
    tagged = read_examples(f"{ram_dir}/tags.txt", _config(task="token_classification"))
    assert [e.tags for e in tagged] == [("VBZ", "DT"), ("PRP$",)]
    with pytest.raises(LabeledDataError, match=r"train='ram://.*/missing.csv'"):
        labeled.check_file(f"{ram_dir}/missing.csv", "train")


def test_tagged_file_splits_on_the_last_slash(tmp_path):
    path = tmp_path / "pos.txt"
    path.write_text("Has/VBZ 1/2/CD the/DT\n\nits/PRP$ ./.\n")
    examples = read_examples(str(path), _config(task="token_classification"))
    assert examples[0].words == ("Has", "1/2", "the") and examples[0].tags == ("VBZ", "CD", "DT")
    assert examples[1].row == 3 and examples[1].tags == ("PRP$", ".")


def test_squad_json(tmp_path):
    path = finetune_data.write_squad(tmp_path, "squad.json", count=3, seed=0)
    examples = read_examples(path, _config(task="span_extraction"))
    assert len(examples) == 3
    for example in examples:
        answer = example.answers[0]
        assert example.context[answer.answer_start:].startswith(answer.text)


# --- Bad input ------------------------------------------------------------------------------


def test_missing_column_names_file_and_columns(tmp_path):
    path = finetune_data.write_csv(tmp_path, "t.csv", [("x", "a")], header=("sentence", "label"))
    with pytest.raises(LabeledDataError, match=r"t\.csv: missing column 'text'.*'sentence', 'label'"):
        read_examples(path, _config())


def test_missing_column_in_one_jsonl_row_names_the_row(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "x", "label": "a"}\n{"txt": "y", "label": "b"}\n')
    with pytest.raises(LabeledDataError, match=r"t\.jsonl row 2: missing column 'text'"):
        read_examples(str(path), _config())


def test_unknown_validation_label_names_file_row_and_column(tmp_path):
    train = finetune_data.write_csv(tmp_path, "train.csv", [("x", "pos"), ("y", "neg")])
    validation = finetune_data.write_csv(tmp_path, "val.csv", [("x", "pos"), ("z", "maybe")])
    labels = task_named("text_classification").label_vocabulary(read_examples(train, _config()))
    examples = read_examples(validation, _config(), "validation")
    with pytest.raises(LabeledDataError,
                       match=r"val\.csv row 3, column 'label': unknown label 'maybe'; .* neg, pos"):
        task_named("text_classification").check_labels(examples, labels, "label")


@pytest.mark.parametrize("name,content,task", [
    ("empty.csv", "", "text_classification"),
    ("header_only.csv", "text,label\n", "text_classification"),
    ("empty.jsonl", "\n\n", "text_classification"),
    ("empty.txt", "", "token_classification"),
    ("empty.json", "", "span_extraction"),
])
def test_empty_file_is_an_error_naming_it(tmp_path, name, content, task):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(LabeledDataError, match=rf"{name}: no examples"):
        read_examples(str(path), _config(task=task))


def test_text_pair_missing_in_some_rows(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("text,text_pair,label\na,b,x\nc,,y\n")
    with pytest.raises(LabeledDataError, match=r"pairs\.csv row 3: column 'text_pair' is empty"):
        read_examples(str(path), _config(text_pair_column="text_pair"))
    short = tmp_path / "short.csv"
    short.write_text("text,text_pair,label\na,b,x\nc\n")
    with pytest.raises(LabeledDataError, match=r"short\.csv row 3: column 'text_pair' is empty"):
        read_examples(str(short), _config(text_pair_column="text_pair"))


def test_bad_tagged_token_and_missing_file(tmp_path):
    path = tmp_path / "pos.txt"
    path.write_text("a/DT\nthe dog/NN\n")
    with pytest.raises(LabeledDataError, match=r"pos\.txt row 2: expected word/TAG tokens. Received: 'the'"):
        read_examples(str(path), _config(task="token_classification"))
    with pytest.raises(LabeledDataError, match="not found"):
        read_examples(str(tmp_path / "nope.csv"), _config())


def test_squad_answer_not_in_context(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": "a b c", "qas": [
        {"id": "q1", "question": "?", "answers": [{"text": "b", "answer_start": 0}]}]}]}]}))
    with pytest.raises(LabeledDataError, match=r"bad\.json question 1 \(id 'q1'\): answer 'b'"):
        read_examples(str(path), _config(task="span_extraction"))


# --- TFDS (mocked: this machine cannot download) --------------------------------------------


def test_tfds_classification_uses_class_names():
    tfds = pytest.importorskip("tensorflow_datasets")
    config = _config(text_column="sentence")
    with tfds.testing.mock_data(num_examples=6):
        examples = read_examples("tfds:glue/sst2", config, "validation")
    assert len(examples) == 6
    assert {e.label for e in examples} <= {"negative", "positive"}
    assert all(isinstance(e.text, str) for e in examples)


def _mock_rows(rows):
    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_tensor_slices(
            {k: tf.constant([r[k] for r in rows]) for k in rows[0]} if not isinstance(
                rows[0].get("answers"), dict) else _squad_tensors(rows))
    return as_dataset


def _squad_tensors(rows):
    return {"id": [r["id"] for r in rows], "title": ["t"] * len(rows),
            "context": [r["context"] for r in rows], "question": [r["question"] for r in rows],
            "answers": {"text": tf.ragged.constant([r["answers"]["text"] for r in rows]),
                        "answer_start": tf.ragged.constant([r["answers"]["answer_start"] for r in rows])}}


def test_tfds_tagging_maps_tag_ids_to_names():
    tfds = pytest.importorskip("tensorflow_datasets")
    rows = [{"tokens": ["EU", "rejects", "German"], "pos": [22, 42, 16], "chunks": [11, 21, 11],
             "ner": [3, 0, 7]}] * 2
    config = _config(task="token_classification", text_column="tokens", label_column="ner")
    with tfds.testing.mock_data(as_dataset_fn=_mock_rows(rows)):
        examples = read_examples("tfds:conll2003", config)
    assert examples[0].words == ("EU", "rejects", "German")
    assert examples[0].tags == ("B-ORG", "O", "B-MISC")


def test_tfds_squad():
    tfds = pytest.importorskip("tensorflow_datasets")
    rows = [{"id": "a1", "context": "The fox ran.", "question": "Who ran?",
             "answers": {"text": ["The fox"], "answer_start": [0]}}] * 3
    with tfds.testing.mock_data(as_dataset_fn=_mock_rows(rows)):
        examples = read_examples("tfds:squad", _config(task="span_extraction"), "validation")
    assert examples[0].answers == (SpanAnswer(text="The fox", answer_start=0),)
    assert examples[0].question == "Who ran?"

import json

import numpy as np
import pytest
import tensorflow as tf

from albert_keras.data import labeled
from albert_keras.data.encoded_split import EncodedSplit
from albert_keras.data.labeled import LabeledDataError
from albert_keras.data.labeled_batches import make_dataset, num_batches
from albert_keras.tasks import read_examples, task_named
from albert_keras.training.finetune_config import FinetuneConfig
from tests.training import finetune_data

CLS, SEP = 2, 3


def _config(**kwargs):
    return FinetuneConfig(**kwargs)


# --- Readers --------------------------------------------------------------------------------

def test_csv_with_header_pair_column_and_quotes(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('premise,hypothesis,gold\n"a, b",c,yes\nd,"e ""f""",no\n', encoding="utf-8")
    config = _config(text_column="premise", text_pair_column="hypothesis", label_column="gold")
    examples = read_examples(str(path), config)
    assert [(e["text"], e["text_pair"], e["label"], e["row"]) for e in examples] == [
        ("a, b", "c", "yes", 2), ("d", 'e "f"', "no", 3)]


def test_headerless_csv_with_byte_order_mark(tmp_path):
    path = tmp_path / "uncertainty.csv"
    path.write_text('\ufeff"1","First sentence."\n"-1","Second one."\n', encoding="utf-8")
    config = _config(header=False, column_names=("label", "text"))
    examples = read_examples(str(path), config)
    assert [(e["label"], e["text"]) for e in examples] == [("1", "First sentence."), ("-1", "Second one.")]
    assert task_named("text_classification").label_vocabulary(examples) == ("-1", "1")


def test_tsv_and_jsonl_multi_label(tmp_path):
    tsv = finetune_data.write_csv(tmp_path, "a.tsv", [("x y", "a|b"), ("z", "b")], delimiter="\t")
    config = _config(multi_label=True)
    assert [e["label"] for e in read_examples(tsv, config)] == [("a", "b"), ("b",)]
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
        assert [len(e["text"]) for e in examples] == [200_000, 5]
        assert [e["label"] for e in examples] == ["a", "b"]


def test_labelled_files_are_read_from_urls(ram_dir):
    from albert_keras.utils import file_io

    file_io.write_text(f"{ram_dir}/pairs.csv", '\ufeffpremise,gold\r\n"a,\r\nb",yes\r\nc,no\r\n')
    file_io.write_text(f"{ram_dir}/tags.txt", "Has/VBZ the/DT\n\nits/PRP$\n")
    examples = read_examples(f"{ram_dir}/pairs.csv", _config(text_column="premise",
                                                              label_column="gold"))
    assert [(e["text"], e["label"]) for e in examples] == [("a,\r\nb", "yes"), ("c", "no")]
    tagged = read_examples(f"{ram_dir}/tags.txt", _config(task="token_classification"))
    assert [e["tags"] for e in tagged] == [("VBZ", "DT"), ("PRP$",)]
    with pytest.raises(LabeledDataError, match=r"train='ram://.*/missing.csv'"):
        labeled.check_file(f"{ram_dir}/missing.csv", "train")


def test_tagged_file_splits_on_the_last_slash(tmp_path):
    path = tmp_path / "pos.txt"
    path.write_text("Has/VBZ 1/2/CD the/DT\n\nits/PRP$ ./.\n")
    examples = read_examples(str(path), _config(task="token_classification"))
    assert examples[0]["words"] == ("Has", "1/2", "the") and examples[0]["tags"] == ("VBZ", "CD", "DT")
    assert examples[1]["row"] == 3 and examples[1]["tags"] == ("PRP$", ".")


def test_squad_json(tmp_path):
    path = finetune_data.write_squad(tmp_path, "squad.json", count=3, seed=0)
    examples = read_examples(path, _config(task="span_extraction"))
    assert len(examples) == 3
    for example in examples:
        answer = example["answers"][0]
        assert example["context"][answer["answer_start"]:].startswith(answer["text"])


def test_held_out_split_is_fixed_and_disjoint():
    examples = [{"row": i} for i in range(100)]
    train, held_out = labeled.split_examples(examples, 0.2, seed=3)
    again = labeled.split_examples(examples, 0.2, seed=3)
    assert (train, held_out) == again
    assert len(held_out) == 20 and not {e["row"] for e in train} & {e["row"] for e in held_out}


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
    assert {e["label"] for e in examples} <= {"negative", "positive"}
    assert all(isinstance(e["text"], str) for e in examples)


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
    assert examples[0]["words"] == ("EU", "rejects", "German")
    assert examples[0]["tags"] == ("B-ORG", "O", "B-MISC")


def test_tfds_squad():
    tfds = pytest.importorskip("tensorflow_datasets")
    rows = [{"id": "a1", "context": "The fox ran.", "question": "Who ran?",
             "answers": {"text": ["The fox"], "answer_start": [0]}}] * 3
    with tfds.testing.mock_data(as_dataset_fn=_mock_rows(rows)):
        examples = read_examples("tfds:squad", _config(task="span_extraction"), "validation")
    assert examples[0]["answers"] == ({"text": "The fox", "answer_start": 0},)
    assert examples[0]["question"] == "Who ran?"


# --- Encoding and batching ------------------------------------------------------------------

def test_classification_rows_are_unpadded_and_batches_pad_to_the_longest():
    rows = finetune_data.reviews(40, seed=0)
    examples = [{"text": t, "text_pair": None, "label": l, "source": "m", "row": i}
                for i, (t, l) in enumerate(rows)]
    encoded = finetune_data.encode(examples, "text_classification", finetune_data.tokenizer(),
                              ("neg", "pos"), max_sequence_length=32)
    lengths = [len(r) for r in encoded.token_ids]
    assert all(r[0] == CLS and r[-1] == SEP for r in encoded.token_ids)
    assert len(set(lengths)) > 3 and max(lengths) < 32
    np.testing.assert_array_equal(encoded.y, [l == "pos" for _, l in rows])
    dataset = make_dataset(encoded, batch_size=8, training=False)
    first = next(iter(dataset))[0]
    assert first["token_ids"].shape[1] == max(lengths[:8])
    np.testing.assert_array_equal(first["padding_mask"].numpy().sum(1), lengths[:8])
    fixed = make_dataset(encoded, batch_size=8, training=False, bucket_by_length=False,
                         max_sequence_length=32)
    assert all(x["token_ids"].shape[1] == 32 for x, _ in fixed)


def test_bucketed_training_batches_group_similar_lengths_and_keep_every_row():
    lengths = [3] * 20 + [40] * 20
    encoded = EncodedSplit(token_ids=[np.full(n, 7, np.int32) for n in lengths],
                           segment_ids=[np.zeros(n, np.int32) for n in lengths],
                           y=np.arange(40), examples=[])
    dataset = make_dataset(encoded, batch_size=8, training=True, seed=0)
    batches = list(dataset)
    assert len(batches) == num_batches(np.array(lengths), 8, bucketed=True) == 6
    assert sorted(int(v) for _, y in batches for v in y) == list(range(40))
    for x, _ in batches:
        assert len(set(x["padding_mask"].numpy().sum(1))) == 1  # One length per batch here.
        assert x["token_ids"].shape[1] in (3, 40)
    assert dataset.cardinality() == 6


def test_span_encoding_maps_answers_to_tokens_and_drops_cut_answers(tmp_path):
    path = finetune_data.write_squad(tmp_path, "s.json", count=10, seed=2)
    examples = read_examples(path, _config(task="span_extraction"))
    tokenizer = finetune_data.tokenizer()
    encoded = finetune_data.encode(examples, "span_extraction", tokenizer, None, max_sequence_length=32)
    vocabulary = tokenizer.get_vocabulary()
    for i, example in enumerate(encoded.examples):
        ids = encoded.token_ids[i]
        start, end = encoded.y["start_logits"][i], encoded.y["end_logits"][i]
        assert vocabulary[ids[start]] == example["answers"][0]["text"] and start == end
        assert encoded.segment_ids[i][start] == 1
    short = finetune_data.encode(examples, "span_extraction", tokenizer, None, max_sequence_length=9)
    assert short.dropped > 0 and short.dropped + len(short.token_ids) == 10
    kept = finetune_data.encode(examples, "span_extraction", tokenizer, None, max_sequence_length=9,
                           training=False)
    assert len(kept.token_ids) == 10 and all(len(r) <= 9 for r in kept.token_ids)


def test_span_windows_keep_every_answer_that_fits_a_window(tmp_path):
    """max_sequence_length 9 cuts answers off; windows 2 tokens apart keep them all."""
    path = finetune_data.write_squad(tmp_path, "s.json", count=10, seed=2)
    examples = read_examples(path, _config(task="span_extraction"))
    tokenizer = finetune_data.tokenizer()
    vocabulary = tokenizer.get_vocabulary()
    cut = finetune_data.encode(examples, "span_extraction", tokenizer, None, max_sequence_length=9)
    assert cut.answers_lost == cut.dropped > 0
    windows = finetune_data.encode(examples, "span_extraction", tokenizer, None,
                              max_sequence_length=9, doc_stride=2)
    assert windows.answers_lost == windows.dropped == 0
    assert len(windows.examples) == 10 and windows.truncated > 0
    assert len(windows.token_ids) >= 10 and all(len(r) <= 9 for r in windows.token_ids)
    for row, ids in enumerate(windows.token_ids):
        example = windows.examples[windows.window_example[row]]
        start, end = windows.y["start_logits"][row], windows.y["end_logits"][row]
        assert vocabulary[ids[start]] == example["answers"][0]["text"] and start == end
    evaluation = finetune_data.encode(examples, "span_extraction", tokenizer, None,
                                 max_sequence_length=9, doc_stride=2, training=False)
    # Every window is kept for evaluation, each example's in order, without gaps.
    assert sorted(set(evaluation.window_example)) == list(range(10))
    assert evaluation.window_example == sorted(evaluation.window_example)
    assert len(evaluation.token_ids) > len(windows.token_ids)


def test_doc_stride_longer_than_the_room_is_refused():
    with pytest.raises(ValueError, match=r"finetune\.doc_stride.*= 61.*doc_stride=62"):
        FinetuneConfig(task="span_extraction", doc_stride=62)  # 128 - 3 - 64 = 61
    assert FinetuneConfig(task="span_extraction").context_stride() == 30


def test_text_pairs_get_segment_one():
    examples = [{"text": "good movie", "text_pair": "bad plot", "label": "pos", "source": "m", "row": 2}]
    encoded = finetune_data.encode(examples, "text_classification", finetune_data.tokenizer(),
                              ("neg", "pos"), max_sequence_length=16)
    np.testing.assert_array_equal(encoded.segment_ids[0], [0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(encoded.token_ids[0][[0, 3, 6]], [CLS, SEP, SEP])


def test_pack_words_runs_in_a_graph_and_keeps_whole_words():
    from albert_keras.data.word_packing import pack_words
    from albert_keras.data.tokenizers import special_token_ids

    tokenizer = finetune_data.tokenizer()
    special = special_token_ids(tokenizer)

    @tf.function(input_signature=[tf.RaggedTensorSpec([None, None], tf.string, row_splits_dtype=tf.int64)])
    def pack(words):
        return pack_words(tokenizer, words, 10, special)

    words = tf.ragged.constant([["good", "zebra", "movie"], [], ["\u200b", "film"]],
                               row_splits_dtype=tf.int64)
    packed = pack(words)
    ids = packed["token_ids"].numpy()
    assert ids.shape == (3, 10)
    # Row 0: [CLS] good z ##e ##b ##r ##a [SEP]; "movie" would need position 8 + [SEP] at 9: fits.
    assert packed["word_starts"][0].numpy().tolist() == [1, 2, 7]
    assert ids[0, 9] == 0 and ids[0, 8] == SEP
    assert packed["word_starts"][1].numpy().tolist() == [] and ids[1, :2].tolist() == [CLS, SEP]
    # A word that tokenizes to nothing becomes [UNK] and keeps its position.
    assert packed["word_starts"][2].numpy().tolist() == [1, 2]
    assert ids[2, 1] == special["unk"]
    np.testing.assert_array_equal(packed["padding_mask"].numpy().sum(1), [9, 2, 4])

import numpy as np
import pytest
import tensorflow as tf

from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.tasks import read_examples
from albert_keras.tasks.inputs import labeled
from albert_keras.tasks.inputs.encoded_split import EncodedSplit
from albert_keras.tasks.inputs.labeled_batches import make_dataset, num_batches
from albert_keras.tasks.inputs.labeled_examples import ClassificationExample
from tests.helpers import finetune_data

CLS, SEP = 2, 3


def _config(**kwargs):
    return FinetuneConfig(**kwargs)


def test_held_out_split_is_fixed_and_disjoint():
    examples = [ClassificationExample(text=f"t{i}", label="a", source="m", row=i)
                for i in range(100)]
    train, held_out = labeled.split_examples(examples, 0.2, seed=3)
    again = labeled.split_examples(examples, 0.2, seed=3)
    assert (train, held_out) == again
    assert len(held_out) == 20 and not {e.row for e in train} & {e.row for e in held_out}


# --- Encoding and batching ------------------------------------------------------------------

def test_classification_rows_are_unpadded_and_batches_pad_to_the_longest():
    rows = finetune_data.reviews(40, seed=0)
    examples = [ClassificationExample(text=t, label=l, source="m", row=i)
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
        assert vocabulary[ids[start]] == example.answers[0].text and start == end
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
        assert vocabulary[ids[start]] == example.answers[0].text and start == end
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


def test_pack_words_runs_in_a_graph_and_keeps_whole_words():
    from albert_keras.tasks.inputs.word_packing import pack_words
    from albert_keras.tokenizers.special_tokens import special_token_ids

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

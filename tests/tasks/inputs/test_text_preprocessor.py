
import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from albert_keras import Encoder
from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
from tests.helpers import BAD_TEXTS, CLS, PAD, SEP, WORDPIECE_VOCAB, sentencepiece, wordpiece

def ids(text):
    return [WORDPIECE_VOCAB.index(w) for w in text.split()]


def test_single_text_is_cls_text_sep_then_padding():
    out = TextPreprocessor(wordpiece(), sequence_length=8)(tf.constant(["The quick fox"]))
    assert sorted(out) == ["padding_mask", "segment_ids", "token_ids"]
    for value in out.values():
        assert value.dtype == tf.int32 and value.shape == (1, 8)
    np.testing.assert_array_equal(out["token_ids"][0], [CLS, *ids("the quick fox"), SEP, 0, 0, 0])
    np.testing.assert_array_equal(out["segment_ids"][0], [0] * 8)
    np.testing.assert_array_equal(out["padding_mask"][0], [1] * 5 + [0] * 3)


def test_text_pair_gets_segment_one_and_round_robin_truncation():
    preprocessor = TextPreprocessor(wordpiece(), sequence_length=9)
    out = preprocessor(tf.constant(["the quick brown fox jumps over", "a dog"]),
                       tf.constant(["a lazy dog", "the fox"]))
    # 9 = [CLS] + 3 + [SEP] + 3 + [SEP]: the longer first text is cut, the pair keeps its room.
    np.testing.assert_array_equal(
        out["token_ids"][0], [CLS, *ids("the quick brown"), SEP, *ids("a lazy dog"), SEP])
    np.testing.assert_array_equal(out["segment_ids"][0], [0] * 5 + [1] * 4)
    np.testing.assert_array_equal(
        out["token_ids"][1], [CLS, *ids("a dog"), SEP, *ids("the fox"), SEP, PAD, PAD])
    np.testing.assert_array_equal(out["segment_ids"][1], [0, 0, 0, 0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(out["padding_mask"][1], [1] * 7 + [0] * 2)


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_bad_text_is_answered_not_failed(make_tokenizer):
    preprocessor = TextPreprocessor(make_tokenizer(), sequence_length=16)
    out = preprocessor(tf.constant(BAD_TEXTS), tf.constant(BAD_TEXTS[::-1]))
    token_ids = out["token_ids"].numpy()
    assert token_ids.shape == (len(BAD_TEXTS), 16)
    assert (token_ids[:, 0] == CLS).all()
    assert ((token_ids == SEP).sum(axis=1) == 2).all()  # both segments end with [SEP]
    np.testing.assert_array_equal(out["padding_mask"], token_ids != PAD)
    # The 10,000-character rows fill the sequence; invalid bytes read as U+FFFD.
    assert out["padding_mask"].numpy()[3].all()
    replaced = preprocessor(tf.constant(["\ufffd\ufffd invalid \ufffd utf-8"]),
                            tf.constant([BAD_TEXTS[-2]]))
    np.testing.assert_array_equal(replaced["token_ids"][0], token_ids[1])


def test_sentencepiece_ids_match_the_tokenizer():
    tokenizer = sentencepiece()
    text = "the lazy dog sings songs about old bridges"
    expected = [int(i) for i in tokenizer.tokenize([text])[0]]  # the Python sentencepiece path
    out = TextPreprocessor(tokenizer, sequence_length=32)(tf.constant([text]))
    row = out["token_ids"].numpy()[0].tolist()
    assert row[:len(expected) + 2] == [CLS, *expected, SEP]
    assert set(row[len(expected) + 2:]) == {PAD}


def test_eager_graph_and_tf_data_give_the_same_ids():
    preprocessor = TextPreprocessor(sentencepiece(), sequence_length=12)
    texts = tf.constant([t.decode("utf-8", "replace") for t in BAD_TEXTS] + ["the dog"])
    eager = preprocessor(texts)
    graph = tf.function(lambda t: preprocessor(t))(texts)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(3).map(preprocessor)
    mapped = np.concatenate([batch["token_ids"] for batch in dataset])
    np.testing.assert_array_equal(eager["token_ids"], graph["token_ids"])
    np.testing.assert_array_equal(eager["token_ids"], mapped)


@pytest.mark.parametrize("batch_size", [1, 7])
def test_dynamic_batch_and_python_lists(batch_size):
    out = TextPreprocessor(wordpiece(), sequence_length=8)(["the dog"] * batch_size)
    assert out["token_ids"].shape == (batch_size, 8)


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_keras_file_round_trip_inside_a_model(make_tokenizer, tmp_path):
    tokenizer = make_tokenizer()
    encoder = Encoder(vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2,
                      hidden_dim=8, intermediate_dim=16, max_sequence_length=16)
    text = keras.Input(shape=(), dtype="string", name="text")
    features = TextPreprocessor(tokenizer, sequence_length=12, name="preprocessor")(text)
    assert features["token_ids"].shape == (None, 12)
    model = keras.Model(text, encoder(features)["pooled_output"])
    texts = tf.constant(["the fox runs", "", "\xff\xfe"])
    expected = model(texts)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    preprocessor = restored.get_layer("preprocessor")
    assert isinstance(preprocessor, TextPreprocessor) and preprocessor.sequence_length == 12
    np.testing.assert_allclose(restored(texts), expected, atol=1e-6)


def test_config_has_the_constructor_arguments():
    config = TextPreprocessor(wordpiece(), sequence_length=8).get_config()
    assert config["sequence_length"] == 8
    assert config["tokenizer"]["class_name"] == "WordPieceTokenizer"


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="sequence_length=2"):
        TextPreprocessor(wordpiece(), sequence_length=2)
    with pytest.raises(ValueError, match="tokenizer="):
        TextPreprocessor("vocab.txt", sequence_length=8)
    tokenizer = keras_hub.tokenizers.WordPieceTokenizer(vocabulary=["[PAD]", "[UNK]", "a"])
    with pytest.raises(ValueError, match=r"no cls token '\[CLS\]'"):
        TextPreprocessor(tokenizer, sequence_length=8)(tf.constant(["a"]))

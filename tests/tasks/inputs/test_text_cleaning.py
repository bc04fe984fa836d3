"""One text cleaning and one definition of a word, for training and serving alike.

Training hands the graph Python strings (a span extractor also finds the context's words in
Python, `word_spans`, to place the answer); serving hands it whatever bytes a request holds.
Over random text (NUL, control characters, every kind of whitespace, emoji, combining marks,
invalid UTF-8), both sides must read the same cleaned text and split it into the same words.
"""

import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from albert_keras.tasks.inputs.labeled_examples import TaggingExample
from albert_keras.tasks.inputs.text_preprocessor import (WHITESPACE, TextPreprocessor, clean_text,
                                                         word_spans)
from tests.helpers import finetune_data, sentencepiece, wordpiece

SEQUENCE_LENGTH = 8  # Cut at 8 * 32 = 256 characters, longer than any text drawn below.
# Characters where cleaning and splitting could go wrong, and some plain ones.
TRICKY = ("\x00\x01\x07\x08\x0b\x0c\x1b\x1c\x1f\x7f\x80\x85\x9f\xa0\xad\u034f\u180e\u200b"
          "\u200d\u2028\u2029\u202f\u205f\u2060\u3000\ufeff\ufffd\U0001f600\U0001f98a"
          "e\u0301\u00e9\u65e5\u05e2 \t\n\r")
TEXT = st.text(alphabet=st.one_of(st.sampled_from(TRICKY), st.characters(
    blacklist_categories=("Cs",))), max_size=60)  # Python strings: no lone surrogates.
BYTES = st.one_of(
    TEXT.map(str.encode),
    st.binary(max_size=40),  # Mostly invalid UTF-8.
    st.lists(st.sampled_from([b"\xed\xa0\x80", b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98",
                              b"\xc0\xaf", b"\x00", b" ", b"\xc2\xa0", b"ab"]),
             max_size=12).map(b"".join))
PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@tf.function(reduce_retracing=True)
def _graph_words(text):
    return tf_text.regex_split(clean_text(text, SEQUENCE_LENGTH), WHITESPACE)


def graph_words(data: bytes) -> list[str]:
    """The words the serving graph finds in a request's bytes."""
    return [w.decode("utf-8") for w in _graph_words(tf.constant([data]))[0].numpy()]


def python_cleaned(data: bytes) -> str:
    """What cleaning must give: invalid UTF-8 and NUL replaced by U+FFFD."""
    return data.decode("utf-8", "replace").replace("\x00", "\ufffd")


def test_a_word_ends_at_exactly_what_str_split_splits_on():
    """`word_spans` and the graph's `WHITESPACE` come from one list: Python's whitespace."""
    whitespace = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    everything = "x".join(whitespace) + "x"
    assert [everything[a:b] for a, b in word_spans(everything)] == ["x"] * len(whitespace)
    assert graph_words(everything.encode()) == ["x"] * len(whitespace)
    # Characters that look blank but are not whitespace stay inside a word on both sides.
    blank = "a\u200bb\u180ec\ufeffd\u2060e\x00f"
    assert word_spans(blank) == [(0, len(blank))]
    assert graph_words(blank.encode()) == [python_cleaned(blank.encode())]


@PROPERTY
@given(TEXT)
def test_training_words_are_the_served_words(text):
    """A span extractor's answer offsets (Python) name the words the graph packs."""
    python = [python_cleaned(text[a:b].encode()) for a, b in word_spans(text)]
    assert graph_words(text.encode()) == python == python_cleaned(text.encode()).split()


@PROPERTY
@given(BYTES)
def test_requests_are_cleaned_as_training_text_is(data):
    """Any request bytes read as the Python string that training would have fed."""
    cleaned = python_cleaned(data)
    assert clean_text(tf.constant([data]), SEQUENCE_LENGTH).numpy()[0].decode() == cleaned
    assert graph_words(data) == cleaned.split()


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_the_text_preprocessor_cleans_the_same_way(make_tokenizer):
    """Raw request bytes and their cleaned text give the same ids (NUL included: a WordPiece
    split stops at a NUL, so a NUL left in place would drop the rest of the text)."""
    preprocessor = TextPreprocessor(make_tokenizer(), sequence_length=24)
    requests = [b"the fox \x00 jumps over", b"\xff\xfe the \xc3 dog", b"a\x00b runs",
                "\u3000birds\u2028sing 😀".encode(), b"\x00"]
    raw = preprocessor(tf.constant(requests))["token_ids"].numpy()
    cleaned = preprocessor(tf.constant([python_cleaned(r) for r in requests]))["token_ids"]
    np.testing.assert_array_equal(raw, cleaned.numpy())
    assert (raw[0] > 3).sum() >= 4  # The words after the NUL are still there.


def test_tagged_training_words_are_cleaned_as_served():
    """Token classification trains on a file's words; served, words come out of `clean_text`:
    a word with a NUL gives the ids of the word the server would see."""
    rng = np.random.default_rng(0)
    letters = [c for c in TRICKY if not c.isspace()] + list("goodbadplot")
    sentences = [["".join(rng.choice(letters, size=rng.integers(1, 5)))
                  for _ in range(rng.integers(1, 6))] for _ in range(40)]
    sentences += [["good\x00", "\x00"], ["a\x00b", "bad"]]

    def ids(sentences):
        examples = [TaggingExample(words=tuple(words), tags=("X",) * len(words), source="mem",
                                   row=i + 1) for i, words in enumerate(sentences)]
        return finetune_data.encode(examples, "token_classification", finetune_data.tokenizer(),
                                    ("X",), 16).token_ids

    served = [[python_cleaned(w.encode()) for w in words] for words in sentences]
    for trained, expected in zip(ids(sentences), ids(served)):
        np.testing.assert_array_equal(trained, expected)

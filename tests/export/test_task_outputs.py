"""Task answers in words: a tagger's per-word tags and a reader's answer text, as served.

Both exports are loaded with the TF1 loader in a fresh tensorflow-only process (what the model
server does) and compared with the Keras model, run on ids built here in Python, word by word
and window by window: an independent reference for the graph's packing (`pack_words`,
`pack_question_context`).
"""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras import Encoder
from albert_keras.export import export_for_serving
from albert_keras.models import SpanExtractor, TokenClassifier
from albert_keras.models.span_extractor import best_spans
from albert_keras.tasks import ServingSettings
from albert_keras.tasks.inputs.span_packing import MAX_CONTEXT_SEQUENCES
from albert_keras.tokenizers.special_tokens import special_token_ids
from tests.helpers import BAD_TEXTS, sentencepiece, wordpiece
from tests.helpers.export_models import run_model_server_check

pytestmark = pytest.mark.large
TAGS = ("ADJ", "NOUN", "PUNCT", "VERB")
LENGTH = 16  # tokens per request row
MAX_QUERY_LENGTH = 4
DOC_STRIDE = 3  # Context tokens between the starts of a long context's windows.
MAX_ANSWER_LENGTH = 3
# Text -> the words the tagger must see (Penn Treebank style, as its training files).
TAGGED = {
    b"The dog's bone, 2,000 years old.": ["The", "dog", "'s", "bone", ",", "2,000", "years",
                                          "old", "."],
    b"birds don't sing (songs)": ["birds", "do", "n't", "sing", "(", "songs", ")"],
    b"  the\tquick\n fox  ": ["the", "quick", "fox"],
    b"": [],
}
QUESTIONS = [b"where does the fox run", b"who sings", b"", b"\xff\xfe invalid \xc3 utf-8",
             b"what", *BAD_TEXTS]
CONTEXTS = [b"the quick brown fox runs far away from every river",
            b"  birds   sing songs\tabout old stone bridges ", b"the lazy dog", b"a dog sings",
            b"", *BAD_TEXTS[::-1]]


def _encoder(vocabulary_size, **overrides):
    return Encoder(vocabulary_size=vocabulary_size, num_layers=2, num_heads=2, hidden_dim=8,
                   intermediate_dim=16, max_sequence_length=LENGTH, **overrides)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`{name: (model, tokenizer maker, outputs of serving_default)}` for a WordPiece BERT
    tagger and a SentencePiece ALBERT reader, each exported and run in a fresh process."""
    base_dir = tmp_path_factory.mktemp("saved_models")
    keras.utils.set_random_seed(3)
    tagger = TokenClassifier(_encoder(wordpiece().vocabulary_size()), labels=TAGS)
    reader = SpanExtractor(_encoder(sentencepiece().vocabulary_size(), embedding_dim=4,
                                    share="all"), max_answer_length=MAX_ANSWER_LENGTH)
    texts = np.array([*TAGGED, *BAD_TEXTS], dtype=object)
    calls = {
        "tagger": (tagger, wordpiece, [
            ("serving_default", {"text": texts}),
            ("serving_default", {"text": texts, "text_pair": texts[::-1]})]),  # pair ignored
        "reader": (reader, sentencepiece, [
            ("serving_default", {"text": np.array(QUESTIONS, dtype=object),
                                 "text_pair": np.array(CONTEXTS, dtype=object)}),
            ("serving_default", {"text": np.array(QUESTIONS, dtype=object)}),  # no context
            ("serve_ids", {"token_ids": np.array([[2, 7, 3, 8, 9, 10, 3, 0]], np.int32),
                           "segment_ids": np.array([[0, 0, 0, 1, 1, 1, 1, 0]], np.int32),
                           "padding_mask": np.array([[1, 1, 1, 1, 1, 1, 1, 0]], np.int32)})]),
    }
    results = {}
    for name, (model, make_tokenizer, model_calls) in calls.items():
        version_dir = export_for_serving(
            model, make_tokenizer(), str(base_dir / name), sequence_length=LENGTH,
            settings=ServingSettings(max_query_length=MAX_QUERY_LENGTH, doc_stride=DOC_STRIDE))
        checked = run_model_server_check(version_dir, model_calls, tmp_path_factory.mktemp(name))
        results[name] = (model, make_tokenizer, checked)
    return results


def _text(raw: bytes, sequences: int = 1) -> str:
    # As the export cleans and cuts text (a context: to MAX_CONTEXT_SEQUENCES sequences).
    return raw.decode("utf-8", "replace").replace("\x00", "\ufffd")[:sequences * LENGTH * 32]


def _pieces(tokenizer, words):
    """Token ids of each word on its own; a word with no token is [UNK]."""
    unk = special_token_ids(tokenizer)["unk"]
    return [np.array(tokenize_strings(tokenizer, [word])[0] or [unk], np.int32) for word in words]


def tokenize_strings(tokenizer, strings):
    """The ids of each string as a list, tokenized one by one (a reference, not the graph)."""
    tokens = tokenizer(tf.constant(strings, tf.string))  # Eagerly, keras-hub gives lists.
    if isinstance(tokens, tf.Tensor):
        tokens = tf.RaggedTensor.from_tensor(tokens)
    rows = tokens.to_list() if isinstance(tokens, tf.RaggedTensor) else tokens
    return [list(map(int, row)) for row in rows]


def test_word_tags_are_the_keras_tags_of_first_sub_tokens(served):
    model, make_tokenizer, results = served["tagger"]
    tokenizer = make_tokenizer()
    special = special_token_ids(tokenizer)
    single, with_pair = results["outputs"]
    np.testing.assert_array_equal(single["word_tags"], with_pair["word_tags"])
    assert single["words"].shape == single["word_tags"].shape
    for row, words in enumerate(TAGGED.values()):
        served_words = [w.decode() for w in single["words"][row]]
        assert served_words == words + [""] * (len(served_words) - len(words))
        if not words:
            assert not any(single["word_tags"][row])
            continue
        pieces = _pieces(tokenizer, words)
        starts = 1 + np.cumsum([0] + [len(p) for p in pieces[:-1]])  # after [CLS]
        ids = np.concatenate([[special["cls"]], *pieces, [special["sep"]]]).astype(np.int32)
        assert len(ids) <= LENGTH  # every word fits
        logits = model({"token_ids": ids[None], "segment_ids": np.zeros_like(ids)[None],
                        "padding_mask": np.ones_like(ids)[None]}, training=False)
        expected = [TAGS[i] for i in np.asarray(logits)[0].argmax(-1)[starts]]
        tags = [t.decode() for t in single["word_tags"][row]]
        assert tags == expected + [""] * (len(tags) - len(expected))
    np.testing.assert_allclose(single["probabilities"].sum(-1), 1.0, rtol=1e-5)


def test_bad_text_is_still_tagged(served):
    _, _, results = served["tagger"]
    single = results["outputs"][0]
    rows = {text: i for i, text in enumerate([*TAGGED, *BAD_TEXTS])}
    for text, row in rows.items():
        words, tags = single["words"][row], single["word_tags"][row]
        np.testing.assert_array_equal(words == b"", tags == b"")  # a tag for every word
        assert (words != b"").sum() <= LENGTH - 2
    invalid = [w.decode() for w in single["words"][rows[BAD_TEXTS[1]]] if w]
    assert invalid[:3] == ["\ufffd", "\ufffd", "invalid"]
    assert (single["words"][rows[BAD_TEXTS[3]]] != b"").sum() == LENGTH - 2  # long text fills it


def _expected_answer(model, tokenizer, question, context):
    """The best span over the context tokens of every window, built and decoded in Python (as
    fine-tuning): window k holds the context tokens from `k * DOC_STRIDE` on, as many as fit."""
    special = special_token_ids(tokenizer)
    question_ids = tokenize_strings(tokenizer, [_text(question)])[0][:MAX_QUERY_LENGTH]
    context = _text(context, MAX_CONTEXT_SEQUENCES)
    offsets = [(m.start(), m.end()) for m in re.finditer(r"\S+", context)]
    offsets = offsets[:LENGTH * MAX_CONTEXT_SEQUENCES]  # A word takes a position at least.
    pieces = _pieces(tokenizer, [context[s:e] for s, e in offsets])
    tokens = [(int(t), word) for word, ids in enumerate(pieces) for t in ids]  # (id, word)
    room = LENGTH - 3 - len(question_ids)
    windows = 1 + -(-max(len(tokens) - room, 0) // DOC_STRIDE)
    best, span = -np.inf, (0, 0)
    for window in range(windows):
        taken = tokens[window * DOC_STRIDE:window * DOC_STRIDE + room]
        ids = [special["cls"], *question_ids, special["sep"], *(t for t, _ in taken),
               special["sep"]]
        token_word = [-1] * (len(question_ids) + 2) + [w for _, w in taken] + [-1]
        segments = [0] * (len(question_ids) + 2) + [1] * (len(taken) + 1)
        outputs = model({"token_ids": np.array([ids], np.int32),
                         "segment_ids": np.array([segments], np.int32),
                         "padding_mask": np.ones([1, len(ids)], np.int32)}, training=False)
        start_logits = np.asarray(outputs["start_logits"])[0]
        end_logits = np.asarray(outputs["end_logits"])[0]
        for i in range(len(ids)):
            for j in range(i, min(len(ids), i + MAX_ANSWER_LENGTH)):
                score = start_logits[i] + end_logits[j]
                if token_word[i] >= 0 and token_word[j] >= 0 and score > best:
                    best, span, words = score, (i, j), (token_word[i], token_word[j])
    if best == -np.inf:
        return span, best, ""
    return span, best, context[offsets[words[0]][0]:offsets[words[1]][1]]


def test_answer_text_is_the_best_span_of_the_context(served):
    model, make_tokenizer, results = served["reader"]
    tokenizer = make_tokenizer()
    answers = results["outputs"][0]
    assert sorted(answers) == ["answer_end", "answer_score", "answer_start", "answer_text",
                               "end_logits", "end_probabilities", "start_logits",
                               "start_probabilities"]
    for row, (question, context) in enumerate(zip(QUESTIONS, CONTEXTS)):
        (start, end), score, text = _expected_answer(model, tokenizer, question, context)
        assert answers["answer_text"][row].decode() == text, (question, context)
        assert (answers["answer_start"][row], answers["answer_end"][row]) == (start, end)
        np.testing.assert_allclose(answers["answer_score"][row], score, rtol=1e-4, atol=1e-5)
    assert answers["answer_text"][CONTEXTS.index(b"")] == b""
    assert answers["answer_text"][0] != b""


def test_no_context_no_answer_and_serve_ids_decodes_spans(served):
    model, _, results = served["reader"]
    _, no_context, ids = results["outputs"]
    assert no_context["answer_text"].tolist() == [b""] * len(QUESTIONS)
    assert (no_context["answer_start"] == 0).all() and np.isneginf(no_context["answer_score"]).all()
    x = {name: tf.constant(value) for name, value in (
        ("token_ids", [[2, 7, 3, 8, 9, 10, 3, 0]]), ("segment_ids", [[0, 0, 0, 1, 1, 1, 1, 0]]),
        ("padding_mask", [[1, 1, 1, 1, 1, 1, 1, 0]]))}
    outputs = model(x, training=False)
    valid = np.array([[0, 0, 0, 1, 1, 1, 0, 0]])  # context: segment 1 without the last [SEP]
    start, end, score = best_spans(outputs["start_logits"], outputs["end_logits"], valid,
                                   MAX_ANSWER_LENGTH)
    assert (ids["answer_start"][0], ids["answer_end"][0]) == (int(start[0]), int(end[0]))
    np.testing.assert_allclose(ids["answer_score"], np.asarray(score), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["tagger", "reader"])
def test_only_core_and_tensorflow_text_ops_and_warmup_replays(served, name):
    results = served[name][2]
    assert results["unknown_ops"] == [] and results["forbidden_ops"] == []
    assert set(results["text_ops"]) <= {
        "SentencepieceOp", "SentencepieceTokenizeOp", "TFText>RoundRobinTrim",
        "FastWordpieceTokenizeWithOffsets", "RegexSplitWithOffsets", "CaseFoldUTF8",
        "NormalizeUTF8"}, results["text_ops"]
    assert "RegexSplitWithOffsets" in results["text_ops"]  # words are split in the graph
    assert results["modules"] == []
    assert len(results["warmup"]) == 5  # every warmup request answered at load

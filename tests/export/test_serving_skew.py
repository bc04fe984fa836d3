"""Training/serving skew, per fine-tuning task.

For the same rows, the serving signature computes from raw text exactly the ids the fine-tuning
pipeline feeds (the task's `encode` -> `make_dataset`), and answers what the Keras model answers
on that training batch. The ids are read where the signature hands them to the model.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras import Encoder
from albert_keras.data.labeled_batches import make_dataset
from albert_keras.data.text_preprocessor import TextPreprocessor
from albert_keras.export.serving_signatures import serving_signatures
from albert_keras.models import SpanExtractor, TextClassifier, TokenClassifier
from albert_keras.models.span_extractor import best_spans
from tests.helpers import sentencepiece, wordpiece
from tests.training.finetune_data import encode

LENGTH = 24
MAX_QUERY_LENGTH = 6
ID_NAMES = ("token_ids", "segment_ids", "padding_mask")


def _encoder(tokenizer, **overrides):
    return Encoder(vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2,
                   hidden_dim=8, intermediate_dim=16, max_sequence_length=LENGTH, **overrides)


def _training_batch(examples, task, tokenizer, labels, doc_stride=None):
    """The batch `finetune` feeds for `examples` (evaluation order, one batch)."""
    encoded = encode(examples, task, tokenizer, labels, LENGTH,
                              max_query_length=MAX_QUERY_LENGTH, training=False,
                              doc_stride=doc_stride)
    assert len(encoded.examples) == len(examples)
    rows = len(encoded.token_ids)
    batch = next(iter(make_dataset(encoded, rows, training=False)))
    return {name: np.asarray(batch[0][name]) for name in ID_NAMES}


def _served(model, tokenizer, inputs, labels=None, doc_stride=None):
    """`serving_default`'s outputs for `inputs`, and the ids it handed to the model.

    `tokenizer` is a separate instance of the training one, as an export loads its own.
    """
    seen = []
    call = model.call

    def recording_call(x, *args, **kwargs):
        seen.append({name: x[name] for name in ID_NAMES})
        return call(x, *args, **kwargs)

    serve_text, _ = serving_signatures(model, TextPreprocessor(tokenizer, LENGTH),
                                       label_names=labels,
                                       max_query_length=MAX_QUERY_LENGTH,
                                       doc_stride=doc_stride)["serving_default"]

    # As exported: one graph with unknown batch size; the ids are read where they reach the model.
    @tf.function(input_signature=[{k: tf.TensorSpec([None], tf.string) for k in inputs}])
    def serve_and_show_ids(request):
        outputs = serve_text(**request)
        return outputs, seen[-1]

    model.call = recording_call
    try:
        outputs, ids = serve_and_show_ids({k: tf.constant(v, tf.string) for k, v in inputs.items()})
    finally:
        del model.call
    assert len(seen) == 1
    return ({k: np.asarray(v) for k, v in outputs.items()},
            {k: np.asarray(v) for k, v in ids.items()})


def _assert_same(served_ids, trained_ids, served_outputs, model, output_name):
    for name in ID_NAMES:
        np.testing.assert_array_equal(served_ids[name], trained_ids[name], err_msg=name)
    expected = model(trained_ids, training=False)
    if isinstance(expected, dict):
        for key in output_name:
            np.testing.assert_allclose(served_outputs[key], np.asarray(expected[key]), atol=1e-5)
    else:
        np.testing.assert_allclose(served_outputs[output_name], np.asarray(expected), atol=1e-5)


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
@pytest.mark.parametrize("pairs", [False, True], ids=["single", "pair"])
def test_text_classification(make_tokenizer, pairs):
    keras.utils.set_random_seed(1)  # Before any tokenizer: it clears TF's resource caches.
    tokenizer = make_tokenizer()
    texts = ["the quick brown fox jumps", "birds sing songs about old stone bridges " * 4,
             "a lazy dog", "the river"]
    others = ["over a lazy dog", "the fox", "and then it runs far away from every river " * 3,
              "birds"]
    examples = [{"text": t, "text_pair": p if pairs else None, "label": label}
                for t, p, label in zip(texts, others, ["yes", "no", "no", "yes"])]
    model = TextClassifier(_encoder(tokenizer), labels=("no", "yes"))
    trained = _training_batch(examples, "text_classification", tokenizer, ("no", "yes"))
    inputs = {"text": texts, **({"text_pair": others} if pairs else {})}
    outputs, served_ids = _served(model, make_tokenizer(), inputs, labels=["no", "yes"])
    assert trained["padding_mask"].sum(axis=1).max() == LENGTH  # truncation is compared too
    _assert_same(served_ids, trained, outputs, model, "logits")


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_token_classification(make_tokenizer):
    keras.utils.set_random_seed(2)
    tokenizer = make_tokenizer()
    sentences = [["the", "quick", "brown", "fox", "jumps", "."],
                 ["birds", "sing", "songs", "about", "old", "stone", "bridges"] * 3,  # cut
                 ["a", "lazy", "dog", "'s", "river"]]
    examples = [{"words": words, "tags": ["X"] * len(words)} for words in sentences]
    model = TokenClassifier(_encoder(tokenizer), labels=("X", "Y"))
    trained = _training_batch(examples, "token_classification", tokenizer, ("X", "Y"))
    outputs, served_ids = _served(model, make_tokenizer(),
                                  {"text": [" ".join(w) for w in sentences]})
    _assert_same(served_ids, trained, outputs, model, "logits")


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_span_extraction(make_tokenizer):
    keras.utils.set_random_seed(3)
    tokenizer = make_tokenizer()
    rows = [("where does the fox run", "the quick brown fox runs far away from every river",
             "every river"),
            ("who sings songs about old stone bridges and the river ever",  # question is cut
             "  birds   sing songs\tabout old stone bridges ", "birds"),
            ("what", "the lazy dog " * 10, "the lazy dog"),  # context is cut
            ("", "a dog", "dog")]
    examples = [{"question": q, "context": c,
                 "answers": [{"text": a, "answer_start": c.index(a)}]} for q, c, a in rows]
    model = SpanExtractor(_encoder(tokenizer, embedding_dim=4, share="all"), max_answer_length=3)
    trained = _training_batch(examples, "span_extraction", tokenizer, None)
    outputs, served_ids = _served(model, make_tokenizer(), {"text": [r[0] for r in rows],
                                                            "text_pair": [r[1] for r in rows]})
    assert trained["padding_mask"].sum(axis=1).max() == LENGTH
    _assert_same(served_ids, trained, outputs, model, ("start_logits", "end_logits"))


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_span_extraction_in_windows(make_tokenizer):
    """Long contexts are read in overlapping windows, the same ones in training and serving;
    each question is answered by its best window."""
    keras.utils.set_random_seed(4)
    tokenizer = make_tokenizer()
    long_context = " ".join(["the lazy dog runs far away"] * 6 + ["birds sing songs"])
    rows = [("who sings", long_context, "birds sing songs"),
            ("where", "a dog", "dog"),  # fits one window
            ("what runs far away from every river", long_context, "the lazy dog")]
    examples = [{"question": q, "context": c,
                 "answers": [{"text": a, "answer_start": c.index(a)}]} for q, c, a in rows]
    model = SpanExtractor(_encoder(tokenizer), max_answer_length=3)
    trained = _training_batch(examples, "span_extraction", tokenizer, None, doc_stride=5)
    assert len(trained["token_ids"]) >= len(rows) + 6  # the long contexts take several windows
    outputs, served_ids = _served(model, make_tokenizer(), {"text": [r[0] for r in rows],
                                                            "text_pair": [r[1] for r in rows]},
                                  doc_stride=5)
    for name in ID_NAMES:
        np.testing.assert_array_equal(served_ids[name], trained[name], err_msg=name)
    # The served score of each question is the best of its windows' scores.
    encoded = encode(examples, "span_extraction", tokenizer, None, LENGTH,
                              max_query_length=MAX_QUERY_LENGTH, training=False, doc_stride=5)
    logits = model(trained, training=False)
    valid = (trained["segment_ids"] * trained["padding_mask"]).astype(bool)
    valid &= np.arange(valid.shape[1])[None] < trained["padding_mask"].sum(1, keepdims=True) - 1
    _, _, scores = best_spans(logits["start_logits"], logits["end_logits"], valid.astype("int32"), 3)
    window_example = np.array(encoded.window_example)
    expected = [np.max(np.asarray(scores)[window_example == i]) for i in range(len(rows))]
    np.testing.assert_allclose(outputs["answer_score"], expected, rtol=1e-5, atol=1e-5)

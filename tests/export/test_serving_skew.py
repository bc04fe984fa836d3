"""Training/serving skew, per fine-tuning task.

For the same rows, the serving signature computes from raw text exactly the ids the fine-tuning
pipeline feeds (the task's own `encode` -> `make_dataset`), and answers what the Keras model
answers on that training batch. The ids are read where the signature hands them to the model,
or, for an export made by `export_for_serving`, from the outputs of a model that returns them.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras import Encoder
from albert_keras.export import export_for_serving
from albert_keras.export.serving_signatures import serving_signatures
from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.models import SpanExtractor, TextClassifier, TokenClassifier
from albert_keras.models.span_extractor import best_spans
from albert_keras.tasks import ServingSettings, task_named
from albert_keras.tasks.inputs.labeled_batches import make_dataset
from albert_keras.tasks.inputs.labeled_examples import (ClassificationExample, SpanAnswer,
                                                     SpanExample, TaggingExample)
from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
from tests.helpers import sentencepiece, wordpiece

LENGTH = 24
MAX_QUERY_LENGTH = 6
ID_NAMES = ("token_ids", "segment_ids", "padding_mask")


def _encoder(tokenizer, **overrides):
    return Encoder(vocabulary_size=tokenizer.vocabulary_size(), num_layers=2, num_heads=2,
                   hidden_dim=8, intermediate_dim=16, max_sequence_length=LENGTH, **overrides)


def _config(task, **fields):
    """The `finetune` section of a run of `task` at this file's lengths."""
    if task == "span_extraction":
        fields = {"max_query_length": MAX_QUERY_LENGTH, **fields}
    return FinetuneConfig(task=task, max_sequence_length=LENGTH, **fields)


def _training_batch(examples, ft, tokenizer, labels):
    """`(encoded split, the batch finetune feeds)` for `examples`: the task's own `encode`,
    in evaluation order (every window of a long context), one batch."""
    encoded = task_named(ft.task).encode(examples, tokenizer, labels, ft, training=False)
    assert len(encoded.examples) == len(examples)
    batch = next(iter(make_dataset(encoded, len(encoded.token_ids), training=False)))
    return encoded, {name: np.asarray(batch[0][name]) for name in ID_NAMES}


def _served(model, tokenizer, inputs, settings=None):
    """`serving_default`'s outputs for `inputs`, and the ids it handed to the model.

    `tokenizer` is a separate instance of the training one, as an export loads its own.
    """
    seen = []
    call = model.call

    def recording_call(x, *args, **kwargs):
        seen.append({name: x[name] for name in ID_NAMES})
        return call(x, *args, **kwargs)

    serve_text, _ = serving_signatures(model, TextPreprocessor(tokenizer, LENGTH),
                                       settings)["serving_default"]

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


def _assert_same(served_ids, trained_ids, served_outputs, model):
    for name in ID_NAMES:
        np.testing.assert_array_equal(served_ids[name], trained_ids[name], err_msg=name)
    expected = model(trained_ids, training=False)
    np.testing.assert_allclose(served_outputs["logits"], np.asarray(expected), atol=1e-5)


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
@pytest.mark.parametrize("pairs", [False, True], ids=["single", "pair"])
def test_text_classification(make_tokenizer, pairs):
    keras.utils.set_random_seed(1)  # Before any tokenizer: it clears TF's resource caches.
    tokenizer = make_tokenizer()
    texts = ["the quick brown fox jumps", "birds sing songs about old stone bridges " * 4,
             "a lazy dog", "the river"]
    others = ["over a lazy dog", "the fox", "and then it runs far away from every river " * 3,
              "birds"]
    examples = [ClassificationExample(text=t, text_pair=p if pairs else None, label=label,
                                      source="mem", row=i + 1)
                for i, (t, p, label) in enumerate(zip(texts, others, ["yes", "no", "no", "yes"]))]
    model = TextClassifier(_encoder(tokenizer), labels=("no", "yes"))
    ft = _config("text_classification")
    _, trained = _training_batch(examples, ft, tokenizer, ("no", "yes"))
    inputs = {"text": texts, **({"text_pair": others} if pairs else {})}
    outputs, served_ids = _served(model, make_tokenizer(), inputs,
                                  task_named(ft.task).serving_settings(ft, ("no", "yes")))
    assert trained["padding_mask"].sum(axis=1).max() == LENGTH  # truncation is compared too
    _assert_same(served_ids, trained, outputs, model)


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_token_classification(make_tokenizer):
    keras.utils.set_random_seed(2)
    tokenizer = make_tokenizer()
    sentences = [["the", "quick", "brown", "fox", "jumps", "."],
                 ["birds", "sing", "songs", "about", "old", "stone", "bridges"] * 3,  # cut
                 ["a", "lazy", "dog", "'s", "river"]]
    examples = [TaggingExample(words=tuple(words), tags=("X",) * len(words), source="mem",
                               row=i + 1) for i, words in enumerate(sentences)]
    model = TokenClassifier(_encoder(tokenizer), labels=("X", "Y"))
    ft = _config("token_classification")
    _, trained = _training_batch(examples, ft, tokenizer, ("X", "Y"))
    outputs, served_ids = _served(model, make_tokenizer(),
                                  {"text": [" ".join(w) for w in sentences]},
                                  task_named(ft.task).serving_settings(ft, ("X", "Y")))
    _assert_same(served_ids, trained, outputs, model)


def _span_examples(rows):
    return [SpanExample(id=str(i), question=q, context=c,
                        answers=(SpanAnswer(text=a, answer_start=c.index(a)),) if a else (),
                        source="mem", row=i + 1)
            for i, (q, c, a) in enumerate(rows)]


def _best_windows(model, encoded, trained):
    """`(scores, chosen)`: each window's best span score, and the row of each question's
    answer (its first window with the best score), as `finetune` decodes them."""
    logits = model(trained, training=False)
    valid = (trained["segment_ids"] * trained["padding_mask"]).astype(bool)
    valid &= np.arange(valid.shape[1])[None] < trained["padding_mask"].sum(1, keepdims=True) - 1
    _, _, scores = best_spans(logits["start_logits"], logits["end_logits"],
                              valid.astype("int32"), model.max_answer_length)
    scores, window_example = np.asarray(scores), np.array(encoded.window_example)
    rows = [np.flatnonzero(window_example == i) for i in range(len(encoded.examples))]
    return scores, [int(r[np.argmax(scores[r])]) for r in rows]


@pytest.mark.parametrize("make_tokenizer", [wordpiece, sentencepiece])
def test_span_extraction(make_tokenizer):
    keras.utils.set_random_seed(3)
    tokenizer = make_tokenizer()
    rows = [("where does the fox run", "the quick brown fox runs far away from every river",
             "every river"),
            ("who sings songs about old stone bridges and the river ever",  # question is cut
             "  birds   sing songs\tabout old stone bridges ", "birds"),
            ("what", "the lazy dog " * 10, "the lazy dog"),  # context in windows
            ("", "a dog", "dog")]
    model = SpanExtractor(_encoder(tokenizer, embedding_dim=4, share="all"), max_answer_length=3)
    ft = _config("span_extraction")  # doc_stride: null, half a window
    encoded, trained = _training_batch(_span_examples(rows), ft, tokenizer, None)
    assert len(trained["token_ids"]) > len(rows)
    outputs, served_ids = _served(model, make_tokenizer(), {"text": [r[0] for r in rows],
                                                            "text_pair": [r[1] for r in rows]},
                                  task_named(ft.task).serving_settings(ft, None))
    assert trained["padding_mask"].sum(axis=1).max() == LENGTH
    for name in ID_NAMES:
        np.testing.assert_array_equal(served_ids[name], trained[name], err_msg=name)
    # Each question's logits are those of its best window, computed on the training batch.
    _, chosen = _best_windows(model, encoded, trained)
    expected = model(trained, training=False)
    for key in ("start_logits", "end_logits"):
        np.testing.assert_allclose(outputs[key], np.asarray(expected[key])[chosen], atol=1e-5)


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
    model = SpanExtractor(_encoder(tokenizer), max_answer_length=3)
    ft = _config("span_extraction", doc_stride=5)
    encoded, trained = _training_batch(_span_examples(rows), ft, tokenizer, None)
    assert len(trained["token_ids"]) >= len(rows) + 6  # the long contexts take several windows
    outputs, served_ids = _served(model, make_tokenizer(), {"text": [r[0] for r in rows],
                                                            "text_pair": [r[1] for r in rows]},
                                  task_named(ft.task).serving_settings(ft, None))
    for name in ID_NAMES:
        np.testing.assert_array_equal(served_ids[name], trained[name], err_msg=name)
    # The served score of each question is the best of its windows' scores.
    scores, chosen = _best_windows(model, encoded, trained)
    np.testing.assert_allclose(outputs["answer_score"], scores[chosen], rtol=1e-5, atol=1e-5)


def _id_revealing_reader(vocabulary_size):
    """A `SpanExtractor` whose start logits are the token ids and end logits the segment ids:
    its served outputs show the ids of the window it answers from (the first window holding
    the context's highest token id)."""
    inputs = {name: keras.Input((None,), dtype="int32", name=name) for name in ID_NAMES}
    ids = keras.layers.Embedding(vocabulary_size, 1, name="ids")(inputs["token_ids"])
    segments = keras.ops.cast(inputs["segment_ids"], "float32")[..., None]
    sequence = keras.layers.Concatenate()([ids, segments])  # (batch, seq, 2)
    encoder = keras.Model(inputs, {"sequence_output": sequence}, name="id_encoder")
    encoder.get_layer("ids").set_weights([np.arange(vocabulary_size, dtype="float32")[:, None]])
    reader = SpanExtractor(encoder, max_answer_length=3)
    reader.get_layer("span_logits").set_weights([np.eye(2, dtype="float32"), np.zeros(2)])
    return reader


def _settings(source, ft, directory):
    """The `ServingSettings` a Python caller hands `export_for_serving` for the run `ft`."""
    if source == "labels.json":  # What `finetune` writes, read back as `export` reads it.
        path = os.path.join(str(directory), "labels.json")
        task_named(ft.task).serving_settings(ft, None).write(path)
        return ServingSettings.read(path)
    if source == "older labels.json":  # Written before `doc_stride` was stored.
        path = os.path.join(str(directory), "older.json")
        with open(path, "w") as f:
            json.dump({"task": ft.task, "labels": None, "multi_label": False,
                       "max_sequence_length": ft.max_sequence_length,
                       "max_query_length": ft.max_query_length}, f)
        return ServingSettings.read(path)
    return ServingSettings(max_query_length=ft.max_query_length)  # By hand, stride unset.


@pytest.mark.parametrize("source", ["labels.json", "older labels.json", "by hand"])
def test_python_export_serves_the_windows_span_extraction_trained_on(source, tmp_path):
    """`export_for_serving` called from Python (no CLI in between) reads a long context in the
    windows that `SpanExtraction.encode` trained on with `finetune.doc_stride: null`."""
    filler = "the lazy dog runs far away"
    rows = [("who sings", " ".join([filler] * 6 + ["bridges"]), None),  # in the last window
            ("where does it run", " ".join([filler] * 4 + ["bridges"] + [filler] * 2), None),
            ("what", "a dog", None)]  # one window
    ft = _config("span_extraction")  # doc_stride: null
    tokenizer = wordpiece()
    encoded, trained = _training_batch(_span_examples(rows), ft, tokenizer, None)
    model = _id_revealing_reader(tokenizer.vocabulary_size())
    _, chosen = _best_windows(model, encoded, trained)
    first = [encoded.window_example.index(i) for i in range(len(rows))]
    assert chosen[0] - first[0] >= 3 and chosen[1] - first[1] >= 1  # Not the first window.

    version_dir = export_for_serving(model, wordpiece(), str(tmp_path / "reader"),
                                     sequence_length=LENGTH,
                                     settings=_settings(source, ft, tmp_path))
    serve = tf.saved_model.load(version_dir).signatures["serving_default"]
    served = serve(text=tf.constant([q for q, _, _ in rows]),
                   text_pair=tf.constant([c for _, c, _ in rows]))
    start, end = np.asarray(served["start_logits"]), np.asarray(served["end_logits"])
    for i, row in enumerate(chosen):
        real = start[i] > -1e8  # Not padding.
        np.testing.assert_array_equal(start[i][real].astype(int), encoded.token_ids[row],
                                      err_msg=f"token_ids of question {i}")
        np.testing.assert_array_equal(end[i][real].astype(int), encoded.segment_ids[row],
                                      err_msg=f"segment_ids of question {i}")

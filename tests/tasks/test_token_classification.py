"""The token classification task: word-level targets on first sub-tokens, whole-word
truncation, and a loss that only counts the words."""

import keras
import numpy as np

from albert_keras import Encoder
from albert_keras.jobs.finetune_config import FinetuneConfig
from albert_keras.models.token_classifier import TokenClassifier
from albert_keras.tasks import task_named
from albert_keras.tasks.inputs.labeled_batches import make_dataset
from albert_keras.tasks.inputs.labeled_examples import TaggingExample
from tests.helpers import finetune_data

TINY = dict(vocabulary_size=80, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=16,
            max_sequence_length=16, dropout=0.0)
TAGS = ("ADJ", "X")


def _tagger(**kwargs):
    return TokenClassifier(Encoder(**TINY), labels=TAGS, **kwargs)


def _encoded(sentences, max_sequence_length=16):
    examples = [TaggingExample(words=tuple(w for w, _ in s), tags=tuple(t for _, t in s),
                               source="mem", row=i + 1) for i, s in enumerate(sentences)]
    return finetune_data.encode(examples, "token_classification", finetune_data.tokenizer(), TAGS,
                                max_sequence_length)


def test_only_first_sub_tokens_carry_labels():
    # "zebra" is not in the vocabulary: z ##e ##b ##r ##a, five sub-tokens.
    encoded = _encoded([[("good", "ADJ"), ("zebra", "X"), ("movie", "X")]])
    ids, tags, weights = encoded.token_ids[0], encoded.y[0], encoded.sample_weight[0]
    assert len(ids) == 1 + 1 + 5 + 1 + 1  # [CLS] good z##e##b##r##a movie [SEP]
    np.testing.assert_array_equal(weights, [0, 1, 1, 0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(tags[weights == 1], [0, 1, 1])
    np.testing.assert_array_equal(encoded.word_positions[0], [1, 2, 7])


def test_truncation_drops_whole_words_and_counts_them():
    encoded = _encoded([[("zebra", "X")] * 4], max_sequence_length=12)
    assert encoded.sample_weight[0].sum() == 2  # 2 + 5 + 5 = 12 would not leave room for [SEP]
    assert encoded.truncated == 1
    assert len(encoded.token_ids[0]) == 12


def test_loss_ignores_padding_and_non_first_sub_tokens():
    keras.utils.set_random_seed(1)
    tagger = _tagger(dropout=0.0)
    tagger.compile(optimizer="sgd", **task_named("token_classification").compile_arguments(
        FinetuneConfig(task="token_classification")))
    encoded = _encoded([[("good", "ADJ"), ("zebra", "X")], [("movie", "X")]])
    x, y, weight = next(iter(make_dataset(encoded, batch_size=2, training=False)))
    assert x["token_ids"].shape == (2, 8)  # Padded to the longest row, not to 16.
    logits = np.asarray(tagger(x))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    rows, cols = np.nonzero(np.asarray(weight))
    expected = -np.mean(log_probs[rows, cols, np.asarray(y)[rows, cols]])
    assert len(rows) == 3
    loss = tagger.evaluate(x, y, sample_weight=weight, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # Labels where the weight is 0 (sub-tokens, [CLS], [SEP], padding) change nothing.
    scrambled = np.where(np.asarray(weight) > 0, y, 1 - np.asarray(y))
    loss2 = tagger.evaluate(x, scrambled, sample_weight=weight, verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(loss2, loss, rtol=1e-6)

import numpy as np
import pytest
import tensorflow as tf

from albert_keras.data import masking
from albert_keras.data.masking import mask_tokens

VOCAB = 1000
SPECIAL = [0, 1, 2, 3, 4]  # pad, unk, cls, sep, mask
MASK = 4
NUM_SEQUENCES = 10_000
SEQ = 64
SEQ_LONG = 128


def _batch(seed=0, num=NUM_SEQUENCES, seq=SEQ, min_length=12):
    """[CLS] a [SEP] b [SEP] rows of varied lengths, padded with 0."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_length, seq + 1, num)
    ids = rng.integers(5, VOCAB, (num, seq))
    padding = np.arange(seq)[None] < lengths[:, None]
    middle = lengths // 2
    ids[:, 0] = 2
    ids[np.arange(num), middle] = 3
    ids[np.arange(num), lengths - 1] = 3
    ids[np.arange(num), 1] = 1  # an [UNK] in every row: never masked either
    ids[~padding] = 0
    return ids.astype(np.int32), padding.astype(np.int32)


def _continuation_table(seed=0):
    table = np.random.default_rng(seed).random(VOCAB) < 0.35
    table[SPECIAL] = False
    return table


def _mask(ids, padding, mode="token", seed=(7, 11), **kwargs):
    kwargs.setdefault("max_predictions", 20)
    out = mask_tokens(ids, tf.constant(seed, tf.int64), vocabulary_size=VOCAB, mask_id=MASK,
                      special_token_ids=SPECIAL, padding_mask=padding, mode=mode,
                      is_continuation=_continuation_table(), **kwargs)
    return {k: v.numpy() for k, v in out.items()}


def _selected(out, shape):
    selected = np.zeros(shape, bool)
    rows, cols = np.nonzero(out["mask_weights"] > 0)
    selected[rows, out["mask_positions"][rows, cols]] = True
    return selected


def _word_ids(ids, maskable, table):
    """Word index of every token (numpy mirror of the rule in the masking docstring)."""
    previous = np.pad(maskable[:, :-1], [[0, 0], [1, 0]])
    start = maskable & (~table[ids] | ~previous)
    return np.cumsum(start, axis=1) - 1, start


@pytest.mark.parametrize("mode", ["token", "whole_word", "ngram"])
def test_selection_and_replacement_statistics(mode):
    ids, padding = _batch()
    out = _mask(ids, padding, mode)
    maskable = (padding > 0) & ~np.isin(ids, SPECIAL)
    selected = _selected(out, ids.shape)
    assert not (selected & ~maskable).any(), "selected a special token or padding"
    rate = selected.sum() / maskable.sum()
    assert abs(rate - 0.15) < 0.01, rate
    new, old = out["token_ids"][selected], ids[selected]
    assert abs(np.mean(new == MASK) - 0.8) < 0.02
    assert abs(np.mean((new != MASK) & (new == old)) - 0.1) < 0.02
    assert abs(np.mean((new != MASK) & (new != old)) - 0.1) < 0.02
    # Unselected tokens are untouched; labels are the original ids.
    np.testing.assert_array_equal(out["token_ids"][~selected], ids[~selected])
    weights = out["mask_weights"] > 0
    rows = np.nonzero(weights)[0]
    np.testing.assert_array_equal(out["mask_ids"][weights], ids[rows, out["mask_positions"][weights]])
    assert (out["mask_ids"][~weights] == 0).all() and (out["mask_positions"][~weights] == 0).all()
    # Positions ascend within each row.
    positions = np.where(weights, out["mask_positions"], SEQ + 1)
    assert (np.diff(positions, axis=1) > 0)[weights[:, 1:]].all()


def test_whole_word_never_splits_a_word():
    ids, padding = _batch(seed=1)
    out = _mask(ids, padding, "whole_word")
    maskable = (padding > 0) & ~np.isin(ids, SPECIAL)
    words, _ = _word_ids(ids, maskable, _continuation_table())
    selected = _selected(out, ids.shape)
    key = (np.arange(len(ids))[:, None] * SEQ + words)[maskable]
    size = np.bincount(key, minlength=len(ids) * SEQ)
    chosen = np.bincount(key, weights=selected[maskable], minlength=len(ids) * SEQ)
    assert ((chosen == 0) | (chosen == size)).all()
    assert (size >= 2).sum() > 1000 and ((chosen == size) & (size >= 2)).sum() > 1000


def test_ngram_span_lengths_follow_one_over_n():
    # Mostly full rows, as `prepare` makes them (short_seq_prob=0.1): budgets of ~19 tokens.
    ids, padding = _batch(seed=2, seq=SEQ_LONG, min_length=100)
    ids, padding = tf.constant(ids), tf.constant(padding)
    maskable = tf.reduce_all(ids[:, :, None] != tf.constant(SPECIAL), -1) & (padding > 0)
    table = _continuation_table()
    units = masking._unit_ids(ids, maskable, "ngram", table, 3, tf.constant([3, 4], tf.int64))
    num_maskable = tf.reduce_sum(tf.cast(maskable, tf.float32), axis=1)
    budget = tf.clip_by_value(tf.cast(tf.round(num_maskable * 0.15), tf.int32), 1, 20)
    chosen = masking._choose_units(units, maskable, budget, tf.constant([5, 6], tf.int64)).numpy()
    _, word_start = _word_ids(ids.numpy(), maskable.numpy(), table)
    units, maskable = units.numpy(), maskable.numpy()
    key = np.arange(len(units))[:, None] * (SEQ_LONG + 1) + units
    # Words per unit = word starts among its tokens (spans tile whole words).
    words_per_unit = np.bincount(key[maskable], weights=word_start[maskable],
                                 minlength=len(units) * (SEQ_LONG + 1))
    lengths = words_per_unit[chosen.reshape(-1)].astype(int)
    counts = np.bincount(lengths, minlength=4)[1:4] / len(lengths)
    np.testing.assert_allclose(counts, [6 / 11, 3 / 11, 2 / 11], atol=0.03)
    assert len(lengths) > 10_000


def test_ngram_spans_are_whole_words_and_respect_the_budget():
    ids, padding = _batch(seed=3)
    out = _mask(ids, padding, "ngram")
    maskable = (padding > 0) & ~np.isin(ids, SPECIAL)
    words, _ = _word_ids(ids, maskable, _continuation_table())
    selected = _selected(out, ids.shape)
    key = (np.arange(len(ids))[:, None] * SEQ + words)[maskable]
    size = np.bincount(key, minlength=len(ids) * SEQ)
    chosen = np.bincount(key, weights=selected[maskable], minlength=len(ids) * SEQ)
    assert ((chosen == 0) | (chosen == size)).all()
    budget = np.clip(np.round(maskable.sum(1) * 0.15), 1, 20)
    assert (selected.sum(1) <= budget).all()


def test_max_predictions_caps_the_selection():
    ids, padding = _batch(num=200, seq=128)
    out = _mask(ids, padding, mask_rate=0.5, max_predictions=7)
    assert out["mask_positions"].shape == (200, 7)
    assert (out["mask_weights"].sum(1) <= 7).all() and (out["mask_weights"].sum(1) == 7).any()


def test_same_seed_same_masks_and_other_seed_differs():
    ids, padding = _batch(num=64)
    first, again = _mask(ids, padding, "ngram"), _mask(ids, padding, "ngram")
    other = _mask(ids, padding, "ngram", seed=(7, 12))
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["mask_positions"], other["mask_positions"])


@pytest.mark.parametrize("mode", ["token", "whole_word", "ngram"])
def test_eager_equals_dataset_map(mode):
    ids, padding = _batch(num=96, seq=32)
    table = tf.constant(_continuation_table())

    def mask(index, batch_ids, batch_padding):
        return mask_tokens(batch_ids, tf.stack([tf.constant(5, tf.int64), index]),
                           vocabulary_size=VOCAB, mask_id=MASK, special_token_ids=SPECIAL,
                           padding_mask=batch_padding, mode=mode, is_continuation=table,
                           max_predictions=6)

    dataset = tf.data.Dataset.from_tensor_slices((ids, padding)).batch(32).enumerate()
    mapped = list(dataset.map(lambda i, b: mask(i, *b), num_parallel_calls=2))
    for index, graph_out in enumerate(mapped):
        rows = slice(32 * index, 32 * (index + 1))
        eager_out = mask(tf.constant(index, tf.int64), ids[rows], padding[rows])
        for key in eager_out:
            np.testing.assert_array_equal(graph_out[key].numpy(), eager_out[key].numpy())


def test_single_sequence_and_no_maskable_tokens():
    out = mask_tokens(tf.constant([2, 10, 11, 12, 13, 3, 0, 0]), tf.constant([1, 2]),
                      vocabulary_size=VOCAB, mask_id=MASK, special_token_ids=SPECIAL,
                      max_predictions=3)
    assert out["mask_positions"].shape == (3,) and out["mask_weights"].numpy().sum() == 1
    assert 1 <= out["mask_positions"].numpy()[0] <= 4
    # Fewer positions than max_predictions: padded outputs.
    empty = mask_tokens(tf.constant([[2, 3, 0, 0]]), tf.constant([1, 2]), vocabulary_size=VOCAB,
                        mask_id=MASK, special_token_ids=SPECIAL, max_predictions=6)
    assert empty["mask_weights"].shape == (1, 6) and empty["mask_weights"].numpy().sum() == 0
    np.testing.assert_array_equal(empty["token_ids"].numpy(), [[2, 3, 0, 0]])


def test_bad_arguments_are_named():
    ids = tf.constant([[2, 10, 3]])
    with pytest.raises(ValueError, match="mode='span'"):
        mask_tokens(ids, [1, 2], vocabulary_size=VOCAB, mask_id=4, special_token_ids=SPECIAL,
                    mode="span")
    with pytest.raises(ValueError, match="is_continuation"):
        mask_tokens(ids, [1, 2], vocabulary_size=VOCAB, mask_id=4, special_token_ids=SPECIAL,
                    mode="whole_word")
    with pytest.raises(ValueError, match="mask_rate=0"):
        mask_tokens(ids, [1, 2], vocabulary_size=VOCAB, mask_id=4, special_token_ids=SPECIAL,
                    mask_rate=0.0)

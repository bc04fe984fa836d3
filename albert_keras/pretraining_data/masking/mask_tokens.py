"""`mask_tokens`: masked-LM masking as one pure tensor function (eager or inside `dataset.map`).

The BERT recipe (https://arxiv.org/abs/1810.04805): select `mask_rate` (15%) of the maskable
tokens, at most `max_predictions`; replace 80% of them by `[MASK]`, 10% by a random token and
keep 10%. Special tokens and padding are never selected. Modes:
- `"token"`: tokens are selected independently.
- `"whole_word"`: all the tokens of a word are selected together (a word starts at a token whose
  `is_continuation` entry is False: WordPiece `##` pieces and SentencePiece pieces without `▁`
  continue a word).
- `"ngram"`: ALBERT's n-gram masking (https://arxiv.org/abs/1909.11942): spans of n whole words,
  n <= `max_ngram` drawn with p(n) ∝ 1/n (6/11, 3/11, 2/11 for n <= 3).

How it runs without Python loops: every maskable token gets a *unit* (itself, its word or its
n-gram span). Units are visited in a random order (slightly favouring long units, see
`_choose_units`) and taken while their tokens fit in the row's budget
`round(mask_rate * num_maskable)` (capped by `max_predictions`), skipping units that do
not fit, like the original greedy loop. All randomness is stateless: the same `seed` gives the
same result, eagerly or in a graph.
"""

from __future__ import annotations

import tensorflow as tf

from albert_keras.pretraining_data.masking.masking_config import MODES, MaskingConfig

__all__ = ["MODES", "MaskingConfig", "mask_tokens"]  # The first two live in masking_config.
_SELECTION_PASSES = 3  # Greedy "skip what does not fit" as a few vectorized passes.
_SIZE_BIAS = 0.25


def mask_tokens(token_ids, seed, masking: MaskingConfig,
                padding_mask=None) -> dict[str, tf.Tensor]:
    """Masks a batch of token ids for masked-LM training.

    Args:
        token_ids: int tensor `[batch, seq]` or `[seq]`.
        seed: int tensor of shape `[2]`, the stateless random seed.
        masking: `MaskingConfig` bound to a vocabulary (`with_vocabulary`, `with_tokenizer`):
            mode, rates, `max_predictions` (size of the outputs' last axis), `[MASK]` id,
            special ids (never selected) and, for `"whole_word"` and `"ngram"`, the
            `is_continuation` table.
        padding_mask: optional tensor like `token_ids`; positions where it is 0 are never
            selected. Defaults to None.

    Returns:
        Dict with `token_ids` (masked, like the input), `mask_positions` int32, `mask_ids`
        (original ids) and `mask_weights` float32 (1 for a prediction, 0 for padding), each
        `[batch, max_predictions]` (no batch axis for a `[seq]` input), positions ascending.

    Example:
    ```python
    special = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    settings = MaskingConfig(mode="token").with_vocabulary(100, special)
    out = mask_tokens(tf.constant([[2, 10, 11, 12, 3, 0]]), tf.constant([1, 2]), settings)
    assert out["mask_positions"].shape == (1, 20)  # Selected positions, then zeros.
    assert set(out["mask_positions"].numpy()[0][:1]) <= {1, 2, 3}  # Never [CLS], [SEP], pad.
    ```
    """
    _check_bound(masking)
    token_ids = tf.convert_to_tensor(token_ids)
    if token_ids.shape.rank == 1:
        outputs = mask_tokens(
            token_ids[None], seed, masking,
            padding_mask=None if padding_mask is None else tf.convert_to_tensor(padding_mask)[None])
        return {key: value[0] for key, value in outputs.items()}
    if token_ids.shape.rank != 2:
        raise ValueError(f"`token_ids` must have shape [batch, seq] or [seq]. "
                         f"Received: shape={token_ids.shape}")

    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=5)
    ids = tf.cast(token_ids, tf.int32)  # (batch, seq)
    maskable = _maskable(ids, masking.special_token_ids, padding_mask)  # (batch, seq)
    selected = _select(ids, maskable, masking, seeds[0], seeds[1])
    masked_ids = _replace(ids, selected, masking, seeds[2], seeds[3])
    return {"token_ids": tf.cast(masked_ids, token_ids.dtype),
            **_predictions(ids, selected, masking.max_predictions, token_ids.dtype)}


def _check_bound(masking) -> None:
    """`masking` is a `MaskingConfig` that names its vocabulary (and word pieces if needed)."""
    if not isinstance(masking, MaskingConfig):
        raise TypeError("`masking` must be a MaskingConfig. "
                        f"Received: masking={type(masking).__name__}")
    if not masking.bound:
        raise ValueError("`masking` must be bound to a vocabulary: use "
                         "`MaskingConfig.with_vocabulary(...)` or `.with_tokenizer(...)`. "
                         f"Received: vocabulary_size={masking.vocabulary_size}, "
                         f"mask_id={masking.mask_id}")
    if masking.mode != "token" and masking.is_continuation is None:
        raise ValueError(f"mode={masking.mode!r} needs the `is_continuation` table. "
                         "Received: None")


def _maskable(ids, special_token_ids, padding_mask):
    """True where a token may be selected: not special, not padding. # (batch, seq)"""
    specials = tf.constant(list(special_token_ids) or [-1], tf.int32)  # Sorted, unique.
    maskable = tf.reduce_all(ids[:, :, None] != specials, axis=-1)  # (batch, seq)
    if padding_mask is not None:
        maskable &= tf.cast(padding_mask, tf.bool)
    return maskable


def _select(ids, maskable, config: MaskingConfig, unit_seed, order_seed):
    """The selected tokens: whole units, within each row's budget. # (batch, seq)"""
    unit_ids = _unit_ids(ids, maskable, config.mode, config.is_continuation, config.max_ngram,
                         unit_seed)
    num_maskable = tf.reduce_sum(tf.cast(maskable, tf.float32), axis=1)  # (batch,)
    budget = tf.cast(tf.round(num_maskable * config.mask_rate), tf.int32)
    budget = tf.where(num_maskable > 0, tf.clip_by_value(budget, 1, config.max_predictions), 0)
    chosen_units = _choose_units(unit_ids, maskable, budget, order_seed)  # (batch, seq + 1)
    return tf.gather(chosen_units, unit_ids, batch_dims=1) & maskable  # (batch, seq)


def _replace(ids, selected, config: MaskingConfig, choice_seed, random_seed):
    """Selected tokens become [MASK], a random token or stay, 80/10/10. # (batch, seq)"""
    choice = tf.random.stateless_uniform(tf.shape(ids), choice_seed)
    random_ids = tf.random.stateless_uniform(tf.shape(ids), random_seed, minval=0,
                                             maxval=config.vocabulary_size, dtype=tf.int32)
    keep_after = config.mask_token_rate + config.random_token_rate
    replaced = tf.where(choice < config.mask_token_rate, config.mask_id,
                        tf.where(choice < keep_after, random_ids, ids))
    return tf.where(selected, replaced, ids)


def _predictions(ids, selected, max_predictions: int, dtype):
    """`mask_positions`, `mask_ids`, `mask_weights`, each (batch, max_predictions)."""
    # Selected positions in ascending order: top_k of (seq - position) over the selection.
    seq_length = tf.shape(ids)[1]
    positions = tf.range(seq_length)[None, :]
    key = tf.where(selected, seq_length - positions, 0)
    k = tf.minimum(max_predictions, seq_length)
    values, indices = tf.math.top_k(key, k=k)  # (batch, k)
    pad = [[0, 0], [0, max_predictions - k]]
    weights = tf.pad(tf.cast(values > 0, tf.float32), pad)  # (batch, max_predictions)
    mask_positions = tf.pad(tf.where(values > 0, indices, 0), pad)
    mask_ids = tf.where(weights > 0, tf.gather(ids, mask_positions, batch_dims=1), 0)
    return {
        "mask_positions": tf.ensure_shape(mask_positions, [None, max_predictions]),
        "mask_ids": tf.ensure_shape(tf.cast(mask_ids, dtype), [None, max_predictions]),
        "mask_weights": tf.ensure_shape(weights, [None, max_predictions]),
    }


def _unit_ids(ids, maskable, mode, is_continuation, max_ngram, seed):
    """Unit index in [0, seq) for each maskable token, `seq` for the others. # (batch, seq)"""
    seq_length = tf.shape(ids)[1]
    if mode == "token":
        units = tf.broadcast_to(tf.range(seq_length)[None, :], tf.shape(ids))
    else:
        continues = tf.gather(tf.cast(tf.convert_to_tensor(is_continuation), tf.bool), ids)
        previous_maskable = tf.pad(maskable[:, :-1], [[0, 0], [1, 0]])
        word_start = maskable & (~continues | ~previous_maskable)
        words = tf.cumsum(tf.cast(word_start, tf.int32), axis=1) - 1  # (batch, seq)
        if mode == "whole_word":
            units = words
        else:
            # Tile the words with spans of n ~ p(n) ∝ 1/n words; span k ends at word ends[k].
            n = tf.range(1, max_ngram + 1, dtype=tf.float32)
            logits = tf.math.log((1.0 / n) / tf.reduce_sum(1.0 / n))[None, :]
            count = tf.shape(ids)[0] * seq_length
            lengths = tf.random.stateless_categorical(logits, count, seed, dtype=tf.int32) + 1
            ends = tf.cumsum(tf.reshape(lengths, tf.shape(ids)), axis=1)  # (batch, seq)
            units = tf.searchsorted(ends, tf.maximum(words, 0), side="right")
    return tf.where(maskable, tf.minimum(units, seq_length - 1), seq_length)


def _choose_units(unit_ids, maskable, budget, seed):
    """Visits units in a random order and takes those that fit in `budget`. # (batch, seq + 1)"""
    batch_size, seq_length = tf.shape(unit_ids)[0], tf.shape(unit_ids)[1]
    rows = tf.range(batch_size)[:, None] * (seq_length + 1)
    sizes = tf.math.unsorted_segment_sum(tf.cast(maskable, tf.int32), unit_ids + rows,
                                         batch_size * (seq_length + 1))
    sizes = tf.reshape(sizes, [batch_size, seq_length + 1])[:, :seq_length]  # (batch, seq)
    exists = sizes > 0
    # Random order as an exponential race; a unit's clock runs size**0.25 times faster, which
    # offsets the budget's bias against long units (measured: n-gram shares within 1% of 1/n
    # on full-length rows, instead of 3-5% too few long spans with a uniform order).
    clock = -tf.math.log(tf.random.stateless_uniform(tf.shape(sizes), seed, minval=1e-9, maxval=1.0))
    race = clock / tf.cast(tf.maximum(sizes, 1), tf.float32) ** _SIZE_BIAS
    score = tf.where(exists, race, float("inf"))
    order = tf.argsort(score, axis=1, stable=True)
    sorted_sizes = tf.gather(sizes, order, batch_dims=1)
    taken = tf.zeros_like(exists)
    remaining = budget[:, None]
    for _ in range(_SELECTION_PASSES):
        fits = (sorted_sizes > 0) & ~taken & (sorted_sizes <= remaining)
        total = tf.cumsum(tf.where(fits, sorted_sizes, 0), axis=1)
        take = fits & (total <= remaining)
        taken |= take
        remaining -= tf.reduce_sum(tf.where(take, sorted_sizes, 0), axis=1, keepdims=True)
    chosen = tf.gather(taken, tf.argsort(order, axis=1, stable=True), batch_dims=1)
    return tf.pad(chosen, [[0, 0], [0, 1]])  # The extra unit `seq` (non-maskable) is never taken.

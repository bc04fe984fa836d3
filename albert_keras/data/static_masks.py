"""Static masks (`prepare --static-masking`) that do not depend on which runner made the rows.

`mask_tokens` draws its random numbers by position in the batch, so a row's mask depends on
the batch it is masked in. Here the batches are fixed by the data, not by the row order of a
run: a batch holds the rows of `MASK_CHUNK_DOCUMENTS` consecutive documents (all passes),
ordered by (pass, document, row), and is masked with the seed `(seed, chunk)`. Any runner that
groups its rows this way (the local one sorts them, the Beam one groups by `mask_chunk`) writes
the same masks.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from albert_keras.data.masking_config import MaskingConfig

MASK_CHUNK_DOCUMENTS = 256  # Documents per masking batch (a few hundred rows on most corpora).
MASK_FEATURE_NAMES = ("token_ids", "mask_positions", "mask_ids", "mask_weights")


def mask_chunk(document_index: int | np.ndarray) -> int | np.ndarray:
    """The masking batch of a row: its document's index (as numbered for the pairs) // chunk."""
    return document_index // MASK_CHUNK_DOCUMENTS


def mask_batch(token_ids: np.ndarray, padding_mask: np.ndarray, chunk: int, *, seed: int,
               masking: MaskingConfig, vocabulary_size: int, special_token_ids: Mapping[str, int],
               is_continuation: np.ndarray | None) -> dict[str, np.ndarray]:
    """Masks the rows of one chunk, given in (pass, document, row) order.

    Args:
        token_ids, padding_mask: int arrays `[rows, max_sequence_length]`.
        chunk: int. `mask_chunk` of the rows' documents.
        seed: int. `data.seed`.
        masking: `MaskingConfig`. Mode, rate, `max_predictions`, `max_ngram`.
        vocabulary_size: int. Random replacements are drawn below it.
        special_token_ids: dict with `mask` and the other special ids (never masked).
        is_continuation: bool array `[vocabulary_size]` for whole-word and n-gram modes.

    Returns:
        numpy arrays `token_ids` (masked), `mask_positions`, `mask_ids`, `mask_weights`.
    """
    import tensorflow as tf

    from albert_keras.data.masking import mask_tokens

    masked = mask_tokens(
        token_ids, tf.constant([seed, int(chunk)], tf.int64), vocabulary_size=vocabulary_size,
        mask_id=special_token_ids["mask"], special_token_ids=list(special_token_ids.values()),
        padding_mask=padding_mask, max_predictions=masking.max_predictions,
        mask_rate=masking.mask_rate, mode=masking.mode, is_continuation=is_continuation,
        max_ngram=masking.max_ngram)
    return {name: masked[name].numpy() for name in MASK_FEATURE_NAMES}


def static_masks(token_ids: np.ndarray, padding_mask: np.ndarray,
                 document_index: Sequence[int], **settings) -> dict[str, np.ndarray]:
    """Masks all rows of a run, chunk by chunk (`mask_batch`'s keyword settings).

    `token_ids` rows must come in (pass, document, row) order, as `create_pairs` returns them;
    a stable sort by chunk keeps that order inside each chunk. Returns the arrays of
    `mask_batch` for every row, in the input order.
    """
    chunks = mask_chunk(np.asarray(document_index))
    order = np.argsort(chunks, kind="stable")
    starts = np.flatnonzero(np.diff(chunks[order], prepend=-1))
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in MASK_FEATURE_NAMES}
    for begin, end in zip(starts, [*starts[1:], len(order)]):
        rows = order[begin:end]
        masked = mask_batch(token_ids[rows], padding_mask[rows], chunks[rows[0]], **settings)
        for name in MASK_FEATURE_NAMES:
            outputs[name].append(masked[name])
    result = {}
    for name in MASK_FEATURE_NAMES:
        stacked = np.concatenate(outputs[name])
        result[name] = np.empty_like(stacked)
        result[name][order] = stacked
    return result

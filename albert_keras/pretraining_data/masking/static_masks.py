"""Static masks (`prepare --static-masking`) that do not depend on which runner made the rows.

`mask_tokens` draws its random numbers by position in the batch, so a row's mask depends on
the batch it is masked in. Here the batches are fixed by the data, not by the row order of a
run: a batch holds the rows of `MASK_CHUNK_DOCUMENTS` consecutive documents (all passes),
ordered by (pass, document, row), and is masked with the seed `(seed, chunk)`. Any runner that
groups its rows this way writes the same masks: the local one masks all its chunks with
`static_masks`, the Beam one each chunk it grouped with `mask_batch`; both call `_mask_chunk`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from albert_keras.pretraining_data.masking.masking_config import MaskingConfig

MASK_CHUNK_DOCUMENTS = 256  # Documents per masking batch (a few hundred rows on most corpora).
MASK_FEATURE_NAMES = ("token_ids", "mask_positions", "mask_ids", "mask_weights")


def mask_chunk(document_index: int | np.ndarray) -> int | np.ndarray:
    """The masking batch of a row: its document's index (as numbered for the pairs) // chunk."""
    return document_index // MASK_CHUNK_DOCUMENTS


def static_masks(token_ids: np.ndarray, padding_mask: np.ndarray,
                 document_index: Sequence[int], *, seed: int,
                 masking: MaskingConfig) -> dict[str, np.ndarray]:
    """Masks every row of a run, chunk by chunk, the chunks in a parallel `tf.data` map.

    A graph on every core, where eager chunk by chunk costs ~50 ms of op dispatch each (150
    chunks on Shakespeare).

    Args:
        token_ids, padding_mask: int arrays `[rows, max_sequence_length]`, the rows in
            (pass, document, row) order, as `create_pairs` returns them (a stable sort by
            chunk keeps that order inside each chunk).
        document_index: int array `[rows]`. Each row's document (`mask_chunk`).
        seed: int. `data.seed`.
        masking: `MaskingConfig` bound to the tokenizer (`with_tokenizer`).

    Returns:
        numpy arrays `token_ids` (masked), `mask_positions`, `mask_ids`, `mask_weights`, the
        rows in the input order.
    """
    import tensorflow as tf

    chunks = mask_chunk(np.asarray(document_index))
    order = np.argsort(chunks, kind="stable")  # By chunk, (pass, document, row) inside one.
    starts = np.flatnonzero(np.diff(chunks[order], prepend=-1))
    bounds = np.append(starts, len(order))
    ids = tf.constant(np.asarray(token_ids)[order])  # (rows, seq), grouped by chunk
    padding = tf.constant(np.asarray(padding_mask)[order])

    # Pure tensor code: AutoGraph has nothing to convert, and its source rewriting took ~1-4 s.
    @tf.autograph.experimental.do_not_convert
    def mask(begin, end, chunk):
        return _mask_chunk(ids[begin:end], padding[begin:end], chunk, seed, masking)

    dataset = (tf.data.Dataset.from_tensor_slices(
        (bounds[:-1], bounds[1:], chunks[order][starts].astype(np.int64)))
               .map(mask, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
               .prefetch(tf.data.AUTOTUNE))
    outputs: dict[str, list[np.ndarray]] = {name: [] for name in MASK_FEATURE_NAMES}
    for masked in dataset:
        for name in MASK_FEATURE_NAMES:
            outputs[name].append(masked[name].numpy())
    result = {}
    for name in MASK_FEATURE_NAMES:
        stacked = np.concatenate(outputs[name])
        result[name] = np.empty_like(stacked)
        result[name][order] = stacked  # Back in row order.
    return result


def mask_batch(token_ids: np.ndarray, padding_mask: np.ndarray, chunk: int, *, seed: int,
               masking: MaskingConfig) -> dict[str, np.ndarray]:
    """Masks the rows of one chunk, given in (pass, document, row) order, eagerly.

    Args:
        token_ids, padding_mask: int arrays `[rows, max_sequence_length]`.
        chunk: int. `mask_chunk` of the rows' documents.
        seed: int. `data.seed`.
        masking: `MaskingConfig` bound to the tokenizer (`with_vocabulary`).

    Returns:
        numpy arrays `token_ids` (masked), `mask_positions`, `mask_ids`, `mask_weights`.
    """
    masked = _mask_chunk(token_ids, padding_mask, int(chunk), seed, masking)
    return {name: masked[name].numpy() for name in MASK_FEATURE_NAMES}


def _mask_chunk(token_ids, padding_mask, chunk, seed: int, masking: MaskingConfig):
    """`mask_tokens` of one chunk's rows with the seed `(seed, chunk)`."""
    import tensorflow as tf

    from albert_keras.pretraining_data.masking.mask_tokens import mask_tokens

    chunk_seed = tf.stack([tf.constant(seed, tf.int64), tf.cast(chunk, tf.int64)])
    return mask_tokens(token_ids, chunk_seed, masking, padding_mask=padding_mask)

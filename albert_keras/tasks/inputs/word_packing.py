"""`pack_words`: sentences given as words to encoder inputs, in TF ops, for tagging.

One function packs words for fine-tuning (`tasks.token_classification`, through `tf.function`)
and inside the exported serving signature, so the served tagger sees exactly the ids it was
trained on.
"""

from __future__ import annotations

import tensorflow as tf

from albert_keras.tokenizers.sequence_layout import SINGLE_SPECIAL_TOKENS


def pack_words(tokenizer, words: tf.RaggedTensor, sequence_length: int,
               special: dict[str, int]) -> dict[str, tf.Tensor]:
    """Packs sentences given as words into encoder inputs, remembering where each word starts.

    Each word is tokenized on its own (a word with no token becomes `[UNK]`) and the whole
    words that fit go between `[CLS]` and `[SEP]`: a word is never split by truncation. Pure
    tensor ops (tensorflow-text inside the tokenizer), so the same function builds training
    rows and runs in a serving graph that answers with a tag per word.

    Args:
        tokenizer: keras-hub tokenizer.
        words: string `(batch, (words))` ragged.
        sequence_length: int. Output length, special tokens included.
        special: dict with the `"cls"`, `"sep"`, `"pad"` and `"unk"` ids.

    Returns:
        `token_ids`, `segment_ids`, `padding_mask` int32 `(batch, sequence_length)` and
        `word_starts` int32 `(batch, (kept words))` ragged: the position of each kept word's
        first sub-token. Words past the end are simply not in `word_starts`.
    """
    pieces = tokenizer(words.flat_values)  # (num_words, (pieces))
    if isinstance(pieces, tf.Tensor):
        pieces = tf.RaggedTensor.from_tensor(pieces, padding=special["pad"])
    pieces = tf.cast(pieces, tf.int32)
    empty = tf.cast(tf.equal(pieces.row_lengths(), 0), tf.int64)
    unknown = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(empty)], tf.constant(special["unk"], tf.int32)), empty)
    pieces = tf.concat([pieces, unknown], axis=1)  # Every word has at least one piece.
    word_lengths = pieces.row_lengths()  # (num_words,)
    sentence = words.value_rowids()  # (num_words,)
    ends = tf.math.cumsum(word_lengths)  # Inclusive, over all sentences.
    sentence_start = tf.gather(tf.concat([ends - word_lengths, [0]], 0), words.row_starts())
    ends -= tf.gather(sentence_start, sentence)  # Inclusive, within each sentence.
    keep = ends <= sequence_length - SINGLE_SPECIAL_TOKENS
    kept_rows = tf.boolean_mask(sentence, keep)
    batch = words.nrows()
    tokens = tf.RaggedTensor.from_value_rowids(
        tf.ragged.boolean_mask(pieces, keep), kept_rows, nrows=batch).merge_dims(1, 2)
    word_starts = tf.RaggedTensor.from_value_rowids(
        tf.cast(tf.boolean_mask(ends - word_lengths, keep), tf.int32) + 1, kept_rows, nrows=batch)
    cls = tf.fill([batch, 1], tf.constant(special["cls"], tf.int32))
    sep = tf.fill([batch, 1], tf.constant(special["sep"], tf.int32))
    token_ids = tf.concat([cls, tokens, sep], axis=1)  # (batch, (length))
    padding_mask = tf.ones_like(token_ids)
    shape = [batch, sequence_length]
    return {"token_ids": token_ids.to_tensor(special["pad"], shape=shape),
            "segment_ids": tf.zeros(shape, tf.int32),
            "padding_mask": padding_mask.to_tensor(0, shape=shape),
            "word_starts": word_starts}

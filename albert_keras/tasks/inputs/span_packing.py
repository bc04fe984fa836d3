"""`pack_question_context`: `[CLS] question [SEP] context [SEP]` for span extraction, in TF ops.

One function packs question + context pairs for fine-tuning (`encode_span_examples`, through
`tf.function`) and inside the exported serving signature (`export.serving_signatures`), so the
served model sees exactly the ids it was trained on.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from albert_keras.tasks.inputs.encoded_split import CHUNK, EncodedSpans
from albert_keras.tasks.inputs.labeled_examples import SpanExample
from albert_keras.tasks.inputs.text_preprocessor import WHITESPACE, clean_text, word_spans
from albert_keras.tokenizers.sequence_layout import MIN_CONTEXT_TOKENS, PAIR_SPECIAL_TOKENS

__all__ = ["encode_span_examples", "pack_question_context"]
# Read in windows, a context is cut to this many sequences' worth of text (SQuAD contexts take
# one to three windows at length 384), so that one huge request costs a bounded number of rows.
MAX_CONTEXT_SEQUENCES = 8


def pack_question_context(tokenizer, special: dict[str, int], question: tf.Tensor,
                          context: tf.Tensor, sequence_length: int, max_query_length: int,
                          doc_stride: int | None = None) -> dict[str, tf.Tensor]:
    """Packs `[CLS] question [SEP] context [SEP]`, remembering which context word each token is.

    The question is cut to `max_query_length` tokens; the context is split on whitespace into
    words (as BERT's SQuAD code does), each word tokenized on its own (a word with no token
    becomes `[UNK]`), and its tokens fill the rest; a word may be cut part-way at a window's
    edge. A context longer than that room is read in windows (BERT's `doc_stride`): window k
    holds the context tokens from `k * doc_stride` on, as many as fit, and windows are added
    until one reaches the context's end (a context is first cut to `MAX_CONTEXT_SEQUENCES`
    sequences' worth of text). Without `doc_stride` each row is one window (the context is cut).

    Args:
        tokenizer: keras-hub tokenizer.
        special: dict with the `"cls"`, `"sep"`, `"pad"` and `"unk"` ids.
        question, context: string `(batch,)`.
        sequence_length: int. Output length, special tokens included.
        max_query_length: int. Question tokens kept.
        doc_stride: int or None. Context tokens between the starts of consecutive windows
            (a row whose window has less room uses its room, so no token is skipped).
            Defaults to None (one window per row).

    Returns:
        Per window (`windows >= batch`, in row order): `token_ids`, `segment_ids`,
        `padding_mask` int32 `(windows, sequence_length)`; `token_words` int32
        `(windows, sequence_length)`: the context word of each token, -1 for [CLS], the
        question, the [SEP]s and padding; `window_example` int64 `(windows,)`: the row a window
        belongs to; `window_start` int64 `(windows,)`: its first context token.
        Per row: `context` string `(batch,)` as cleaned (`clean_text`); `word_begins`,
        `word_ends` int64 `(batch, (words))` byte offsets of the words in the cleaned context;
        `word_tokens` int64 `(batch, (words))`: tokens per word; `context_tokens` int64
        `(batch,)`: the context's tokens.
    """
    question = _ragged(tokenizer(clean_text(question, sequence_length)), special)
    longest_question = sequence_length - PAIR_SPECIAL_TOKENS - MIN_CONTEXT_TOKENS
    question = question[:, :max(1, min(max_query_length, longest_question))]  # (batch, (q))
    # Read in windows, a context may fill several sequences: up to MAX_CONTEXT_SEQUENCES.
    context_length = sequence_length * (MAX_CONTEXT_SEQUENCES if doc_stride else 1)
    context = clean_text(context, context_length)
    words, begins, ends = tf_text.regex_split_with_offsets(context, WHITESPACE)
    # Every word takes a position at least: later words can never fit.
    words, begins, ends = (t[:, :context_length] for t in (words, begins, ends))
    pieces = _ragged(tokenizer(words.flat_values), special)  # (num_words, (pieces))
    empty = tf.cast(tf.equal(pieces.row_lengths(), 0), tf.int64)
    pieces = tf.concat([pieces, tf.RaggedTensor.from_row_lengths(  # No token: [UNK].
        tf.fill([tf.reduce_sum(empty)], tf.constant(special["unk"], tf.int32)), empty)], 1)
    word_index = tf.range(tf.size(words.flat_values, tf.int64)) - tf.gather(
        words.row_starts(), words.value_rowids())  # (num_words,) within its row
    tokens = tf.RaggedTensor.from_row_splits(pieces, words.row_splits).merge_dims(1, 2)
    token_words = tokens.with_flat_values(tf.repeat(tf.cast(word_index, tf.int32),
                                                    pieces.row_lengths()))
    context_tokens = tokens.row_lengths()  # (batch,)
    # Each window fills what [CLS] question [SEP] ... [SEP] leaves.
    room = sequence_length - PAIR_SPECIAL_TOKENS - question.row_lengths()  # (batch,)
    if doc_stride is None:
        stride = tf.zeros_like(room)
        counts = tf.ones_like(room)
    else:
        # A row whose window has less room than `doc_stride` steps by its room: no token skipped.
        stride = tf.maximum(tf.minimum(tf.cast(doc_stride, tf.int64), room), 1)  # (batch,)
        beyond = tf.maximum(context_tokens - room, 0)  # Tokens past the first window.
        counts = 1 + (beyond + stride - 1) // stride  # (batch,) windows per row
    window_example = tf.repeat(tf.range(tf.size(room, tf.int64)), counts)  # (windows,)
    window_start = (tf.ragged.range(counts).flat_values
                    * tf.gather(stride, window_example))  # (windows,)
    length = tf.clip_by_value(tf.gather(context_tokens, window_example) - window_start, 0,
                              tf.gather(room, window_example))  # (windows,)
    first = tf.gather(tokens.row_starts(), window_example) + window_start
    index = tf.ragged.range(first, first + length)  # (windows, (tokens)) into the flat tokens
    tokens = tf.gather(tokens.flat_values, index)
    token_words = tf.gather(token_words.flat_values, index)
    question = tf.gather(question, window_example)
    batch = tf.shape(window_example, tf.int64)
    cls = tf.fill(tf.concat([batch, [1]], 0), tf.constant(special["cls"], tf.int32))
    sep = tf.fill(tf.concat([batch, [1]], 0), tf.constant(special["sep"], tf.int32))
    shape = [None, sequence_length]
    token_ids = tf.concat([cls, question, sep, tokens, sep], axis=1)  # (batch, (length))
    segment_ids = tf.concat([tf.zeros_like(cls), tf.zeros_like(question), tf.zeros_like(sep),
                             tf.ones_like(tokens), tf.ones_like(sep)], axis=1)
    no_word = -tf.ones_like(cls)
    token_words = tf.concat([no_word, -tf.ones_like(question), no_word, token_words, no_word],
                            axis=1)
    return {"token_ids": token_ids.to_tensor(special["pad"], shape=shape),
            "segment_ids": segment_ids.to_tensor(0, shape=shape),
            "padding_mask": tf.ones_like(token_ids).to_tensor(0, shape=shape),
            "token_words": token_words.to_tensor(-1, shape=shape),
            "window_example": window_example, "window_start": window_start,
            "context": context, "word_begins": begins, "word_ends": ends,
            "word_tokens": tf.RaggedTensor.from_row_splits(pieces.row_lengths(),
                                                           words.row_splits),
            "context_tokens": context_tokens}


def _ragged(tokens, special) -> tf.RaggedTensor:
    """A tokenizer's output as int32 ragged rows."""
    if isinstance(tokens, tf.Tensor):  # A tokenizer with its own `sequence_length`.
        tokens = tf.RaggedTensor.from_tensor(tokens, padding=special["pad"])
    return tf.cast(tokens, tf.int32)


def encode_span_examples(examples: list[SpanExample], tokenizer, special: dict[str, int],
                         max_sequence_length: int, max_query_length: int, training: bool,
                         doc_stride: int | None) -> EncodedSpans:
    """Rows and answer positions of SQuAD-style examples, packed by `pack_question_context`
    (the serving signature's own function).

    One row per context window. Training keeps the windows that hold the first answer whole;
    evaluation keeps every window (`window_example` maps rows to `examples`; the answer of an
    example is the best span over its windows).
    """
    pack = tf.function(lambda question, context: pack_question_context(
        tokenizer, special, question, context, max_sequence_length, max_query_length,
        doc_stride), autograph=False)  # Plain tensor ops: nothing to convert.
    out = EncodedSpans(token_ids=[], segment_ids=[], examples=[],
                       y={"start_logits": [], "end_logits": []})
    for begin in range(0, len(examples), CHUNK):
        chunk = examples[begin:begin + CHUNK]
        packed = pack(tf.constant([e.question for e in chunk], tf.string),
                      tf.constant([e.context for e in chunk], tf.string))
        lengths = packed["padding_mask"].numpy().sum(axis=1)
        arrays = {name: packed[name].numpy() for name in
                  ("token_ids", "segment_ids", "token_words", "window_example")}
        word_tokens = packed["word_tokens"].numpy()  # (batch, (words))
        rows_of = [np.flatnonzero(arrays["window_example"] == i) for i in range(len(chunk))]
        for i, example in enumerate(chunk):
            # Character offsets of the same words (the graph's are bytes of the cleaned text).
            offsets = word_spans(example.context)
            out.truncated += int(len(rows_of[i]) > 1)  # Read in several windows.
            windows = []
            for row in rows_of[i]:
                token_words = arrays["token_words"][row, :lengths[row]]
                start, end = _answer_tokens(example, offsets, token_words, word_tokens[i])
                if start is not None or not training:
                    windows.append((row, token_words, start, end))
            if example.answers and not any(start is not None for *_, start, _ in windows):
                out.answers_lost += 1
            if not windows:
                out.dropped += 1
                continue
            out.examples.append(example)
            for row, token_words, start, end in windows:
                out.token_ids.append(arrays["token_ids"][row, :lengths[row]])
                out.segment_ids.append(arrays["segment_ids"][row, :lengths[row]])
                out.y["start_logits"].append(start or 0)
                out.y["end_logits"].append(end or 0)
                out.window_example.append(len(out.examples) - 1)
                out.token_to_word.append(token_words)
                out.word_offsets.append(offsets)
    return out


def _answer_tokens(example: SpanExample, offsets: list[tuple[int, int]],
                   token_words: np.ndarray, word_tokens: np.ndarray):
    """Token positions of the first answer's first and last word in this window; None when the
    answer is absent or not whole in it (a window's edges may cut a word part-way)."""
    if not example.answers:
        return None, None
    answer = example.answers[0]
    begin, finish = answer.answer_start, answer.answer_end
    inside = [i for i, (s, t) in enumerate(offsets) if s < finish and t > begin]
    if not inside or inside[-1] >= len(word_tokens):
        return None, None
    first = np.flatnonzero(token_words == inside[0])
    last = np.flatnonzero(token_words == inside[-1])
    if len(first) < word_tokens[inside[0]] or len(last) < word_tokens[inside[-1]]:
        return None, None
    return int(first[0]), int(last[-1])

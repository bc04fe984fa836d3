"""The three serving signatures of an export: raw text, token ids and serialized tf.Examples.

Inputs:
- `serving_default`: `text` string `[batch]` and `text_pair` string `[batch]`; `text_pair` is
  optional (leave it out, or send `[]`, for single texts);
- `serve_ids`: `token_ids`, `segment_ids`, `padding_mask` int32 `[batch, seq]`;
- `serve_examples`: `examples` string `[batch]`, serialized `tf.train.Example`s with the record
  spec of `albert_keras.data.features`.

`serving_default` and `serve_examples` drop the padding columns that no row of the batch uses
(`trim_padding`), so `seq` in their sequence outputs is the batch's longest row; `serve_ids`
keeps the shape it is given.

Task models answer `serving_default` in words, not only in tokens:
- a `TokenClassifier` tags words: `text` is split into words (whitespace; each punctuation or
  symbol character, the clitics `'s n't 're 've 'll 'm 'd` and numbers such as `2,000` are words
  of their own, as in the Penn-Treebank-style word/TAG files it is fine-tuned on; `text_pair`
  is ignored), each word is tokenized on its own (`labeled_batches.pack_words`, as in
  fine-tuning) and gets the tag of its first sub-token: `words` and `word_tags` string
  `[batch, max_words]`, `""` past the last word (words that do not fit in the sequence are left
  out);
- a `SpanExtractor` reads `text` as the question and `text_pair` as the context (left out: no
  context, so no answer), packs `[CLS] question [SEP] context [SEP]` as fine-tuning does
  with the same function, `span_packing.pack_question_context`: question cut to
  `max_query_length` tokens, context split on whitespace into words, each tokenized on its own,
  a long context read in windows `doc_stride` tokens apart, the best-scoring window answering)
  and adds `answer_start`, `answer_end` int32 `[batch]` (token
  positions), `answer_score` float32 `[batch]` (start + end logit) and `answer_text` string
  `[batch]`: the context's words from the start token's word to the end token's word, cut out of
  the context itself (invalid UTF-8 and NUL replaced by U+FFFD). Only context tokens can start
  or end the answer; a row without context answers `""`, positions 0 and score -inf.
`serve_ids` and `serve_examples` give a `SpanExtractor`'s `answer_start`, `answer_end` and
`answer_score` too (context = segment 1 without its final [SEP]).

Outputs, all float32 unless said otherwise, batch first:
- an `Encoder`: `embeddings` (pooled) `[batch, hidden]`, `sequence_output` `[batch, seq, hidden]`;
- a model with one logits tensor (`TextClassifier`, `TokenClassifier`, any classifier head):
  `logits` and `probabilities` (softmax, or sigmoid per class for a multi-label model), plus,
  when label names are known, `label_names` string `[batch, num_classes]` and (single-label)
  `predicted_label` string `[batch]` (`[batch, seq]` for a tagger);
- a model with a dict of logits (`SpanExtractor`, `Pretrainer`): `{name}_logits` and
  `{name}_probabilities` for every output (softmax over the last axis). A `Pretrainer`'s
  `mask_positions` input is fed every position, so `mlm_*` covers the whole sequence.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import tensorflow as tf
import tensorflow_text as tf_text

from albert_keras.data import features
from albert_keras.data.labeled_batches import pack_words
from albert_keras.data.sequence_layout import MAX_QUERY_LENGTH, SINGLE_SPECIAL_TOKENS
from albert_keras.data.span_packing import WHITESPACE, clean_text, pack_question_context
from albert_keras.models.span_extractor import SpanExtractor, best_spans
from albert_keras.models.token_classifier import TokenClassifier

TEXT_INPUTS = ("text", "text_pair")
ID_INPUTS = features.INPUT_FEATURES  # token_ids, segment_ids, padding_mask
EXAMPLES_INPUT = "examples"
SIGNATURE_NAMES = ("serving_default", "serve_ids", "serve_examples")
# Words of their own in tagged text (Penn Treebank style): numbers with inner punctuation,
# clitics, then any single punctuation or symbol character. The first that matches wins.
WORD_PIECES = (r"\d+(?:[.,:/]\d+)+|(?i:n't|'s|'re|'ve|'ll|'m|'d)\b|[\p{P}\p{S}]")


def serving_signatures(model: keras.Model, preprocessor, label_names: Sequence[str] | None = None,
                       multi_label: bool | None = None,
                       max_query_length: int = MAX_QUERY_LENGTH,
                       doc_stride: int | None = None) -> dict[str, tuple[Callable, list]]:
    """`{signature name: (function, input_signature)}` for `keras.export.ExportArchive`.

    Args:
        model: keras.Model. Takes the dict of `ID_INPUTS` (and optionally `mask_positions`);
            returns a tensor or a dict of tensors.
        preprocessor: `TextPreprocessor`. Turns `text` / `text_pair` into the model's ids; its
            `sequence_length` is also the record length that `serve_examples` parses.
        label_names: list of str or None. Class names, index = class id. Defaults to None.
        multi_label: bool or None. Sigmoid instead of softmax; None reads `model.multi_label`.
        max_query_length: int. Question tokens kept by a `SpanExtractor`'s `serving_default`
            (as `finetune.max_query_length`). Defaults to 64.
        doc_stride: int or None. A `SpanExtractor`'s `serving_default` reads a long context in
            windows this many tokens apart and answers with the best span of all of them (as
            `finetune.doc_stride`); None cuts the context. Defaults to None.
    """
    if multi_label is None:
        multi_label = getattr(model, "multi_label", False)
    if isinstance(model, TokenClassifier) and label_names is None and model.labels:
        label_names = list(model.labels)
    run = _model_runner(model, label_names, multi_label)
    no_pair = tf.constant([], tf.string)  # The default of `text_pair`: "single texts".

    def serve_text(text, text_pair=no_pair):
        check = tf.debugging.assert_equal(
            tf.logical_or(tf.equal(tf.size(text_pair), 0),
                          tf.equal(tf.size(text_pair), tf.size(text))), True,
            message="`text_pair` must be empty or hold one entry per `text`")
        with tf.control_dependencies([check]):
            if isinstance(model, TokenClassifier):
                return tag_words(run, preprocessor, text, label_names)
            if isinstance(model, SpanExtractor):
                context = tf.cond(tf.size(text_pair) > 0, lambda: text_pair,
                                  lambda: tf.fill(tf.shape(text), ""))
                return answer_questions(run, model, preprocessor, text, context,
                                        max_query_length, doc_stride)
            x = tf.cond(tf.size(text_pair) > 0,
                        lambda: preprocessor(text, text_pair), lambda: preprocessor(text))
        return run(trim_padding(x))

    def serve_ids(token_ids, segment_ids, padding_mask):
        return run({"token_ids": token_ids, "segment_ids": segment_ids,
                    "padding_mask": padding_mask})

    def serve_examples(examples):
        parsed = features.parse_examples(examples, preprocessor.sequence_length,
                                         with_pair_label=False)
        return run(trim_padding({name: parsed[name] for name in ID_INPUTS}))

    strings = [tf.TensorSpec([None], tf.string, name=name) for name in TEXT_INPUTS]
    ids = [tf.TensorSpec([None, None], tf.int32, name=name) for name in ID_INPUTS]
    examples = [tf.TensorSpec([None], tf.string, name=EXAMPLES_INPUT)]
    return {"serving_default": (serve_text, strings), "serve_ids": (serve_ids, ids),
            "serve_examples": (serve_examples, examples)}


def trim_padding(x: dict) -> dict:
    """Drops the trailing columns that are padding in every row.

    Real requests are mostly short: a batch of 30-token texts then costs 30 positions, not
    `sequence_length`. Padding is masked, so the answers do not change; sequence outputs cover
    the batch's longest row.
    """
    mask = tf.cast(x["padding_mask"], tf.int32)  # (batch, seq)
    positions = tf.range(1, tf.shape(mask)[1] + 1)  # (seq,) 1-based
    ends = tf.reduce_max(mask * positions, axis=1)  # (batch,) one past the last kept column
    longest = tf.reduce_max(tf.concat([ends, [1]], axis=0))  # >= 1, also for an empty batch
    return {name: value[:, :longest] for name, value in x.items()}


def _model_runner(model, label_names, multi_label) -> Callable:
    """A function from the dict of ids to the named serving outputs."""
    input_names = _input_names(model)
    unknown = sorted(set(input_names) - set(ID_INPUTS) - {"mask_positions"})
    if unknown:
        raise ValueError(f"Cannot serve a model with inputs {unknown}: the signatures provide "
                         f"{list(ID_INPUTS)} (and `mask_positions`). Received: "
                         f"{type(model).__name__} with inputs {input_names}")
    if label_names is not None:
        label_names = [str(name) for name in label_names]

    def run(x):
        inputs = {name: tf.cast(x[name], tf.int32) for name in ID_INPUTS}
        if "mask_positions" in input_names:  # Predict every position.
            batch_size, length = tf.shape(inputs["token_ids"])[0], tf.shape(inputs["token_ids"])[1]
            inputs["mask_positions"] = tf.tile(tf.range(length)[tf.newaxis], [batch_size, 1])
        named = named_outputs(model(inputs, training=False), label_names, multi_label)
        if isinstance(model, SpanExtractor):
            start, end, score = best_spans(named["start_logits"], named["end_logits"],
                                           context_mask(inputs), model.max_answer_length)
            named.update(answer_start=start, answer_end=end, answer_score=score)
        return named

    return run


def context_mask(x: dict) -> tf.Tensor:
    """1 on the context tokens of `[CLS] question [SEP] context [SEP]`: segment 1, real, not
    the final [SEP]. int32 `(batch, seq)`."""
    mask = tf.cast(x["padding_mask"], tf.int32)
    positions = tf.range(tf.shape(mask)[1])[tf.newaxis]  # (1, seq)
    last = tf.reduce_sum(mask, axis=1, keepdims=True) - 1  # (batch, 1) the final [SEP]
    return tf.cast(x["segment_ids"], tf.int32) * mask * tf.cast(positions < last, tf.int32)


def tag_words(run: Callable, preprocessor, text, label_names) -> dict:
    """A `TokenClassifier`'s `serving_default`: the outputs of `run` plus `words`, `word_tags`."""
    words = tf_text.regex_split(clean_text(text, preprocessor.sequence_length),
                                WHITESPACE + "|" + WORD_PIECES,
                                WORD_PIECES)  # (batch, (words))
    length = preprocessor.sequence_length
    words = words[:, :length - SINGLE_SPECIAL_TOKENS]  # Every word takes a position at least.
    packed = pack_words(preprocessor.tokenizer, words, length, preprocessor.special_token_ids)
    starts = packed.pop("word_starts")  # (batch, (kept words)) first sub-tokens
    named = run(trim_padding(packed))
    tags = tf.gather_nd(tf.argmax(named["logits"], axis=-1, output_type=tf.int32),
                        tf.stack([tf.cast(starts.value_rowids(), tf.int32), starts.flat_values], 1))
    num_classes = named["logits"].shape[-1]
    names = tf.constant(label_names or [str(i) for i in range(num_classes)])
    # Kept words are a prefix of each row's words.
    within = tf.range(tf.size(words.flat_values, tf.int64)) - tf.gather(
        words.row_starts(), words.value_rowids())
    kept = within < tf.gather(starts.row_lengths(), words.value_rowids())
    rows = tf.boolean_mask(words.value_rowids(), kept)
    named["words"] = tf.RaggedTensor.from_value_rowids(
        tf.boolean_mask(words.flat_values, kept), rows, nrows=words.nrows()).to_tensor("")
    named["word_tags"] = starts.with_flat_values(tf.gather(names, tags)).to_tensor("")
    return named


def answer_questions(run: Callable, model, preprocessor, question, context,
                     max_query_length: int, doc_stride: int | None = None) -> dict:
    """A `SpanExtractor`'s `serving_default`: `run`'s outputs plus the answer's text.

    `run` sees one row per context window; each question gets the outputs of its window with
    the best answer score (ties: the first).
    """
    packed = pack_question_context(preprocessor.tokenizer, preprocessor.special_token_ids,
                                   question, context, preprocessor.sequence_length,
                                   max_query_length, doc_stride)
    x = trim_padding({name: packed[name] for name in ID_INPUTS})  # (windows, seq)
    named = run(x)
    window_example = packed["window_example"]  # (windows,)
    num_questions = tf.shape(packed["context"], tf.int64)[0]
    # (windows,) -inf (no context) raised to the lowest float, where segment_max starts.
    score = tf.maximum(named["answer_score"], named["answer_score"].dtype.min)
    best = tf.math.unsorted_segment_max(score, window_example, num_questions)  # (batch,)
    windows = tf.range(tf.size(window_example, tf.int64))
    chosen = tf.math.unsorted_segment_min(  # (batch,) the first window with the best score
        tf.where(score >= tf.gather(best, window_example), windows, tf.int64.max),
        window_example, num_questions)
    named = {name: tf.gather(value, chosen) for name, value in named.items()}
    token_words = tf.gather(packed["token_words"], chosen)[:, :tf.shape(x["token_ids"])[1]]
    first = tf.gather(token_words, named["answer_start"], batch_dims=1)  # (batch,) word index
    last = tf.gather(token_words, named["answer_end"], batch_dims=1)
    zero = tf.zeros(tf.concat([tf.shape(first, tf.int64), [1]], 0), tf.int64)  # No words: 0.
    begins, ends = packed["word_begins"], packed["word_ends"]  # (batch, (words)) bytes
    begin = tf.gather(tf.concat([begins.to_tensor(0), zero], 1), tf.maximum(first, 0),
                      batch_dims=1)
    end = tf.gather(tf.concat([ends.to_tensor(0), zero], 1), tf.maximum(last, 0), batch_dims=1)
    found = tf.logical_and(first >= 0, last >= first)
    named["answer_text"] = tf.where(
        found, tf.strings.substr(packed["context"], begin, end - begin), "")
    return named


def named_outputs(outputs, label_names: list[str] | None = None, multi_label: bool = False) -> dict:
    """The serving outputs for a model's raw outputs (see the module docstring)."""
    if isinstance(outputs, dict) and {"sequence_output", "pooled_output"} <= set(outputs):
        return {"embeddings": tf.cast(outputs["pooled_output"], tf.float32),  # (batch, hidden)
                "sequence_output": tf.cast(outputs["sequence_output"], tf.float32)}
    single = not isinstance(outputs, dict)
    if label_names is not None and not single:
        raise ValueError("Label names need a model with a single logits output. Received a "
                         f"dict of outputs {sorted(outputs)}")
    named = {}
    for key, logits in ({"": outputs} if single else outputs).items():
        prefix = key[:-len("logits")] if key.endswith("logits") else key
        prefix = prefix.rstrip("_") + "_" if prefix else ""
        logits = tf.cast(logits, tf.float32)  # (batch, ..., classes)
        named[prefix + "logits"] = logits
        named[prefix + "probabilities"] = (tf.sigmoid(logits) if multi_label
                                           else tf.nn.softmax(logits))
    if label_names is not None:
        num_classes = outputs.shape[-1]
        if num_classes is not None and num_classes != len(label_names):
            raise ValueError(f"The model has {num_classes} classes but {len(label_names)} label "
                             f"names were given. Received: label_names={label_names}")
        names = tf.constant(label_names)
        batch_size = tf.shape(outputs)[0]
        named["label_names"] = tf.tile(names[tf.newaxis], [batch_size, 1])  # (batch, classes)
        if not multi_label:
            named["predicted_label"] = tf.gather(names, tf.argmax(outputs, axis=-1))  # (batch, ...)
    return named


def _input_names(model) -> list[str]:
    try:
        inputs = model.input  # Functional models; a subclassed model has none.
    except (AttributeError, ValueError):
        inputs = None
    return list(inputs) if isinstance(inputs, dict) else list(ID_INPUTS)

"""Span extraction (extractive question answering, SQuAD style).

Files: SQuAD JSON, JSON lines with `id`, `question`, `context` and `answers` (a list of
`{"text", "answer_start"}`), or the TFDS `squad` dataset; examples `SpanExample(id, question,
context, answers)`, each answer a `SpanAnswer(text, answer_start)`. Preprocessor:
`span_packing.pack_question_context` (`[CLS] question [SEP] context [SEP]`, the context split
on whitespace into words as in BERT's SQuAD code, a long context read in windows `doc_stride`
tokens apart), in training and in the serving signature. Targets:
`{"start_logits", "end_logits"}` token positions of the first answer; training keeps the
windows that hold it whole, evaluation reads every window and answers with the best span.

Served on raw text, `text` is the question and `text_pair` the context (left out: no context,
so no answer). Outputs add `answer_start`, `answer_end` int32 `[batch]` (token positions),
`answer_score` float32 `[batch]` (start + end logit) and `answer_text` string `[batch]`: the
context's words from the start token's word to the end token's word, cut out of the context
itself (invalid UTF-8 and NUL replaced by U+FFFD). Only context tokens can start or end the
answer; a row without context answers `""`, positions 0 and score -inf. `serve_ids` and
`serve_examples` give `answer_start`, `answer_end` and `answer_score` too (context = segment 1
without its final [SEP]).
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

import keras
import numpy as np
import tensorflow as tf

from albert_keras.models.span_extractor import SpanExtractor, best_spans
from albert_keras.pretraining_data.records.features import INPUT_FEATURES
from albert_keras.tasks import finetune_metrics
from albert_keras.tasks.fine_tuning_task import FineTuningTask
from albert_keras.tasks.inputs.encoded_split import EncodedSpans
from albert_keras.tasks.inputs.labeled import LabeledDataError, as_text, extension, json_lines
from albert_keras.tasks.inputs.labeled_examples import SpanAnswer, SpanExample
from albert_keras.tasks.inputs.labeled_file_config import LabeledFileConfig
from albert_keras.tasks.inputs.padding import trim_padding
from albert_keras.tasks.inputs.span_packing import encode_span_examples, pack_question_context
from albert_keras.tasks.serving_settings import ServingSettings
from albert_keras.tokenizers.sequence_layout import MIN_CONTEXT_TOKENS, PAIR_SPECIAL_TOKENS
from albert_keras.tokenizers.special_tokens import special_token_ids
from albert_keras.utils import file_io

if TYPE_CHECKING:  # Types only: the jobs rank above the tasks.
    from albert_keras.jobs.finetune_config import FinetuneConfig


class SpanExtraction(FineTuningTask[SpanExample]):
    """Extractive question answering; see the module docstring."""

    name = "span_extraction"
    model_class = SpanExtractor
    monitor = ("val_loss", "min")
    has_labels = False
    score = "f1"
    shared_texts = True  # A context per question.

    def corpus_texts(self, example: SpanExample) -> list[str]:
        return [example.context]  # Questions are the query segment, not prose.

    def check_config(self, ft: FinetuneConfig) -> None:
        super().check_config(ft)
        longest = ft.max_sequence_length - PAIR_SPECIAL_TOKENS - MIN_CONTEXT_TOKENS
        if ft.max_query_length > longest:
            raise ValueError(
                "`finetune.max_query_length` must leave room for the context "
                f"(at most max_sequence_length - 4 = {longest}). "
                f"Received: finetune.max_query_length={ft.max_query_length}")

    def file_format(self, path: str, config: LabeledFileConfig) -> str:
        if config.format != "auto":
            return config.format
        return "squad" if extension(path) == ".json" else "jsonl"

    def read_file(self, path: str, file_format: str,
                  config: LabeledFileConfig) -> list[SpanExample]:
        if file_format == "squad":
            return _read_squad(path)
        if file_format != "jsonl":
            raise LabeledDataError(f"{path}: span_extraction reads squad or jsonl files. "
                                   f"Received: finetune.format={file_format!r}")
        examples = []
        for row, record in json_lines(path):
            where = f"{path} row {row}"
            if "context" not in record or "question" not in record:
                raise LabeledDataError(f"{where}: missing 'context' or 'question'")
            examples.append(_example(
                record.get("id", str(row)), record["question"], record["context"],
                [(a.get("text"), a.get("answer_start")) for a in record.get("answers", [])],
                path, row, where))
        return examples

    def read_tfds_record(self, record: dict, features, where: str, row: int,
                         config: LabeledFileConfig) -> SpanExample:
        answers = record.get("answers", {})
        return _example(as_text(record.get("id", row)), as_text(record["question"]),
                        as_text(record["context"]),
                        [(as_text(t), int(s)) for t, s in zip(answers.get("text", []),
                                                              answers.get("answer_start", []))],
                        where, row, f"{where} row {row}")

    def example_labels(self, example: SpanExample) -> tuple[str, ...]:
        return ()

    def encode(self, examples: list[SpanExample], tokenizer, labels: tuple[str, ...] | None,
               ft: FinetuneConfig, training: bool = True) -> EncodedSpans:
        return encode_span_examples(examples, tokenizer, special_token_ids(tokenizer),
                                    ft.max_sequence_length, ft.max_query_length, training,
                                    ft.context_stride())

    def build_model(self, ft: FinetuneConfig, encoder: keras.Model,
                    labels: tuple[str, ...] | None) -> keras.Model:
        return SpanExtractor(encoder, max_answer_length=ft.max_answer_length)

    def compile_arguments(self, ft: FinetuneConfig) -> dict[str, Any]:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return {"loss": {"start_logits": loss, "end_logits": loss},
                "loss_weights": {"start_logits": 0.5, "end_logits": 0.5},
                "metrics": {"start_logits": [keras.metrics.SparseCategoricalAccuracy("accuracy")],
                            "end_logits": [keras.metrics.SparseCategoricalAccuracy("accuracy")]}}

    def metrics(self, outputs: list, encoded: EncodedSpans, labels: tuple[str, ...] | None,
                ft: FinetuneConfig) -> dict[str, Any]:
        answers = span_answers(outputs, encoded, ft.max_answer_length)
        return finetune_metrics.span_metrics(
            answers, [[a.text for a in e.answers] for e in encoded.examples])

    def report_fields(self, ft: FinetuneConfig,
                      encoded: dict[str, EncodedSpans]) -> dict[str, Any]:
        return {"answers_lost": {split: data.answers_lost for split, data in encoded.items()},
                "doc_stride": ft.context_stride()}

    def serving_settings(self, ft: FinetuneConfig,
                         labels: tuple[str, ...] | None) -> ServingSettings:
        return dataclasses.replace(
            super().serving_settings(ft, labels), max_query_length=ft.max_query_length,
            max_answer_length=ft.max_answer_length, doc_stride=ft.context_stride())

    def add_serving_outputs(self, model, inputs, named) -> dict:
        start, end, score = best_spans(named["start_logits"], named["end_logits"],
                                       context_mask(inputs), model.max_answer_length)
        return {**named, "answer_start": start, "answer_end": end, "answer_score": score}

    def serve_text(self, run, model, preprocessor, text, text_pair, settings) -> dict:
        if settings.doc_stride is None:  # Made without `max_sequence_length`.
            raise ValueError("Span extraction serves with the `doc_stride` it was trained "
                             f"with; give `max_sequence_length`. Received: {settings}")
        context = tf.cond(tf.size(text_pair) > 0, lambda: text_pair,
                          lambda: tf.fill(tf.shape(text), ""))
        return answer_questions(run, preprocessor, text, context, settings.max_query_length,
                                settings.doc_stride)


def span_answers(outputs: list[dict], encoded: EncodedSpans, max_answer_length: int) -> list[str]:
    """The answer text of each example: the best legal span over the context tokens of all its
    windows (rows)."""
    examples = encoded.examples
    answers, best = [""] * len(examples), np.full(len(examples), -np.inf)
    row = 0
    for batch in outputs:
        size, seq = batch["start_logits"].shape
        valid = np.zeros((size, seq), bool)
        for i in range(size):
            token_to_word = encoded.token_to_word[row + i]
            valid[i, :len(token_to_word)] = token_to_word >= 0
        starts, ends, scores = best_spans(batch["start_logits"], batch["end_logits"], valid,
                                          max_answer_length)
        for i, (start, end, score) in enumerate(zip(*map(np.asarray, (starts, ends, scores)))):
            example = encoded.window_example[row + i]
            token_to_word = encoded.token_to_word[row + i]
            offsets = encoded.word_offsets[row + i]
            if not offsets or start >= len(token_to_word) or token_to_word[start] < 0 \
                    or not score > best[example]:
                continue
            best[example] = score
            context = examples[example].context
            answers[example] = context[offsets[token_to_word[start]][0]:
                                       offsets[token_to_word[end]][1]]
        row += size
    return answers


def context_mask(x: dict) -> tf.Tensor:
    """1 on the context tokens of `[CLS] question [SEP] context [SEP]`: segment 1, real, not
    the final [SEP]. int32 `(batch, seq)`."""
    mask = tf.cast(x["padding_mask"], tf.int32)
    positions = tf.range(tf.shape(mask)[1])[tf.newaxis]  # (1, seq)
    last = tf.reduce_sum(mask, axis=1, keepdims=True) - 1  # (batch, 1) the final [SEP]
    return tf.cast(x["segment_ids"], tf.int32) * mask * tf.cast(positions < last, tf.int32)


def answer_questions(run, preprocessor, question, context, max_query_length: int,
                     doc_stride: int) -> dict:
    """`run`'s outputs plus the answer's text, for questions and their contexts.

    `run` sees one row per context window (windows `doc_stride` context tokens apart, the
    run's `ServingSettings.doc_stride`); each question gets the outputs of its window with the
    best answer score (ties: the first).
    """
    packed = pack_question_context(preprocessor.tokenizer, preprocessor.special_token_ids,
                                   question, context, preprocessor.sequence_length,
                                   max_query_length, doc_stride)
    x = trim_padding({name: packed[name] for name in INPUT_FEATURES})  # (windows, seq)
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


def _read_squad(path: str) -> list[SpanExample]:
    with file_io.open_text(path, "utf-8-sig") as f:
        text = f.read()
    if not text.strip():
        raise LabeledDataError(f"{path}: no examples (the file is empty)")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LabeledDataError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or "data" not in data:
        raise LabeledDataError(f"{path}: expected SQuAD JSON with a top-level 'data' list")
    examples, row = [], 0
    for article in data["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context")
            for qa in paragraph.get("qas", []):
                row += 1
                where = f"{path} question {row} (id {qa.get('id')!r})"
                if context is None or "question" not in qa:
                    raise LabeledDataError(f"{where}: missing 'context' or 'question'")
                examples.append(_example(
                    qa.get("id", str(row)), qa["question"], context,
                    [(a.get("text"), a.get("answer_start")) for a in qa.get("answers", [])],
                    path, row, where))
    return examples


def _example(example_id: str, question: str, context: str, answers: list[tuple[Any, Any]],
             source: str, row: int, where: str) -> SpanExample:
    # Lone surrogates become U+FFFD (`as_text`): one character for one, so offsets still hold.
    question, context = as_text(question), as_text(context)
    checked = []
    for answer_text, start in answers:
        answer_text = as_text(answer_text) if isinstance(answer_text, str) else answer_text
        if not isinstance(answer_text, str) or not isinstance(start, int) or start < 0:
            raise LabeledDataError(f"{where}: each answer needs 'text' and an integer "
                                   f"'answer_start'. Received: {answer_text!r}, {start!r}")
        if context[start:start + len(answer_text)] != answer_text:
            raise LabeledDataError(f"{where}: answer {answer_text!r} is not at answer_start={start} "
                                   "of the context")
        checked.append(SpanAnswer(text=answer_text, answer_start=start))
    return SpanExample(id=as_text(example_id), question=question, context=context,
                       answers=tuple(checked), source=source, row=row)

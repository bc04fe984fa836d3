"""The three serving signatures of an export: raw text, token ids and serialized tf.Examples.

Inputs:
- `serving_default`: `text` string `[batch]` and `text_pair` string `[batch]`; `text_pair` is
  optional (leave it out, or send `[]`, for single texts);
- `serve_ids`: `token_ids`, `segment_ids`, `padding_mask` int32 `[batch, seq]`;
- `serve_examples`: `examples` string `[batch]`, serialized `tf.train.Example`s with the record
  spec of `albert_keras.pretraining_data.records.features`.

`serving_default` and `serve_examples` drop the padding columns that no row of the batch uses
(`trim_padding`), so `seq` in their sequence outputs is the batch's longest row; `serve_ids`
keeps the shape it is given.

A fine-tuning task's model (`albert_keras.tasks`) answers `serving_default` the task's way,
with the task's own preprocessor (the one its training pipeline ran): a `TokenClassifier` tags
words (`words`, `word_tags`), a `SpanExtractor` answers a question (`text`) from a context
(`text_pair`) with `answer_start`, `answer_end`, `answer_score` and `answer_text` (also from
`serve_ids` and `serve_examples`, without the text); see each task's module.

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

import dataclasses
from typing import Callable

import keras
import tensorflow as tf

from albert_keras.models.task import input_names
from albert_keras.pretraining_data.records import features
from albert_keras.tasks.fine_tuning_task import serve_texts
from albert_keras.tasks.inputs.padding import trim_padding
from albert_keras.tasks.registry import task_of_model
from albert_keras.tasks.serving_settings import ServingSettings

TEXT_INPUTS = ("text", "text_pair")
ID_INPUTS = features.INPUT_FEATURES  # token_ids, segment_ids, padding_mask
EXAMPLES_INPUT = "examples"
SIGNATURE_NAMES = ("serving_default", "serve_ids", "serve_examples")


def serving_signatures(model: keras.Model, preprocessor,
                       settings: ServingSettings | None = None) -> dict[str, tuple[Callable, list]]:
    """`{signature name: (function, input_signature)}` for `keras.export.ExportArchive`.

    Args:
        model: keras.Model. Takes the dict of `ID_INPUTS` (and optionally `mask_positions`);
            returns a tensor or a dict of tensors.
        preprocessor: `TextPreprocessor`. Turns `text` / `text_pair` into the model's ids; its
            `sequence_length` is also the record length that `serve_examples` parses.
        settings: `ServingSettings` or None. The fine-tuning run's (`labels.json`): label
            names, multi-label, and a `SpanExtractor`'s `max_query_length` and `doc_stride`
            (its `serving_default` reads a long context in the windows it was trained on and
            answers with the best span of all of them). Unset fields are completed by
            `complete_settings`. Defaults to None: all of them.
    """
    settings = complete_settings(model, settings, preprocessor.sequence_length)
    task = task_of_model(model)  # None: an encoder, a pretrainer, another model.
    label_names, multi_label = settings.labels, settings.multi_label
    run = _model_runner(model, task, label_names, multi_label)
    no_pair = tf.constant([], tf.string)  # The default of `text_pair`: "single texts".

    def serve_text(text, text_pair=no_pair):
        check = tf.debugging.assert_equal(
            tf.logical_or(tf.equal(tf.size(text_pair), 0),
                          tf.equal(tf.size(text_pair), tf.size(text))), True,
            message="`text_pair` must be empty or hold one entry per `text`")
        with tf.control_dependencies([check]):
            if task is not None:
                return task.serve_text(run, model, preprocessor, text, text_pair, settings)
            return serve_texts(run, preprocessor, text, text_pair)

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


def complete_settings(model: keras.Model, settings: ServingSettings | None,
                      sequence_length: int) -> ServingSettings:
    """`settings` (None: empty ones) with what they leave unset taken from the served model:
    its task, its `labels` (a tagger's, a classifier's), its `multi_label`, and
    `max_sequence_length = sequence_length` (which resolves a span extractor's unset
    `doc_stride` to the training default, `default_doc_stride`). Settings of another task than
    the model's are an error naming both."""
    settings = settings or ServingSettings()
    task = task_of_model(model)
    if task is not None and settings.task not in (None, task.name):
        raise ValueError(f"The serving settings are for task {settings.task!r} but the model "
                         f"is a {type(model).__name__} ({task.name!r}). Received: {settings}")
    labels = settings.labels
    if labels is None and getattr(model, "labels", None):
        labels = tuple(model.labels)
    multi_label = settings.multi_label
    if multi_label is None:
        multi_label = bool(getattr(model, "multi_label", False))
    return dataclasses.replace(
        settings, task=task.name if task is not None else settings.task, labels=labels,
        multi_label=multi_label,
        max_sequence_length=settings.max_sequence_length or sequence_length)


def _model_runner(model, task, label_names, multi_label) -> Callable:
    """A function from the dict of ids to the named serving outputs."""
    names = input_names(model) or list(ID_INPUTS)  # A subclassed model: the ids alone.
    unknown = sorted(set(names) - set(ID_INPUTS) - {"mask_positions"})
    if unknown:
        raise ValueError(f"Cannot serve a model with inputs {unknown}: the signatures provide "
                         f"{list(ID_INPUTS)} (and `mask_positions`). Received: "
                         f"{type(model).__name__} with inputs {names}")
    if label_names is not None:
        label_names = [str(name) for name in label_names]

    def run(x):
        inputs = {name: tf.cast(x[name], tf.int32) for name in ID_INPUTS}
        if "mask_positions" in names:  # Predict every position.
            batch_size, length = tf.shape(inputs["token_ids"])[0], tf.shape(inputs["token_ids"])[1]
            inputs["mask_positions"] = tf.tile(tf.range(length)[tf.newaxis], [batch_size, 1])
        named = named_outputs(model(inputs, training=False), label_names, multi_label)
        return named if task is None else task.add_serving_outputs(model, inputs, named)

    return run


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

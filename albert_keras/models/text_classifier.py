"""`TextClassifier`: an encoder with a classification head on the pooled output."""

from __future__ import annotations

import keras

from albert_keras.layers.initializers import truncated_normal
from albert_keras.models.task import Task, encoder_inputs, resolve_classes

POOLING = ("cls", "mean")


@keras.saving.register_keras_serializable(package="albert_keras")
class TextClassifier(Task):
    """Classifies a text or a text pair: dropout and a dense layer on a pooled encoding.

    Binary and multi-class tasks use softmax over `num_classes` logits (train with
    `SparseCategoricalCrossentropy(from_logits=True)`); `multi_label=True` means one independent
    sigmoid per class (train with `BinaryCrossentropy(from_logits=True)` on multi-hot labels).
    The output is float32 `logits` of shape `(batch, num_classes)`.

    Args:
        encoder: `Encoder` (or any model with the same inputs and a `pooled_output`).
        num_classes: int. Number of classes. May be left out when `labels` is given.
        labels: sequence of str or None. Class names, index = class id; saved with the model
            so a served model can answer with names. Defaults to None.
        multi_label: bool. Sigmoid per class instead of softmax. Defaults to False.
        dropout: float. Dropout on the pooled output. Defaults to 0.1.
        pooling: str. `"cls"`: the encoder's `pooled_output` (tanh pooler on [CLS], as BERT);
            `"mean"`: the mean of `sequence_output` over non-padding positions (what
            sentence-embedding models such as MiniLM sentence-transformers are trained for).
            Defaults to `"cls"`.

    Example:
    ```python
    encoder = Encoder.from_preset("bert_tiny", vocabulary_size=100)
    classifier = TextClassifier(encoder, labels=("negative", "positive"))
    ids = np.array([[2, 15, 27, 3, 0]], "int32")  # [CLS] two tokens [SEP] padding
    segments = np.zeros_like(ids)
    mask = (ids > 0).astype("int32")
    logits = classifier({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    assert logits.shape == (1, 2)  # (batch, classes)
    # From a pretraining run: TextClassifier.from_pretrained("runs/albert_tiny/encoder.keras",
    #                                                        num_classes=3)
    ```
    """

    def __init__(self, encoder, num_classes=None, labels=None, multi_label=False, dropout=0.1,
                 pooling="cls", dtype=None, **kwargs):
        num_classes, labels = resolve_classes(num_classes, labels)
        if pooling not in POOLING:
            raise ValueError(f"`pooling` must be one of {POOLING}. Received: pooling={pooling!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")

        # === Layers ===
        head_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="classifier_dropout")
        head = keras.layers.Dense(
            num_classes, kernel_initializer=truncated_normal(),
            dtype=dtype, name="logits")

        # === Functional model ===
        inputs = encoder_inputs()
        outputs = encoder(inputs)
        if pooling == "cls":
            pooled = outputs["pooled_output"]  # (batch, hidden)
        else:
            mask = keras.ops.cast(inputs["padding_mask"], outputs["sequence_output"].dtype)
            total = keras.ops.sum(outputs["sequence_output"] * keras.ops.expand_dims(mask, -1),
                                  axis=1)  # (batch, hidden); expand_dims: a LiteRT builtin
            pooled = total / keras.ops.maximum(keras.ops.sum(mask, axis=1, keepdims=True), 1.0)
        logits = keras.ops.cast(head(head_dropout(pooled)), "float32")  # (batch, num_classes)
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.num_classes = num_classes
        self.labels = labels
        self.multi_label = bool(multi_label)
        self.dropout = dropout
        self.pooling = pooling

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "labels": list(self.labels) if self.labels else None,
                "multi_label": self.multi_label, "dropout": self.dropout, "pooling": self.pooling}

"""`TokenClassifier`: an encoder with a per-token classification head (NER, POS tagging)."""

from __future__ import annotations

import keras

from albert_keras.layers.initializers import truncated_normal
from albert_keras.models.task import Task, encoder_inputs, resolve_classes


@keras.saving.register_keras_serializable(package="albert_keras")
class TokenClassifier(Task):
    """One label per word: dropout and a dense layer on every position of `sequence_output`.

    Words are split into sub-tokens; the word's label sits on its first sub-token and every
    other position (later sub-tokens, [CLS], [SEP], padding) gets sample weight 0, so it counts
    neither in the loss nor in the metrics (`albert_keras.tasks.token_classification` builds such batches).
    Use `SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")`
    for a loss averaged over real words. The output is float32 `logits` of shape
    `(batch, seq, num_classes)`.

    Args:
        encoder: `Encoder` (or any model with the same inputs and a `sequence_output`).
        num_classes: int. Number of tags. May be left out when `labels` is given.
        labels: sequence of str or None. Tag names, index = tag id. Defaults to None.
        dropout: float. Dropout on the sequence output. Defaults to 0.1.

    Example:
    ```python
    encoder = Encoder.from_preset("bert_tiny", vocabulary_size=100)
    tagger = TokenClassifier(encoder, labels=("O", "B-PER", "I-PER"))
    ids = np.array([[2, 15, 27, 3, 0]], "int32")  # [CLS] two tokens [SEP] padding
    segments = np.zeros_like(ids)
    mask = (ids > 0).astype("int32")
    logits = tagger({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    assert logits.shape == (1, 5, 3)  # (batch, seq, labels)
    ```
    """

    def __init__(self, encoder, num_classes=None, labels=None, dropout=0.1, dtype=None, **kwargs):
        num_classes, labels = resolve_classes(num_classes, labels)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")

        # === Layers ===
        head_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="tagger_dropout")
        head = keras.layers.Dense(
            num_classes, kernel_initializer=truncated_normal(),
            dtype=dtype, name="logits")

        # === Functional model ===
        inputs = encoder_inputs()
        sequence = encoder(inputs)["sequence_output"]  # (batch, seq, hidden)
        logits = keras.ops.cast(head(head_dropout(sequence)), "float32")  # (batch, seq, classes)
        super().__init__(inputs=inputs, outputs=logits, dtype=dtype, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.num_classes = num_classes
        self.labels = labels
        self.dropout = dropout

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "labels": list(self.labels) if self.labels else None, "dropout": self.dropout}

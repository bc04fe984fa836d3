"""`SpanExtractor`: extractive question answering — start and end logits over the sequence."""

from __future__ import annotations

import keras
from keras import ops

from albert_keras.layers.initializers import truncated_normal
from albert_keras.models.task import Task, encoder_inputs

# Added to the logits of padding positions: far below any real score, finite in float32.
_MASKED = -1e9


@keras.saving.register_keras_serializable(package="albert_keras")
class SpanExtractor(Task):
    """Predicts the answer span: a dense layer gives each position a start and an end logit.

    As in BERT for SQuAD (https://arxiv.org/abs/1810.04805), the input is `[CLS] question
    [SEP] context [SEP]` and training minimizes the cross-entropy of the true start and end
    positions. Padding positions get a logit of -1e9. Outputs are float32 `start_logits` and
    `end_logits`, each `(batch, seq)`; `best_spans` turns them into the best legal span.

    Args:
        encoder: `Encoder` (or any model with the same inputs and a `sequence_output`).
        max_answer_length: int. Longest span, in tokens, that `decode` returns. Defaults to 30.

    Example:
    ```python
    encoder = Encoder.from_preset("bert_tiny", vocabulary_size=100)
    reader = SpanExtractor(encoder)
    ids = np.array([[2, 15, 27, 3, 0]], "int32")  # [CLS] two tokens [SEP] padding
    segments = np.zeros_like(ids)
    mask = (ids > 0).astype("int32")
    out = reader({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    start, end, score = reader.decode(out, valid_mask=mask)
    assert start.shape == end.shape == score.shape == (1,)  # (batch,) each
    assert 0 <= start[0] <= end[0] < 4  # Inside the padding mask.
    ```
    """

    def __init__(self, encoder, max_answer_length=30, dtype=None, **kwargs):
        if isinstance(max_answer_length, bool) or not isinstance(max_answer_length, int) \
                or max_answer_length < 1:
            raise ValueError("`max_answer_length` must be a positive integer. "
                             f"Received: max_answer_length={max_answer_length!r}")

        # === Layers ===
        head = keras.layers.Dense(
            2, kernel_initializer=truncated_normal(), dtype=dtype,
            name="span_logits")

        # === Functional model ===
        inputs = encoder_inputs()
        sequence = encoder(inputs)["sequence_output"]  # (batch, seq, hidden)
        logits = ops.cast(head(sequence), "float32")  # (batch, seq, 2)
        padding = 1.0 - ops.cast(inputs["padding_mask"], "float32")  # (batch, seq)
        start_logits = logits[..., 0] + _MASKED * padding
        end_logits = logits[..., 1] + _MASKED * padding
        outputs = {"start_logits": keras.layers.Identity(name="start_logits")(start_logits),
                   "end_logits": keras.layers.Identity(name="end_logits")(end_logits)}
        super().__init__(inputs=inputs, outputs=outputs, dtype=dtype, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.max_answer_length = max_answer_length

    def decode(self, outputs, valid_mask=None):
        """`best_spans` with this model's `max_answer_length`; `outputs` is the model's dict."""
        return best_spans(outputs["start_logits"], outputs["end_logits"], valid_mask,
                          self.max_answer_length)

    def get_config(self):
        return {**super().get_config(), "max_answer_length": self.max_answer_length}


def best_spans(start_logits, end_logits, valid_mask=None, max_answer_length=30):
    """The highest-scoring legal span of each row.

    A span `(i, j)` is legal when `i <= j < i + max_answer_length` and both ends are valid
    positions (`valid_mask`, e.g. the context's segment ids; all positions when None). Its
    score is `start_logits[i] + end_logits[j]`. Pure tensor ops, so it also runs in a
    serving graph.

    Args:
        start_logits, end_logits: float `(batch, seq)`.
        valid_mask: int or bool `(batch, seq)` or None.
        max_answer_length: int. Longest span in tokens.

    Returns:
        `(start, end, score)`: int32 `(batch,)`, int32 `(batch,)`, float32 `(batch,)`.
    """
    start_logits = ops.cast(start_logits, "float32")
    end_logits = ops.cast(end_logits, "float32")
    seq = ops.shape(start_logits)[1]
    positions = ops.arange(seq)
    length = positions[None, :] - positions[:, None]  # (seq, seq): j - i
    legal = ops.logical_and(length >= 0, length < max_answer_length)[None]  # (1, seq, seq)
    if valid_mask is not None:
        valid = ops.cast(valid_mask, "bool")
        legal = ops.logical_and(legal, ops.logical_and(valid[:, :, None], valid[:, None, :]))
    scores = start_logits[:, :, None] + end_logits[:, None, :]  # (batch, seq, seq)
    scores = ops.where(legal, scores, ops.full_like(scores, -float("inf")))
    flat = ops.reshape(scores, (ops.shape(scores)[0], -1))  # (batch, seq * seq)
    best = ops.cast(ops.argmax(flat, axis=-1), "int32")
    score = ops.max(flat, axis=-1)
    return best // seq, best % seq, score

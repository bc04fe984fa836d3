"""`Pretrainer`: an `Encoder` with the masked-LM head and the sentence-pair (NSP/SOP) head."""

from __future__ import annotations

import keras

from albert_keras.layers.masked_lm_head import MaskedLMHead
from albert_keras.models.encoder import INPUT_NAMES
from albert_keras.models.pair_tasks import check_pair_task
from albert_keras.models.task import Task

HEADS = ("mlm_head", "pair_head")  # The pretraining heads, by their layer names.


@keras.saving.register_keras_serializable(package="albert_keras")
class Pretrainer(Task):
    """The pretraining model of BERT (masked LM + NSP) and ALBERT (masked LM + SOP).

    A functional model over `encoder`. The masked-LM head (`mlm_head`) reads the sequence
    output at `mask_positions` only and decodes through the token-embedding matrix; the pair
    head (`pair_head`, `Dense(2)`) reads the pooled output. Label 1 of the pair task means
    "swapped" (SOP, https://arxiv.org/abs/1909.11942) or "random next segment" (NSP). Both
    outputs are float32 logits, also under a mixed dtype policy.

    Inputs: a dict of int32 tensors `token_ids`, `segment_ids`, `padding_mask` `(batch, seq)`
    and `mask_positions` `(batch, predictions)`. Outputs: a dict of `mlm` logits
    `(batch, predictions, vocabulary_size)` and `pair` logits `(batch, 2)`.

    Args:
        encoder: `Encoder`. The network to pretrain; its dtype policy is used for the heads.
        pair_task: str. `"sop"` (ALBERT) or `"nsp"` (BERT). Defaults to `"sop"`.

    Example:
    ```python
    encoder = Encoder.from_preset("albert_tiny", vocabulary_size=100)
    pretrainer = Pretrainer(encoder, pair_task="sop")
    ids = np.array([[2, 15, 27, 3, 0]], "int32")  # [CLS] two tokens [SEP] padding
    segments = np.zeros_like(ids)
    mask = (ids > 0).astype("int32")
    outputs = pretrainer({"token_ids": ids, "segment_ids": segments, "padding_mask": mask,
                          "mask_positions": np.array([[1, 2]], "int32")})
    assert outputs["mlm"].shape == (1, 2, 100)  # (batch, predictions, vocabulary)
    assert outputs["pair"].shape == (1, 2)
    ```
    """

    def __init__(self, encoder, pair_task="sop", **kwargs):
        check_pair_task(pair_task)
        dtype = encoder.token_embedding.dtype_policy  # The encoder layers' policy.
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)

        # === Layers ===
        mlm_head = MaskedLMHead(
            encoder.token_embedding, activation=encoder.activation,
            layer_norm_epsilon=encoder.layer_norm_epsilon, kernel_initializer=initializer,
            dtype=dtype, name="mlm_head")
        pair_head = keras.layers.Dense(
            2, kernel_initializer=initializer, dtype=dtype, name="pair_head")

        # === Functional model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
                  for name in (*INPUT_NAMES, "mask_positions")}
        encoded = encoder({name: inputs[name] for name in INPUT_NAMES})
        mlm_logits = mlm_head(encoded["sequence_output"], inputs["mask_positions"])
        pair_logits = pair_head(encoded["pooled_output"])  # (batch, 2)
        outputs = {"mlm": keras.ops.cast(mlm_logits, "float32"),  # (batch, predictions, vocab)
                   "pair": keras.ops.cast(pair_logits, "float32")}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.encoder = encoder
        self.pair_task = pair_task
        self.mlm_head = mlm_head
        self.pair_head = pair_head

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return super().compute_loss(x, y, y_pred, _with_pair_weight(sample_weight), training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, y, y_pred, _with_pair_weight(sample_weight))

    def get_config(self):
        return {**super().get_config(), "pair_task": self.pair_task}

    @classmethod
    def from_pretrained(cls, path: str, **kwargs) -> "Pretrainer":
        """Imports a pretraining checkpoint from elsewhere (TF1, Hugging Face, keras-hub)."""
        from albert_keras.convert import load_pretrainer  # Deferred: converters are optional.

        return load_pretrainer(path, **kwargs)


def _with_pair_weight(sample_weight):
    """Datasets weight only the `mlm` output (by `mask_weights`); the pair output is unweighted."""
    if isinstance(sample_weight, dict) and "pair" not in sample_weight:
        return {**sample_weight, "pair": None}
    return sample_weight

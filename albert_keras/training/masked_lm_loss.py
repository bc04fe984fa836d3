"""`MaskedLMLoss`: masked-LM cross-entropy averaged over the real predictions of the global batch."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="albert_keras")
class MaskedLMLoss(keras.losses.Loss):
    """Sparse cross-entropy from logits, weighted by `mask_weights`, divided by their sum.

    A batch has up to `max_predictions` masked positions per sequence; padded predictions have
    weight 0. The loss is `sum(weights * xent) / sum(weights)` over the **global** batch: under
    a `tf.distribute` strategy the weight sum is all-reduced, so each replica returns its share
    and the summed gradient equals the single-device one whatever the split (Keras' own
    reductions average per-replica means, which differ when replicas hold different numbers of
    masked tokens). With no weights every prediction counts.

    Args:
        name: str. Defaults to `"masked_lm_loss"`.

    Example:
    ```python
    # needs: a `pretrainer` and `pair_loss`
    pretrainer.compile(optimizer=Lamb(), loss={"mlm": MaskedLMLoss(), "pair": pair_loss})
    ```
    """

    def __init__(self, name="masked_lm_loss", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, reduction="sum", **kwargs)
        # Set by gradient accumulation while it traces a micro-batch: the weight to divide by
        # (the whole step's, all replicas, times the micro-batch's share of the step).
        self.total_weight = None

    def call(self, y_true, y_pred):
        return keras.losses.sparse_categorical_crossentropy(
            y_true, y_pred, from_logits=True)  # (batch, predictions)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = keras.ops.cast(y_pred, "float32")
        losses = self.call(keras.ops.cast(y_true, "int32"), y_pred)  # (batch, predictions)
        if sample_weight is None:
            weights = keras.ops.ones_like(losses)
        else:
            weights = keras.ops.reshape(keras.ops.cast(sample_weight, "float32"),
                                        keras.ops.shape(losses))
        total = keras.ops.sum(losses * weights)
        if self.total_weight is not None:
            return keras.ops.divide_no_nan(total, self.total_weight)
        count = keras.ops.sum(weights)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
        return keras.ops.divide_no_nan(total, count)

    def get_config(self):
        return {"name": self.name}

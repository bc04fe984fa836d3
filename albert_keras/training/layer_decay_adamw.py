"""`LayerDecayAdamW`: AdamW with a learning-rate multiplier per variable (layer-wise decay)."""

from __future__ import annotations

import keras

from albert_keras.training.adamw import AdamW

_EMBEDDING_LAYERS = ("token_embedding", "position_embedding", "segment_embedding",
                     "embeddings_layer_norm", "embeddings_projection")


@keras.saving.register_keras_serializable(package="albert_keras")
class LayerDecayAdamW(AdamW):
    """`AdamW` whose learning rate is scaled per variable: layer-wise learning-rate decay.

    Fine-tuning works better when the lower layers, which hold general features, move less
    than the upper ones (ELECTRA, https://arxiv.org/abs/2003.10555; BEiT). Each variable's
    update uses `learning_rate * learning_rate_multipliers.get(variable.path, 1.0)`;
    `layer_decay_multipliers` computes the multipliers for a task model over an `Encoder`.

    Args:
        learning_rate_multipliers: dict of variable path -> float. Defaults to none (plain AdamW).
        **kwargs: `AdamW` arguments.

    Example:
    ```python
    # needs: a fine-tuning `classifier`
    multipliers = layer_decay_multipliers(classifier, classifier.encoder, decay=0.8)
    optimizer = LayerDecayAdamW(learning_rate=2e-5, learning_rate_multipliers=multipliers)
    ```
    """

    def __init__(self, learning_rate_multipliers=None, **kwargs):
        super().__init__(**kwargs)
        self.learning_rate_multipliers = dict(learning_rate_multipliers or {})
        self._multipliers = []

    def build(self, var_list):
        if self.built:
            return
        self._multipliers = [float(self.learning_rate_multipliers.get(v.path, 1.0))
                             for v in var_list]
        super().build(var_list)

    def update_step(self, gradient, variable, learning_rate):
        multiplier = self._multipliers[self._get_variable_index(variable)]
        if multiplier != 1.0:
            learning_rate = learning_rate * keras.ops.cast(multiplier, learning_rate.dtype)
        return super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "learning_rate_multipliers": self.learning_rate_multipliers}


def layer_decay_multipliers(model: keras.Model, encoder: keras.Model, decay: float) -> dict[str, float]:
    """`{variable path: decay ** (L + 1 - depth)}` for the variables of `model`.

    Depth counts from the input: embeddings 0, the block applied at layer i (0-based) i + 1
    (a block reused at several layers, as in ALBERT, takes its highest one), the pooler and
    everything outside the encoder (the head) L + 1, where L = `encoder.num_layers`.
    """
    num_layers = encoder.num_layers
    depth: dict[int, int] = {}
    for layer in encoder.layers:
        if layer.name in _EMBEDDING_LAYERS:
            for variable in layer.weights:
                depth[id(variable)] = 0
    for i in range(num_layers):
        block = encoder.blocks[i * len(encoder.blocks) // num_layers]
        for variable in block.weights:  # Shared sublayers end up at their highest use.
            depth[id(variable)] = i + 1
    return {v.path: float(decay ** (num_layers + 1 - depth.get(id(v), num_layers + 1)))
            for v in model.trainable_variables}

"""`AdamW`: `keras.optimizers.AdamW` with LayerNorm/bias exclusion and cross-replica clipping."""

from __future__ import annotations

import keras

from albert_keras.training.cross_replica_clipping import CrossReplicaClipping, variables_matching
from albert_keras.training.lamb import NO_DECAY_PATTERNS


@keras.saving.register_keras_serializable(package="albert_keras")
class AdamW(CrossReplicaClipping, keras.optimizers.AdamW):
    """Adam with decoupled weight decay, as BERT pretrains and fine-tunes.

    Adds to `keras.optimizers.AdamW` only: no weight decay for variables whose path matches
    `no_decay_patterns` (LayerNorm and biases by default; Keras matches only the bare variable
    name, which for a LayerNorm is `gamma`/`beta`), and `global_clipnorm` applied to the
    gradient summed over replicas (`CrossReplicaClipping`).

    Args:
        learning_rate: float or schedule. Defaults to 1e-4.
        weight_decay: float. Defaults to 0.01.
        beta_1: float. Defaults to 0.9.
        beta_2: float. Defaults to 0.999.
        epsilon: float. Defaults to 1e-6.
        global_clipnorm: float or None. Defaults to 1.0.
        no_decay_patterns: tuple of regexes matched against variable paths. Defaults to
            `("layer_norm", "bias")`.
        **kwargs: other `keras.optimizers.AdamW` arguments.

    Example:
    ```python
    from albert_keras.training.warmup_polynomial_decay import WarmupPolynomialDecay

    optimizer = AdamW(learning_rate=WarmupPolynomialDecay(1e-4, 10000, 1000000))
    assert (optimizer.weight_decay, optimizer.epsilon, optimizer.global_clipnorm) == (
        0.01, 1e-6, 1.0)
    ```
    """

    def __init__(self, learning_rate=1e-4, weight_decay=0.01, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-6, global_clipnorm=1.0, no_decay_patterns=NO_DECAY_PATTERNS,
                 **kwargs):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, global_clipnorm=global_clipnorm,
                         **kwargs)
        self.no_decay_patterns = tuple(no_decay_patterns or ())

    def build(self, var_list):
        if self.built:
            return
        self.exclude_from_weight_decay(var_list=variables_matching(var_list, self.no_decay_patterns))
        super().build(var_list)

    def get_config(self):
        return {**super().get_config(), "no_decay_patterns": self.no_decay_patterns}

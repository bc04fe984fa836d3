"""`Lamb`: LAMB as ALBERT pretrained with it, on top of `keras.optimizers.Lamb`."""

from __future__ import annotations

import keras
import tensorflow as tf

from albert_keras.training.cross_replica_clipping import CrossReplicaClipping, variables_matching

NO_DECAY_PATTERNS = ("layer_norm", "bias")


@keras.saving.register_keras_serializable(package="albert_keras")
class Lamb(CrossReplicaClipping, keras.optimizers.Lamb):
    """LAMB with weight decay inside the trust ratio and LayerNorm/bias variables left alone.

    What `keras.optimizers.Lamb` lacks and this class adds (You et al.,
    https://arxiv.org/abs/1904.00962, as used by ALBERT):

    - weight decay is part of the update whose norm sets the trust ratio:
      `r = m_hat / (sqrt(v_hat) + epsilon) + weight_decay * w`,
      `w -= learning_rate * (||w|| / ||r||) * r` (Keras decays `w` separately, outside it);
    - variables whose path matches `no_decay_patterns` get no weight decay, and those matching
      `no_adaptation_patterns` get a trust ratio of 1 (plain Adam steps);
    - `global_clipnorm` clips the gradient summed over replicas (`CrossReplicaClipping`).

    Args:
        learning_rate: float or schedule. Defaults to 0.00176 (ALBERT at batch 4096).
        beta_1: float. Defaults to 0.9.
        beta_2: float. Defaults to 0.999.
        epsilon: float. Defaults to 1e-6.
        weight_decay: float. Defaults to 0.01.
        global_clipnorm: float or None. Defaults to 1.0.
        no_decay_patterns: tuple of regexes matched against variable paths. Defaults to
            `("layer_norm", "bias")`.
        no_adaptation_patterns: tuple of regexes, or None for `no_decay_patterns`.
            Defaults to None.
        **kwargs: other `keras.optimizers.Optimizer` arguments.

    Example:
    ```python
    # needs: a `pretrainer` (albert_keras.Pretrainer)
    optimizer = Lamb(learning_rate=WarmupPolynomialDecay(0.00176, 3125, 125000))
    pretrainer.compile(optimizer=optimizer, loss={"mlm": MaskedLMLoss(), "pair": pair_loss})
    ```
    """

    def __init__(self, learning_rate=0.00176, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
                 weight_decay=0.01, global_clipnorm=1.0, no_decay_patterns=NO_DECAY_PATTERNS,
                 no_adaptation_patterns=None, **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                         epsilon=epsilon, weight_decay=weight_decay,
                         global_clipnorm=global_clipnorm, **kwargs)
        self.no_decay_patterns = tuple(no_decay_patterns or ())
        self.no_adaptation_patterns = (None if no_adaptation_patterns is None
                                       else tuple(no_adaptation_patterns))

    def build(self, var_list):
        if self.built:
            return
        self.exclude_from_weight_decay(var_list=variables_matching(var_list, self.no_decay_patterns))
        adaptation = self.no_decay_patterns if self.no_adaptation_patterns is None \
            else self.no_adaptation_patterns
        self._no_adaptation = {self._var_key(v) for v in variables_matching(var_list, adaptation)}
        super().build(var_list)

    def _apply_weight_decay(self, variables):
        return  # Decay is part of the update in `update_step`, inside the trust ratio.

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        decay = self.weight_decay if self.weight_decay and self._use_weight_decay(variable) else 0.0
        new_m, new_v, delta = _fused_lamb_update(
            tf.cast(tf.convert_to_tensor(gradient), variable.dtype),  # Dense, also for slices.
            tf.convert_to_tensor(m), tf.convert_to_tensor(v),
            tf.convert_to_tensor(variable),
            tf.cast(learning_rate, variable.dtype), tf.cast(self.iterations + 1, variable.dtype),
            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, weight_decay=decay,
            adapt=self._var_key(variable) not in self._no_adaptation)
        self.assign(m, new_m)
        self.assign(v, new_v)
        self.assign_sub(variable, delta)

    def get_config(self):
        return {**super().get_config(), "no_decay_patterns": self.no_decay_patterns,
                "no_adaptation_patterns": self.no_adaptation_patterns}


@tf.function(jit_compile=True, reduce_retracing=True)
def _fused_lamb_update(gradient, m, v, variable, learning_rate, step, *, beta_1, beta_2, epsilon,
                       weight_decay, adapt):
    """New moments and the step to subtract from `variable`, as one XLA-fused computation.

    The update is bound by memory bandwidth: as separate ops it makes a pass over memory per op.
    Fused, it reads each input once or twice (bert_base's 110M parameters on a 2-core CPU:
    `optimizer.apply` 407 ms -> 372 ms, see benchmarks/HISTORY.md).
    """
    m = m + (gradient - m) * (1.0 - beta_1)
    v = v + (tf.square(gradient) - v) * (1.0 - beta_2)
    m_hat = m / (1.0 - tf.pow(tf.cast(beta_1, m.dtype), step))
    v_hat = v / (1.0 - tf.pow(tf.cast(beta_2, v.dtype), step))
    update = m_hat / (tf.sqrt(v_hat) + epsilon)
    if weight_decay:
        update += weight_decay * variable
    ratio = tf.constant(1.0, variable.dtype)
    if adapt:
        w_norm = tf.norm(variable)
        u_norm = tf.norm(update)
        ratio = tf.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, ratio)
    return m, v, ratio * learning_rate * update

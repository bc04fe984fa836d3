"""`CrossReplicaClipping`: global-norm clipping of the summed gradient, and variable selection by path."""

from __future__ import annotations

import re

import keras
import tensorflow as tf


class CrossReplicaClipping:
    """Optimizer mixin: `global_clipnorm` clips the gradient summed over all replicas.

    Keras clips in `apply()` before the TF backend sums gradients across replicas, so under a
    `tf.distribute` strategy each replica's share is clipped on its own and the result depends
    on the number of replicas. With this mixin the gradient is summed first, its global norm
    is taken once, and every replica applies the same clipped update, as on one device. Put it
    before the Keras optimizer class: `class Lamb(CrossReplicaClipping, keras.optimizers.Lamb)`.
    """

    def _clip_gradients(self, grads):
        if self.global_clipnorm:
            return grads  # Clipped in `_backend_update_step`, after the cross-replica sum.
        return super()._clip_gradients(grads)

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        if not self.global_clipnorm:
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            grads = clip_by_global_norm(list(grads), self.global_clipnorm)
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        grads = context.all_reduce(tf.distribute.ReduceOp.SUM, list(grads))
        grads = clip_by_global_norm(grads, self.global_clipnorm)
        variables = [v.value if isinstance(v, keras.Variable) else v for v in trainable_variables]
        # The gradients are already summed: update each variable without a second all-reduce.
        tf.__internal__.distribute.interim.maybe_merge_call(
            self._distributed_tf_update_step, self._distribution_strategy,
            list(zip(grads, variables)), learning_rate)


def clip_by_global_norm(grads: list, clip_norm: float) -> list:
    """Scales `grads` so that their global norm is at most `clip_norm`.

    Unlike `tf.clip_by_global_norm`, the norm of an `IndexedSlices` gradient (an embedding
    lookup's) is the norm of the gradient it stands for: rows looked up several times are
    summed first. `tf.linalg.global_norm` squares each occurrence on its own, which
    overstates the norm (the segment embedding, 2 rows looked up by every token, most of all)
    and clips harder than the true norm asks.
    """
    squares = []
    for grad in grads:
        if grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):
            rows, index = tf.unique(grad.indices)
            grad = tf.math.unsorted_segment_sum(grad.values, index, tf.shape(rows)[0])
        squares.append(tf.reduce_sum(tf.square(tf.cast(grad, "float32"))))
    norm = tf.sqrt(tf.add_n(squares))
    scale = clip_norm / tf.maximum(norm, clip_norm)

    def scaled(grad):
        if grad is None:
            return None
        if isinstance(grad, tf.IndexedSlices):
            return tf.IndexedSlices(grad.values * tf.cast(scale, grad.values.dtype), grad.indices,
                                    grad.dense_shape)
        return grad * tf.cast(scale, grad.dtype)
    return [scaled(grad) for grad in grads]


def variables_matching(variables, patterns) -> list:
    """The variables whose path (`"encoder/.../attention_layer_norm/gamma"`) matches a regex."""
    if not patterns:
        return []
    pattern = re.compile("|".join(patterns))
    return [v for v in variables if pattern.search(v.path)]

"""Every private Keras / TensorFlow hook the package relies on, each checked against the installed
version, so that a Keras upgrade fails here, by name, instead of deep inside a training run.

`setup.py` pins Keras to the tested minor range (3.15.x). The hooks, where they are used, and
why no public API does the job:

| hook | used in | why |
|---|---|---|
| `Optimizer._clip_gradients`, `_backend_update_step`, `_distributed_tf_update_step`, `_distribution_strategy`, `tf.__internal__.distribute.interim.maybe_merge_call` | `training/cross_replica_clipping.py` | Keras clips per replica before the cross-replica sum; clipping the summed gradient needs the step between the two |
| `Optimizer._get_variable_index`, `_var_key`, `_momentums`, `_velocities`, `_use_weight_decay`, `_apply_weight_decay` | `training/lamb.py`, `training/layer_decay_adamw.py` | a fused LAMB update and per-variable learning-rate multipliers read the optimizer's own slots |
| `Model._maybe_symbolic_build` | `models/task.py` | Keras builds from a batch merged with `strategy.reduce`, which fails for dict batches under MultiWorkerMirroredStrategy (keras-team/keras#20585) |
| `MultiHeadAttention._compute_attention` (documented as overridable), `_dropout_layer` | `layers/float32_softmax_attention.py` | the softmax in float32 under mixed precision; reusing the layer's dropout keeps its variables |
| `Layer._convert_input_args`, `_allow_non_tensor_positional_args` | `data/text_preprocessor.py` | a layer that takes strings and returns int dicts must not be converted or autocast |
"""

import inspect

import keras
import numpy as np
import tensorflow as tf


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_keras_is_the_pinned_minor_version():
    major, minor = (int(part) for part in keras.__version__.split(".")[:2])
    assert (major, minor) == (3, 15), "re-check every hook below, then move the pin in setup.py"


def test_optimizer_clipping_and_update_hooks():
    optimizer = keras.optimizers.Lamb(global_clipnorm=1.0)
    assert _parameters(optimizer._clip_gradients) == ["grads"]
    assert _parameters(optimizer._backend_update_step) == [
        "grads", "trainable_variables", "learning_rate"]
    assert callable(optimizer._distributed_tf_update_step)
    assert hasattr(optimizer, "_distribution_strategy")
    assert callable(tf.__internal__.distribute.interim.maybe_merge_call)
    # Keras still clips through `_clip_gradients`, then updates through `_backend_update_step`
    # (else the mixin would clip twice or never).
    apply = inspect.getsource(keras.optimizers.Optimizer._backend_apply_gradients)
    assert "self._clip_gradients(" in apply and "self._backend_update_step(" in apply


def test_optimizer_slot_hooks():
    variable = keras.Variable(np.ones((2, 3), "float32"), name="kernel")
    optimizer = keras.optimizers.Lamb(weight_decay=0.01)
    optimizer.build([variable])
    index = optimizer._get_variable_index(variable)
    assert optimizer._momentums[index].shape == variable.shape
    assert optimizer._velocities[index].shape == variable.shape
    assert isinstance(optimizer._var_key(variable), str)
    assert optimizer._use_weight_decay(variable) is True
    optimizer.exclude_from_weight_decay(var_names=["kernel"])
    assert _parameters(optimizer._apply_weight_decay) == ["variables"]


def test_model_symbolic_build_hook():
    assert _parameters(keras.Model._maybe_symbolic_build)[1:] == ["iterator", "data_batch"]
    assert "_maybe_symbolic_build" in inspect.getsource(keras.Model.fit)


def test_attention_hooks():
    layer = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1)
    x = np.zeros((1, 3, 8), "float32")
    layer(x, x)
    assert _parameters(layer._compute_attention) == [
        "query", "key", "value", "attention_mask", "training", "return_attention_scores",
        "use_causal_mask"]
    assert isinstance(layer._dropout_layer, keras.layers.Dropout)
    assert layer._dropout_layer.rate == 0.1 and layer.key_dim == 4
    assert "_compute_attention(" in inspect.getsource(keras.layers.MultiHeadAttention.call)


def test_layer_input_conversion_hooks():
    source = inspect.getsource(keras.layers.Layer.__call__)
    assert "_convert_input_args" in source
    assert "_allow_non_tensor_positional_args" in source

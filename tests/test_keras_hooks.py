"""Every private Keras / TensorFlow hook the package relies on, each tested for the behaviour we
rely on, so that an upgrade fails here, by name, instead of deep inside a training run.

`setup.py` pins Keras to the tested minor range (3.15.x). The hooks, where they are used, and
why no public API does the job (`test_the_list_is_complete` finds them in the source, so a new
one cannot be used without a line here and a test below):

| hook | used in | why |
|---|---|---|
| `Optimizer._clip_gradients`, `_backend_update_step`, `_distributed_tf_update_step`, `_distribution_strategy`, `tf.__internal__.distribute.interim.maybe_merge_call` | `training/cross_replica_clipping.py` | Keras clips per replica before the cross-replica sum; clipping the summed gradient needs the step between the two |
| `Optimizer._get_variable_index`, `_var_key`, `_momentums`, `_velocities`, `_use_weight_decay`, `_apply_weight_decay` | `training/lamb.py`, `training/layer_decay_adamw.py` | a fused LAMB update and per-variable learning-rate multipliers read the optimizer's own slots |
| `Optimizer._learning_rate` | `training/time_budget.py` | the schedule object itself (`learning_rate` returns its current value) |
| `Model._maybe_symbolic_build`, `Model._distribute_strategy` | `models/task.py` | Keras builds from a batch merged with `strategy.reduce`, which fails for dict batches under MultiWorkerMirroredStrategy (keras-team/keras#20585) |
| `Model._initial_epoch` | `training/atomic_backup.py` | the epoch `fit` starts at, as Keras' own `BackupAndRestore` sets it |
| `MultiHeadAttention._compute_attention` (documented as overridable), `_dropout_layer` | `layers/float32_softmax_attention.py` | the softmax in float32 under mixed precision; reusing the layer's dropout keeps its variables |
| `Layer._convert_input_args`, `_allow_non_tensor_positional_args` | `tasks/inputs/text_preprocessor.py` | a layer that takes strings and returns int dicts must not be converted or autocast |
| `tensorflow.python.distribute.cluster_resolver.slurm_cluster_resolver.expand_tasks_per_node` | `training/cluster_environment.py` | Slurm's `2(x3),1` task counts, expanded as TensorFlow's own `SlurmClusterResolver` does |
"""

import ast
import importlib
import inspect
import pathlib
import pkgutil
import re
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import albert_keras

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "albert_keras"
# Private names the package reads, sets or overrides on Keras / TensorFlow objects.
HOOKS = {
    "_clip_gradients", "_backend_update_step", "_distributed_tf_update_step",
    "_distribution_strategy", "_get_variable_index", "_var_key", "_momentums", "_velocities",
    "_use_weight_decay", "_apply_weight_decay", "_learning_rate", "_maybe_symbolic_build",
    "_distribute_strategy", "_initial_epoch", "_compute_attention", "_dropout_layer",
    "_convert_input_args", "_allow_non_tensor_positional_args"}
PRIVATE_MODULES = {"tensorflow.python.distribute.cluster_resolver.slurm_cluster_resolver",
                   "tf.__internal__.distribute.interim.maybe_merge_call"}


def _self_private_names(cls) -> set[str]:
    """`_x` in `self._x`, `super()._x` and `def _x` of a class's own source."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    names = {f.name for f in tree.body[0].body if isinstance(f, ast.FunctionDef)}
    names.update(node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                 and ast.unparse(node.value) in ("self", "super()"))
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def _hooks_of_subclasses() -> set[str]:
    """The private names a package class shares with the Keras / TensorFlow classes it extends
    (their modules' source names them): overrides and attributes of the base."""
    found, sources = set(), {}
    for info in pkgutil.walk_packages(albert_keras.__path__, "albert_keras."):
        if info.name.endswith(("__main__", ".cli")):
            continue
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            if not inspect.isclass(cls) or cls.__module__ != module.__name__:
                continue
            external = [k.__module__ for k in cls.__mro__
                        if k.__module__.split(".")[0] in ("keras", "tensorflow", "keras_hub")]
            if not external:
                continue
            for name in external:
                if name not in sources:
                    sources[name] = inspect.getsource(sys.modules[name])
            text = "\n".join(sources[name] for name in external)
            for own in (k for k in cls.__mro__ if k.__module__.startswith("albert_keras")):
                found.update(name for name in _self_private_names(own)
                             if re.search(rf"\b{name}\b", text))
    return found


def _hooks_on_other_objects() -> tuple[set[str], set[str]]:
    """Private attributes read from objects other than `self` (`model._x`, `getattr(o, "_x")`),
    and private modules used (`tensorflow.python...`, `tf.__internal__...`)."""
    names, modules = set(), set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and "__internal__" in ast.unparse(node):
                modules.add(ast.unparse(node))
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__") \
                    and ast.unparse(node.value) not in ("self", "super()", "cls", "os"):
                names.add(node.attr)  # (`os._exit` is public.)
            elif isinstance(node, ast.Call) and ast.unparse(node.func) in ("getattr", "setattr") \
                    and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) \
                    and str(node.args[1].value).startswith("_"):
                names.add(node.args[1].value)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    ("tensorflow.python", "keras.src", "keras_hub.src")):
                modules.add(node.module)
    return names, modules


def test_the_list_is_complete():
    """Every private hook the package uses is in the table above (and tested below)."""
    names, modules = _hooks_on_other_objects()
    assert _hooks_of_subclasses() | names == HOOKS
    longest = {m for m in modules if not any(o.startswith(m + ".") for o in modules)}
    assert longest == PRIVATE_MODULES


def test_keras_is_the_pinned_minor_version():
    major, minor = (int(part) for part in keras.__version__.split(".")[:2])
    assert (major, minor) == (3, 15), "re-check every hook below, then move the pin in setup.py"


def test_apply_clips_through_clip_gradients_then_updates_through_backend_update_step():
    calls = []

    class Recording(keras.optimizers.SGD):
        def _clip_gradients(self, grads):
            calls.append("clip")
            return [g * 2.0 for g in grads]  # What the update then sees.

        def _backend_update_step(self, grads, trainable_variables, learning_rate):
            calls.append(("update", [float(g[0]) for g in grads], float(learning_rate)))
            return super()._backend_update_step(grads, trainable_variables, learning_rate)

    variable = keras.Variable([1.0])
    Recording(learning_rate=0.1).apply_gradients([(tf.constant([1.0]), variable)])
    assert calls == ["clip", ("update", [2.0], pytest.approx(0.1))]
    np.testing.assert_allclose(variable.numpy(), [0.8])  # 1 - 0.1 * (2 * 1)


def test_distributed_update_step_applies_gradients_as_given_in_a_merge_call():
    """`maybe_merge_call(_distributed_tf_update_step, _distribution_strategy, grads_and_vars,
    lr)` from a replica updates every variable with exactly the gradient it is given."""
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        variable = keras.Variable([1.0, 2.0])
        optimizer = keras.optimizers.SGD(learning_rate=0.5)
        optimizer.build([variable])
    assert optimizer._distribution_strategy is strategy

    @tf.function
    def step():
        def replica_fn():
            tf.__internal__.distribute.interim.maybe_merge_call(
                optimizer._distributed_tf_update_step, optimizer._distribution_strategy,
                [(tf.constant([1.0, -2.0]), variable.value)], tf.constant(0.5))
        strategy.run(replica_fn)

    step()
    np.testing.assert_allclose(variable.numpy(), [0.5, 3.0])


def test_optimizer_slots_are_found_by_variable_index_and_key():
    first = keras.Variable(np.ones((2, 3), "float32"), name="kernel")
    second = keras.Variable(np.ones((3,), "float32"), name="bias")
    optimizer = keras.optimizers.Lamb(learning_rate=0.1, beta_1=0.9, weight_decay=0.01)
    optimizer.exclude_from_weight_decay(var_list=[second])
    optimizer.build([first, second])
    assert [optimizer._get_variable_index(v) for v in (first, second)] == [0, 1]  # build order
    keys = {optimizer._var_key(first), optimizer._var_key(second)}
    assert len(keys) == 2 and optimizer._var_key(first) == optimizer._var_key(first)
    assert optimizer._use_weight_decay(first) is True
    assert optimizer._use_weight_decay(second) is False  # `exclude_from_weight_decay(var_list=)`
    gradient = np.full((2, 3), 0.5, "float32")
    optimizer.apply_gradients([(gradient, first), (np.zeros(3, "float32"), second)])
    index = optimizer._get_variable_index(first)
    np.testing.assert_allclose(optimizer._momentums[index].numpy(), 0.1 * gradient)  # (1 - b1) g
    np.testing.assert_allclose(optimizer._velocities[index].numpy(),
                               0.001 * gradient ** 2, rtol=1e-5)  # (1 - b2) g^2


def test_apply_weight_decay_is_the_decoupled_decay_step():
    """AdamW decays in `_apply_weight_decay(variables)`: overridden to do nothing (as `Lamb`
    does, which decays inside its trust ratio), a zero gradient leaves the weights alone."""
    calls = []

    class NoDecay(keras.optimizers.AdamW):
        def _apply_weight_decay(self, variables):
            calls.append(len(variables))

    decayed, kept = keras.Variable([1.0]), keras.Variable([1.0])
    keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.5).apply_gradients(
        [(tf.constant([0.0]), decayed)])
    NoDecay(learning_rate=0.1, weight_decay=0.5).apply_gradients([(tf.constant([0.0]), kept)])
    assert calls == [1]
    np.testing.assert_allclose(decayed.numpy(), [0.95])  # 1 - lr * wd
    np.testing.assert_allclose(kept.numpy(), [1.0])


def test_learning_rate_holds_the_schedule_object():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    assert optimizer._learning_rate is schedule
    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(learning_rate=schedule))
    assert scaled.inner_optimizer._learning_rate is schedule


def test_fit_builds_through_maybe_symbolic_build_from_the_epoch_iterator():
    """Under a strategy, `fit` hands `_maybe_symbolic_build` the epoch iterator, whose items are
    `(begin, end, batches)`; building from one batch with `data_batch=` works."""
    seen = []

    class Recording(keras.Model):
        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            if iterator is not None:
                for _, _, batches in iterator:
                    data_batch = keras.tree.map_structure(
                        lambda v: v.values[0] if isinstance(v, tf.distribute.DistributedValues)
                        else v, next(batches))
                    seen.append((self._distribute_strategy, sorted(data_batch[0])))
                    break
                iterator = None
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        inputs = {"a": keras.Input((2,), name="a"), "b": keras.Input((2,), name="b")}
        model = Recording(inputs, keras.layers.Dense(1)(inputs["a"] + inputs["b"]))
        model.compile(optimizer="sgd", loss="mse")
    x = {"a": np.ones((4, 2), "float32"), "b": np.ones((4, 2), "float32")}
    model.fit(x, np.ones((4, 1), "float32"), batch_size=2, epochs=1, verbose=0)
    assert seen == [(strategy, ["a", "b"])]
    assert Recording(inputs, inputs["a"])._distribute_strategy is None  # Built outside a scope.


def test_initial_epoch_set_in_on_train_begin_is_where_fit_starts():
    epochs = []

    class Resume(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.model._initial_epoch = 2

        def on_epoch_begin(self, epoch, logs=None):
            epochs.append(epoch)

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((2, 1)), np.ones((2, 1)), epochs=4, verbose=0, callbacks=[Resume()])
    assert epochs == [2, 3]


def test_compute_attention_is_what_call_uses_and_dropout_layer_drops_its_scores():
    class Uniform(keras.layers.MultiHeadAttention):
        def _compute_attention(self, query, key, value, attention_mask=None, training=None,
                               return_attention_scores=False, use_causal_mask=False):
            output, scores = super()._compute_attention(
                query, key, value, attention_mask=attention_mask, training=training,
                return_attention_scores=return_attention_scores, use_causal_mask=use_causal_mask)
            assert tuple(output.shape) == (1, 3, 2, 4)  # (batch, target, heads, key_dim)
            assert tuple(scores.shape) == (1, 2, 3, 5)  # (batch, heads, target, source)
            return keras.ops.zeros_like(output), scores

    layer = Uniform(num_heads=2, key_dim=4, dropout=0.5)
    x, y = np.ones((1, 3, 8), "float32"), np.ones((1, 5, 8), "float32")
    output = layer(x, y)
    np.testing.assert_allclose(output.numpy(), np.broadcast_to(layer.output_dense.bias.numpy(),
                                                               (1, 3, 8)))
    assert isinstance(layer._dropout_layer, keras.layers.Dropout)
    assert layer._dropout_layer.rate == 0.5 and layer._dropout_layer.weights == []
    dropped = layer._dropout_layer(np.ones((1000,), "float32"), training=True).numpy()
    assert set(np.unique(dropped)) == {0.0, 2.0} and 300 < (dropped == 0).sum() < 700


def test_layers_can_take_strings_and_untouched_inputs():
    """With `_convert_input_args = False` and `_allow_non_tensor_positional_args = True` a
    layer gets its positional inputs as given: a list of Python strings, and float inputs not
    autocast under a mixed policy."""
    received = []

    class Raw(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._convert_input_args = False
            self._allow_non_tensor_positional_args = True
            self.built = True

        def call(self, text, values=None):
            received.append((text, values))
            return tf.strings.length(tf.convert_to_tensor(text))

    layer = Raw(dtype="mixed_bfloat16")
    values = tf.ones((2,), "float32")
    lengths = layer(["ab", "cde"], values)
    (text, seen), = received
    assert text == ["ab", "cde"] and seen.dtype == tf.float32
    np.testing.assert_array_equal(lengths.numpy(), [2, 3])


def test_slurm_task_counts_expand_as_tensorflow_does():
    from tensorflow.python.distribute.cluster_resolver.slurm_cluster_resolver import (
        expand_tasks_per_node)

    assert expand_tasks_per_node("2(x3),1") == [2, 2, 2, 1]
    assert expand_tasks_per_node("4") == [4]

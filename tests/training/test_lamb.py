import keras
import numpy as np
import pytest

from albert_keras.training.lamb import Lamb
from tests.helpers import assert_config_round_trip


def _layers():
    dense = keras.layers.Dense(3, name="dense")
    dense.build((None, 4))
    norm = keras.layers.LayerNormalization(name="attention_layer_norm")
    norm.build((None, 3))
    return dense, norm


def _reference_lamb(w, grads, lr, wd, decay, adapt, beta_1=0.9, beta_2=0.999, eps=1e-6):
    """LAMB by hand: decay inside the update, trust ratio ||w|| / ||update||."""
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        update = (m / (1 - beta_1 ** t)) / (np.sqrt(v / (1 - beta_2 ** t)) + eps)
        if decay:
            update = update + wd * w
        ratio = np.linalg.norm(w) / np.linalg.norm(update) if adapt else 1.0
        w = w - lr * ratio * update
    return w


def test_lamb_excludes_layer_norm_and_bias_from_decay_and_trust_ratio():
    dense, norm = _layers()
    rng = np.random.default_rng(0)
    norm.gamma.assign(rng.normal(1.0, 0.1, size=3).astype("float32"))
    variables = [dense.kernel, dense.bias, norm.gamma, norm.beta]
    dense.bias.assign(np.array([0.5, -0.2, 0.1], "float32"))
    start = [np.array(v) for v in variables]
    steps = [[rng.normal(size=v.shape).astype("float32") for v in variables] for _ in range(2)]
    lr, wd = 0.01, 0.3  # A large decay so that a wrong exclusion shows.
    optimizer = Lamb(learning_rate=lr, weight_decay=wd, global_clipnorm=None)
    for grads in steps:
        optimizer.apply(grads, variables)
    excluded = {"dense/bias", "attention_layer_norm/gamma", "attention_layer_norm/beta"}
    for i, variable in enumerate(variables):
        keep = variable.path not in excluded
        expected = _reference_lamb(start[i], [g[i] for g in steps], lr, wd, decay=keep, adapt=keep)
        np.testing.assert_allclose(np.array(variable), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=variable.path)
        wrong = _reference_lamb(start[i], [g[i] for g in steps], lr, wd,
                                decay=not keep, adapt=not keep)
        assert not np.allclose(np.array(variable), wrong, rtol=1e-5, atol=1e-6), variable.path


def test_lamb_separate_adaptation_patterns():
    dense, norm = _layers()
    variables = [dense.kernel, dense.bias]
    dense.bias.assign(np.array([0.5, -0.2, 0.1], "float32"))
    start = [np.array(v) for v in variables]
    grads = [np.ones(v.shape, "float32") for v in variables]
    optimizer = Lamb(learning_rate=0.1, weight_decay=0.0, global_clipnorm=None,
                     no_decay_patterns=("bias",), no_adaptation_patterns=())
    optimizer.apply(grads, variables)
    # The bias now gets a trust ratio: ||b|| / ||update|| with update = sign(g) = ones.
    expected = _reference_lamb(start[1], [grads[1]], 0.1, 0.0, decay=False, adapt=True)
    np.testing.assert_allclose(np.array(dense.bias), expected, rtol=1e-5)


def test_lamb_global_clipnorm_clips_the_whole_gradient():
    variable = keras.Variable(np.ones(4, "float32"), name="kernel")
    optimizer = Lamb(learning_rate=0.1, weight_decay=0.0, global_clipnorm=1.0,
                     no_decay_patterns=(), no_adaptation_patterns=("kernel",))
    # Adam's first step is sign(g) whatever the scale, so check with two steps that differ.
    clipped = Lamb(learning_rate=0.1, weight_decay=0.0, global_clipnorm=None,
                   no_decay_patterns=(), no_adaptation_patterns=("kernel",))
    other = keras.Variable(np.ones(4, "float32"), name="kernel")
    g1, g2 = np.full(4, 10.0, "float32"), np.array([0.1, 0.2, 0.3, 0.4], "float32")
    optimizer.apply([g1], [variable])
    optimizer.apply([g2], [variable])
    clipped.apply([g1 / np.linalg.norm(g1)], [other])
    clipped.apply([g2], [other])
    np.testing.assert_allclose(np.array(variable), np.array(other), rtol=1e-6)


def test_lamb_config_round_trip():
    optimizer = Lamb(learning_rate=0.002, no_decay_patterns=("layer_norm",))
    clone = assert_config_round_trip(optimizer)
    assert tuple(clone.no_decay_patterns) == ("layer_norm",)
    assert clone.epsilon == pytest.approx(1e-6)

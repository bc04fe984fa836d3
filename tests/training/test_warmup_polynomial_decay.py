import keras
import numpy as np
import pytest

from albert_keras.training.warmup_polynomial_decay import WarmupPolynomialDecay
from tests.helpers import assert_config_round_trip


def test_linear_warmup_then_linear_decay():
    schedule = WarmupPolynomialDecay(1.0, warmup_steps=10, decay_steps=110, end_learning_rate=0.1)
    steps = [0, 5, 10, 60, 110, 500]
    values = [float(schedule(step)) for step in steps]
    np.testing.assert_allclose(values, [0.0, 0.5, 1.0, 0.55, 0.1, 0.1], atol=1e-6)


def test_polynomial_power_and_no_warmup():
    schedule = WarmupPolynomialDecay(2.0, warmup_steps=0, decay_steps=100, power=2.0)
    assert float(schedule(0)) == pytest.approx(2.0)
    assert float(schedule(50)) == pytest.approx(2.0 * 0.25)


def test_serializable_inside_an_optimizer():
    schedule = WarmupPolynomialDecay(0.00176, warmup_steps=3125, decay_steps=125000)
    clone = assert_config_round_trip(schedule)
    assert float(clone(1000)) == pytest.approx(float(schedule(1000)))
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert isinstance(restored._learning_rate, WarmupPolynomialDecay)
    assert restored._learning_rate.get_config() == schedule.get_config()


def test_bad_steps_are_named():
    with pytest.raises(ValueError, match="decay_steps=10, warmup_steps=10"):
        WarmupPolynomialDecay(1.0, warmup_steps=10, decay_steps=10)
    with pytest.raises(ValueError, match="warmup_steps=-1"):
        WarmupPolynomialDecay(1.0, warmup_steps=-1, decay_steps=10)

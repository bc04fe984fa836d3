import numpy as np
import pytest

from albert_keras.pretraining_data.pairs.default_rngs import default_rngs


@pytest.mark.parametrize("prefix", [(12345, 0), (0, 0), (1, 3), (2**40 + 5, 1), (2**70, 2**33),
                                    (7,), ()])
def test_same_streams_as_numpy_default_rng(prefix):
    indices = [0, 1, 2, 63, 64, 1000, 123_456_789, 2**32 - 1]
    for index, rng in zip(indices, default_rngs(prefix, indices)):
        expected = np.random.default_rng([*prefix, index])
        assert rng.bit_generator.state == expected.bit_generator.state
        np.testing.assert_array_equal(rng.random(5), expected.random(5))
        assert rng.integers(0, 1000) == expected.integers(0, 1000)


def test_bad_index_is_named():
    with pytest.raises(ValueError, match="max=4294967296"):
        list(default_rngs([1], [2**32]))

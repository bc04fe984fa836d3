import numpy as np
import pytest

from albert_keras.training.masked_lm_loss import MaskedLMLoss


def _xent(labels, logits):
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]


def test_weighted_mean_over_real_predictions():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 7)).astype("float32")
    labels = rng.integers(0, 7, (2, 3)).astype("int32")
    weights = np.array([[1, 1, 0], [1, 0, 0]], "float32")
    expected = (_xent(labels, logits) * weights).sum() / weights.sum()
    assert float(MaskedLMLoss()(labels, logits, weights)) == pytest.approx(expected, rel=1e-5)
    assert float(MaskedLMLoss()(labels, logits)) == pytest.approx(_xent(labels, logits).mean(),
                                                                  rel=1e-5)


def test_no_real_prediction_gives_zero_not_nan():
    logits = np.zeros((1, 2, 5), "float32")
    assert float(MaskedLMLoss()(np.zeros((1, 2), "int32"), logits, np.zeros((1, 2), "float32"))) == 0.0

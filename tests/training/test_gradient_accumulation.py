"""Gradient accumulation: N micro-batches make the update of one batch N times larger."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras.jobs.pretrain import check_batch_size
from albert_keras.models.encoder import Encoder
from albert_keras.models.token_classifier import TokenClassifier
from albert_keras.pipeline import ConfigError, pipeline_from_dict
from albert_keras.training.gradient_accumulation import use_gradient_accumulation
from albert_keras.training.masked_lm_loss import MaskedLMLoss
from tests.helpers.distributed_worker import (build, synthetic_dataset_fn, tiny_train_config,
                                               weights_of)

# LAMB's trust ratio and global-norm clipping (0.05, below the gradients' norm) are both on.
# epsilon=1 keeps Adam's first step proportional to the gradient: with 1e-6 it is the
# gradient's sign, and float noise in a near-zero gradient becomes a whole learning-rate step.
TRAIN = dict(global_clipnorm=0.05, steps=2, steps_per_epoch=2, epsilon=1.0)


def _fit_pretrainer(accumulation, jit_compile=False):
    train = tiny_train_config(**TRAIN, jit_compile=jit_compile)
    model = build(tf.distribute.get_strategy(), train, accumulation=accumulation)
    history = model.fit(synthetic_dataset_fn(8)(None), epochs=1, steps_per_epoch=2, verbose=0)
    return weights_of(model), history.history


@pytest.mark.parametrize("accumulation,jit_compile", [(4, False), (3, False), (2, True)])
def test_micro_batches_give_the_update_of_the_whole_batch(accumulation, jit_compile):
    """4 x 2 and 2 x 4 rows (XLA), and 3, 3, 2 rows: the masked-token counts of the
    micro-batches differ, the update is the 8-row batch's."""
    reference, reference_history = _fit_pretrainer(1)
    weights, history = _fit_pretrainer(accumulation, jit_compile)
    np.testing.assert_allclose(history["loss"], reference_history["loss"], rtol=1e-6)
    for key, value in reference.items():
        np.testing.assert_allclose(weights[key], value, atol=1e-6, rtol=1e-5, err_msg=key)
    moved = max(float(np.abs(value - _initial()[key]).max()) for key, value in reference.items())
    assert moved > 1e-3  # The steps changed the weights: the comparison means something.


def _initial():
    return weights_of(build(tf.distribute.get_strategy(), tiny_train_config(**TRAIN)))


def test_token_tagging_loss_is_the_mean_over_the_words_of_the_whole_batch():
    """`MaskedLMLoss` as a single-output loss: rows with 1 to 6 real words, split 3 ways."""
    rng = np.random.default_rng(0)
    x = {"token_ids": rng.integers(5, 50, (6, 8)).astype("int32"),
         "segment_ids": np.zeros((6, 8), "int32"), "padding_mask": np.ones((6, 8), "int32")}
    tags = rng.integers(0, 3, (6, 8)).astype("int32")
    weights = (np.arange(8)[None, :] < np.arange(1, 7)[:, None]).astype("float32")
    results = []
    for accumulation in (1, 3):
        keras.utils.set_random_seed(3)
        encoder = Encoder(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
                          intermediate_dim=16, max_sequence_length=8, dropout=0.0)
        model = TokenClassifier(encoder, labels=("a", "b", "c"), dropout=0.0)
        model.compile(optimizer=keras.optimizers.AdamW(0.01, epsilon=1.0),
                      loss=MaskedLMLoss(name="token_loss"))
        use_gradient_accumulation(model, accumulation)
        history = model.fit(tf.data.Dataset.from_tensors((x, tags, weights)), epochs=2, verbose=0)
        results.append((model.get_weights(), history.history["loss"]))
    (reference, reference_loss), (accumulated, accumulated_loss) = results
    np.testing.assert_allclose(accumulated_loss, reference_loss, rtol=1e-6)
    for a, b in zip(accumulated, reference):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-5)


def test_bad_accumulation_settings_are_named():
    with pytest.raises(ValueError, match="gradient_accumulation_steps=0"):
        use_gradient_accumulation(keras.Sequential(), 0)
    with pytest.raises(ConfigError, match=r"global_batch_size=12, train.gradient_accumulation_steps=5"):
        pipeline_from_dict({"name": "x", "train": {"global_batch_size": 12,
                                                   "gradient_accumulation_steps": 5}})
    with pytest.raises(ValueError, match=r"replicas=2, train.gradient_accumulation_steps=4"):
        check_batch_size(12, 2, 4)
    with pytest.raises(ConfigError, match="finetune.gradient_accumulation_steps"):
        pipeline_from_dict({"name": "x", "finetune": {"batch_size": 4,
                                                      "gradient_accumulation_steps": 8}})

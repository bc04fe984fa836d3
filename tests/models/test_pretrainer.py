import keras
import numpy as np
import pytest
import tensorflow as tf

from albert_keras.jobs.train_config import TrainConfig
from albert_keras.models.encoder import Encoder
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.training.pretraining import compile_pretrainer
from tests.helpers import assert_keras_file_round_trip, tiny_inputs

VOCABULARY, PREDICTIONS = 50, 3


def _encoder(kind, dtype=None):
    common = dict(vocabulary_size=VOCABULARY, num_layers=2, num_heads=2, hidden_dim=16,
                  intermediate_dim=32, max_sequence_length=16, dropout=0.0, dtype=dtype)
    if kind == "albert":
        return Encoder(**common, embedding_dim=8, share="all", activation="gelu_approximate")
    return Encoder(**common, share="none", activation="gelu")


def _batch(batch_size=4, seed=0):
    x = tiny_inputs(batch_size=batch_size, sequence_length=12, vocabulary_size=VOCABULARY, seed=seed)
    rng = np.random.default_rng(seed)
    x["mask_positions"] = np.sort(rng.integers(1, 9, (batch_size, PREDICTIONS)), 1).astype("int32")
    y = {"mlm": rng.integers(5, VOCABULARY, (batch_size, PREDICTIONS)).astype("int32"),
         "pair": rng.integers(0, 2, batch_size).astype("int32")}
    weights = np.ones((batch_size, PREDICTIONS), "float32")
    weights[0, -1] = 0.0
    return x, y, {"mlm": weights}


def _train_config(**overrides):
    values = dict(global_batch_size=4, steps=10, steps_per_epoch=10, warmup_steps=0,
                  learning_rate=0.01, global_clipnorm=1.0, verbose=0)
    return TrainConfig(**{**values, **overrides})


@pytest.mark.parametrize("kind, pair_task, optimizer", [("albert", "sop", "lamb"),
                                                        ("bert", "nsp", "adamw")])
def test_train_steps_decrease_the_loss_on_a_fixed_batch(kind, pair_task, optimizer):
    keras.utils.set_random_seed(0)
    pretrainer = Pretrainer(_encoder(kind), pair_task=pair_task)
    compile_pretrainer(pretrainer, _train_config(optimizer=optimizer))
    x, y, w = _batch()
    losses = [pretrainer.train_on_batch(x, y, w, return_dict=True) for _ in range(8)]
    assert all(np.isfinite(step["loss"]) for step in losses)
    assert losses[-1]["mlm_loss"] < losses[0]["mlm_loss"] - 0.1
    assert losses[-1]["loss"] < losses[0]["loss"]
    assert {"mlm_loss", "mlm_accuracy", "pair_loss", "pair_accuracy"} <= set(losses[0])


def test_outputs_and_the_tied_decoder_is_one_variable():
    encoder = _encoder("albert")
    pretrainer = Pretrainer(encoder)
    x, _, _ = _batch()
    outputs = pretrainer(x)
    assert outputs["mlm"].shape == (4, PREDICTIONS, VOCABULARY)
    assert outputs["pair"].shape == (4, 2)
    assert pretrainer.mlm_head.decoder is encoder.token_embedding.embeddings
    ids = [id(v) for v in pretrainer.trainable_weights]
    assert len(ids) == len(set(ids))
    assert sum(tuple(v.shape) == (VOCABULARY, 8) for v in pretrainer.trainable_weights) == 1
    head_only = len(encoder.trainable_weights) + 5 + 2  # + mlm bias/dense/LN, pair kernel/bias
    assert len(pretrainer.trainable_weights) == head_only


def test_mlm_gradient_reaches_the_embedding_through_the_decoder():
    encoder = _encoder("albert")
    pretrainer = Pretrainer(encoder)
    x, y, _ = _batch()
    with tf.GradientTape() as tape:
        logits = pretrainer(x)["mlm"]
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y["mlm"], logits, True))
    # Gradient through the decoder alone touches every row, not just the input tokens.
    gradient = tf.convert_to_tensor(tape.gradient(loss, encoder.token_embedding.embeddings))
    unused = sorted(set(range(VOCABULARY)) - set(x["token_ids"].reshape(-1).tolist()))
    assert np.abs(gradient.numpy()[unused]).sum() > 0


def test_padded_predictions_do_not_count():
    pretrainer = Pretrainer(_encoder("albert"))
    compile_pretrainer(pretrainer, _train_config())
    x, y, w = _batch()
    changed = {"mlm": y["mlm"].copy(), "pair": y["pair"]}
    changed["mlm"][0, -1] = (y["mlm"][0, -1] + 7) % VOCABULARY  # Weight 0: must not matter.
    first, second = (pretrainer.evaluate(tf.data.Dataset.from_tensors((x, labels, w)),
                                         verbose=0, return_dict=True) for labels in (y, changed))
    assert first["mlm_loss"] == pytest.approx(second["mlm_loss"], rel=1e-6)
    assert first["mlm_accuracy"] == pytest.approx(second["mlm_accuracy"])


@pytest.mark.large
def test_jit_compiled_train_step_matches_the_plain_one():
    results = []
    for jit in (False, True):
        keras.utils.set_random_seed(3)
        pretrainer = Pretrainer(_encoder("albert"))
        compile_pretrainer(pretrainer, _train_config(jit_compile=jit))
        x, y, w = _batch()
        for _ in range(2):
            logs = pretrainer.train_on_batch(x, y, w, return_dict=True)
        results.append((logs["loss"], np.asarray(pretrainer.encoder.token_embedding.embeddings)))
    assert pretrainer.jit_compile is True
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-4)
    np.testing.assert_allclose(results[1][1], results[0][1], atol=1e-5)


def test_mixed_bfloat16_step_runs_with_float32_variables_and_logits():
    keras.utils.set_random_seed(0)
    pretrainer = Pretrainer(_encoder("albert", dtype="mixed_bfloat16"))
    assert pretrainer.mlm_head.compute_dtype == "bfloat16"
    compile_pretrainer(pretrainer, _train_config(precision="mixed_bfloat16"))
    x, y, w = _batch()
    outputs = pretrainer(x)
    assert outputs["mlm"].dtype == "float32" and outputs["pair"].dtype == "float32"
    before = np.asarray(pretrainer.encoder.token_embedding.embeddings).copy()
    logs = [pretrainer.train_on_batch(x, y, w, return_dict=True) for _ in range(4)]
    assert all(np.isfinite(step["loss"]) for step in logs)
    assert logs[-1]["mlm_loss"] < logs[0]["mlm_loss"]
    assert all(v.dtype == "float32" for v in pretrainer.trainable_weights)
    assert not np.allclose(np.asarray(pretrainer.encoder.token_embedding.embeddings), before)


@pytest.mark.large
def test_mixed_float16_uses_loss_scaling():
    pretrainer = Pretrainer(_encoder("bert", dtype="mixed_float16"), pair_task="nsp")
    compile_pretrainer(pretrainer, _train_config(precision="mixed_float16"))
    assert isinstance(pretrainer.optimizer, keras.optimizers.LossScaleOptimizer)
    x, y, w = _batch()
    assert np.isfinite(pretrainer.train_on_batch(x, y, w, return_dict=True)["loss"])


def test_keras_file_round_trip_keeps_the_tie(tmp_path):
    pretrainer = Pretrainer(_encoder("albert"), pair_task="sop")
    x, _, _ = _batch()
    restored = assert_keras_file_round_trip(pretrainer, x, tmp_path)
    assert restored.pair_task == "sop"
    assert restored.mlm_head.decoder is restored.encoder.token_embedding.embeddings


def test_rejects_an_unknown_pair_task():
    with pytest.raises(ValueError, match="pair_task='mlm'"):
        Pretrainer(_encoder("albert"), pair_task="mlm")

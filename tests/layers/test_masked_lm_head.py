import keras
import numpy as np
import pytest

from albert_keras.layers.masked_lm_head import MaskedLMHead


def _embedding(vocabulary_size=50, embedding_dim=8):
    embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="token_embedding")
    embedding.build((None,))
    return embedding


def test_logits_are_the_layer_normed_hidden_states_at_mask_positions_times_the_embedding():
    embedding = _embedding()
    head = MaskedLMHead(embedding, activation="gelu")
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(2, 10, 12)).astype("float32")
    positions = np.array([[1, 4, 9], [0, 0, 3]], "int32")
    logits = np.asarray(head(hidden, mask_positions=positions))
    assert logits.shape == (2, 3, 50)
    head.bias.assign(rng.normal(size=50).astype("float32"))
    logits = np.asarray(head(hidden, mask_positions=positions))
    gathered = np.take_along_axis(hidden, positions[..., None], axis=1)
    x = np.asarray(head.layer_norm(head.dense(gathered)))
    expected = x @ np.asarray(embedding.embeddings).T + np.asarray(head.bias)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)


def test_the_decoder_is_the_embedding_variable():
    embedding = _embedding()
    head = MaskedLMHead(embedding, name="mlm_head")
    head(np.zeros((1, 4, 12), "float32"), mask_positions=np.zeros((1, 2), "int32"))
    assert head.decoder is embedding.embeddings
    own = {v.path for v in head.trainable_weights} - {embedding.embeddings.path}
    assert own == {"mlm_head/bias", "mlm_head/dense/kernel", "mlm_head/dense/bias",
                   "mlm_head/layer_norm/gamma", "mlm_head/layer_norm/beta"}
    assert not any(tuple(v.shape) == (50, 8) for v in head.trainable_weights
                   if v is not embedding.embeddings)


def test_rejects_a_non_embedding():
    with pytest.raises(ValueError, match="token_embedding"):
        MaskedLMHead(keras.layers.Dense(3))
    with pytest.raises(ValueError, match="activation"):
        MaskedLMHead(_embedding(), activation="relu6")


def test_config_holds_the_arguments_but_not_the_embedding():
    config = MaskedLMHead(_embedding(), activation="gelu", layer_norm_epsilon=1e-6).get_config()
    assert config["activation"] == "gelu" and config["layer_norm_epsilon"] == 1e-6
    assert "token_embedding" not in config

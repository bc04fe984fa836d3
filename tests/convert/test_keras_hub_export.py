"""Models trained here written as keras-hub presets: keras-hub loads them and computes our outputs
(1e-5), its tokenizer gives our ids, and reading them back gives our weights exactly."""

import keras_hub
import numpy as np
import pytest

from albert_keras import Encoder
from albert_keras.cli import main
from albert_keras.convert import load_encoder
from albert_keras.convert.keras_hub_export import save_keras_hub_preset
from albert_keras.convert.model_weights import encoder_variables
from albert_keras.models.pretrainer import Pretrainer
from albert_keras.tasks.inputs.text_preprocessor import TextPreprocessor
from albert_keras.tokenizers.tokenizer_files import save_tokenizer
from tests.helpers import sentencepiece, wordpiece

ATOL = 1e-5
TINY = dict(num_layers=4, num_heads=2, hidden_dim=16, intermediate_dim=32,
            max_sequence_length=16, dropout=0.0)
# (encoder fields, keras-hub backbone, tokenizer)
CASES = {"bert": ({}, "BertBackbone", wordpiece),
         "albert": (dict(embedding_dim=8, share="all", num_groups=2), "AlbertBackbone",
                    sentencepiece),
         "albert_unshared": (dict(embedding_dim=8), "AlbertBackbone", sentencepiece)}


def _encoder(case, tokenizer, seed=0):
    encoder = Encoder(vocabulary_size=tokenizer.vocabulary_size(), **TINY, **CASES[case][0])
    rng = np.random.default_rng(seed)
    for variable in encoder.weights:  # Every weight random, biases and LayerNorms too.
        shape = tuple(variable.shape)
        offset = 1.0 if variable.path.endswith("gamma") else 0.0
        variable.assign(offset + (0.3 if len(shape) == 1 else 0.5)
                        * rng.standard_normal(shape).astype("float32"))
    return encoder


@pytest.mark.parametrize("case", sorted(CASES))
def test_keras_hub_computes_our_outputs_and_tokenizes_alike(case, tmp_path):
    tokenizer = CASES[case][2]()
    encoder = _encoder(case, tokenizer)
    directory = save_keras_hub_preset(encoder, str(tmp_path / "preset"), tokenizer)
    backbone = getattr(keras_hub.models, CASES[case][1]).from_preset(directory)
    theirs_tokenizer = keras_hub.models.Tokenizer.from_preset(directory)

    texts = ["the quick brown fox jumps over the lazy dog", "a dog"]
    x = {k: np.asarray(v) for k, v in TextPreprocessor(tokenizer, 16)(
        np.array(texts), np.array(["over the dog", "the fox"])).items()}
    ours, theirs = encoder(x), backbone(x)
    for name in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(np.asarray(theirs[name]), np.asarray(ours[name]), atol=ATOL,
                                   err_msg=name)
    for text in texts:
        np.testing.assert_array_equal(np.asarray(theirs_tokenizer(text)),
                                      np.asarray(tokenizer(text)), err_msg=text)


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip_gives_our_weights_exactly(case, tmp_path):
    tokenizer = CASES[case][2]()
    encoder = _encoder(case, tokenizer, seed=2)
    back = load_encoder(save_keras_hub_preset(Pretrainer(encoder), str(tmp_path / "p"), tokenizer))
    expected = {**encoder.encoder_config.to_dict(),
                **({"share": "all", "num_groups": 4} if case == "albert_unshared" else {})}
    assert back.encoder_config.to_dict() == expected
    ours, theirs = encoder_variables(encoder), encoder_variables(back)
    assert sorted(ours) == sorted(theirs)
    for key, variable in ours.items():
        np.testing.assert_array_equal(theirs[key].numpy(), variable.numpy(), err_msg=key)


@pytest.mark.parametrize("fields, message", [
    (dict(activation="gelu", embedding_dim=8), "activation='gelu'"),
    (dict(share="attention"), "share='attention'"),
    (dict(share="all"), "embedding_dim=None"),
    (dict(layer_norm_epsilon=1e-6), "layer_norm_epsilon=1e-06"),
])
def test_encoders_keras_hub_cannot_hold_are_refused(fields, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        save_keras_hub_preset(Encoder(vocabulary_size=30, **TINY, **fields), str(tmp_path / "p"))
    assert not (tmp_path / "p").exists()


def test_cli_writes_a_preset_from_a_keras_file(tmp_path):
    tokenizer = sentencepiece()
    encoder = _encoder("albert", tokenizer, seed=4)
    encoder.save(str(tmp_path / "encoder.keras"))
    save_tokenizer(tokenizer, str(tmp_path / "tokenizer"))
    assert main(["convert", "--to", "keras-hub", str(tmp_path / "encoder.keras"),
                 str(tmp_path / "preset")]) == 0
    backbone = keras_hub.models.AlbertBackbone.from_preset(str(tmp_path / "preset"))
    np.testing.assert_array_equal(backbone.token_embedding.embeddings.numpy(),
                                  encoder.token_embedding.embeddings.numpy())
    assert main(["convert", "--to", "keras-hub", str(tmp_path / "encoder.keras"),
                 str(tmp_path / "preset")]) == 2  # Exists: not overwritten without --overwrite.

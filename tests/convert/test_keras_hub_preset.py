"""keras-hub `AlbertBackbone`/`BertBackbone` presets saved on disk load with equal outputs."""

import json

import keras_hub
import numpy as np
import pytest

from albert_keras.convert import load_encoder, load_pretrained_tokenizer, load_pretrainer
from tests.helpers.convert_models import assert_close
from tests.helpers import tiny_inputs

TINY = dict(vocabulary_size=50, num_heads=2, hidden_dim=16, intermediate_dim=32,
            max_sequence_length=16)
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "quick", "brown", "fox",
              "jump", "##s", "over", "lazy", "dog", "."]


def _randomized(backbone, seed):
    rng = np.random.default_rng(seed)
    for variable in backbone.weights:
        noise = rng.normal(size=tuple(variable.shape))
        variable.assign((1.0 + 0.2 * noise if variable.path.endswith("gamma") else 0.5 * noise)
                        .astype("float32"))
    return backbone


@pytest.mark.parametrize("make,share", [
    (lambda: keras_hub.models.AlbertBackbone(**TINY, num_layers=4, num_groups=2, embedding_dim=8),
     "all"),
    (lambda: keras_hub.models.BertBackbone(**TINY, num_layers=2), "none"),
], ids=["albert_2_groups", "bert"])
def test_preset_loads_with_equal_outputs(tmp_path, make, share):
    backbone = _randomized(make(), seed=11)
    backbone.save_to_preset(str(tmp_path))
    inputs = tiny_inputs(batch_size=2, sequence_length=10, num_padded=3, seed=12)
    expected = backbone(inputs)

    encoder = load_encoder(str(tmp_path))
    assert encoder.encoder_config.share == share
    assert encoder.encoder_config.activation == "gelu_approximate"
    outputs = encoder(inputs)
    for name in ("sequence_output", "pooled_output"):
        assert_close(outputs[name], expected[name], 1e-5, name)


def test_preset_tokenizer_loads_into_ours(tmp_path):
    backbone = keras_hub.models.BertBackbone(**TINY, num_layers=1)
    backbone.save_to_preset(str(tmp_path))
    theirs = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY, lowercase=True)
    theirs.save_to_preset(str(tmp_path))

    ours = load_pretrained_tokenizer(str(tmp_path))
    text = "The quick brown fox jumps over the LAZY dog."
    assert ours.get_vocabulary() == VOCABULARY
    np.testing.assert_array_equal(ours(text), theirs(text))
    assert list(np.asarray(ours(text))) == [5, 6, 7, 8, 9, 10, 11, 5, 12, 13, 14]


def test_pretrainer_needs_heads_the_preset_lacks(tmp_path):
    keras_hub.models.BertBackbone(**TINY, num_layers=1).save_to_preset(str(tmp_path))
    with pytest.raises(ValueError, match="encoder only, no pretraining heads"):
        load_pretrainer(str(tmp_path))
    pretrainer = load_pretrainer(str(tmp_path), allow_missing=("mlm_head", "pair_head"))
    assert pretrainer.pair_task == "nsp"


def test_unsupported_backbone_is_named(tmp_path):
    backbone = keras_hub.models.BertBackbone(**TINY, num_layers=1)
    backbone.save_to_preset(str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    config["class_name"] = "RobertaBackbone"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="class_name='RobertaBackbone'"):
        load_encoder(str(tmp_path))

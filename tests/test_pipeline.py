import pytest

from albert_keras.pipeline import ConfigError, load_pipeline, pipeline_from_dict


def _write(tmp_path, text):
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return str(path)


def test_loads_sections_and_applies_overrides(tmp_path):
    path = _write(tmp_path, "name: demo\nmodel:\n  preset: bert_tiny\n  num_layers: 3\n")
    config = load_pipeline(path, ["model.hidden_dim=64", "model.num_heads=4"])
    assert config.name == "demo"
    encoder = config.model.encoder_config(vocabulary_size=99)
    assert (encoder.num_layers, encoder.hidden_dim, encoder.num_heads) == (3, 64, 4)
    assert encoder.vocabulary_size == 99 and encoder.activation == "gelu"


@pytest.mark.parametrize("text,overrides,message", [
    ("name: x\nmodel:\n  hiden_dim: 3\n", [], "model.hiden_dim"),
    ("name: x\nbogus: 1\n", [], "bogus"),
    ("name: x\n", ["model.num_layers=two"], "model.num_layers='two'"),
    ("name: x\n", ["model.hidden_dim=10", "model.num_heads=3"],
     "Received: hidden_dim=10, num_heads=3"),
    ("name: x\n", ["model.preset=bert_huge"], "bert_huge"),
    ("model:\n  preset: bert_tiny\n", [], "name"),
    ("name: x\n", ["model.num_layers"], "model.num_layers"),
])
def test_bad_configs_name_the_key_and_value(tmp_path, text, overrides, message):
    with pytest.raises(ConfigError) as error:
        load_pipeline(_write(tmp_path, text), overrides)
    assert message in str(error.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.yaml"):
        load_pipeline(str(tmp_path / "nowhere.yaml"))


def test_from_dict_uses_the_same_checks():
    with pytest.raises(ConfigError) as error:
        pipeline_from_dict({"name": "x", "model": {"share": "some"}})
    assert "In `model`" in str(error.value) and "share='some'" in str(error.value)


def test_exponents_without_a_dot_are_numbers():
    config = pipeline_from_dict({"name": "x", "train": {"learning_rate": "1e-3"}})
    assert config.train.learning_rate == 0.001
    with pytest.raises(ConfigError, match=r"train.learning_rate='fast'"):
        pipeline_from_dict({"name": "x", "train": {"learning_rate": "fast"}})

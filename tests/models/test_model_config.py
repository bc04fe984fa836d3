"""`ModelConfig.check_pretrained`: which `model.pretrained` paths a job can read."""

import pytest

from albert_keras.models.model_config import ModelConfig
from albert_keras.utils import file_io


def test_a_pretrained_model_on_a_url_must_be_a_keras_file(ram_dir):
    with pytest.raises(ValueError, match=r"`model.pretrained` given as a URL must be a `.keras` "
                                         r"file.*Received: model.pretrained='gs://b/hf-albert'"):
        ModelConfig(pretrained="gs://b/hf-albert").check_pretrained()
    with pytest.raises(FileNotFoundError, match=r"model.pretrained='ram://.*/encoder.keras'"):
        ModelConfig(pretrained=f"{ram_dir}/encoder.keras").check_pretrained()
    file_io.write_bytes(f"{ram_dir}/encoder.keras", b"zip")
    ModelConfig(pretrained=f"{ram_dir}/encoder.keras").check_pretrained()

"""`ModelConfig`: the `model` section of a pipeline (which encoder to build)."""

from __future__ import annotations

import dataclasses
from typing import Any

from albert_keras.models.encoder_config import EncoderConfig
from albert_keras.utils import file_io


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Which encoder to build: a preset, changed by any `EncoderConfig` field, or a checkpoint.

    `vocabulary_size` left unset is taken from the tokenizer the data stage trains or loads.
    """

    preset: str = "albert_tiny"
    pretrained: str | None = None
    vocabulary_size: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    hidden_dim: int | None = None
    intermediate_dim: int | None = None
    embedding_dim: int | None = None
    max_sequence_length: int | None = None
    num_segments: int | None = None
    activation: str | None = None
    dropout: float | None = None
    layer_norm_epsilon: float | None = None
    share: str | None = None
    num_groups: int | None = None

    def __post_init__(self) -> None:
        self.encoder_config()  # Bad presets and combinations fail when the file is loaded.

    def encoder_config(self, **overrides: Any) -> EncoderConfig:
        """The `EncoderConfig`: preset, then the fields set here, then `overrides`."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(EncoderConfig)
                  if getattr(self, f.name, None) is not None}
        return EncoderConfig.preset(self.preset, **{**fields, **overrides})

    def check_pretrained(self) -> None:
        """Fails, naming `model.pretrained`, when it is set to a path that does not exist (a TF1
        checkpoint is a prefix: `PATH.index` counts), or to a URL that is not a `.keras` file."""
        path = self.pretrained
        if path and file_io.is_url(path) and not path.endswith(".keras"):
            raise ValueError(
                "`model.pretrained` given as a URL must be a `.keras` file made here; checkpoints "
                "from elsewhere (Hugging Face, TF1, keras-hub) are read from local paths. "
                f"Received: model.pretrained={path!r}")
        if path and not (file_io.exists(path) or file_io.isfile(f"{path}.index")):
            raise FileNotFoundError(f"`model.pretrained` does not exist. Received: "
                                    f"model.pretrained={path!r}")

"""`EncoderConfig`: the hyper-parameters of a BERT or ALBERT encoder, and the presets."""

from __future__ import annotations

import dataclasses
from typing import Any

ACTIVATIONS = ("gelu_approximate", "gelu")
SHARE_MODES = ("none", "all", "attention", "ffn")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of one encoder; the same names as `Encoder`'s arguments and YAML keys.

    BERT is `share="none"` with `embedding_dim=None`. ALBERT is `share="all"` with a factorized
    embedding (`embedding_dim < hidden_dim`) and optionally `num_groups` blocks, each applied
    `num_layers // num_groups` times (https://arxiv.org/abs/1909.11942).

    Args:
        vocabulary_size: int. Number of token ids.
        num_layers: int. Number of times a transformer block is applied.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        hidden_dim: int. Width of the transformer blocks.
        intermediate_dim: int. Width of the feed-forward network's inner layer.
        embedding_dim: int or None. Width of the embeddings; None means `hidden_dim` and no
            projection. Defaults to None.
        max_sequence_length: int. Number of learned positions. Defaults to 512.
        num_segments: int. Number of segment (token type) ids. Defaults to 2.
        activation: str. `"gelu_approximate"` (tanh form, ALBERT) or `"gelu"` (exact erf, BERT).
            Defaults to `"gelu_approximate"`.
        dropout: float. Dropout rate for embeddings, attention and feed-forward outputs.
            Defaults to 0.1.
        layer_norm_epsilon: float. Defaults to 1e-12.
        share: str. Which parameters the blocks share: `"none"`, `"all"`, `"attention"` or
            `"ffn"`. Defaults to `"none"`.
        num_groups: int. With `share="all"`, the number of distinct blocks. Defaults to 1.

    Example:
    ```python
    config = EncoderConfig.preset("albert_base")
    wider = EncoderConfig.preset("albert_base", embedding_dim=256)
    encoder = Encoder(**wider.to_dict())
    assert (config.embedding_dim, config.share) == (128, "all")
    assert encoder.embedding_dim == 256
    ```
    """

    vocabulary_size: int
    num_layers: int
    num_heads: int
    hidden_dim: int
    intermediate_dim: int
    embedding_dim: int | None = None
    max_sequence_length: int = 512
    num_segments: int = 2
    activation: str = "gelu_approximate"
    dropout: float = 0.1
    layer_norm_epsilon: float = 1e-12
    share: str = "none"
    num_groups: int = 1

    def __post_init__(self) -> None:
        for name in ("vocabulary_size", "num_layers", "num_heads", "hidden_dim",
                     "intermediate_dim", "max_sequence_length", "num_segments", "num_groups"):
            _check_positive_int(name, getattr(self, name))
        if self.embedding_dim is not None:
            _check_positive_int("embedding_dim", self.embedding_dim)
        if self.hidden_dim % self.num_heads:
            raise ValueError(
                "`hidden_dim` must be divisible by `num_heads`. "
                f"Received: hidden_dim={self.hidden_dim}, num_heads={self.num_heads}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"`activation` must be one of {ACTIVATIONS}. Received: activation={self.activation!r}")
        if self.share not in SHARE_MODES:
            raise ValueError(
                f"`share` must be one of {SHARE_MODES}. Received: share={self.share!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be a float in [0, 1). Received: dropout={self.dropout!r}")
        if isinstance(self.layer_norm_epsilon, bool) or not isinstance(
                self.layer_norm_epsilon, (int, float)) or self.layer_norm_epsilon <= 0:
            raise ValueError("`layer_norm_epsilon` must be a positive float. "
                             f"Received: layer_norm_epsilon={self.layer_norm_epsilon!r}")
        if self.num_groups != 1 and self.share != "all":
            raise ValueError(
                '`num_groups` > 1 needs `share="all"`. '
                f"Received: num_groups={self.num_groups}, share={self.share!r}")
        if self.num_layers % self.num_groups:
            raise ValueError(
                "`num_layers` must be divisible by `num_groups`. "
                f"Received: num_layers={self.num_layers}, num_groups={self.num_groups}")

    @property
    def effective_embedding_dim(self) -> int:
        """The embedding width actually used (`hidden_dim` when `embedding_dim` is None)."""
        return self.hidden_dim if self.embedding_dim is None else self.embedding_dim

    def num_parameters(self) -> int:
        """Trainable parameters of the encoder built from this config (pooler included).

        Computed from the sizes alone, so it is instant even for albert_xxlarge; the tests
        check it against built `Encoder`s in every sharing mode.
        """
        width, hidden, inner = self.effective_embedding_dim, self.hidden_dim, self.intermediate_dim
        embeddings = (self.vocabulary_size + self.max_sequence_length + self.num_segments) * width
        embeddings += 2 * width  # LayerNorm
        if width != hidden:
            embeddings += width * hidden + hidden  # projection
        attention = 4 * (hidden * hidden + hidden)
        feedforward = hidden * inner + inner + inner * hidden + hidden
        layer_norms = 2 * 2 * hidden
        num_blocks = self.num_groups if self.share == "all" else self.num_layers
        blocks = num_blocks * layer_norms
        blocks += attention * (num_blocks if self.share in ("none", "ffn", "all") else 1)
        blocks += feedforward * (num_blocks if self.share in ("none", "attention", "all") else 1)
        pooler = hidden * hidden + hidden
        return embeddings + blocks + pooler

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **overrides: Any) -> "EncoderConfig":
        """A copy with some fields changed; unknown names are an error that lists them."""
        _check_field_names(overrides)
        return dataclasses.replace(self, **overrides)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "EncoderConfig":
        _check_field_names(values)
        return cls(**values)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "EncoderConfig":
        """The published configuration `name` (see `PRESETS`), with optional field overrides."""
        if name not in PRESETS:
            raise ValueError(f"Unknown preset name={name!r}. Choose one of: {', '.join(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _check_field_names(values: dict[str, Any]) -> None:
    known = {field.name for field in dataclasses.fields(EncoderConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"Unknown EncoderConfig key(s): {', '.join(unknown)}. Known keys: {', '.join(sorted(known))}")


# BERT: Devlin et al. 2018 (uncased vocabulary of 30522, exact-erf GELU, dropout 0.1); bert_tiny is
# the 2-layer / 128-wide model of Turc et al. 2019. ALBERT v2: Lan et al. 2019 (SentencePiece
# vocabulary of 30000, E=128, tanh-GELU, dropout 0). albert_tiny is our own small ALBERT for CPUs.
_BERT = dict(vocabulary_size=30522, activation="gelu", dropout=0.1, share="none")
_ALBERT = dict(vocabulary_size=30000, embedding_dim=128, activation="gelu_approximate",
               dropout=0.0, share="all")
PRESETS: dict[str, dict[str, Any]] = {
    "bert_tiny": dict(_BERT, num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512),
    "bert_base": dict(_BERT, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    "bert_large": dict(_BERT, num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096),
    "albert_tiny": dict(_ALBERT, num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024),
    "albert_base": dict(_ALBERT, num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
    "albert_large": dict(_ALBERT, num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096),
    "albert_xlarge": dict(_ALBERT, num_layers=24, num_heads=16, hidden_dim=2048, intermediate_dim=8192),
    "albert_xxlarge": dict(_ALBERT, num_layers=12, num_heads=64, hidden_dim=4096,
                           intermediate_dim=16384),
}

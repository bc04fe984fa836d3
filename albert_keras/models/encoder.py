"""`Encoder`: the one encoder class; BERT and ALBERT differ only in their `EncoderConfig`."""

from __future__ import annotations

import keras
import keras_hub

from albert_keras.layers.feed_forward import FeedForward
from albert_keras.layers.float32_softmax_attention import Float32SoftmaxAttention
from albert_keras.layers.initializers import truncated_normal
from albert_keras.layers.shared_transformer_layer import SharedTransformerLayer
from albert_keras.models.encoder_config import EncoderConfig

INPUT_NAMES = ("token_ids", "segment_ids", "padding_mask")


@keras.saving.register_keras_serializable(package="albert_keras")
class Encoder(keras.Model):
    """A BERT or ALBERT encoder as a functional Keras model.

    Token, position and segment embeddings of width `embedding_dim`, LayerNorm and dropout, a
    projection to `hidden_dim` when the widths differ (ALBERT's factorized embedding), then
    `num_layers` applications of `SharedTransformerLayer` and a tanh pooler on the first token.
    `share` picks what the applications share: nothing (BERT), everything (ALBERT, with
    `num_groups` distinct blocks), or only the attention or feed-forward sublayer (the ALBERT
    paper's Table 4). Takes the fields of `EncoderConfig` as arguments.

    Inputs are a dict of int32 `(batch, seq)` tensors `token_ids`, `segment_ids` and
    `padding_mask`; outputs are a dict of `sequence_output` `(batch, seq, hidden_dim)` and
    `pooled_output` `(batch, hidden_dim)`.

    Example:
    ```python
    encoder = Encoder.from_preset("albert_base")
    bert = Encoder(vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16,
                   intermediate_dim=32)
    ids = np.array([[2, 15, 27, 3, 0]], "int32")  # [CLS] two tokens [SEP] padding
    segments = np.zeros_like(ids)
    mask = (ids > 0).astype("int32")
    outputs = bert({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    assert outputs["pooled_output"].shape == (1, 16)
    assert encoder.count_params() == 11_683_584  # ALBERT-base, pooler included
    ```
    """

    def __init__(self, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                 embedding_dim=None, max_sequence_length=512, num_segments=2,
                 activation="gelu_approximate", dropout=0.1, layer_norm_epsilon=1e-12,
                 share="none", num_groups=1, dtype=None, **kwargs):
        config = EncoderConfig(
            vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
            hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, embedding_dim=embedding_dim,
            max_sequence_length=max_sequence_length, num_segments=num_segments,
            activation=activation, dropout=dropout, layer_norm_epsilon=layer_norm_epsilon,
            share=share, num_groups=num_groups)
        initializer = truncated_normal()
        width = config.effective_embedding_dim

        # === Layers ===
        token_embedding = keras.layers.Embedding(
            vocabulary_size, width, embeddings_initializer=initializer, dtype=dtype,
            name="token_embedding")
        position_embedding = keras_hub.layers.PositionEmbedding(
            max_sequence_length, initializer=initializer, dtype=dtype, name="position_embedding")
        segment_embedding = keras.layers.Embedding(
            num_segments, width, embeddings_initializer=initializer, dtype=dtype,
            name="segment_embedding")
        embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm")
        embeddings_dropout = keras.layers.Dropout(dropout, dtype=dtype, name="embeddings_dropout")
        projection = None
        if width != hidden_dim:
            projection = keras.layers.Dense(
                hidden_dim, kernel_initializer=initializer, dtype=dtype,
                name="embeddings_projection")
        blocks = _make_blocks(config, initializer, dtype)
        pooler_dense = keras.layers.Dense(
            hidden_dim, activation="tanh", kernel_initializer=initializer, dtype=dtype,
            name="pooler_dense")

        # === Functional model ===
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name)
                  for name in INPUT_NAMES}
        token_ids = inputs["token_ids"]
        x = token_embedding(token_ids)  # (batch, seq, embedding)
        x = x + position_embedding(x) + segment_embedding(inputs["segment_ids"])
        x = embeddings_dropout(embeddings_layer_norm(x))
        if projection is not None:
            x = projection(x)  # (batch, seq, hidden)
        for i in range(num_layers):
            x = blocks[i * len(blocks) // num_layers](x, padding_mask=inputs["padding_mask"])
        pooled = pooler_dense(x[:, 0, :])  # (batch, hidden)
        super().__init__(inputs=inputs,
                         outputs={"sequence_output": x, "pooled_output": pooled},
                         dtype=dtype, **kwargs)

        # === Config ===
        self.encoder_config = config
        for field, value in config.to_dict().items():
            setattr(self, field, value)
        self.token_embedding = token_embedding
        self.embeddings_projection = projection
        self.blocks = blocks

    def get_config(self):
        # The functional base class does not keep a mixed policy; the layers do.
        return {**self.encoder_config.to_dict(), "name": self.name,
                "trainable": self.trainable,
                "dtype": keras.dtype_policies.serialize(self.token_embedding.dtype_policy)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "Encoder":
        """An untrained encoder with the preset's configuration (`EncoderConfig.preset`).

        Overrides may change config fields or pass model arguments such as `dtype` or `name`.
        """
        model_args = {k: overrides.pop(k) for k in ("dtype", "name") if k in overrides}
        config = EncoderConfig.preset(name, **overrides)
        return cls(**config.to_dict(), **model_args)

    @classmethod
    def from_pretrained(cls, path: str, **kwargs) -> "Encoder":
        """Imports weights trained elsewhere (Hugging Face, TF1 checkpoints, keras-hub presets)."""
        from albert_keras.convert import load_encoder  # Deferred: converters are optional.

        return load_encoder(path, **kwargs)


def _make_blocks(config: EncoderConfig, initializer, dtype) -> list[SharedTransformerLayer]:
    """The distinct blocks: N (BERT, or shared attention/FFN) or `num_groups` (ALBERT)."""
    common = dict(hidden_dim=config.hidden_dim, num_heads=config.num_heads,
                  intermediate_dim=config.intermediate_dim, activation=config.activation,
                  dropout=config.dropout, layer_norm_epsilon=config.layer_norm_epsilon,
                  kernel_initializer=initializer, dtype=dtype)
    if config.share == "all":
        return [SharedTransformerLayer(**common, name=f"transformer_layer_{g}")
                for g in range(config.num_groups)]
    shared = {}
    if config.share == "attention":
        shared["self_attention"] = Float32SoftmaxAttention(
            num_heads=config.num_heads, key_dim=config.hidden_dim // config.num_heads,
            dropout=config.dropout, kernel_initializer=initializer, dtype=dtype,
            name="shared_self_attention")
    elif config.share == "ffn":
        shared["feedforward"] = FeedForward(
            config.hidden_dim, config.intermediate_dim, activation=config.activation,
            kernel_initializer=initializer, dtype=dtype, name="shared_feedforward")
    return [SharedTransformerLayer(**common, **shared, name=f"transformer_layer_{i}")
            for i in range(config.num_layers)]

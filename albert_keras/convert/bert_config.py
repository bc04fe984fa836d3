"""Encoder fields from a BERT-format config: the keys Hugging Face and google-research share.

Both `config.json` (transformers) and the original `bert_config.json`/`albert_config.json` name
the sizes `vocab_size`, `num_hidden_layers`, `hidden_size`, ...; each converter adds only its own
format's checks.
"""

from __future__ import annotations

from typing import Any, Mapping


def encoder_fields(config: Mapping[str, Any], *, is_albert: bool,
                   activations: Mapping[str, str], default_activation: str,
                   source: str) -> dict[str, Any]:
    """`EncoderConfig` fields from a BERT/ALBERT config dict.

    Args:
        config: the parsed JSON config.
        is_albert: bool. Read ALBERT's factorized embedding and layer groups.
        activations: the format's `hidden_act` names -> our `activation`.
        default_activation: `hidden_act` when the config has none.
        source: the file, for error messages.
    """
    hidden_act = config.get("hidden_act", default_activation)
    if hidden_act not in activations:
        raise ValueError(f"Unsupported hidden_act={hidden_act!r} in {source!r}: "
                         f"one of {sorted(activations)} is needed.")
    fields = dict(
        vocabulary_size=config["vocab_size"], num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"], hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        max_sequence_length=config.get("max_position_embeddings", 512),
        num_segments=config.get("type_vocab_size", 2), activation=activations[hidden_act],
        dropout=float(config.get("hidden_dropout_prob", 0.1)),
        layer_norm_epsilon=float(config.get("layer_norm_eps", 1e-12)))
    if is_albert:
        inner = config.get("inner_group_num", 1)
        if inner != 1:
            raise ValueError(f"Unsupported inner_group_num={inner} in {source!r}: our Encoder "
                             "applies one block per layer (inner_group_num=1, as every "
                             "released ALBERT).")
        fields.update(embedding_dim=config.get("embedding_size", 128), share="all",
                      num_groups=config.get("num_hidden_groups", 1))
    return fields

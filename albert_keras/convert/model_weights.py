"""Our models' weights by stable key, and helpers that name their checkpoint tensors.

Keys are the weight paths inside the `Encoder` (`"transformer_layer_0/self_attention/query/kernel"`)
and, for the pretraining heads, `"mlm_head/..."` and `"pair_head/..."`. Each source format maps
every key to a `TensorName`; `WeightAssignment` does the copying and the bookkeeping.
"""

from __future__ import annotations

import keras

from albert_keras.convert.weight_assignment import TensorName

# Sublayers of one `SharedTransformerLayer`, by key, and whether each is a dense layer with a
# per-head kernel that needs reshaping from a 2-D checkpoint tensor.
BLOCK_DENSE = {
    "self_attention/query": True,
    "self_attention/key": True,
    "self_attention/value": True,
    "self_attention/attention_output": True,
    "feedforward/intermediate_dense": False,
    "feedforward/output_dense": False,
}
BLOCK_NORMS = ("attention_layer_norm", "output_layer_norm")


def encoder_variables(encoder: keras.Model) -> dict[str, keras.Variable]:
    """Every weight of `encoder` by its path below the encoder's own layers."""
    variables = {}
    for layer in encoder.layers:
        for variable in layer.weights:
            path = variable.path
            start = path.find(f"{layer.name}/")
            variables[path[start:] if start >= 0 else f"{layer.name}/{variable.name}"] = variable
    return variables


def pretrainer_variables(pretrainer: keras.Model) -> dict[str, keras.Variable]:
    """The encoder's weights plus the heads' (the tied decoder is the token embedding)."""
    head = pretrainer.mlm_head
    return {
        **encoder_variables(pretrainer.encoder),
        "mlm_head/dense/kernel": head.dense.kernel,
        "mlm_head/dense/bias": head.dense.bias,
        "mlm_head/layer_norm/gamma": head.layer_norm.gamma,
        "mlm_head/layer_norm/beta": head.layer_norm.beta,
        "mlm_head/bias": head.bias,
        "pair_head/kernel": pretrainer.pair_head.kernel,
        "pair_head/bias": pretrainer.pair_head.bias,
    }


def dense(key: str, base: str, pytorch: bool, reshape: bool = False) -> dict[str, TensorName]:
    """Names for a dense layer's kernel and bias: PyTorch `.weight` `(out, in)` or TF `/kernel`."""
    if pytorch:
        return {f"{key}/kernel": TensorName(f"{base}.weight", transpose=True, reshape=reshape),
                f"{key}/bias": TensorName(f"{base}.bias", reshape=reshape)}
    return {f"{key}/kernel": TensorName(f"{base}/kernel", reshape=reshape),
            f"{key}/bias": TensorName(f"{base}/bias", reshape=reshape)}


def layer_norm(key: str, base: str, pytorch: bool) -> dict[str, TensorName]:
    """Names for a LayerNorm's scale and offset: PyTorch `.weight/.bias` or TF `/gamma/beta`."""
    scale, offset = (".weight", ".bias") if pytorch else ("/gamma", "/beta")
    return {f"{key}/gamma": TensorName(base + scale), f"{key}/beta": TensorName(base + offset)}


def embedding(key: str, name: str) -> dict[str, TensorName]:
    return {f"{key}/embeddings": TensorName(name)}


def block(index: int, bases: dict[str, str], pytorch: bool) -> dict[str, TensorName]:
    """Names for `transformer_layer_{index}`, given each sublayer's checkpoint base name."""
    key = f"transformer_layer_{index}"
    names = {}
    for sublayer, per_head in BLOCK_DENSE.items():
        names.update(dense(f"{key}/{sublayer}", bases[sublayer], pytorch, reshape=per_head))
    for norm in BLOCK_NORMS:
        names.update(layer_norm(f"{key}/{norm}", bases[norm], pytorch))
    return names


def num_blocks(config) -> int:
    """How many distinct blocks an `Encoder` with this `EncoderConfig` holds."""
    return config.num_groups if config.share == "all" else config.num_layers


def bert_or_albert(config, target: str) -> str:
    """`"bert"` or `"albert"`: the model family of `target` (e.g. `"Hugging Face"`) that holds an
    encoder of `config`, else a `ValueError` naming the field it cannot hold.

    Factorized embeddings (`embedding_dim` below `hidden_dim`) make an ALBERT (its blocks in
    `num_blocks(config)` groups), none a BERT; partial sharing has no form in either, and
    whole-block sharing needs ALBERT's embedding projection.
    """
    if config.share in ("attention", "ffn"):
        raise ValueError(f"{target} has no model that shares only the {config.share} "
                         f"sublayers. Received: share={config.share!r}")
    if config.embedding_dim is not None and config.embedding_dim != config.hidden_dim:
        return "albert"
    if config.share == "all":
        raise ValueError(f"{target}'s ALBERT always projects its embeddings; an encoder that "
                         "shares its blocks needs embedding_dim below hidden_dim. Received: "
                         f"share='all', embedding_dim={config.embedding_dim}, "
                         f"hidden_dim={config.hidden_dim}")
    return "bert"

"""The two GELU forms BERT and ALBERT use, by the names our configs give them."""

import keras


@keras.saving.register_keras_serializable(package="albert_keras")
def gelu_approximate(x):
    """GELU, tanh approximation (ALBERT, GPT-2, `gelu_new` in Hugging Face)."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="albert_keras")
def gelu(x):
    """GELU with the exact erf (the original BERT code)."""
    return keras.activations.gelu(x, approximate=False)


_ACTIVATIONS = {"gelu_approximate": gelu_approximate, "gelu": gelu}


def get_activation(name: str):
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {tuple(_ACTIVATIONS)}. Received: activation={name!r}")
    return _ACTIVATIONS[name]

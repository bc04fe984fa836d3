"""The two GELU forms BERT and ALBERT use, by the names our configs give them."""

import keras


@keras.saving.register_keras_serializable(package="albert_keras")
def gelu_approximate(x):
    """GELU, tanh approximation (ALBERT, GPT-2, `gelu_new` in Hugging Face)."""
    return keras.activations.gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="albert_keras")
def gelu(x):
    """GELU with the exact erf (the original BERT code): `0.5 x (1 + erf(x / sqrt(2)))`.

    Written with `erf` as BERT wrote it, not through `tf.nn.gelu` (which computes `erfc`, an op
    ONNX lacks), so that ONNX exports hold it too; the two agree to float32 rounding.
    """
    return 0.5 * x * (1.0 + keras.ops.erf(x * _SQRT_HALF))


_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2)


_ACTIVATIONS = {"gelu_approximate": gelu_approximate, "gelu": gelu}


def get_activation(name: str):
    if name not in _ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {tuple(_ACTIVATIONS)}. Received: activation={name!r}")
    return _ACTIVATIONS[name]

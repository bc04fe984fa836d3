"""Helpers of the converter tests: tiny Hugging Face configs, random weights, assertions."""

from __future__ import annotations

import os

import numpy as np

TINY_HF = dict(vocab_size=50, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
               intermediate_size=32, max_position_embeddings=16, type_vocab_size=2)


def randomize(model, seed: int) -> None:
    """Every parameter random (biases and LayerNorms too), so that no mix-up can hide.

    Scales keep activations of order one and attention far from uniform, so a swapped or
    mis-laid tensor moves the outputs well past the tolerance.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in sorted(model.named_parameters()):
            noise = torch.randn(parameter.shape, generator=generator)
            if parameter.dim() == 1 and "norm" in name.lower() and name.endswith("weight"):
                parameter.copy_(1.0 + 0.2 * noise)  # LayerNorm scale
            elif parameter.dim() == 1:
                parameter.copy_(0.3 * noise)  # biases, LayerNorm offsets
            else:
                parameter.copy_(0.5 * noise)  # kernels and embeddings
    model.eval()


def torch_inputs(inputs: dict) -> dict:
    import torch

    return {"input_ids": torch.tensor(inputs["token_ids"], dtype=torch.long),
            "token_type_ids": torch.tensor(inputs["segment_ids"], dtype=torch.long),
            "attention_mask": torch.tensor(inputs["padding_mask"], dtype=torch.long)}


def save_hf_model(model, directory) -> str:
    model.save_pretrained(str(directory))
    assert os.path.isfile(os.path.join(directory, "model.safetensors"))
    return str(directory)


def assert_close(actual, expected, atol, name="", rtol=0.0):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), atol=atol, rtol=rtol,
                               err_msg=name)

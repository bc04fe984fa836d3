"""`WeightAssignment`: copies checkpoint tensors into a model and accounts for every one."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import keras
import numpy as np


class TensorName(NamedTuple):
    """Where one model weight comes from: a checkpoint tensor and how to lay it out."""

    name: str
    transpose: bool = False  # (out, in) -> (in, out), for PyTorch kernels
    reshape: bool = False  # e.g. (hidden, hidden) -> (hidden, heads, head_dim)


class WeightAssignment:
    """Copies named checkpoint tensors into model variables, leaving nothing unaccounted for.

    Converters call `assign_all` with the model's weights by key and a `TensorName` for each key,
    `skip` for checkpoint tensors that are not weights of the model being built (optimizer
    slots, another task's head), then `finish`.
    `finish` raises if a checkpoint tensor was neither assigned nor skipped, or if a model
    weight received no tensor: an import never drops or leaves out a weight silently.

    Args:
        names: iterable of str. Every tensor name in the checkpoint.
        read_tensor: callable. Reads one tensor by name as an array (lazily, on demand).
        source: str. The checkpoint's path, used in error messages.

    Example:
    ```python
    # needs: a checkpoint's `names` and `read_tensor`, an `encoder`
    assignment = WeightAssignment(names, read_tensor, source="model.safetensors")
    assignment.assign_all({"token_embedding/embeddings": encoder.token_embedding.embeddings},
                          {"token_embedding/embeddings": TensorName("word_embeddings.weight")})
    assignment.skip(["embeddings.position_ids"])
    assignment.finish(encoder)
    ```
    """

    def __init__(self, names: Iterable[str], read_tensor: Callable[[str], np.ndarray],
                 source: str):
        self.names = set(names)
        self.read_tensor = read_tensor
        self.source = source
        self.used: set[str] = set()
        self.skipped: set[str] = set()
        self.assigned: set[int] = set()  # id() of each assigned variable
        self.kept_initialized: set[int] = set()  # id() of each variable allowed to be missing

    def read(self, name: str) -> np.ndarray:
        """Tensor `name` as a numpy array, marked as used."""
        if name not in self.names:
            raise ValueError(
                f"Missing tensor {name!r} in checkpoint {self.source!r}. The checkpoint holds "
                f"{len(self.names)} tensors, e.g. {_listing(sorted(self.names), 5)}")
        self.used.add(name)
        return np.asarray(self.read_tensor(name))

    def assign_all(self, variables: Mapping[str, keras.Variable],
                   names: Mapping[str, TensorName], allow_missing: Iterable[str] = ()) -> None:
        """Assigns `names[key]` to `variables[key]` for every key.

        Keys without a name, or whose tensor is absent, are reported together in one error,
        unless they start with one of the `allow_missing` prefixes.
        """
        allowed = tuple(allow_missing)
        missing = []
        for key, variable in variables.items():
            spec = names.get(key)
            if spec is None or spec.name not in self.names:
                if allowed and key.startswith(allowed):
                    self.kept_initialized.add(id(variable))
                else:
                    missing.append(f"no name for model weight {key!r}" if spec is None
                                   else f"{spec.name!r} for model weight {key!r}")
                continue
            self.assign(variable, spec.name, transpose=spec.transpose, reshape=spec.reshape)
        if missing:
            raise ValueError(
                f"Missing tensor(s) in checkpoint {self.source!r}: {_listing(missing, quote=False)}. "
                "Pass allow_missing=(prefix, ...) to keep those model weights freshly "
                "initialized on purpose.")

    def assign(self, variable, name: str, transpose: bool = False,
               reshape: bool = False) -> None:
        """Copies tensor `name` into `variable`.

        `transpose` reverses a 2-D tensor (PyTorch's `(out, in)` kernels); `reshape` then lets
        the tensor take the variable's shape when the sizes agree (a `(hidden, hidden)` query
        kernel into `(hidden, heads, head_dim)`). Any other shape difference is an error.
        """
        value = self.read(name)
        if transpose:
            value = value.T
        shape = tuple(variable.shape)
        if reshape and value.size == int(np.prod(shape)):
            value = value.reshape(shape)
        if value.shape != shape:
            raise ValueError(
                f"Config/weights mismatch: checkpoint tensor {name!r} has shape "
                f"{tuple(value.shape)}{' (transposed)' if transpose else ''} but model weight "
                f"{variable.path!r} expects {shape}. Checkpoint: {self.source!r}")
        variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
        self.assigned.add(id(variable))

    def skip(self, names: Iterable[str]) -> None:
        """Marks tensors that are deliberately not loaded (optimizer state, other heads)."""
        self.skipped.update(names)

    def finish(self, model: keras.Model) -> None:
        """Raises unless every tensor was used or skipped and every model weight assigned
        (or allowed to be missing in `assign_all`)."""
        unused = sorted(self.names - self.used - self.skipped)
        if unused:
            raise ValueError(
                f"{len(unused)} checkpoint tensor(s) in {self.source!r} have no place in the "
                f"model: {_listing(unused)}. The checkpoint does not match the model built "
                "from its config (or is a format this converter does not know).")
        done = self.assigned | self.kept_initialized
        unassigned = [v.path for v in _unique(model.weights) if id(v) not in done]
        if unassigned:
            raise ValueError(
                f"{len(unassigned)} model weight(s) got no tensor from checkpoint "
                f"{self.source!r}: {_listing(unassigned)}. Pass allow_missing=(prefix, ...) "
                "to keep these freshly initialized on purpose.")


def _unique(variables):
    seen = set()
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            yield variable


def _listing(names: list[str], limit: int = 20, quote: bool = True) -> str:
    """`'a', 'b', ... (n more)`."""
    shown = ", ".join(repr(name) if quote else name for name in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")

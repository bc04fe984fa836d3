"""Package re-exports that import their modules on first use.

Every subpackage re-exports its public names; importing them eagerly would import TensorFlow
and Keras (seconds, and a screen of C++ logs) before a config file is even read. With
`lazy_exports(__name__, {"Encoder": ".encoder", ...})` at the end of an `__init__.py`,
`from albert_keras import Encoder` works as before, and a command that fails on its config
fails before TensorFlow is imported. The first public name used imports all of the package's
modules, so every Keras class it registers is known before a `.keras` file is loaded.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Mapping


class _LazyPackage(types.ModuleType):
    """A package whose public names resolve on first use.

    The import system binds each loaded submodule as an attribute of its package; where a
    public name is also a module's name (`prepare`, `pretraining_dataset`), the public name wins,
    as it did with eager re-exports.
    """

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and name in self.__dict__["_exports"]:
            return
        super().__setattr__(name, value)

    def __getattr__(self, name: str):
        exports = self.__dict__["_exports"]
        if name not in exports:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        values = {}
        for public, module in exports.items():  # All of them, in order.
            values[public] = getattr(importlib.import_module(module, self.__name__), public)
        self.__dict__.update(values)  # Bound once: later lookups are plain attributes.
        return values[name]

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self.__dict__["_exports"]})


def lazy_exports(package: str, exports: Mapping[str, str]) -> None:
    """Makes `package` resolve each public name in `exports` (name -> module relative to
    `package`) on first use."""
    module = sys.modules[package]
    module.__dict__["_exports"] = dict(exports)
    module.__class__ = _LazyPackage

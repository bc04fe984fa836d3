"""How the package is imported: Keras classes registered up front, TensorFlow only when needed.

`import albert_keras` imports every module that registers a Keras class (the `keras_modules`
that `albert_keras/__init__.py` lists), as `import keras_hub` does: `keras.saving.load_model`
finds a saved class by its registered name (`"albert_keras>Encoder"`) in Keras's global
registry at load time, and a class is there once its module has been imported. So

    import albert_keras
    model = keras.saving.load_model("runs/albert_tiny/encoder.keras")

works in a fresh process, whichever file the package wrote.

The one exception is the command line. Python imports a package's `__init__.py` before any
module in it, `albert_keras.cli` included, so the CLI cannot choose what `__init__` imports;
`__init__` asks instead whether the process was started as the CLI (`cli_is_entry_point`):
`python -m albert_keras.cli ...` or the `albert-keras` console script. Then registering waits
until the CLI has read its config (`register_keras_classes`), so a bad config fails in a blink,
before TensorFlow, Keras or keras-hub is imported. Calling `albert_keras.cli.main` from Python
registers up front, like any other import.

Worker processes that `multiprocessing` spawns (the start method the package uses: the `pairs`
stage's workers, compare's arm and fine-tuning processes) import the package too, to unpickle their
task; they register lazily as well (`spawned_worker`), so a numpy-only worker never pays for
TensorFlow. Code that runs in them imports the modules it uses, which registers their classes.

Public names stay lazy either way: with `lazy_exports(__name__, {"Encoder": ".encoder", ...})`
at the end of an `__init__.py`, `from albert_keras.models import Encoder` imports the modules
of that package on first use (all of them, so the package's classes are all registered then).
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from typing import Iterable, Mapping

CLI_MODULE = "albert_keras.cli"  # `python -m albert_keras.cli`
CLI_SCRIPT = "albert-keras"  # The console script (setup.py's entry point).


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
        register_keras_classes(self.__name__)
        values = {}
        for public, module in exports.items():  # All of them, in order.
            values[public] = getattr(importlib.import_module(module, self.__name__), public)
        self.__dict__.update(values)  # Bound once: later lookups are plain attributes.
        return values[name]

    def __dir__(self) -> list[str]:
        return sorted({*self.__dict__, *self.__dict__["_exports"]})


def lazy_exports(package: str, exports: Mapping[str, str],
                 keras_modules: Iterable[str] = ()) -> None:
    """Makes `package` resolve each public name in `exports` on first use, and registers its
    Keras classes now unless the CLI is the entry point.

    Args:
        package: str. The package's `__name__`.
        exports: mapping of str to str. Public name -> module relative to `package`.
        keras_modules: iterable of str. Absolute names of the modules that register Keras
            classes (`register_keras_serializable`); imported now, or, when the CLI is the
            entry point, by `register_keras_classes` once it has read its config.
            Defaults to none.
    """
    module = sys.modules[package]
    module.__dict__["_exports"] = dict(exports)
    module.__dict__["_keras_modules"] = tuple(keras_modules)
    module.__class__ = _LazyPackage
    if module.__dict__["_keras_modules"] and not (cli_is_entry_point() or spawned_worker()):
        register_keras_classes(package)


def register_keras_classes(package: str = "albert_keras") -> None:
    """Imports the modules that register `package`'s Keras classes (its `keras_modules`), so
    `keras.saving.load_model` finds every class the package saves. Done by `import
    albert_keras`, except when the CLI is the entry point: the CLI calls it itself once its
    config is read. Imports TensorFlow and Keras; a no-op once done."""
    for name in sys.modules[package].__dict__.get("_keras_modules", ()):
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            raise ImportError(
                f"{package}/__init__.py lists {name!r} among its keras_modules, but there is no "
                "such module: name the module that now registers those Keras classes") from error


def cli_is_entry_point() -> bool:
    """Whether this process was started as the command line: `python -m albert_keras.cli`
    or the `albert-keras` console script.

    While `python -m` locates its module (and imports the module's packages) `sys.argv[0]`
    is `"-m"`, and the module is the argument of `sys.orig_argv` before those left in
    `sys.argv` (written `-m albert_keras.cli` or `-malbert_keras.cli`). The console script is
    the program `sys.argv[0]` names (with the suffix of a Windows launcher, if any).
    """
    argv = getattr(sys, "argv", None) or [""]
    if argv[0] == "-m":
        orig_argv = getattr(sys, "orig_argv", [])
        position = len(orig_argv) - len(argv)
        if not 0 <= position < len(orig_argv):
            return False
        token = orig_argv[position]
        if token.startswith("-"):  # `-malbert_keras.cli` (or `-Bmalbert_keras.cli`).
            token = token.partition("m")[2]
        return token == CLI_MODULE
    name = os.path.basename(argv[0])
    for suffix in (".exe", "-script.pyw", "-script.py"):
        name = name.removesuffix(suffix)
    return name == CLI_SCRIPT


def spawned_worker() -> bool:
    """Whether this process is a worker that `multiprocessing` started with `spawn`: Python
    runs it as `python -c "from multiprocessing... import ..."
    --multiprocessing-fork ...`. The flag stays in `sys.orig_argv` (the worker then takes
    its parent's `sys.argv`)."""
    return "--multiprocessing-fork" in (getattr(sys, "orig_argv", None) or [])

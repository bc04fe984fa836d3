"""Every `Example:` in a public docstring runs as written.

Each example runs in a fresh namespace holding `keras`, `np` (numpy), `tf`, the public names of
`albert_keras` and those of the example's own module; anything else it imports or defines
itself. Examples that need what only a user has (files, a trained run, a server) say so on
their first line (`# needs: ...`) and are compiled, not run.
"""

import importlib
import inspect
import pkgutil
import re
import textwrap

import pytest

import albert_keras

EXAMPLE = re.compile(r"Example:\s*\n\s*```python\n(.*?)```", re.DOTALL)


def _examples():
    found = []
    for module_info in pkgutil.walk_packages(albert_keras.__path__, "albert_keras."):
        if module_info.name.endswith(("__main__", ".cli")):
            continue
        module = importlib.import_module(module_info.name)
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            for match in EXAMPLE.finditer(inspect.getdoc(obj) or ""):
                found.append(pytest.param(module.__name__, textwrap.dedent(match.group(1)).strip(),
                                          id=f"{module.__name__}.{name}"))
    return found


def test_examples_are_found_and_most_run():
    examples = _examples()
    runnable = [p for p in examples if not p.values[1].startswith("# needs:")]
    assert len(examples) >= 30 and len(runnable) >= 15


@pytest.mark.timeout(300)
@pytest.mark.parametrize("module,code", _examples())
def test_example_runs(module, code, tmp_path, monkeypatch):
    compiled = compile(code, "<example>", "exec")
    if code.startswith("# needs:"):
        return
    import keras
    import numpy as np
    import tensorflow as tf

    monkeypatch.chdir(tmp_path)  # Nothing an example writes lands in the checkout.
    namespace = {"keras": keras, "np": np, "tf": tf}
    exec(f"from albert_keras import *\nfrom {module} import *", namespace)
    exec(compiled, namespace)

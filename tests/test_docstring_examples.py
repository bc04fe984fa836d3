"""Every `Example:` in a public docstring runs as written and checks its result.

Each example runs in a fresh namespace holding `keras`, `np` (numpy), `tf`, the public names of
`albert_keras` and those of the example's own module; anything else it imports or defines
itself. The rule:
- an example that can run here checks what it shows with at least one `assert` (a value in a
  comment is not checked, so it is not enough), and runs;
- an example that needs what only a user has (files, a trained run, a server) names it on its
  first line (`# needs: a running tensorflow_model_server`) and is compiled, not run.
"""

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap

import pytest

import albert_keras

EXAMPLE = re.compile(r"Example:\s*\n\s*```python\n(.*?)```", re.DOTALL)
NEEDS = re.compile(r"# needs: \S.{4,}")  # What it needs, in a few words.
# Runnable examples without an `assert`, in files another change is editing: each must get
# one there, and then leave this list (`test_pending_examples_are_still_pending`).
PENDING: set[str] = set()


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


def _checks(code: str) -> bool:
    return any(isinstance(node, ast.Assert) for node in ast.walk(ast.parse(code)))


def test_examples_are_found_and_most_run():
    examples = _examples()
    runnable = [p for p in examples if not p.values[1].startswith("# needs:")]
    assert len(examples) >= 30 and len(runnable) >= 20


def test_pending_examples_are_still_pending():
    """`PENDING` only shrinks: an example there that now checks its result must leave it."""
    found = {p.id: p.values[1] for p in _examples()}
    assert {name for name in PENDING if name in found and not _checks(found[name])} == {
        name for name in PENDING if name in found}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("module,code", _examples())
def test_example_runs(module, code, tmp_path, monkeypatch, request):
    compiled = compile(code, "<example>", "exec")
    if code.startswith("# needs:"):
        assert NEEDS.match(code.splitlines()[0]), "say what the example needs"
        return
    if request.node.callspec.id not in PENDING:
        assert _checks(code), "an example that runs checks its result with an `assert`"
    import keras
    import numpy as np
    import tensorflow as tf

    monkeypatch.chdir(tmp_path)  # Nothing an example writes lands in the checkout.
    namespace = {"keras": keras, "np": np, "tf": tf}
    exec(f"from albert_keras import *\nfrom {module} import *", namespace)
    exec(compiled, namespace)

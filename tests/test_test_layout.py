"""The tests' own layout: what tests share lives in `tests/helpers/`, and no test module imports
another test module (a `test_*.py`, a `conftest.py`, or any other module of a test folder).

Read from the source with `ast`, so nothing is imported: every `import` and `from ... import`
counts, at module level or deferred into a function, relative ones included.
"""

import ast
import pathlib

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
HELPERS = "tests.helpers"
# Left where they are while another change edits tests/compare/ (the only users named here):
# module -> why. Each must still be needed (`test_waiting_entries_are_still_needed`).
WAITING = {
    "tests.compare.sleeping_arm": "imported by tests/compare/test_arm_process.py",
}


def _modules(root=None):
    """`(dotted name, path)` of every Python file under `root` (the `tests/` folder)."""
    root = root or TESTS
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imported(module: str, path: pathlib.Path):
    """Every module name `path` imports (`from a import b` also yields `a.b`)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _test_imports(root=None) -> list[str]:
    """`importer -> imported` for each import of a module of the test folders that is not
    `tests.helpers` (nor a `WAITING` module)."""
    root = root or TESTS
    modules = {name for name, _ in _modules(root)}
    found = []
    for module, path in _modules(root):
        for name in sorted(set(_imported(module, path))):
            if name in modules and name != root.name and name != module \
                    and not (name == HELPERS or name.startswith(HELPERS + ".")) \
                    and name not in WAITING:
                found.append(f"{module} -> {name}")
    return found


def _strays(root=None) -> list[str]:
    """Modules of the test folders that are neither tests, nor `conftest.py` / `__init__.py`,
    nor in `tests/helpers/` (nor `WAITING`)."""
    root = root or TESTS
    return [name for name, path in _modules(root)
            if not path.name.startswith("test_") and path.name not in ("conftest.py", "__init__.py")
            and not name.startswith(HELPERS + ".") and name not in WAITING]


def test_no_test_module_imports_another():
    assert _test_imports() == []


def test_shared_code_lives_in_the_helpers_package():
    assert _strays() == []
    assert (TESTS / "helpers" / "__init__.py").is_file()


def test_waiting_entries_are_still_needed():
    """`WAITING` only shrinks: once its users move on, a module leaves it (and the folder)."""
    modules = {name: path for name, path in _modules()}
    assert set(WAITING) <= set(modules)
    compare = [path.read_text(encoding="utf-8") for path in (TESTS / "compare").glob("test_*.py")]
    assert all(any(name.rpartition(".")[2] in text for text in compare) for name in WAITING)


@pytest.mark.parametrize("importer,code", [
    ("test_a.py", "from tests.test_b import helper\n"),
    ("test_a.py", "def f():\n    from . import test_b\n"),
    ("test_a.py", "import tests.sub.shared\n"),
    ("conftest.py", "from tests.sub.test_c import fixture\n"),
])
def test_the_check_sees_a_test_importing_a_test(tmp_path, importer, code):
    """The checks above can fail: a planted import of a test module, or a stray module."""
    root = tmp_path / "tests"
    (root / "sub").mkdir(parents=True)
    (root / "helpers").mkdir()
    for name in ("__init__.py", "sub/__init__.py", "helpers/__init__.py", "helpers/tiny.py",
                 "test_b.py", "sub/test_c.py", "sub/shared.py"):
        (root / name).write_text("")
    (root / importer).write_text(code + "from tests.helpers import tiny\n")
    found = _test_imports(root)
    assert len(found) == 1 and found[0].startswith(f"tests.{importer[:-3]} -> tests.")
    assert _strays(root) == ["tests.sub.shared"]

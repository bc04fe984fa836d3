"""Imports go one way (DESIGN.md, Layering): a module imports its own level or lower ones.

`utils` < `layers` < `models` < `data`, `convert` < `training`, `tasks` < `export` < `compare` <
`pipeline`, `cli`. Read from the source with `ast`, so nothing is imported: every `import` and
`from ... import` at module level counts, relative ones included. Imports deferred into a
function are allowed upward only where listed below with the reason.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "albert_keras"
LEVELS = {"utils": 0, "layers": 1, "models": 2, "data": 3, "convert": 3, "training": 4,
          "tasks": 4, "export": 5, "compare": 6, "pipeline": 7, "disk_space": 7, "cli": 7}
# Facades that defer-import a higher stage inside a method (module -> imported package).
DEFERRED_UPWARD = {
    # `Encoder/Pretrainer/Task.from_pretrained` load checkpoints through the converters.
    ("albert_keras.models.encoder", "albert_keras.convert"),
    ("albert_keras.models.pretrainer", "albert_keras.convert"),
    ("albert_keras.models.task", "albert_keras.convert"),
}


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        yield ".".join(parts[:-1] if is_package else parts), path, is_package


def _imports(module: str, path: pathlib.Path, is_package: bool):
    """(imported module, deferred?) for every import statement of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        deferred = id(node) not in top_level
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, deferred
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            yield name, deferred


def _level(module: str):
    parts = module.split(".")
    if parts[0] != "albert_keras" or len(parts) == 1:
        return None
    return LEVELS[parts[1]]


def test_every_subpackage_has_a_level():
    names = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()
             if path.name != "__init__.py" and not path.name.startswith((".", "_"))
             and (path.suffix == ".py" or path.is_dir())}
    assert names == set(LEVELS), "give new subpackages a level in LEVELS and in DESIGN.md"


def _upward_imports():
    found = []
    for module, path, is_package in _modules():
        level = _level(module)
        for name, deferred in _imports(module, path, is_package):
            target = _level(name)
            if level is None or target is None or target <= level:
                continue
            top = ".".join(name.split(".")[:2])
            if deferred and (module, top) in DEFERRED_UPWARD:
                continue
            found.append(f"{module} -> {name}" + (" (deferred)" if deferred else ""))
    return found


def test_imports_go_one_way():
    assert _upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The test above can fail: a layer that imports training is reported."""
    fake = tmp_path / "albert_keras"
    (fake / "layers").mkdir(parents=True)
    (fake / "training").mkdir()
    for name in ("__init__.py", "layers/__init__.py", "training/__init__.py",
                 "training/lamb.py"):
        (fake / name).write_text("")
    (fake / "layers" / "bad.py").write_text(
        "from ..training import lamb\n\ndef f():\n    import albert_keras.training.lamb\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    assert _upward_imports() == ["albert_keras.layers.bad -> albert_keras.training",
                                 "albert_keras.layers.bad -> albert_keras.training.lamb (deferred)"]


def _module_graph(package=None):
    """module -> the package modules it imports at module level (`from a import b` counts as
    an import of `a.b` when `b` is a module)."""
    package = package or PACKAGE
    modules = {module for module, _, _ in _modules_of(package)}
    graph = {}
    for module, path, is_package in _modules_of(package):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges = set()
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = next(_imports_of_node(module, is_package, node))
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                         for alias in node.names]
            edges.update(name for name in names if name in modules and name != module)
        graph[module] = edges
    return graph


def _modules_of(package):
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        yield ".".join(parts[:-1] if is_package else parts), path, is_package


def _imports_of_node(module, is_package, node):
    package = module if is_package else module.rpartition(".")[0]
    if node.level:
        base = package.split(".")[:len(package.split(".")) - node.level + 1]
        yield ".".join(base + ([node.module] if node.module else []))
    else:
        yield node.module


def _cycles(graph):
    """The import cycles of `graph`: strongly connected components of more than one module."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):  # Tarjan's algorithm.
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles():
    assert _cycles(_module_graph()) == []


def test_the_check_sees_a_cycle(tmp_path):
    fake = tmp_path / "albert_keras"
    (fake / "data").mkdir(parents=True)
    for name in ("__init__.py", "data/__init__.py"):
        (fake / name).write_text("")
    (fake / "data" / "a.py").write_text("from albert_keras.data import b\n")
    (fake / "data" / "b.py").write_text("from . import c\n")
    (fake / "data" / "c.py").write_text("import albert_keras.data.a\n")
    assert _cycles(_module_graph(fake)) == [
        ["albert_keras.data.a", "albert_keras.data.b", "albert_keras.data.c"]]


def test_pretrain_does_not_prepare_records():
    """Records are prepared by the CLI/pipeline, not from inside `pretrain` (even deferred)."""
    importers = {module for module, path, is_package in _modules()
                 for name, _ in _imports(module, path, is_package)
                 if name == "albert_keras.data.prepare"}
    assert "albert_keras.training.pretrain" not in importers
    # The prepare job (`prepare_records`: task text, then records), which the CLI,
    # `prepare_and_pretrain` and `compare` call.
    assert "albert_keras.tasks.task_corpus" in importers

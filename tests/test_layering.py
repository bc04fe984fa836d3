"""Imports go one way (DESIGN.md, Layering): a module imports its own level or lower ones, and no
two packages import each other.

`utils` < `layers` < `models` < `tokenizers` < `pretraining_data`, `convert` < `training`
(reusable machinery) < `tasks` (with the fine-tuning inputs, `tasks/inputs/`) < `export` <
`jobs` (prepare, pretrain, finetune, export and their configs) < `compare` (the jobs side by
side) < `pipeline_fields` (YAML values -> typed dataclass fields) < `pipeline_config` (the whole
config) < `pipeline` (the jobs of one config), `disk_space` < `cli`. Read from the source with
`ast`, so nothing is imported: every `import` and `from ... import` counts, relative ones
included. Imports deferred into a function are allowed upward only where listed below with the
reason. Imports under `if TYPE_CHECKING:` (for annotations only, never run) do not count.
The package graph (an edge `a -> b` for each module of `a` that imports `b` at module
level) has no cycle, so packages on one level (`pretraining_data`, `convert`) cannot lean on
each other either. Every file of the package has at most `MAX_LINES` lines.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "albert_keras"
LEVELS = {"utils": 0, "layers": 1, "models": 2, "tokenizers": 3, "pretraining_data": 4,
          "convert": 4, "training": 5, "tasks": 6, "export": 7, "jobs": 8, "compare": 9,
          "pipeline_fields": 10, "pipeline_config": 11, "pipeline": 12, "disk_space": 12, "cli": 13}
MAX_LINES = 300  # Per file of the package (STYLE.md: aim under ~250 lines).
# Facades that defer-import a higher stage inside a method (module -> imported package).
DEFERRED_UPWARD = {
    # `Encoder/Pretrainer/Task.from_pretrained` load checkpoints through the converters.
    ("albert_keras.models.encoder", "albert_keras.convert"),
    ("albert_keras.models.pretrainer", "albert_keras.convert"),
    ("albert_keras.models.task", "albert_keras.convert"),
    # `load_tokenizer` of a checkpoint from elsewhere reads its tokenizer through the converters.
    ("albert_keras.tokenizers.tokenizer_files", "albert_keras.convert"),
}


def _modules(package: pathlib.Path):
    """`(dotted name, path, is_package)` of every module of `package` (a folder)."""
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        yield ".".join(parts[:-1] if is_package else parts), path, is_package


def _imports(module: str, path: pathlib.Path, is_package: bool):
    """`(imported module, deferred?)` for every import statement of the file; `from a import b`
    yields `a.b`, which names a module or, when `b` is not one, a name inside `a`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body}
    typing_only = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
                   for statement in node.body for inner in ast.walk(statement)}
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
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
            for alias in node.names:
                yield f"{name}.{alias.name}", deferred


def _unit(name: str, root: str):
    """The ranked unit of `name` (`albert_keras.jobs.pretrain` -> `jobs`), or None outside the
    package (and for the package's own `__init__`)."""
    parts = name.split(".")
    return parts[1] if parts[0] == root and len(parts) > 1 else None


def unranked(package: pathlib.Path, levels: dict) -> set:
    """The subpackages and top-level modules of `package` that have no level."""
    names = {path.stem if path.is_file() else path.name for path in package.iterdir()
             if path.name != "__init__.py" and not path.name.startswith((".", "_"))
             and (path.suffix == ".py" or (path / "__init__.py").is_file())}
    return names - set(levels)


def upward_imports(package: pathlib.Path, levels: dict, deferred_upward=frozenset()) -> list:
    """`importer -> imported` for each import of a higher level than the importer's, except
    the deferred ones of `deferred_upward`."""
    found = []
    for module, path, is_package in _modules(package):
        level = levels.get(_unit(module, package.name))
        for name, deferred in _imports(module, path, is_package):
            target = levels.get(_unit(name, package.name))
            if level is None or target is None or target <= level:
                continue
            top = ".".join(name.split(".")[:2])
            if deferred and (module, top) in deferred_upward:
                continue
            found.append(f"{module} -> {top}" + (" (deferred)" if deferred else ""))
    return sorted(set(found))


def package_graph(package: pathlib.Path) -> dict:
    """Subpackage or top-level module -> the others it imports at module level."""
    graph = {}
    for module, path, is_package in _modules(package):
        unit = _unit(module, package.name)
        if unit is None:
            continue
        targets = graph.setdefault(unit, set())
        for name, deferred in _imports(module, path, is_package):
            target = _unit(name, package.name)
            if not deferred and target not in (None, unit):
                targets.add(target)
    return graph


def module_graph(package: pathlib.Path) -> dict:
    """Module -> the package modules it imports at module level (`from a import b` counts as an
    import of `a.b` when `b` is a module, else of `a`)."""
    modules = {module for module, _, _ in _modules(package)}
    graph = {}
    for module, path, is_package in _modules(package):
        edges = set()
        for name, deferred in _imports(module, path, is_package):
            if deferred:
                continue
            name = name if name in modules else name.rpartition(".")[0]
            if name in modules and name != module:
                edges.add(name)
        graph[module] = edges
    return graph


def cycles(graph: dict) -> list:
    """The cycles of `graph`: its strongly connected components of more than one node."""
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


def long_files(package: pathlib.Path, limit: int = MAX_LINES) -> list:
    """`path: N lines` for each `.py` file of `package` (a folder) with more than `limit`."""
    found = []
    for path in sorted(package.rglob("*.py")):
        count = len(path.read_text(encoding="utf-8").splitlines())
        if count > limit:
            found.append(f"{path.relative_to(package.parent).as_posix()}: {count} lines")
    return found


def test_every_subpackage_and_module_has_a_level():
    assert unranked(PACKAGE, LEVELS) == set(), "give it a level in LEVELS and in DESIGN.md"
    assert set(LEVELS) == {path.stem if path.is_file() else path.name
                           for path in PACKAGE.iterdir() if not path.name.startswith((".", "_"))
                           and (path.suffix == ".py" or path.is_dir())}, "a level of nothing"


def test_imports_go_one_way():
    assert upward_imports(PACKAGE, LEVELS, DEFERRED_UPWARD) == []


def test_no_package_imports_another_that_imports_it():
    assert cycles(package_graph(PACKAGE)) == []


def test_no_module_import_cycles():
    assert cycles(module_graph(PACKAGE)) == []


def test_deferred_upward_entries_are_still_needed():
    """`DEFERRED_UPWARD` only lists imports that exist (each one a reason to keep it short)."""
    used = {(module, ".".join(name.split(".")[:2]))
            for module, path, is_package in _modules(PACKAGE)
            for name, deferred in _imports(module, path, is_package) if deferred}
    assert DEFERRED_UPWARD <= used


def test_every_file_is_at_most_max_lines():
    assert long_files(PACKAGE) == [], (
        f"split each into cohesive modules of at most {MAX_LINES} lines")


def _plant(tmp_path, files: dict) -> pathlib.Path:
    """A fake `albert_keras` in `tmp_path` with these files (path -> source)."""
    root = tmp_path / "albert_keras"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_checks_see_an_upward_import(tmp_path):
    """The checks above can fail: a layer that imports training, at module level or deferred
    (and not listed), and a package with no level, are reported."""
    fake = _plant(tmp_path, {
        "layers/__init__.py": "", "training/__init__.py": "", "training/lamb.py": "",
        "layers/bad.py": "from ..training import lamb\n\ndef f():\n    import albert_keras.training.lamb\n",
        "layers/late.py": "def f():\n    from albert_keras.training.lamb import Lamb\n",
        "extra/__init__.py": ""})
    levels = {"layers": 1, "training": 4}
    assert upward_imports(fake, levels, {("albert_keras.layers.late", "albert_keras.training")}) == [
        "albert_keras.layers.bad -> albert_keras.training",
        "albert_keras.layers.bad -> albert_keras.training (deferred)"]
    assert unranked(fake, levels) == {"extra"}


def test_the_checks_see_a_package_cycle(tmp_path):
    """Two packages on one level that import each other (no upward import), through a relative
    import and an `__init__`, and a module-level cycle inside one package."""
    fake = _plant(tmp_path, {
        "data/__init__.py": "from albert_keras.convert import weights\n",
        "convert/__init__.py": "", "convert/weights.py": "from ..data import a\n",
        "data/a.py": "from albert_keras.data import b\n", "data/b.py": "from . import c\n",
        "data/c.py": "import albert_keras.data.a\n",
        "data/d.py": "def f():\n    from albert_keras.convert import weights\n",
        "utils/__init__.py": "", "utils/ok.py": "def f():\n    import albert_keras.data\n"})
    levels = {"utils": 0, "data": 3, "convert": 3}
    assert upward_imports(fake, levels) == [
        "albert_keras.utils.ok -> albert_keras.data (deferred)"]
    assert cycles(package_graph(fake)) == [["convert", "data"]]
    assert cycles(module_graph(fake)) == [
        ["albert_keras.data.a", "albert_keras.data.b", "albert_keras.data.c"]]
    (fake / "data" / "__init__.py").write_text("")  # Deferred imports make no cycle.
    assert cycles(package_graph(fake)) == []


def test_the_line_check_sees_a_long_file(tmp_path):
    """The check above can fail: a planted 301-line module is named with its count; 300 lines,
    and a long file outside the package, pass."""
    fake = _plant(tmp_path, {"layers/__init__.py": "", "layers/long.py": "x = 1\n" * 301,
                             "layers/full.py": "x = 1\n" * 300})
    (tmp_path / "outside.py").write_text("x = 1\n" * 400)
    assert long_files(fake) == ["albert_keras/layers/long.py: 301 lines"]
    (fake / "layers" / "long.py").write_text("x = 1\n" * 300)
    assert long_files(fake) == []


def test_pretrain_does_not_prepare_records():
    """Records are prepared by the prepare job, not from inside `pretrain` (even deferred)."""
    runners = ("albert_keras.pretraining_data.prepare.", "albert_keras.pretraining_data.runners.")
    importers = {module for module, path, is_package in _modules(PACKAGE)
                 for name, _ in _imports(module, path, is_package)
                 if (name + ".").startswith(runners)}
    assert "albert_keras.jobs.pretrain" not in importers
    # The prepare job (`prepare_records`: task text, then records), which the CLI,
    # `prepare_and_pretrain` and `compare` call.
    assert "albert_keras.jobs.task_corpus" in importers

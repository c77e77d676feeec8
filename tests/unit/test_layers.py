"""The package's layers, read from the source: each layer imports only the layers below it,
the kernels import nothing but numpy, scipy, numba and the standard library, no module imports
itself back through others, and only the engine knows which backend it is on."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "spark_em"
LAYERS = ["kernels", "engine", "io", "models", "ml", "mlflow", "cli"]
# What each layer may import from spark_em: itself, the layers below it, and the errors.
ALLOWED = {layer: {"errors", *LAYERS[: i + 1]} for i, layer in enumerate(LAYERS)}
ALLOWED["cli"] -= {"ml", "mlflow"}  # the jobs use the library, not the estimators
KERNEL_PACKAGES = {"numpy", "scipy", "numba"}
# Where data are kept and passes made: names only the engine may use.
ENGINE_ONLY = {
    "is_frame",
    "rdd",
    "treeAggregate",
    "treeReduce",
    "mapPartitions",
    "mapPartitionsWithIndex",
    "parallelize",
    "broadcast",
    "sparkContext",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports(tree: ast.Module) -> set[str]:
    """Every module a file imports, at the top or inside functions (``from a import b`` is
    ``a.b`` when b is a module)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(
                    child
                    if node.module.startswith("spark_em") and is_module(child)
                    else node.module
                )
    return found


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_is_in_a_layer():
    outside = {name for name in modules() if layer_of(name) is None}
    assert outside == {"spark_em", "spark_em.errors", "spark_em._version"}


def test_layers_import_only_what_is_below():
    wrong = []
    for name, tree in modules().items():
        layer = layer_of(name)
        if layer is None:
            continue
        for imported in imports(tree):
            if imported.startswith("spark_em"):
                target = imported.split(".")[1] if "." in imported else "spark_em"
                if target not in ALLOWED[layer]:
                    wrong.append(f"{name} imports {imported}")
    assert wrong == []


def test_kernels_use_only_numpy_scipy_numba_and_the_standard_library():
    wrong = []
    for name, tree in modules().items():
        if layer_of(name) != "kernels":
            continue
        for imported in imports(tree):
            top = imported.split(".")[0]
            if imported.startswith("spark_em.kernels"):
                continue
            if top not in KERNEL_PACKAGES and top not in sys.stdlib_module_names:
                wrong.append(f"{name} imports {imported}")
    assert wrong == []


# Imports by name at run time hide a dependency from the checks above.
STRING_IMPORTS = {"import_module", "__import__", "spec_from_file_location", "module_from_spec"}


def string_imports(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, function) of every call that imports a module by its name."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            called = node.func
            used = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", None)
            if used in STRING_IMPORTS:
                found.append((node.lineno, used))
    return found


def test_no_import_by_string():
    """Every module is imported by an import statement, where the layer checks see it."""
    wrong = [
        f"{name}:{line} calls {used}"
        for name, tree in modules().items()
        for line, used in string_imports(tree)
    ]
    assert wrong == []


def test_string_imports_are_seen():
    source = (
        "import importlib\n"
        "from importlib import import_module\n"
        "importlib.import_module('spark_em.mlflow')\n"
        "import_module('spark_em.mlflow')\n"
        "__import__('spark_em.ml')\n"
    )
    assert string_imports(ast.parse(source)) == [
        (3, "import_module"),
        (4, "import_module"),
        (5, "__import__"),
    ]


def test_no_import_cycle():
    graph = {
        name: {i for i in imports(tree) if i.startswith("spark_em") and i != name}
        for name, tree in modules().items()
    }
    state: dict[str, int] = {}  # 1: on the path, 2: done
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt in graph and nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_only_the_engine_knows_the_backend():
    """Outside the engine: no RDD or broadcast operations, no ``is_frame``, and
    ``backend_for`` only in loading entry points that take a ``backend`` argument."""
    wrong = []
    for name, tree in modules().items():
        if layer_of(name) in (None, "engine"):
            continue
        for node in ast.walk(tree):
            used = (
                node.attr
                if isinstance(node, ast.Attribute)
                else node.id
                if isinstance(node, ast.Name)
                else None
            )
            if used in ENGINE_ONLY:
                wrong.append(f"{name}:{node.lineno} uses {used}")
        for function in ast.walk(tree):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            arguments = {a.arg for a in function.args.args + function.args.kwonlyargs}
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Name)
                    and node.id == "backend_for"
                    and "backend" not in arguments
                ):
                    wrong.append(f"{name}:{node.lineno} chooses a backend in {function.name}")
    assert wrong == []

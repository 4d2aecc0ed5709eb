"""The import direction of docs/architecture.md, read from the source with ``ast``: handler → api → operations →
(tasks, auth, ratelimit) → (storage, tenancy) → kernel. A module that imports against it fails here, with the line."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "eraser" / "eraser"
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))

# What the engine, storage and tenancy may never import: the layers above them.
ABOVE_THE_DOMAIN = ("eraser.auth", "eraser.ratelimit", "eraser.api", "eraser.operations")
# What a handler reaches only through an operation.
BELOW_THE_HANDLERS = ("eraser.tenancy", "eraser.tasks.repository", "eraser.ratelimit", "eraser.storage")


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports (``from a.b import c`` counts as ``a.b`` and ``a.b.c``), with its line."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import"
            module = node.module or ""
            found.append((node.lineno, module))
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def is_within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def violations(paths: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{line} imports {name}"
            for path in paths for line, name in imported_names(path) if is_within(name, forbidden)]


def modules_of(*parts: str) -> list[Path]:
    target = PACKAGE.joinpath(*parts)
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def test_the_walk_sees_the_imports_it_judges():
    # A walk that found nothing would pass every rule below.
    assert any(name == "eraser.storage.gateway" for _, name in imported_names(PACKAGE / "tasks" / "engine.py"))
    assert any(name.startswith("eraser.operations.objects")
               for _, name in imported_names(ROOT / "functions" / "bulk_delete" / "app.py"))
    assert len(modules_of("storage")) > 5 and len(modules_of("tasks")) > 5 and len(HANDLERS) > 15


@pytest.mark.parametrize("part", ["tasks", "storage", "tenancy.py"])
def test_the_engine_storage_and_tenancy_never_import_the_layers_above(part):
    assert violations(modules_of(part), ABOVE_THE_DOMAIN) == []


def test_storage_imports_nothing_of_the_task_engine():
    assert violations(modules_of("storage"), ("eraser.tasks",)) == []


def test_operations_never_import_the_http_edge():
    assert violations(modules_of("operations"), ("eraser.api",)) == []


def test_handlers_never_reach_below_the_operations():
    assert violations(HANDLERS, BELOW_THE_HANDLERS) == []


def route_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    """The functions a Powertools resolver routes to (``@app.get(...)``, ``@app.route(...)``...)."""
    return [node for node in tree.body if isinstance(node, ast.FunctionDef)
            and any(isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                    and isinstance(decorator.func.value, ast.Name) and decorator.func.value.id == "app"
                    for decorator in node.decorator_list)]


def operation_functions(tree: ast.Module) -> set[str]:
    """The local names of the functions a handler imports from ``eraser.operations`` (request models and types,
    capitalized, are not calls to an operation)."""
    return {alias.asname or alias.name for node in tree.body if isinstance(node, ast.ImportFrom)
            and is_within(node.module or "", ("eraser.operations",))
            for alias in node.names if alias.name[0].islower()}


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_every_authenticated_route_calls_an_operation(handler):
    tree = ast.parse(handler.read_text(encoding="utf-8"))
    authenticated = any(is_within(name, ("eraser.auth",)) for _, name in imported_names(handler))
    if not authenticated:
        # The docs, the S3 endpoint's 501 and the engine's own event sources (queues, schedules) act for no caller.
        return
    operations = operation_functions(tree)
    routes = route_functions(tree)
    assert routes, f"{handler.parent.name}: an authenticated handler with no route"
    for route in routes:
        called = {node.func.id for node in ast.walk(route)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in operations}
        assert called, f"{handler.parent.name}.{route.name} calls no function of eraser.operations"

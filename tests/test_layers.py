"""The import direction of the layers: transport -> domain -> storage interface, drivers only in storage."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
WEB = ("starlette", "strawberry", "uvicorn", "httpx", "websockets")
DRIVERS = ("pymongo", "bson", "motor", "gridfs", "obstore")


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def modules(package: str) -> list[Path]:
    return sorted((APP / package).rglob("*.py"))


def violations(package: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in modules(package):
        for name in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden) and not any(
                name == a or name.startswith(a + ".") for a in allowed
            ):
                found.append(f"{path.relative_to(APP.parent)} imports {name}")
    return found


def test_the_domain_imports_no_web_framework_driver_or_transport() -> None:
    assert (
        violations(
            "domain",
            (*WEB, *DRIVERS, "app.transport", "app.storage", "app.asgi", "app.cli"),
            allowed=("app.storage.base",),
        )
        == []
    )


def test_storage_never_reaches_up_into_transports() -> None:
    assert violations("storage", (*WEB, "app.transport", "app.asgi", "app.cli")) == []


def test_transports_see_storage_only_through_its_interface() -> None:
    assert (
        violations("transport", (*DRIVERS, "app.storage", "app.asgi", "app.cli"), allowed=("app.storage.base",)) == []
    )


def test_only_storage_imports_the_database_driver() -> None:
    outside = [path for path in APP.rglob("*.py") if "storage" not in path.relative_to(APP).parts]
    offenders = [
        f"{p.relative_to(APP.parent)} imports {n}" for p in outside for n in imports_of(p) if n.split(".")[0] in DRIVERS
    ]
    assert offenders == []


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module of app/ and the modules of app/ it imports, wherever the import stands (in a function, or under
    `if TYPE_CHECKING:`: a circle hidden there is still a circle in the design)."""
    paths = {module_name(path): path for path in APP.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in paths.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                # `from app.x import y` imports the module app.x.y when there is one, else a name of app.x.
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    imported.add(submodule if submodule in paths else node.module)
        graph[module] = {name for name in imported if name in paths and name != module}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules `start` imports, directly or through others."""
    seen: set[str] = set()
    waiting = list(graph[start])
    while waiting:
        module = waiting.pop()
        if module not in seen:
            seen.add(module)
            waiting.extend(graph[module])
    return seen


def import_circles() -> list[list[str]]:
    """Each group of modules that import each other in a loop: a module is in one when it reaches itself."""
    graph = import_graph()
    reach = {module: reachable(graph, module) for module in graph}
    circles = {
        tuple(sorted(other for other in reach[module] if module in reach[other]))
        for module in graph
        if module in reach[module]
    }
    return sorted(list(circle) for circle in circles)


def test_no_modules_of_the_app_import_each_other_in_a_circle() -> None:
    assert import_circles() == []

"""The import direction of the layers: transport -> domain <- storage, with the storage port in the domain.

Drivers only in storage, web frameworks only in transports, and only the composition (`app/asgi.py`) imports both a
transport and a storage engine. No import circle anywhere in app/.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
WEB = ("starlette", "strawberry", "uvicorn", "websockets")
OUTBOUND = ("httpx",)
"""Clients of other services over HTTP (push providers, webhooks): adapters the domain calls through a port, so they
live in storage with the database drivers, never in the domain or a transport."""
DRIVERS = ("pymongo", "bson", "motor", "gridfs", "obstore", "redis")


def imports_of(path: Path) -> set[str]:
    """The modules a file imports; `from package import module` names the module too."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(
                f"{node.module}.{alias.name}" for alias in node.names if _is_module(f"{node.module}.{alias.name}")
            )
    return names


def _is_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0] != "app":
        return False
    base = APP.joinpath(*parts[1:])
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> list[Path]:
    return sorted((APP / package).rglob("*.py"))


def matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(APP.parent)} imports {name}"
        for path in modules(package)
        for name in sorted(imports_of(path))
        if matches(name, forbidden)
    ]


def test_the_domain_imports_no_web_framework_driver_storage_or_transport() -> None:
    assert (
        violations("domain", (*WEB, *DRIVERS, *OUTBOUND, "app.transport", "app.storage", "app.asgi", "app.cli")) == []
    )


def test_storage_never_reaches_up_into_transports() -> None:
    assert violations("storage", (*WEB, "app.transport", "app.asgi", "app.cli")) == []


def test_transports_never_reach_into_storage() -> None:
    assert violations("transport", (*DRIVERS, *OUTBOUND, "app.storage", "app.asgi", "app.cli")) == []


def test_only_the_composition_imports_both_a_transport_and_storage() -> None:
    both = [
        str(path.relative_to(APP.parent))
        for path in sorted(APP.rglob("*.py"))
        if any(matches(n, ("app.transport",)) for n in imports_of(path))
        and any(matches(n, ("app.storage",)) for n in imports_of(path))
    ]
    assert both == ["app/asgi.py"]


def test_only_storage_imports_the_database_driver() -> None:
    outside = [path for path in APP.rglob("*.py") if "storage" not in path.relative_to(APP).parts]
    offenders = [
        f"{p.relative_to(APP.parent)} imports {n}" for p in outside for n in imports_of(p) if n.split(".")[0] in DRIVERS
    ]
    assert offenders == []


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

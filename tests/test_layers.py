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

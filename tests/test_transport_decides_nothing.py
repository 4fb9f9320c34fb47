"""No module in app/transport/ decides a permission: it never reads what a caller may do, nor branches on a class
that has rules of its own; the domain's services decide (tests/test_service_checks.py lists their checks)."""

from __future__ import annotations

import ast
from pathlib import Path

TRANSPORT = Path(__file__).resolve().parents[1] / "app" / "transport"

CALLER_RIGHTS = {"master", "read_only", "is_authenticated", "roles"}
"""What an `Auth` says about a caller's rights: reading any of them is deciding."""
RULED_CLASSES = {"_User", "_Session", "_Role"}
"""Classes with rules of their own, which live in the domain."""

WIRE_MAPPING = {
    ("app/transport/graphql/builder.py", "_User"): "which `_User` columns GraphQL's generated types show",
}
"""The only spots allowed: each maps the wire, and says why."""


def decisions(source: str) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in CALLER_RIGHTS and isinstance(node.ctx, ast.Load):
            found.append((node.attr, node.lineno))
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for operand in operands:
                if isinstance(operand, ast.Attribute) and operand.attr == "user_id":
                    found.append(("user_id", node.lineno))
                for constant in ast.walk(operand):
                    if isinstance(constant, ast.Constant) and constant.value in RULED_CLASSES:
                        found.append((str(constant.value), node.lineno))
    return found


def test_no_transport_module_decides_a_permission() -> None:
    found = [
        f"{relative}:{line} reads {what}"
        for path in sorted(TRANSPORT.rglob("*.py"))
        for relative in [str(path.relative_to(TRANSPORT.parents[1]))]
        for what, line in decisions(path.read_text())
        if (relative, what) not in WIRE_MAPPING
    ]
    assert found == []


def test_the_check_sees_a_decision() -> None:
    """The check itself: a transport that asked `auth.master` or compared a class name would fail it."""
    source = "if call.auth.master or name == '_User' or user.user_id == auth.user_id:\n    pass\n"
    assert {what for what, _ in decisions(source)} == {"master", "_User", "user_id"}

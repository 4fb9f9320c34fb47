"""Class-level permissions, pointer permissions and protected fields, combined as Parse Server does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.domain.acl import Auth
from app.domain.classes import MASTER_ONLY_CLASSES, READ_OPERATIONS, ClassSchema
from app.domain.values import Pointer
from app.errors import InvalidSessionTokenError, ObjectNotFoundError, OperationForbiddenError, denied

DENY_ALL: Mapping[str, Any] = {"objectId": {"$in": []}}
"""A constraint no object meets: pointer permissions with no user to point at."""


def require_class_access(method: str, class_name: str, auth: Auth) -> None:
    """Classes only the master key may touch, and operations clients may never do (Parse's role security)."""
    if auth.master:
        if auth.read_only and method in ("create", "update", "delete"):
            raise denied(
                OperationForbiddenError,
                f"read-only masterKey isn't allowed to perform the {method} operation.",
            )
        return
    if class_name == "_Installation" and method in ("delete", "find"):
        raise denied(
            OperationForbiddenError,
            f"Clients aren't allowed to perform the {method} operation on the installation collection.",
        )
    if class_name in MASTER_ONLY_CLASSES or class_name.startswith("_Join:"):
        raise denied(
            OperationForbiddenError,
            f"Clients aren't allowed to perform the {method} operation on the {class_name} collection.",
        )


def _allowed(permissions: Mapping[str, Any], auth: Auth, operation: str) -> bool:
    rule = permissions.get(operation)
    if rule is None:
        return True  # no rule for the operation: open (an empty rule {} opens it to nobody)
    if rule.get("*"):
        return True
    return any(rule.get(principal) is True for principal in auth.groups)


def pointer_fields_for(schema: ClassSchema, auth: Auth, operation: str, *, updating: bool = False) -> list[str]:
    """Check the class permission for `operation`; the pointer fields that must name the caller, if any.

    Raises 119 (or 101 when only a login is missing) when the caller may not do it at all.
    """
    if auth.master:
        return []
    permissions = schema.permissions
    if _allowed(permissions, auth, operation):
        return []
    rule = permissions[operation]
    if rule.get("requiresAuthentication"):
        if not auth.is_authenticated:
            raise denied(ObjectNotFoundError, "Permission denied, user needs to be authenticated.")
        return []
    user_fields_key = "readUserFields" if operation in READ_OPERATIONS else "writeUserFields"
    if user_fields_key == "writeUserFields" and operation == "create":
        raise denied(OperationForbiddenError, f"Permission denied for action {operation} on class {schema.name}.")
    fields = list(rule.get("pointerFields") or [])
    for name in permissions.get(user_fields_key) or []:
        if name not in fields:
            fields.append(name)
    if fields and (operation != "addField" or updating):
        return fields
    raise denied(OperationForbiddenError, f"Permission denied for action {operation} on class {schema.name}.")


def session_constraint(class_name: str, auth: Auth) -> Mapping[str, Any]:
    """Sessions carry no ACL: a caller without the master key reaches only the sessions of its own user."""
    if class_name != "_Session" or auth.master:
        return {}
    if auth.user_id is None:
        raise denied(InvalidSessionTokenError, "Invalid session token")
    return {"user": Pointer("_User", auth.user_id)}


def pointer_constraint(schema: ClassSchema, fields: list[str], auth: Auth) -> Mapping[str, Any]:
    """Objects whose pointer fields name the caller: `$or` over the fields, as Parse adds to the query."""
    if not fields:
        return {}
    if auth.user_id is None:
        return DENY_ALL
    me = Pointer("_User", auth.user_id)
    clauses: list[dict[str, Any]] = []
    for name in fields:
        type_ = schema.fields.get(name)
        clauses.append({name: {"$all": [me]}} if type_ and type_.type == "Array" else {name: me})
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def protected_fields(schema: ClassSchema, auth: Auth, record: Mapping[str, Any] | None = None) -> set[str]:
    """The fields hidden from this caller: the intersection of every rule that applies to them."""
    if auth.master:
        return set()
    rules: Mapping[str, Sequence[str]] = schema.permissions.get("protectedFields") or {}
    if schema.server_protected:
        # Parse merges its protectedFields option into each class's own, key by key.
        rules = {
            key: [*rules.get(key, ()), *schema.server_protected.get(key, ())]
            for key in {*rules, *schema.server_protected}
        }
    if not rules:
        return set()
    sets: list[set[str]] = []
    owner_sets: list[set[str]] = []
    for key, names in rules.items():
        if key == "*":
            sets.append(set(names))
        elif key.startswith("userField:"):
            if record is not None and points_to(record.get(key[len("userField:") :]), auth.user_id):
                owner_sets.append(set(names))
        elif auth.is_authenticated and (
            key == "authenticated" or (key.startswith("role:") and key in auth.roles) or key == auth.user_id
        ):
            sets.append(set(names))
    if not sets:
        return set()
    # userField rules only narrow what the other rules hide, for the users an object points to.
    result = sets[0]
    for other in sets[1:] + owner_sets:
        result &= other
    return result


def matches_constraint(record: Mapping[str, Any], constraint: Mapping[str, Any]) -> bool:
    """Whether a record meets a constraint of plain equalities (the session rule's `{"user": me}`)."""
    return all(record.get(key) == value for key, value in constraint.items())


def points_to(value: Any, user_id: str | None) -> bool:
    """Whether a pointer (or an array holding one) names this user."""
    if user_id is None or value is None:
        return False
    if isinstance(value, list):
        return any(isinstance(item, Pointer) and item.object_id == user_id for item in value)
    return isinstance(value, Pointer) and value.object_id == user_id

"""What a caller may see and ask about: the fields a read strips, the protected fields it may not query or sort
by, the classes a client may not touch before they exist, and, by the same rules as a find, which live queries
it may follow and what it is shown of each object a write touched (the live query hub asks here per event).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain import permissions
from app.domain.acl import ACL, Auth
from app.domain.classes import MAINTAINED_FIELDS, SYSTEM_CLASSES, ClassSchema
from app.domain.limits import RequestLimits
from app.domain.queries import QueryOptions, constrained_keys, parse_order, parse_where, require_within_limits
from app.domain.schemas import SchemaRegistry
from app.domain.values import Record
from app.errors import AppError, OperationForbiddenError, denied


async def schema_for(
    schemas: SchemaRegistry, auth: Auth, class_name: str, *, client_class_creation: bool
) -> ClassSchema | None:
    """The class's schema, or None; a client may not touch a class that does not exist unless allowed."""
    schema = await schemas.get(class_name)
    if schema is None and not auth.master and not client_class_creation and class_name not in SYSTEM_CLASSES:
        raise denied(OperationForbiddenError, f"This user is not allowed to access non-existent class: {class_name}")
    return schema


def refuse_protected(schema: ClassSchema, where: Mapping[str, Any], options: QueryOptions, protected: set[str]) -> None:
    """A caller may neither query nor sort by a field protected from it."""
    if not protected:
        return
    for key in constrained_keys(where):
        if key in protected or key.split(".", 1)[0] in protected:
            raise denied(OperationForbiddenError, f"This user is not allowed to query {key} on class {schema.name}")
    for key, _ in parse_order(options.order):
        if key in protected or key.split(".", 1)[0] in protected:
            raise denied(OperationForbiddenError, f"This user is not allowed to sort by {key} on class {schema.name}")


def visible(schema: ClassSchema, auth: Auth, record: Record) -> Record:
    """Strip what this caller may not see: protected fields, internal columns, others' auth data."""
    is_user = schema.name == "_User"
    is_self = is_user and auth.user_id is not None and record.get("objectId") == auth.user_id
    if not auth.master and not is_self:
        for name in permissions.protected_fields(schema, auth, record):
            record.pop(name, None)
    for key in [key for key in record if key.startswith("_")]:
        if not (auth.maintenance and key in MAINTAINED_FIELDS):
            del record[key]
    if is_user:
        record.pop("password", None)
        record.pop("sessionToken", None)
        auth_data = record.get("authData")
        if isinstance(auth_data, dict):
            for provider in [p for p, value in auth_data.items() if value is None]:
                del auth_data[provider]
            if not auth_data or not (auth.master or is_self):
                del record["authData"]
    return record


async def live_query(
    schemas: SchemaRegistry,
    limits: RequestLimits,
    auth: Auth,
    class_name: str,
    where: Any,
    watch: tuple[str, ...] = (),
    *,
    client_class_creation: bool,
) -> tuple[ClassSchema | None, dict[str, Any], str]:
    """Check that `auth` may follow `where` on the class as a find; the class, the decoded constraints,
    and the class operation each event is checked against (`get` when the query names one object)."""
    op = "get" if isinstance(where, Mapping) and list(where) == ["objectId"] else "find"
    permissions.require_class_access(op, class_name, auth)
    require_within_limits(where, limits, auth)
    schema = await schema_for(schemas, auth, class_name, client_class_creation=client_class_creation)
    parsed = parse_where(where, schema, master=auth.master)
    own_sessions = permissions.session_constraint(class_name, auth)
    if own_sessions:
        parsed = {"$and": [parsed, dict(own_sessions)]} if parsed else dict(own_sessions)
    if schema is not None:
        permissions.pointer_fields_for(schema, auth, op)
        protected = permissions.protected_fields(schema, auth)
        refuse_protected(schema, parsed, QueryOptions(), protected)
        for key in watch:
            if key in protected or key.split(".", 1)[0] in protected:
                raise denied(OperationForbiddenError, f"This user is not allowed to watch {key} on class {class_name}")
    return schema, parsed, op


def event_view(schema: ClassSchema, auth: Auth, record: Record, op: str) -> Record | None:
    """What `auth` may see of one object a write touched, or None when it may not read it at all:
    the same class permission, pointer permission, session, ACL and field rules as a find."""
    try:
        permissions.require_class_access(op, schema.name, auth)
        fields = permissions.pointer_fields_for(schema, auth, op)
        if not permissions.matches_constraint(record, permissions.session_constraint(schema.name, auth)):
            return None
    except AppError:
        return None
    if fields and not any(permissions.points_to(record.get(name), auth.user_id) for name in fields):
        return None
    acl = record.get("ACL")
    if isinstance(acl, ACL) and not acl.can_read(auth):
        return None
    view = dict(record)
    if isinstance(view.get("authData"), dict):
        view["authData"] = dict(view["authData"])
    return visible(schema, auth, view)

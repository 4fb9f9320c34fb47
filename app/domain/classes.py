"""Class schemas: field types, the system classes, and the rules for names, types and permissions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon, Relation, js_text
from app.errors import (
    AppError,
    IncorrectTypeError,
    InvalidClassNameError,
    InvalidJSONError,
)

MASTER_ONLY_CLASSES = frozenset(
    {
        "_JobStatus",
        "_PushStatus",
        "_Hooks",
        "_GlobalConfig",
        "_GraphQLConfig",
        "_JobSchedule",
        "_Audience",
        "_Idempotency",
    }
)
# A user's internal fields that only the maintenance key may read, write and query (never the password's hash), as
# in Parse (where the master key may query them too: here it may not, so that nothing can probe for a token).
MAINTAINED_FIELDS = frozenset(
    {
        "_email_verify_token",
        "_email_verify_token_expires_at",
        "_perishable_token",
        "_perishable_token_expires_at",
        "_failed_login_count",
        "_account_lockout_expires_at",
        "_password_changed_at",
        "_password_history",
    }
)
SYSTEM_CLASSES = (
    "_User",
    "_Installation",
    "_Role",
    "_Session",
    "_Product",
    "_PushStatus",
    "_JobStatus",
    "_JobSchedule",
    "_Audience",
    "_Idempotency",
)
# Kept in memory by Parse Server, never in _SCHEMA: the same classes only the master key may touch.
VOLATILE_CLASSES = MASTER_ONLY_CLASSES
PRIMITIVE_TYPES = (
    "Number",
    "String",
    "Boolean",
    "Date",
    "Object",
    "Array",
    "GeoPoint",
    "File",
    "Bytes",
    "Polygon",
)
DEFAULT_FIELD_NAMES = ("objectId", "createdAt", "updatedAt", "ACL")
CLP_OPERATIONS = ("find", "count", "get", "create", "update", "delete", "addField")
CLP_KEYS = ("ACL", *CLP_OPERATIONS, "readUserFields", "writeUserFields", "protectedFields")
READ_OPERATIONS = ("get", "find", "count")

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_JOIN_CLASS = re.compile(r"^_Join:[A-Za-z0-9_]+:[A-Za-z0-9_]+")
_USER_ID = re.compile(r"^[a-zA-Z0-9]+$")

NO_DEFAULT: Any = object()


@dataclass(frozen=True, slots=True)
class FieldType:
    type: str
    target_class: str | None = None
    required: bool = False
    default: Any = NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def same_type(self, other: FieldType) -> bool:
        return self.type == other.type and self.target_class == other.target_class

    def __str__(self) -> str:
        return f"{self.type}<{self.target_class}>" if self.target_class else self.type


def _f(type_: str, target: str | None = None) -> FieldType:
    return FieldType(type_, target)


DEFAULT_FIELDS: dict[str, FieldType] = {
    "objectId": _f("String"),
    "createdAt": _f("Date"),
    "updatedAt": _f("Date"),
    "ACL": _f("ACL"),
}
CLASS_DEFAULT_FIELDS: dict[str, dict[str, FieldType]] = {
    "_User": {
        "username": _f("String"),
        "password": _f("String"),
        "email": _f("String"),
        "emailVerified": _f("Boolean"),
        "authData": _f("Object"),
    },
    "_Installation": {
        "installationId": _f("String"),
        "deviceToken": _f("String"),
        "channels": _f("Array"),
        "deviceType": _f("String"),
        "pushType": _f("String"),
        "GCMSenderId": _f("String"),
        "timeZone": _f("String"),
        "localeIdentifier": _f("String"),
        "badge": _f("Number"),
        "appVersion": _f("String"),
        "appName": _f("String"),
        "appIdentifier": _f("String"),
        "parseVersion": _f("String"),
    },
    "_Role": {"name": _f("String"), "users": _f("Relation", "_User"), "roles": _f("Relation", "_Role")},
    "_Session": {
        "user": _f("Pointer", "_User"),
        "installationId": _f("String"),
        "sessionToken": _f("String"),
        "expiresAt": _f("Date"),
        "createdWith": _f("Object"),
    },
    "_Product": {
        "productIdentifier": _f("String"),
        "download": _f("File"),
        "downloadName": _f("String"),
        "icon": _f("File"),
        "order": _f("Number"),
        "title": _f("String"),
        "subtitle": _f("String"),
    },
    "_PushStatus": {
        "pushTime": _f("String"),
        "source": _f("String"),
        "query": _f("String"),
        "payload": _f("String"),
        "title": _f("String"),
        "expiry": _f("Number"),
        "expiration_interval": _f("Number"),
        "status": _f("String"),
        "numSent": _f("Number"),
        "numFailed": _f("Number"),
        "pushHash": _f("String"),
        "errorMessage": _f("Object"),
        "sentPerType": _f("Object"),
        "failedPerType": _f("Object"),
        "sentPerUTCOffset": _f("Object"),
        "failedPerUTCOffset": _f("Object"),
        "count": _f("Number"),
    },
    "_JobStatus": {
        "jobName": _f("String"),
        "source": _f("String"),
        "status": _f("String"),
        "message": _f("String"),
        "params": _f("Object"),
        "finishedAt": _f("Date"),
    },
    "_JobSchedule": {
        "jobName": _f("String"),
        "description": _f("String"),
        "params": _f("String"),
        "startAfter": _f("String"),
        "daysOfWeek": _f("Array"),
        "timeOfDay": _f("String"),
        "lastRun": _f("Number"),
        "repeatMinutes": _f("Number"),
    },
    "_Hooks": {
        "functionName": _f("String"),
        "className": _f("String"),
        "triggerName": _f("String"),
        "url": _f("String"),
    },
    "_GlobalConfig": {"objectId": _f("String"), "params": _f("Object"), "masterKeyOnly": _f("Object")},
    "_GraphQLConfig": {"objectId": _f("String"), "config": _f("Object")},
    "_Audience": {
        "objectId": _f("String"),
        "name": _f("String"),
        "query": _f("String"),
        "lastUsed": _f("Date"),
        "timesUsed": _f("Number"),
    },
    "_Idempotency": {"reqId": _f("String"), "expire": _f("Date")},
}
# Fields a write must carry on these classes (Parse answers 111 "<field> is required.").
REQUIRED_ON_WRITE = {
    "_Product": ("productIdentifier", "icon", "order", "title", "subtitle"),
    "_Role": ("name", "ACL"),
}

PUBLIC_PERMISSIONS: dict[str, Any] = {
    "ACL": {"*": {"read": True, "write": True}},
    **{operation: {"*": True} for operation in CLP_OPERATIONS},
    "protectedFields": {"*": []},
}
EMPTY_PERMISSIONS: dict[str, Any] = {
    **{operation: {} for operation in CLP_OPERATIONS},
    "protectedFields": {},
}


@dataclass(frozen=True, slots=True)
class ClassSchema:
    """One class as stored in `_SCHEMA`: its fields (defaults first), permissions and indexes."""

    name: str
    fields: Mapping[str, FieldType]
    permissions: Mapping[str, Any] = field(default_factory=lambda: PUBLIC_PERMISSIONS)
    indexes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    server_protected: Mapping[str, Sequence[str]] = field(default_factory=dict, compare=False)
    """The server's `protectedFields` for this class (Parse's option, `_User`'s email by default), added to the
    class-level permissions' own when reads strip fields; never stored nor shown in `/schemas`."""
    pointer_fields: frozenset[str] = field(init=False)
    relation_fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "pointer_fields",
            frozenset(name for name, type_ in self.fields.items() if type_.type == "Pointer"),
        )
        object.__setattr__(
            self,
            "relation_fields",
            tuple(name for name, type_ in self.fields.items() if type_.type == "Relation"),
        )

    @classmethod
    def build(
        cls,
        name: str,
        fields: Mapping[str, FieldType],
        permissions: Mapping[str, Any] | None = None,
        indexes: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> ClassSchema:
        """A schema with the default fields of every class and of its system class put first."""
        merged = {**DEFAULT_FIELDS, **CLASS_DEFAULT_FIELDS.get(name, {}), **fields}
        return cls(name, merged, PUBLIC_PERMISSIONS if permissions is None else permissions, indexes or {})

    @property
    def user_fields(self) -> dict[str, FieldType]:
        """The fields beyond the defaults of every class and of this system class."""
        defaults = CLASS_DEFAULT_FIELDS.get(self.name, {})
        return {name: t for name, t in self.fields.items() if name not in DEFAULT_FIELDS and name not in defaults}

    @property
    def fields_as_created(self) -> dict[str, FieldType]:
        """The fields in the order Parse answers the creation of a class with: ids and times, the rest, ACL."""
        head = ["objectId", "updatedAt", "createdAt"]
        order = [*head, *(name for name in self.fields if name not in (*head, "ACL")), "ACL"]
        if self.name == "_User":
            order = [name for name in order if name not in ("authData", "password")] + ["password"]
        return {name: self.fields[name] for name in order if name in self.fields}


def is_valid_class_name(name: str) -> bool:
    return name in SYSTEM_CLASSES or bool(_JOIN_CLASS.match(name)) or is_valid_field_name(name, name)


def is_valid_field_name(name: str, class_name: str | None = None) -> bool:
    if class_name and class_name != "_Hooks" and name == "className":
        return False
    return bool(_NAME.match(name)) and name != "length"


def is_default_field(name: str, class_name: str) -> bool:
    return name in DEFAULT_FIELDS or name in CLASS_DEFAULT_FIELDS.get(class_name, {})


def invalid_class_name_message(name: str) -> str:
    return (
        f"Invalid classname: {name}, classnames can only have alphanumeric characters and _, "
        "and must start with an alpha character "
    )


def require_valid_class_name(name: str) -> None:
    if not is_valid_class_name(name):
        raise InvalidClassNameError(invalid_class_name_message(name))


def type_of(value: Any) -> FieldType | None:
    """The schema type a decoded value implies, or None for null (which leaves the schema alone)."""
    match value:
        case None:
            return None
        case bool():
            return FieldType("Boolean")
        case int() | float():
            return FieldType("Number")
        case str():
            return FieldType("String")
        case datetime():
            return FieldType("Date")
        case Pointer(class_name=target) | ParseObject(class_name=target):
            return FieldType("Pointer", target)
        case Relation(target_class=target):
            return FieldType("Relation", target)
        case GeoPoint():
            return FieldType("GeoPoint")
        case Polygon():
            return FieldType("Polygon")
        case File():
            return FieldType("File")
        case bytes():
            return FieldType("Bytes")
        case list() | tuple():
            return FieldType("Array")
        case _:
            return FieldType("Object")


def field_type_from_json(value: Any) -> FieldType:
    """Validate a field definition as `/schemas` receives it: `{"type", "targetClass", "required", ...}`."""
    if not isinstance(value, Mapping):
        raise InvalidJSONError("invalid JSON")
    type_ = value.get("type")
    target = value.get("targetClass")
    if type_ in ("Pointer", "Relation"):
        if not target:
            raise AppError(f"type {type_} needs a class name", code=135)
        if not isinstance(target, str):
            raise InvalidJSONError("invalid JSON")
        require_valid_class_name(target)
    elif not isinstance(type_, str):
        raise InvalidJSONError("invalid JSON")
    elif type_ not in PRIMITIVE_TYPES:
        raise IncorrectTypeError(f"invalid field type: {type_}")
    else:
        target = None
    required = value.get("required")
    return FieldType(type_, target, required=required is True, default=value.get("defaultValue", NO_DEFAULT))


def require_one_geopoint(class_name: str, fields: Mapping[str, FieldType]) -> None:
    geo = [name for name, type_ in fields.items() if type_.type == "GeoPoint"]
    if len(geo) > 1:
        raise IncorrectTypeError(
            f"currently, only one GeoPoint field may exist in an object. Adding {geo[1]} when {geo[0]} already exists."
        )


def validate_permissions(permissions: Any, fields: Mapping[str, FieldType]) -> None:
    """Check class-level permissions as Parse does, with its messages (code 107 for every fault)."""
    if permissions is None:
        return
    if isinstance(permissions, list | str) and permissions:
        # JavaScript iterates the indexes of an array or string: Parse names index 0 as the bad operation.
        raise InvalidJSONError("0 is not a valid operation for class level permissions")
    if not isinstance(permissions, Mapping):
        raise InvalidJSONError(f"'{js_text(permissions)}' is not a valid value for class level permissions")
    for key, operation in permissions.items():
        if key not in CLP_KEYS:
            raise InvalidJSONError(f"{key} is not a valid operation for class level permissions")
        if key in ("readUserFields", "writeUserFields"):
            if not isinstance(operation, list):
                raise InvalidJSONError(
                    f"'{js_text(operation)}' is not a valid value for class level permissions {key} - must be an array"
                )
            for name in operation:
                _require_user_pointer_field(name, fields, key)
            continue
        if not isinstance(operation, Mapping):
            raise InvalidJSONError(
                f"'{js_text(operation)}' is not a valid value for class level permissions {key} - must be an object"
            )
        if key == "protectedFields":
            _validate_protected_fields(operation, fields)
            continue
        for entity, permit in operation.items():
            if not _is_permission_key(entity):
                raise InvalidJSONError(f"'{entity}' is not a valid key for class level permissions")
            if entity == "pointerFields":
                if not isinstance(permit, list):
                    raise InvalidJSONError(
                        f"'{js_text(permit)}' is not a valid value for {key}[{entity}] - expected an array."
                    )
                for name in permit:
                    _require_user_pointer_field(name, fields, js_text(operation))
            elif key == "ACL":
                _validate_default_acl(permit)
            elif permit is not True:
                raise InvalidJSONError(
                    f"'{js_text(permit)}' is not a valid value for class level permissions acl {key}:{entity}"
                )


def _validate_protected_fields(operation: Mapping[str, Any], fields: Mapping[str, FieldType]) -> None:
    for entity, protected in operation.items():
        if not (
            entity in ("*", "authenticated") or entity.startswith(("role:", "userField:")) or _USER_ID.match(entity)
        ):
            raise InvalidJSONError(f"'{entity}' is not a valid key for class level permissions")
        if not isinstance(protected, list):
            raise InvalidJSONError(
                f"'{js_text(protected)}' is not a valid value for protectedFields[{entity}] - expected an array."
            )
        for name in protected:
            if name in DEFAULT_FIELDS:
                raise InvalidJSONError(f"Default field '{name}' can not be protected")
            if name not in fields:
                raise InvalidJSONError(f"Field '{name}' in protectedFields:{entity} does not exist")


def _validate_default_acl(permit: Any) -> None:
    if not isinstance(permit, Mapping):
        raise InvalidJSONError(f"'{js_text(permit)}' is not a valid value for class level permissions acl")
    bad_keys = [k for k in permit if k not in ("read", "write")]
    if bad_keys:
        raise InvalidJSONError(f"'{','.join(bad_keys)}' is not a valid key for class level permissions acl")
    bad_values = [js_text(v) for v in permit.values() if not isinstance(v, bool)]
    if bad_values:
        raise InvalidJSONError(f"'{','.join(bad_values)}' is not a valid value for class level permissions acl")


def _is_permission_key(entity: str) -> bool:
    return (
        entity in ("pointerFields", "*", "requiresAuthentication")
        or entity.startswith("role:")
        or bool(_USER_ID.match(entity))
    )


def _require_user_pointer_field(name: Any, fields: Mapping[str, FieldType], operation: str) -> None:
    type_ = fields.get(name) if isinstance(name, str) else None
    if not type_ or not ((type_.type == "Pointer" and type_.target_class == "_User") or type_.type == "Array"):
        raise InvalidJSONError(f"'{name}' is not a valid column for class level pointer permissions {operation}")

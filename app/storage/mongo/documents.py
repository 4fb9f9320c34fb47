"""Records as MongoDB documents in Parse Server's layout, and back; changes as update documents."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bson import json_util

from app.domain.acl import ACL
from app.domain.classes import ClassSchema
from app.domain.operations import Add, AddUnique, Delete, Increment, Remove
from app.domain.stored_values import NOT_TYPED, stored_field, stored_nested, typed_value
from app.domain.values import File, GeoPoint, Pointer, Polygon, Record, Relation
from app.errors import InvalidQueryError

_SAFE_INTEGER = 2**53
SPECIAL_KEYS = {
    "objectId": "_id",
    "createdAt": "_created_at",
    "updatedAt": "_updated_at",
    "sessionToken": "_session_token",
}
# Internal fields the domain may read and write by their stored names.
INTERNAL_FIELDS = frozenset(
    {
        "_rperm",
        "_wperm",
        "_hashed_password",
        "_email_verify_token",
        "_perishable_token",
        "_perishable_token_expires_at",
        "_email_verify_token_expires_at",
        "_failed_login_count",
        "_account_lockout_expires_at",
        "_password_changed_at",
        "_password_history",
        "_tombstone",
    }
)


def acl_columns(acl: ACL) -> dict[str, Any]:
    """`_wperm`, `_rperm` and the legacy `_acl` map, as Parse Server writes them."""
    legacy: dict[str, dict[str, bool]] = {}
    for principal in acl.write:
        legacy[principal] = {"w": True}
    for principal in acl.read:
        legacy.setdefault(principal, {})["r"] = True
    return {"_wperm": list(acl.write), "_rperm": list(acl.read), "_acl": legacy}


def to_document(schema: ClassSchema, record: Record) -> dict[str, Any]:
    """A new object as the document Parse Server would insert."""
    document: dict[str, Any] = {"_id": record["objectId"]}
    tail: dict[str, Any] = {}
    for name, value in record.items():
        if name == "objectId" or isinstance(value, Relation):
            continue
        if name == "ACL":
            tail.update(acl_columns(value))
        elif name == "createdAt":
            tail["_created_at"] = value
        elif name == "updatedAt":
            tail["_updated_at"] = value
        elif name in INTERNAL_FIELDS:
            document[name] = value
        elif name == "authData" and schema.name == "_User":
            for provider, data in (value or {}).items():
                if data is not None:
                    document[f"_auth_data_{provider}"] = stored_nested(data)
        else:
            key = stored_key(schema, name, value)
            document[key] = stored_field(value)
    # ACL and timestamps come last, where Parse Server puts them.
    for key in ("_wperm", "_rperm", "_acl", "_created_at", "_updated_at"):
        if key in tail:
            document[key] = tail[key]
    return document


def stored_key(schema: ClassSchema, name: str, value: Any = None) -> str:
    """The column a field lives in: `_p_<name>` for pointers, a few renamed system fields."""
    special = SPECIAL_KEYS.get(name)
    if special:
        return special
    if name in schema.pointer_fields or (isinstance(value, Pointer) and name not in schema.fields):
        return f"_p_{name}"
    return name


def decode_stored(value: Any) -> Any:
    """A stored value nested in a document (or made by a pipeline) as a domain value."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _SAFE_INTEGER else value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, list):
        return [decode_stored(item) for item in value]
    if isinstance(value, dict):
        kind = value.get("__type")
        if kind == "Date" and isinstance(value.get("iso"), datetime | str):
            moment = value["iso"]
            if isinstance(moment, str):
                moment = datetime.fromisoformat(moment)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if kind is not None and (typed := typed_value(kind, value)) is not NOT_TYPED:
            return typed
        return {key: decode_stored(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return value
    try:
        # A BSON value Parse has no type for (ObjectId, Decimal128, Timestamp…, written by other software or
        # made by a pipeline): its relaxed Extended JSON, which every client can read.
        return json_util.default(value, json_util.RELAXED_JSON_OPTIONS)
    except TypeError:
        return str(value)


def from_document(schema: ClassSchema, document: Mapping[str, Any]) -> Record:
    """A stored document as a record, field order kept; relation markers then the ACL go last."""
    record: Record = {}
    fields = schema.fields
    rperm = wperm = None
    for key, value in document.items():
        if key == "_id":
            record["objectId"] = str(value)
        elif key == "_created_at":
            record["createdAt"] = decode_stored(value)
        elif key == "_updated_at":
            record["updatedAt"] = decode_stored(value)
        elif key == "_rperm":
            rperm = value or []
        elif key == "_wperm":
            wperm = value or []
        elif key == "_acl":
            continue
        elif key == "_session_token":
            record["sessionToken"] = value
        elif key.startswith("_p_"):
            name = key[3:]
            type_ = fields.get(name)
            if type_ is None or type_.type != "Pointer" or not isinstance(value, str):
                continue
            class_name, _, object_id = value.partition("$")
            record[name] = Pointer(class_name, object_id)
        elif key.startswith("_auth_data_") and schema.name == "_User":
            record.setdefault("authData", {})[key[len("_auth_data_") :]] = decode_stored(value)
        elif key[0] == "_":
            record[key] = decode_stored(value)
        elif key == "authData" and schema.name == "_User":
            continue
        else:
            type_ = fields.get(key)
            kind = type_.type if type_ else None
            if kind == "File" and isinstance(value, str):
                record[key] = File(value)
            elif kind == "GeoPoint" and isinstance(value, list) and len(value) == 2:
                record[key] = GeoPoint(value[1], value[0])
            elif kind == "Polygon" and isinstance(value, dict) and value.get("type") == "Polygon":
                record[key] = Polygon(tuple((lat, lng) for lng, lat in value["coordinates"][0]))
            else:
                record[key] = decode_stored(value)
    for name in schema.relation_fields:
        record[name] = Relation(fields[name].target_class or "")
    if rperm is not None or wperm is not None:
        record["ACL"] = ACL(tuple(rperm or ()), tuple(wperm or ()))
    return record


# Updates --------------------------------------------------------------------------------------------


def translate_update(schema: ClassSchema, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Values and operations on fields as a MongoDB update document."""
    update: dict[str, dict[str, Any]] = {}

    def put(operator: str, key: str, value: Any) -> None:
        update.setdefault(operator, {})[key] = value

    for name, change in changes.items():
        if name == "ACL":
            if change is None or isinstance(change, Delete):
                for key in ("_rperm", "_wperm", "_acl"):
                    put("$unset", key, "")
            else:
                for key, value in acl_columns(change).items():
                    put("$set", key, value)
            continue
        if name == "authData" and schema.name == "_User":
            for provider, data in (change or {}).items():
                if data is None:
                    put("$unset", f"_auth_data_{provider}", "")
                else:
                    put("$set", f"_auth_data_{provider}", stored_nested(data))
            continue
        if name in INTERNAL_FIELDS or "." in name:
            key = name
        else:
            key = stored_key(schema, name, change)
        nested = "." in name
        match change:
            case Delete():
                put("$unset", key, "")
            case Increment(amount=amount):
                put("$inc", key, amount)
            case Add(objects=objects):
                put("$push", key, {"$each": [stored_nested(item) for item in objects]})
            case AddUnique(objects=objects):
                put("$addToSet", key, {"$each": [stored_nested(item) for item in objects]})
            case Remove(objects=objects):
                put("$pullAll", key, [stored_nested(item) for item in objects])
            case _:
                put("$set", key, stored_nested(change) if nested else stored_field(change))
    if not update:
        raise InvalidQueryError("nothing to update")
    return update

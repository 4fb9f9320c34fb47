"""Parse's GraphQL scalars: what a client sends becomes Parse's JSON encoding, what leaves is plain JSON."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from graphql import GraphQLError, GraphQLScalarType, ValueNode
from graphql.language import ObjectValueNode, StringValueNode
from graphql.utilities import value_from_ast_untyped

from app.domain.encoding import Encoder, parse_date
from app.domain.values import File, iso
from app.errors import AppError

# Nested values (inside Object and Any) leave as Parse's REST JSON; file URLs are set by the resolvers.
_JSON = Encoder(lambda name: name)


class InvalidScalarError(ValueError):
    """A value a scalar cannot take; graphql prefixes it with where it was found, as graphql-js does."""


def _invalid(value: Any, kind: str) -> InvalidScalarError:
    return InvalidScalarError(f"{value} is not a valid {kind}")


def _kind(node: ValueNode) -> str:
    """A literal's kind as graphql-js names it (`IntValue`), which Parse's messages show."""
    return "".join(part.capitalize() for part in node.kind.split("_"))


def _literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    return value_from_ast_untyped(node, variables)


def serialize_json(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else _JSON.value(value)


def _parse_object(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    raise _invalid(value, "Object")


def _parse_object_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    if isinstance(node, ObjectValueNode):
        return _literal(node, variables)
    raise _invalid(_kind(node), "Object")


ANY = GraphQLScalarType("Any", serialize=serialize_json, parse_value=lambda value: value, parse_literal=_literal)
OBJECT = GraphQLScalarType(
    "Object", serialize=serialize_json, parse_value=_parse_object, parse_literal=_parse_object_literal
)


def _date_iso(value: Any) -> str:
    try:
        return iso(parse_date(value))
    except AppError:
        raise _invalid(value, "Date") from None


def parse_date_value(value: Any) -> dict[str, str]:
    """A date as a client sends it (ISO text or `{__type, iso}`) in Parse's encoding."""
    if isinstance(value, str):
        return {"__type": "Date", "iso": _date_iso(value)}
    if isinstance(value, dict) and value.get("__type") == "Date" and value.get("iso"):
        return {"__type": "Date", "iso": _date_iso(value["iso"])}
    raise _invalid(value, "Date")


def serialize_date(value: Any) -> str:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("__type") == "Date":
        return str(value.get("iso"))
    raise _invalid(value, "Date")


def _parse_date_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    if isinstance(node, StringValueNode | ObjectValueNode):
        return parse_date_value(_literal(node, variables))
    raise _invalid(_kind(node), "Date")


DATE = GraphQLScalarType(
    "Date", serialize=serialize_date, parse_value=parse_date_value, parse_literal=_parse_date_literal
)


def parse_bytes_value(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        return {"__type": "Bytes", "base64": value}
    if isinstance(value, dict) and value.get("__type") == "Bytes" and isinstance(value.get("base64"), str):
        return {"__type": "Bytes", "base64": value["base64"]}
    raise _invalid(value, "Bytes")


def serialize_bytes(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, str):
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(value, "Bytes") from None
        return value
    raise _invalid(value, "Bytes")


def _parse_bytes_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    if isinstance(node, StringValueNode | ObjectValueNode):
        return parse_bytes_value(_literal(node, variables))
    raise _invalid(_kind(node), "Bytes")


BYTES = GraphQLScalarType(
    "Bytes", serialize=serialize_bytes, parse_value=parse_bytes_value, parse_literal=_parse_bytes_literal
)


def parse_file_value(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"__type": "File", "name": value}
    if (
        isinstance(value, dict)
        and value.get("__type") == "File"
        and isinstance(value.get("name"), str)
        and isinstance(value.get("url"), str | None)
    ):
        return value
    raise _invalid(value, "File")


def serialize_file(value: Any) -> str:
    if isinstance(value, File):
        return value.name
    if isinstance(value, str):
        return value
    raise _invalid(value, "File")


def _parse_file_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    if isinstance(node, StringValueNode):
        return parse_file_value(_literal(node, variables))
    if isinstance(node, ObjectValueNode):
        try:
            return parse_file_value(_literal(node, variables))
        except InvalidScalarError:
            raise _invalid(_kind(node), "File") from None  # graphql-js names the literal's kind, not its value
    raise _invalid(_kind(node), "File")


FILE = GraphQLScalarType(
    "File", serialize=serialize_file, parse_value=parse_file_value, parse_literal=_parse_file_literal
)


def _no_upload_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Any:
    raise GraphQLError("Upload values come from the files of a multipart request, not from the query text.")


def _no_upload_output(value: Any) -> Any:
    raise GraphQLError("Upload is an input-only type.")


UPLOAD = GraphQLScalarType(
    "Upload", serialize=_no_upload_output, parse_value=lambda value: value, parse_literal=_no_upload_literal
)

SCALARS = {scalar.name: scalar for scalar in (ANY, OBJECT, DATE, BYTES, FILE, UPLOAD)}

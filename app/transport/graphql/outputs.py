"""The output types every schema has: ACLs, geo points, files, pages, and the class and field descriptions."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
)

from app.domain.acl import ACL
from app.transport.graphql.ids import to_global_id
from app.transport.graphql.naming import graphql_class_name
from app.transport.graphql.scalars import ANY, DATE

PUBLIC_ACL_VALUE = ACL(("*",), ("*",))
Info = GraphQLResolveInfo


def _field(type_: GraphQLOutputType, description: str, resolve: Any = None) -> GraphQLField:
    return GraphQLField(type_, description=description, resolve=resolve)


def _rules(acl: ACL) -> dict[str, dict[str, bool]]:
    rules: dict[str, dict[str, bool]] = {}
    for principal in acl.read:
        rules.setdefault(principal, {"read": False, "write": False})["read"] = True
    for principal in acl.write:
        rules.setdefault(principal, {"read": False, "write": False})["write"] = True
    return rules


def _users(acl: ACL, _info: Info) -> list[dict[str, Any]] | None:
    users = [
        {"userId": to_global_id("_User", principal), **rule}
        for principal, rule in _rules(acl).items()
        if principal != "*" and not principal.startswith("role:")
    ]
    return users or None


def _roles(acl: ACL, _info: Info) -> list[dict[str, Any]] | None:
    roles = [
        {"roleName": principal[len("role:") :], **rule}
        for principal, rule in _rules(acl).items()
        if principal.startswith("role:")
    ]
    return roles or None


def _public(acl: ACL, _info: Info) -> dict[str, bool] | None:
    return _rules(acl).get("*")


USER_ACL = GraphQLObjectType(
    "UserACL",
    {
        "userId": _field(GraphQLNonNull(GraphQLID), "The user's global id."),
        "read": _field(GraphQLNonNull(GraphQLBoolean), "Whether the user may read the object."),
        "write": _field(GraphQLNonNull(GraphQLBoolean), "Whether the user may change the object."),
    },
    description="One user's access to an object.",
)
ROLE_ACL = GraphQLObjectType(
    "RoleACL",
    {
        "roleName": _field(GraphQLNonNull(GraphQLID), "The role's name."),
        "read": _field(GraphQLNonNull(GraphQLBoolean), "Whether the role may read the object."),
        "write": _field(GraphQLNonNull(GraphQLBoolean), "Whether the role may change the object."),
    },
    description="One role's access to an object.",
)
PUBLIC_ACL = GraphQLObjectType(
    "PublicACL",
    {
        "read": _field(GraphQLBoolean, "Whether anyone may read the object."),
        "write": _field(GraphQLBoolean, "Whether anyone may change the object."),
    },
    description="Everyone's access to an object.",
)
ACL_TYPE = GraphQLObjectType(
    "ACL",
    {
        "users": _field(GraphQLList(GraphQLNonNull(USER_ACL)), "Access for users.", _users),
        "roles": _field(GraphQLList(GraphQLNonNull(ROLE_ACL)), "Access for roles.", _roles),
        "public": _field(PUBLIC_ACL, "Access for everyone.", _public),
    },
    description="Who may read and change an object.",
)

GEO_POINT = GraphQLObjectType(
    "GeoPoint",
    {
        "latitude": _field(GraphQLNonNull(GraphQLFloat), "Degrees north."),
        "longitude": _field(GraphQLNonNull(GraphQLFloat), "Degrees east."),
    },
    description="A point on Earth.",
)
POLYGON = GraphQLList(GraphQLNonNull(GEO_POINT))
FILE_INFO = GraphQLObjectType(
    "FileInfo",
    {
        "name": _field(GraphQLNonNull(GraphQLString), "The stored file's name."),
        "url": _field(GraphQLNonNull(GraphQLString), "Where to download it."),
    },
    description="A stored file.",
)
PAGE_INFO = GraphQLObjectType(
    "PageInfo",
    {
        "hasNextPage": _field(GraphQLNonNull(GraphQLBoolean), "Whether objects follow this page."),
        "hasPreviousPage": _field(GraphQLNonNull(GraphQLBoolean), "Whether objects come before this page."),
        "startCursor": _field(GraphQLString, "The cursor of the page's first object."),
        "endCursor": _field(GraphQLString, "The cursor of the page's last object."),
    },
    description="Where a page of a connection lies (Relay).",
)

CLASS_KEY = "_class"
"""Marks a record handed to GraphQL with its class (records never carry `_` keys otherwise)."""


def class_type_name(value: Any, _info: Info, _abstract: Any) -> str:
    """The object type of a record, for the interfaces and unions every class type belongs to."""
    return graphql_class_name(value[CLASS_KEY])


NODE = GraphQLInterfaceType(
    "Node",
    {
        "id": _field(GraphQLNonNull(GraphQLID), "A global id, unique across classes."),
    },
    resolve_type=class_type_name,
    description="An object that can be fetched by its global id (Relay).",
)
PARSE_OBJECT = GraphQLInterfaceType(
    "ParseObject",
    {
        "objectId": _field(GraphQLNonNull(GraphQLID), "The object's id in its class."),
        "createdAt": _field(GraphQLNonNull(DATE), "When the object was created."),
        "updatedAt": _field(GraphQLNonNull(DATE), "When the object last changed."),
        "ACL": _field(GraphQLNonNull(ACL_TYPE), "Who may read and change the object."),
    },
    resolve_type=class_type_name,
    description="The fields every object has.",
)
ELEMENT = GraphQLObjectType(
    "Element",
    {
        "value": _field(GraphQLNonNull(ANY), "The element's value."),
    },
    description="An element of an Array field that is not an object.",
)

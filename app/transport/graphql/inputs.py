"""The input types every schema has: constraints per field type, ACLs, geo and sub-query inputs."""

from __future__ import annotations

from typing import Any, TypeAlias

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLString,
)

from app.transport.graphql.scalars import ANY, BYTES, DATE, FILE, OBJECT, UPLOAD

NullableInput: TypeAlias = GraphQLScalarType | GraphQLEnumType | GraphQLInputObjectType | GraphQLList[Any]
"""An input type that may be made non-null."""


def _required(type_: NullableInput, description: str | None = None) -> GraphQLInputField:
    return GraphQLInputField(GraphQLNonNull(type_), description=description)


def _optional(type_: GraphQLInputType, description: str | None = None) -> GraphQLInputField:
    return GraphQLInputField(type_, description=description)


def string_input(description: str, required: bool = True) -> GraphQLInputField:
    """A String input field, non-null unless told otherwise (names, passwords, parameters…)."""
    return GraphQLInputField(GraphQLNonNull(GraphQLString) if required else GraphQLString, description=description)


READ_PREFERENCE = GraphQLEnumType(
    "ReadPreference",
    {
        name: GraphQLEnumValue(name)
        for name in ("PRIMARY", "PRIMARY_PREFERRED", "SECONDARY", "SECONDARY_PREFERRED", "NEAREST")
    },
    description="Which members of a replica set a read may be served by.",
)
READ_OPTIONS_INPUT = GraphQLInputObjectType(
    "ReadOptionsInput",
    {
        "readPreference": _optional(READ_PREFERENCE, "For the main query."),
        "includeReadPreference": _optional(READ_PREFERENCE, "For the queries that load included objects."),
        "subqueryReadPreference": _optional(READ_PREFERENCE, "For sub-queries."),
    },
    description="Read preferences of a query.",
)
READ_OPTIONS_ARGUMENT = GraphQLArgument(READ_OPTIONS_INPUT, description="Read preferences of the query.")

GEO_POINT_INPUT = GraphQLInputObjectType(
    "GeoPointInput",
    {
        "latitude": _required(GraphQLFloat, "Degrees north (-90 to 90)."),
        "longitude": _required(GraphQLFloat, "Degrees east (-180 to 180)."),
    },
    description="A point on Earth.",
)
POLYGON_INPUT = GraphQLList(GraphQLNonNull(GEO_POINT_INPUT))

FILE_INPUT = GraphQLInputObjectType(
    "FileInput",
    {
        "file": _optional(FILE, "An existing file: its name, or its name and url."),
        "upload": _optional(UPLOAD, "A new file to store."),
    },
    description="A file for a File field; null unlinks the file (the stored file stays).",
)

USER_ACL_INPUT = GraphQLInputObjectType(
    "UserACLInput",
    {
        "userId": _required(GraphQLID, "The user: a global id or an objectId."),
        "read": _required(GraphQLBoolean, "Whether the user may read the object."),
        "write": _required(GraphQLBoolean, "Whether the user may change the object."),
    },
    description="One user's access to an object.",
)
ROLE_ACL_INPUT = GraphQLInputObjectType(
    "RoleACLInput",
    {
        "roleName": _required(GraphQLString, "The role's name."),
        "read": _required(GraphQLBoolean, "Whether the role's users may read the object."),
        "write": _required(GraphQLBoolean, "Whether the role's users may change the object."),
    },
    description="One role's access to an object.",
)
PUBLIC_ACL_INPUT = GraphQLInputObjectType(
    "PublicACLInput",
    {
        "read": _required(GraphQLBoolean, "Whether anyone may read the object."),
        "write": _required(GraphQLBoolean, "Whether anyone may change the object."),
    },
    description="Everyone's access to an object.",
)
ACL_INPUT = GraphQLInputObjectType(
    "ACLInput",
    {
        "users": _optional(GraphQLList(GraphQLNonNull(USER_ACL_INPUT)), "Access for users."),
        "roles": _optional(GraphQLList(GraphQLNonNull(ROLE_ACL_INPUT)), "Access for roles."),
        "public": _optional(PUBLIC_ACL_INPUT, "Access for everyone."),
    },
    description="Who may read and change an object.",
)

SEARCH_INPUT = GraphQLInputObjectType(
    "SearchInput",
    {
        "term": _required(GraphQLString, "The words to look for."),
        "language": _optional(GraphQLString, "The language that decides stop words and stemming."),
        "caseSensitive": _optional(GraphQLBoolean, "Match the case of the words."),
        "diacriticSensitive": _optional(GraphQLBoolean, "Match diacritics (é is not e)."),
    },
    description="A full-text search.",
)
TEXT_INPUT = GraphQLInputObjectType(
    "TextInput",
    {"search": _required(SEARCH_INPUT, "The search.")},
    description="Full-text search in a text-indexed field.",
)
BOX_INPUT = GraphQLInputObjectType(
    "BoxInput",
    {
        "bottomLeft": _required(GEO_POINT_INPUT, "The south-west corner."),
        "upperRight": _required(GEO_POINT_INPUT, "The north-east corner."),
    },
    description="A rectangle of latitudes and longitudes.",
)
WITHIN_INPUT = GraphQLInputObjectType(
    "WithinInput", {"box": _required(BOX_INPUT, "The rectangle.")}, description="Points inside a rectangle."
)
CENTER_SPHERE_INPUT = GraphQLInputObjectType(
    "CenterSphereInput",
    {
        "center": _required(GEO_POINT_INPUT, "The centre."),
        "distance": _required(GraphQLFloat, "The radius, in radians."),
    },
    description="A circle on the sphere.",
)
GEO_WITHIN_INPUT = GraphQLInputObjectType(
    "GeoWithinInput",
    {
        "polygon": _optional(POLYGON_INPUT, "Points inside this polygon."),
        "centerSphere": _optional(CENTER_SPHERE_INPUT, "Points inside this circle."),
    },
    description="Points inside a shape.",
)
GEO_INTERSECTS_INPUT = GraphQLInputObjectType(
    "GeoIntersectsInput",
    {
        "point": _optional(GEO_POINT_INPUT, "The point the polygon must contain."),
    },
    description="Polygons that contain a point.",
)
SUBQUERY_INPUT = GraphQLInputObjectType(
    "SubqueryInput",
    {
        "className": _required(GraphQLString, "The class to query."),
        "where": _required(OBJECT, "Its constraints, in Parse's REST form."),
    },
    description="A query of another class.",
)
SELECT_INPUT = GraphQLInputObjectType(
    "SelectInput",
    {
        "query": _required(SUBQUERY_INPUT, "The query."),
        "key": _required(GraphQLString, "The field of its results to compare with."),
    },
    description="The values of one field in the results of another query.",
)
KEY_VALUE_INPUT = GraphQLInputObjectType(
    "KeyValueInput",
    {
        "key": _required(GraphQLString, "A path inside the object, such as a.b."),
        "value": _required(ANY, "The value to compare with."),
    },
    description="A value at a path inside an Object field.",
)


def _comparisons(type_: GraphQLInputType, *, order: bool = True) -> dict[str, GraphQLInputField]:
    fields = {
        "equalTo": _optional(type_, "Equal to this value."),
        "notEqualTo": _optional(type_, "Not equal to this value."),
    }
    if order:
        fields.update(
            {
                "lessThan": _optional(type_, "Less than this value."),
                "lessThanOrEqualTo": _optional(type_, "Less than or equal to this value."),
                "greaterThan": _optional(type_, "Greater than this value."),
                "greaterThanOrEqualTo": _optional(type_, "Greater than or equal to this value."),
                "in": _optional(GraphQLList(type_), "Equal to one of these values."),
                "notIn": _optional(GraphQLList(type_), "Equal to none of these values."),
            }
        )
    return fields


EXISTS = _optional(GraphQLBoolean, "Whether the field has a value.")
MATCHES_REGEX = _optional(GraphQLString, "Matches this regular expression (PCRE).")
OPTIONS = _optional(GraphQLString, "Options for matchesRegex: i, m, x, s.")
IN_QUERY_KEY = _optional(SELECT_INPUT, "Equal to a value another query selects.")
NOT_IN_QUERY_KEY = _optional(SELECT_INPUT, "Equal to no value another query selects.")


def _where(
    name: str, description: str, fields: dict[str, GraphQLInputField], *, subqueries: bool = True
) -> GraphQLInputObjectType:
    if subqueries:
        fields = {**fields, "inQueryKey": IN_QUERY_KEY, "notInQueryKey": NOT_IN_QUERY_KEY}
    return GraphQLInputObjectType(name, fields, description=description)


ID_WHERE_INPUT = _where(
    "IdWhereInput", "Constraints on an id (global ids or objectIds).", {**_comparisons(GraphQLID), "exists": EXISTS}
)
STRING_WHERE_INPUT = _where(
    "StringWhereInput",
    "Constraints on a String field.",
    {
        **_comparisons(GraphQLString),
        "exists": EXISTS,
        "matchesRegex": MATCHES_REGEX,
        "options": OPTIONS,
        "text": _optional(TEXT_INPUT, "Full-text search."),
    },
)
NUMBER_WHERE_INPUT = _where(
    "NumberWhereInput", "Constraints on a Number field.", {**_comparisons(GraphQLFloat), "exists": EXISTS}
)
BOOLEAN_WHERE_INPUT = _where(
    "BooleanWhereInput",
    "Constraints on a Boolean field.",
    {**_comparisons(GraphQLBoolean, order=False), "exists": EXISTS},
)
ARRAY_WHERE_INPUT = _where(
    "ArrayWhereInput",
    "Constraints on an Array field.",
    {
        **_comparisons(ANY),
        "exists": EXISTS,
        "containedBy": _optional(GraphQLList(ANY), "Every element is one of these values."),
        "contains": _optional(GraphQLList(ANY), "Contains all of these values."),
    },
)
OBJECT_WHERE_INPUT = _where(
    "ObjectWhereInput",
    "Constraints on values inside an Object field.",
    {
        "equalTo": _optional(KEY_VALUE_INPUT, "The value at the path equals this."),
        "notEqualTo": _optional(KEY_VALUE_INPUT, "The value at the path does not equal this."),
        "in": _optional(GraphQLList(KEY_VALUE_INPUT), "The value at the path is one of these."),
        "notIn": _optional(GraphQLList(KEY_VALUE_INPUT), "The value at the path is none of these."),
        "lessThan": _optional(KEY_VALUE_INPUT, "The value at the path is less than this."),
        "lessThanOrEqualTo": _optional(KEY_VALUE_INPUT, "The value at the path is at most this."),
        "greaterThan": _optional(KEY_VALUE_INPUT, "The value at the path is greater than this."),
        "greaterThanOrEqualTo": _optional(KEY_VALUE_INPUT, "The value at the path is at least this."),
        "exists": EXISTS,
    },
)
DATE_WHERE_INPUT = _where("DateWhereInput", "Constraints on a Date field.", {**_comparisons(DATE), "exists": EXISTS})
BYTES_WHERE_INPUT = _where(
    "BytesWhereInput", "Constraints on a Bytes field.", {**_comparisons(BYTES), "exists": EXISTS}
)
FILE_WHERE_INPUT = _where(
    "FileWhereInput",
    "Constraints on a File field (by file name).",
    {
        **_comparisons(FILE),
        "exists": EXISTS,
        "matchesRegex": MATCHES_REGEX,
        "options": OPTIONS,
    },
)
GEO_POINT_WHERE_INPUT = _where(
    "GeoPointWhereInput",
    "Constraints on a GeoPoint field.",
    {
        "exists": EXISTS,
        "nearSphere": _optional(GEO_POINT_INPUT, "Nearest to this point first."),
        "maxDistance": _optional(GraphQLFloat, "With nearSphere: at most this far, in radians."),
        "maxDistanceInRadians": _optional(GraphQLFloat, "With nearSphere: at most this far, in radians."),
        "maxDistanceInMiles": _optional(GraphQLFloat, "With nearSphere: at most this far, in miles."),
        "maxDistanceInKilometers": _optional(GraphQLFloat, "With nearSphere: at most this far, in kilometres."),
        "within": _optional(WITHIN_INPUT, "Inside a rectangle."),
        "geoWithin": _optional(GEO_WITHIN_INPUT, "Inside a polygon or a circle."),
    },
    subqueries=False,
)
POLYGON_WHERE_INPUT = _where(
    "PolygonWhereInput",
    "Constraints on a Polygon field.",
    {
        "exists": EXISTS,
        "geoIntersects": _optional(GEO_INTERSECTS_INPUT, "Contains a point."),
    },
    subqueries=False,
)

WHERE_INPUTS = {
    "String": STRING_WHERE_INPUT,
    "Number": NUMBER_WHERE_INPUT,
    "Boolean": BOOLEAN_WHERE_INPUT,
    "Array": ARRAY_WHERE_INPUT,
    "Object": OBJECT_WHERE_INPUT,
    "Date": DATE_WHERE_INPUT,
    "File": FILE_WHERE_INPUT,
    "GeoPoint": GEO_POINT_WHERE_INPUT,
    "Polygon": POLYGON_WHERE_INPUT,
    "Bytes": BYTES_WHERE_INPUT,
    "ACL": OBJECT_WHERE_INPUT,
}
"""The constraint input of each field type (pointers and relations get per-class inputs)."""

VALUE_INPUTS: dict[str, NullableInput] = {
    "String": GraphQLString,
    "Number": GraphQLFloat,
    "Boolean": GraphQLBoolean,
    "Array": GraphQLList(ANY),
    "Object": OBJECT,
    "Date": DATE,
    "File": FILE_INPUT,
    "GeoPoint": GEO_POINT_INPUT,
    "Polygon": POLYGON_INPUT,
    "Bytes": BYTES,
    "ACL": ACL_INPUT,
}
"""The value input of each field type in create and update mutations."""

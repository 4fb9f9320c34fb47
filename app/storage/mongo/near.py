"""Finds by distance on MongoDB: `$nearSphere` run as a `$geoNear` stage, which sorts on every engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

from app.domain.classes import ClassSchema
from app.storage.mongo.classes import ensure_index
from app.storage.mongo.connection import Connection

_DISTANCE = "_parseql_distance"  # where $geoNear writes each distance, projected away before decoding


async def find_near(
    connection: Connection,
    schema: ClassSchema,
    collection: AsyncCollection[dict[str, Any]],
    near: tuple[str, dict[str, Any], dict[str, Any]],
    options: dict[str, Any],
) -> list[dict[str, Any]]:
    """A find by distance, nearest first, as a `$geoNear` stage: SecantusDB answers `$nearSphere` in
    a find unsorted (and without a geo index, silently), while `$geoNear` sorts on both databases."""
    field, constraint, rest = near
    point = constraint["$nearSphere"]
    if "$maxDistance" in constraint:
        # As a query, not $geoNear's maxDistance, which SecantusDB reads in meters and MongoDB in radians.
        within = {"$geoWithin": {"$centerSphere": [point, constraint["$maxDistance"]]}}
        rest = {**rest, field: {**rest.get(field, {}), **within}}
    stage = {"near": point, "distanceField": _DISTANCE, "spherical": True, "key": field, "query": rest}
    pipeline: list[dict[str, Any]] = [{"$geoNear": stage}]
    if "sort" in options:
        pipeline.append({"$sort": dict(options["sort"])})
    if "skip" in options:
        pipeline.append({"$skip": options["skip"]})
    if "limit" in options:
        pipeline.append({"$limit": options["limit"]})
    pipeline.append({"$project": options.get("projection") or {_DISTANCE: 0}})
    extra = {key: options[key] for key in ("hint", "comment") if key in options}
    # Parse Server builds a 2d index the first time a class is queried by distance; $geoNear needs it.
    await ensure_index(connection.collection(schema.name), [(field, "2d")])
    try:
        async with connection.read():
            cursor = await collection.aggregate(pipeline, session=connection.session(), **extra, **connection.limit())
            return await cursor.to_list()
    except OperationFailure as error:
        raise connection.query_error(error) from None


def geo_field(where: Mapping[str, Any]) -> str | None:
    """The field a filter asks to be near, at the top level or in an `$and`; None when there is none."""
    for key, value in where.items():
        if key == "$and":
            for sub in value:
                found = geo_field(sub)
                if found:
                    return found
        elif isinstance(value, dict) and "$nearSphere" in value:
            return key
    return None


def split_near(where: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """The field a filter asks to be near, its `$nearSphere` constraint, and the filter without it; None
    when no `$nearSphere` stands at the top level or in a top-level `$and` (the only places MongoDB takes it)."""
    for key, value in where.items():
        if isinstance(value, dict) and "$nearSphere" in value:
            rest = {k: v for k, v in where.items() if k != key}
            others = {op: v for op, v in value.items() if op not in ("$nearSphere", "$maxDistance")}
            if others:
                rest[key] = others
            return key, value, rest
    ands = where.get("$and")
    if isinstance(ands, list):
        for index, sub in enumerate(ands):
            found = split_near(sub) if isinstance(sub, dict) else None
            if found is not None:
                field, constraint, sub_rest = found
                rest = {**where, "$and": [*ands[:index], sub_rest, *ands[index + 1 :]]}
                return field, constraint, rest
    return None

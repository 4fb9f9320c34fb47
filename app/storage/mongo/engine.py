"""MongoStorage: the storage port over pymongo's asyncio client, in Parse Server's MongoDB format.

The objects' operations are here; classes, relations, config and request ids are each their own module, on the same
`Connection` (the client, the task's transaction and the query time limit).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from bson import json_util
from bson.errors import InvalidDocument
from pymongo import ReadPreference, ReturnDocument
from pymongo.errors import DuplicateKeyError, OperationFailure

from app.domain.classes import ClassSchema
from app.domain.store import Capabilities, Find
from app.domain.values import Record
from app.errors import InvalidQueryError
from app.storage.mongo.classes import CASE_INSENSITIVE, MongoClasses, ensure_index
from app.storage.mongo.connection import Connection
from app.storage.mongo.documents import from_document, stored_key, to_document, translate_update
from app.storage.mongo.errors import duplicate, is_timeout, message
from app.storage.mongo.global_config import MongoConfig
from app.storage.mongo.near import find_near, geo_field, split_near
from app.storage.mongo.pipelines import from_aggregate_result, translate_pipeline
from app.storage.mongo.queries import translate_keys, translate_sort, translate_where
from app.storage.mongo.reachability import guarded_methods, insert_once
from app.storage.mongo.relations import MongoRelations
from app.storage.mongo.request_ids import MongoRequestIds

_READ_PREFERENCES = {
    "PRIMARY": ReadPreference.PRIMARY,
    "PRIMARY_PREFERRED": ReadPreference.PRIMARY_PREFERRED,
    "SECONDARY": ReadPreference.SECONDARY,
    "SECONDARY_PREFERRED": ReadPreference.SECONDARY_PREFERRED,
    "NEAREST": ReadPreference.NEAREST,
}
_GEO_INDEX_MISSING = (17007, 291)


@guarded_methods
class MongoStorage:
    """Parse Server's MongoDB format; the only class that talks to the driver. Every public method answers an
    unreachable database as `DatabaseUnavailableError` (see `reachability`), and so do those of its parts
    (`classes`, `relations`, `config`, `request_ids`)."""

    def __init__(
        self, uri: str, *, server_selection_timeout_ms: int = 10_000, max_query_time: float | None = None
    ) -> None:
        self.connection = Connection(
            uri, server_selection_timeout_ms=server_selection_timeout_ms, max_query_time=max_query_time
        )
        self.client = self.connection.client
        self.db = self.connection.db
        self.reachability = self.connection.reachability
        self.classes = MongoClasses(self.connection)
        self.relations = MongoRelations(self.connection)
        self.config = MongoConfig(self.connection)
        self.request_ids = MongoRequestIds(self.connection)
        self._capabilities: Capabilities | None = None

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> None:
        await self.reachability.require()

    async def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            async with self.connection.read():
                info = await self.db.command("buildInfo", **self.connection.limit())
            # SecantusDB says so in buildInfo; it matches `$regex` with Python's `re`, unbounded.
            secantus = "secantusVersion" in info
            self._capabilities = Capabilities(
                engine="SecantusDB" if secantus else "MongoDB",
                bounded_pattern_matching=not secantus,
                pipeline_stages=None,
                query_plans=True,
                index_hints=True,
                read_preferences=True,
                comments=True,
            )
        return self._capabilities

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        async with self.connection.transaction():
            yield

    # Objects ----------------------------------------------------------------------------------------

    async def purge(self, schema: ClassSchema) -> None:
        await self.connection.collection(schema.name).delete_many({}, session=self.connection.session())

    def _filter(
        self, schema: ClassSchema, query: Find, *, count: bool = False, acl_key: str = "_rperm"
    ) -> dict[str, Any]:
        where = translate_where(schema, query.where, count=count)
        if query.acl is not None:
            # A missing ACL column means public: `null` matches it.
            restriction = {acl_key: {"$in": [None, *sorted(query.acl)]}}
            where = {"$and": [where, restriction]} if acl_key in where else {**where, **restriction}
        return where

    async def find(self, schema: ClassSchema, query: Find) -> list[Record]:
        if query.limit == 0:
            return []
        options: dict[str, Any] = {}
        if query.keys is not None:
            options["projection"] = translate_keys(schema, query.keys)
        if query.order:
            options["sort"] = translate_sort(schema, query.order)
        if query.skip:
            options["skip"] = query.skip
        if query.limit is not None:
            options["limit"] = query.limit
        if query.hint is not None:
            options["hint"] = list(query.hint.items()) if isinstance(query.hint, Mapping) else query.hint
        if query.comment is not None:
            options["comment"] = query.comment
        if query.case_insensitive:
            options["collation"] = CASE_INSENSITIVE
        options.update(self.connection.limit("max_time_ms"))
        where = self._filter(schema, query, acl_key="_wperm" if query.for_write else "_rperm")
        collection = self.connection.collection(schema.name)
        if query.read_preference:
            collection = collection.with_options(read_preference=_READ_PREFERENCES[query.read_preference])
        near = split_near(where)
        if near is not None:
            documents = await find_near(self.connection, schema, collection, near, options)
            return [from_document(schema, document) for document in documents]
        try:
            async with self.connection.read():
                documents = await collection.find(where, **options, session=self.connection.session()).to_list()
        except OperationFailure as error:
            field = geo_field(query.where) if error.code in _GEO_INDEX_MISSING or "geoNear" in str(error) else None
            if field is None:
                raise self.connection.query_error(error) from None
            # Parse Server builds a 2d index the first time a class is queried by distance.
            await ensure_index(self.connection.collection(schema.name), [(field, "2d")])
            async with self.connection.read():
                found = self.connection.collection(schema.name).find(
                    where, **options, session=self.connection.session()
                )
                documents = await found.to_list()
        return [from_document(schema, document) for document in documents]

    async def explain(self, schema: ClassSchema, query: Find) -> dict[str, Any]:
        options: dict[str, Any] = {"limit": query.limit or 0, "skip": query.skip}
        if query.order:
            options["sort"] = translate_sort(schema, query.order)
        options.update(self.connection.limit("max_time_ms"))
        try:
            async with self.connection.read():
                plan = (
                    await self.connection.collection(schema.name).find(self._filter(schema, query), **options).explain()
                )
        except OperationFailure as error:
            if is_timeout(error):
                raise self.connection.timed_out() from None
            raise InvalidQueryError(message(error)) from None
        # BSON types (timestamps, ObjectIds) as relaxed extended JSON, which any JSON encoder takes.
        return dict(json.loads(json_util.dumps(plan)))

    async def count(self, schema: ClassSchema, query: Find) -> int:
        try:
            async with self.connection.read():
                return await self.connection.collection(schema.name).count_documents(
                    self._filter(schema, query, count=True),
                    session=self.connection.session(),
                    **self.connection.limit(),
                )
        except OperationFailure as error:
            raise self.connection.query_error(error) from None

    async def distinct(self, schema: ClassSchema, field: str, query: Find) -> list[Any]:
        key = stored_key(schema, field)
        try:
            async with self.connection.read():
                values = await self.connection.collection(schema.name).distinct(
                    key, self._filter(schema, query), session=self.connection.session(), **self.connection.limit()
                )
        except OperationFailure as error:
            raise self.connection.query_error(error) from None
        return [value for value in values if value is not None]

    async def aggregate(self, schema: ClassSchema, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stages = translate_pipeline(schema, pipeline)
        pointer_group = any(
            isinstance(s.get("$group", {}).get("_id"), str) and "$_p_" in s["$group"]["_id"]
            for s in stages
            if "$group" in s
        )
        try:
            async with self.connection.read():
                cursor = await self.connection.collection(schema.name).aggregate(
                    stages, session=self.connection.session(), **self.connection.limit()
                )
                results = await cursor.to_list()
        except OperationFailure as error:
            if is_timeout(error):
                raise self.connection.timed_out() from None
            # Parse reports every failing pipeline as a bad query, with the database's reason.
            raise InvalidQueryError(message(error)) from None
        except InvalidDocument as error:  # a key BSON cannot hold (a NUL), refused before it is sent
            raise InvalidQueryError(str(error)) from None
        except OverflowError:
            raise InvalidQueryError("A number in the pipeline does not fit in 64 bits.") from None
        return [from_aggregate_result(schema, result, pointer_group) for result in results]

    async def insert(self, schema: ClassSchema, record: Record) -> None:
        try:
            await insert_once(
                self.connection.collection(schema.name), to_document(schema, record), self.connection.session()
            )
        except DuplicateKeyError as error:
            raise duplicate(error) from None

    async def update(
        self,
        schema: ClassSchema,
        object_id: str,
        where: Mapping[str, Any],
        changes: Mapping[str, Any],
        acl: frozenset[str] | None,
    ) -> Record | None:
        query = Find({**where, "objectId": object_id}, acl=acl)
        mongo_filter = self._filter(schema, query, acl_key="_wperm")
        try:
            # The limit bounds finding the object; the write itself is one document, applied whole or not at all.
            document = await self.connection.collection(schema.name).find_one_and_update(
                mongo_filter,
                translate_update(schema, changes),
                return_document=ReturnDocument.BEFORE,
                session=self.connection.session(),
                **self.connection.limit(),
            )
        except DuplicateKeyError as error:
            raise duplicate(error) from None
        except OperationFailure as error:
            raise self.connection.query_error(error) from None
        return None if document is None else from_document(schema, document)

    async def delete(
        self, schema: ClassSchema, object_id: str, where: Mapping[str, Any], acl: frozenset[str] | None
    ) -> bool:
        mongo_filter = self._filter(schema, Find({**where, "objectId": object_id}, acl=acl), acl_key="_wperm")
        result = await self.connection.collection(schema.name).delete_one(
            mongo_filter, session=self.connection.session()
        )
        return result.deleted_count > 0

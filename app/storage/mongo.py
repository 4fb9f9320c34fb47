"""MongoStorage: the Storage seam over pymongo's asyncio client, in Parse Server's layout.

Every read carries the query time limit (`maxTimeMS`, the setting `max_query_time`), and this side stops
waiting a little after it, in case the database does not stop (SecantusDB checks its limit only between
documents); either way the caller gets code 124. Writes carry the limit on their filter where the driver
takes it, and are never cut off from this side: a write abandoned here might still be applied there, and
its outcome would be unknown.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from bson import json_util
from bson.errors import InvalidDocument
from pymongo import AsyncMongoClient, ReadPreference, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.collation import Collation
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from app.domain.classes import ClassSchema, FieldType
from app.domain.values import Record
from app.errors import AppError, DuplicateValueError, InternalError, InvalidQueryError, RequestTimeoutError
from app.storage import catalog
from app.storage.base import Capabilities, Find
from app.storage.deadlines import DeadlineExceeded, Deadlines
from app.storage.encoding import (
    from_aggregate_result,
    from_document,
    stored_key,
    to_document,
    translate_keys,
    translate_pipeline,
    translate_sort,
    translate_update,
    translate_where,
)
from app.storage.reachability import Reachability, guarded_methods, insert_once, is_unreachable

log = logging.getLogger(__name__)

SCHEMA_COLLECTION = "_SCHEMA"
CONFIG_COLLECTION = "_GlobalConfig"
_READ_PREFERENCES = {
    "PRIMARY": ReadPreference.PRIMARY,
    "PRIMARY_PREFERRED": ReadPreference.PRIMARY_PREFERRED,
    "SECONDARY": ReadPreference.SECONDARY,
    "SECONDARY_PREFERRED": ReadPreference.SECONDARY_PREFERRED,
    "NEAREST": ReadPreference.NEAREST,
}
_current_session: ContextVar[AsyncClientSession | None] = ContextVar("parseql_mongo_session", default=None)
_GEO_INDEX_MISSING = (17007, 291)
_DISTANCE = "_parseql_distance"  # where $geoNear writes each distance, projected away before decoding
_MAX_TIME_EXPIRED = 50  # MongoDB's MaxTimeMSExpired
_GRACE = 1.0  # seconds this side waits past the time limit for the database's own answer


@guarded_methods
class MongoStorage:
    """Parse Server's MongoDB format; the only class that talks to the driver. Every public method answers an
    unreachable database as `DatabaseUnavailableError` (see `reachability`)."""

    def __init__(
        self, uri: str, *, server_selection_timeout_ms: int = 10_000, max_query_time: float | None = None
    ) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=server_selection_timeout_ms, appname="parseql"
        )
        self.db: AsyncDatabase[dict[str, Any]] = self.client.get_default_database("parse")
        self.max_query_time = max_query_time
        self._deadlines = None if max_query_time is None else Deadlines(max_query_time + _GRACE)
        self._capabilities: Capabilities | None = None
        self.reachability = Reachability(self.client)

    async def close(self) -> None:
        await self.client.close()

    async def ping(self) -> None:
        await self.reachability.require()

    async def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            async with self._read():
                info = await self.db.command("buildInfo", **self._limit())
            # SecantusDB says so in buildInfo; it matches `$regex` with Python's `re`, unbounded.
            self._capabilities = Capabilities(bounded_pattern_matching="secantusVersion" not in info)
        return self._capabilities

    def _limit(self, name: str = "maxTimeMS") -> dict[str, Any]:
        """The time limit as a command argument (`max_time_ms` for pymongo's cursor helpers)."""
        return {} if self.max_query_time is None else {name: max(1, round(self.max_query_time * 1000))}

    def _read(self) -> _TimedRead:
        """A read under the time limit: answered 124 when the database stops it, or when it does not answer
        within a second more (pymongo closes the connection of a cancelled command)."""
        return _TimedRead(self)

    def _timed_out(self) -> RequestTimeoutError:
        limit = f" ({self.max_query_time:g} s)" if self.max_query_time is not None else ""
        return RequestTimeoutError(f"Request timed out: the query ran longer than this server allows{limit}.")

    def _query_error(self, error: PyMongoError) -> AppError | PyMongoError:
        if _is_timeout(error):
            return self._timed_out()
        return _query_error(error)

    def _collection(self, name: str) -> AsyncCollection[dict[str, Any]]:
        return self.db[name]

    def _session(self) -> AsyncClientSession | None:
        """The transaction this task runs in, if any (context variables follow the tasks a batch starts)."""
        return _current_session.get()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if _current_session.get() is not None:
            yield  # already inside one: MongoDB has no nested transactions
            return
        if self.reachability.suspect:
            await self.reachability.require()
        try:
            async with self.client.start_session() as session, await session.start_transaction():
                token = _current_session.set(session)
                try:
                    yield
                finally:
                    _current_session.reset(token)
        except PyMongoError as error:
            # Starting or committing; what ran inside raised the storage's own errors already.
            if not is_unreachable(error):
                raise
            raise self.reachability.lost(error) from None

    # Class schemas ----------------------------------------------------------------------------------

    async def load_classes(self) -> list[ClassSchema]:
        async with self._read():
            cursor = self._collection(SCHEMA_COLLECTION).find({}, session=self._session(), **self._limit("max_time_ms"))
            return [catalog.schema_from_document(document) async for document in cursor]

    async def create_class(self, schema: ClassSchema, *, stored_permissions: Mapping[str, Any] | None) -> None:
        document = catalog.document_from_schema(schema, permissions=stored_permissions)
        try:
            await self._create_indexes(schema.name, schema.indexes)
            await self._collection(SCHEMA_COLLECTION).insert_one(document, session=self._session())
        except DuplicateKeyError:
            raise DuplicateValueError("Class already exists.") from None
        await self._create_geo_indexes(schema.name, schema.fields)

    async def add_fields(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        collection = self._collection(SCHEMA_COLLECTION)
        async with self._read():
            existing = await collection.find_one(
                {"_id": class_name}, session=self._session(), **self._limit("max_time_ms")
            )
        if existing is None:
            document = catalog.document_from_schema(ClassSchema.build(class_name, fields), permissions=None)
            try:
                await collection.insert_one(document, session=self._session())
            except DuplicateKeyError:
                pass  # another writer created the class first: add the fields below
            else:
                await self._create_geo_indexes(class_name, fields)
                return
        for name, field in fields.items():
            update: dict[str, Any] = {name: catalog.stored_type(field)}
            options = catalog.field_options(field)
            if options:
                update[f"_metadata.fields_options.{name}"] = options
            # `$exists: false` keeps a concurrent writer's type if it added the field first.
            await collection.update_one(
                {"_id": class_name, name: {"$exists": False}}, {"$set": update}, session=self._session()
            )
        await self._create_geo_indexes(class_name, fields)

    async def _create_geo_indexes(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        for name, field in fields.items():
            if field.type == "Polygon":
                await self._ensure_index(class_name, [(name, "2dsphere")])

    async def _ensure_index(self, class_name: str, keys: list[tuple[str, Any]]) -> None:
        """Create an index unless the same one exists. SecantusDB refuses to re-create an index the
        server completed with options of its own (2dsphereIndexVersion), which MongoDB accepts, so
        two writers creating a class at once would otherwise fail."""
        collection = self._collection(class_name)
        try:
            await collection.create_index(keys)
        except OperationFailure as error:
            if error.code not in (85, 86):
                raise
            existing = await (await collection.list_indexes()).to_list()
            if not any(list(index["key"].items()) == keys for index in existing):
                raise

    async def update_field_options(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        for name, field in fields.items():
            await self._collection(SCHEMA_COLLECTION).update_one(
                {"_id": class_name, name: {"$exists": True}},
                {"$set": {f"_metadata.fields_options.{name}": catalog.field_options(field)}},
                session=self._session(),
            )

    async def set_permissions(self, class_name: str, permissions: Mapping[str, Any] | None) -> None:
        stored = None if permissions is None else dict(permissions)
        await self._collection(SCHEMA_COLLECTION).update_one(
            {"_id": class_name}, {"$set": {"_metadata.class_permissions": stored}}, session=self._session()
        )

    async def update_indexes(
        self, schema: ClassSchema, add: Mapping[str, Mapping[str, Any]], drop: Sequence[str]
    ) -> None:
        collection = self._collection(schema.name)
        for name in drop:
            try:
                await collection.drop_index(name)
            except OperationFailure:
                log.warning("index %s of %s was already gone", name, schema.name)
        await self._create_indexes(schema.name, add)
        indexes = {name: spec for name, spec in (schema.indexes or {"_id_": {"_id": 1}}).items() if name not in drop}
        indexes.update(add)
        await self._collection(SCHEMA_COLLECTION).update_one(
            {"_id": schema.name}, {"$set": {"_metadata.indexes": indexes}}, session=self._session()
        )

    async def _create_indexes(self, class_name: str, indexes: Mapping[str, Mapping[str, Any]]) -> None:
        for name, spec in indexes.items():
            if name == "_id_":
                continue
            keys = [(key, value) for key, value in spec.items()]
            try:
                await self._collection(class_name).create_index(keys, name=name)
            except OperationFailure as error:
                raise InvalidQueryError(f"Index {name} could not be created: {_message(error)}") from None

    async def delete_fields(self, schema: ClassSchema, names: Sequence[str]) -> None:
        stored = [stored_key(schema, name) for name in names]
        await self._collection(schema.name).update_many(
            {"$or": [{key: {"$exists": True}} for key in stored]},
            {"$unset": dict.fromkeys(stored, "")},
            session=self._session(),
        )
        unset: dict[str, str] = {}
        for name in names:
            unset[name] = ""
            unset[f"_metadata.fields_options.{name}"] = ""
        await self._collection(SCHEMA_COLLECTION).update_one(
            {"_id": schema.name}, {"$unset": unset}, session=self._session()
        )
        for name in names:
            if schema.fields[name].type == "Relation":
                await self._collection(join_collection(schema.name, name)).drop()

    async def delete_class(self, schema: ClassSchema) -> None:
        await self._collection(schema.name).drop()
        await self._collection(SCHEMA_COLLECTION).delete_one({"_id": schema.name}, session=self._session())
        for name in schema.relation_fields:
            await self._collection(join_collection(schema.name, name)).drop()

    async def read_config(self) -> tuple[dict[str, Any], dict[str, bool]] | None:
        async with self._read():
            document = await self._collection(CONFIG_COLLECTION).find_one(
                {"_id": 1}, session=self._session(), **self._limit("max_time_ms")
            )
        if document is None:
            return None
        return dict(document.get("params") or {}), dict(document.get("masterKeyOnly") or {})

    async def update_config(
        self, values: Mapping[str, Any], removed: Sequence[str], master_key_only: Mapping[str, bool]
    ) -> None:
        update: dict[str, Any] = {}
        if values or master_key_only:
            update["$set"] = {
                **{f"params.{key}": value for key, value in values.items()},
                **{f"masterKeyOnly.{key}": flag for key, flag in master_key_only.items()},
            }
        if removed:
            update["$unset"] = {f"params.{key}": "" for key in removed}
        if update:
            await self._collection(CONFIG_COLLECTION).update_one(
                {"_id": 1}, update, upsert=True, session=self._session()
            )

    async def ensure_system_indexes(self) -> None:
        """The unique and case-insensitive indexes Parse Server creates at start.

        Options are given in Parse Server's order: SecantusDB compares index options in order, and a
        different order would stop Parse Server from starting on a database ParseQL prepared.
        """
        users, roles = self._collection("_User"), self._collection("_Role")
        idempotency = self._collection("_Idempotency")
        case_insensitive = Collation(locale="en_US", strength=2)
        await users.create_index("username", unique=True, background=True, sparse=True)
        await users.create_index(
            "username",
            background=True,
            sparse=True,
            collation=case_insensitive,
            name="case_insensitive_username",
        )
        await users.create_index(
            "email", background=True, sparse=True, collation=case_insensitive, name="case_insensitive_email"
        )
        await users.create_index("email", unique=True, background=True, sparse=True)
        await users.create_index("_email_verify_token", background=True, sparse=True, name="_email_verify_token")
        await users.create_index("_perishable_token", background=True, sparse=True, name="_perishable_token")
        await roles.create_index("name", unique=True, background=True, sparse=True)
        await idempotency.create_index("reqId", unique=True, background=True, sparse=True)
        await idempotency.create_index("expire", background=True, sparse=True, name="ttl", expireAfterSeconds=0)
        await users.create_index(
            "_auth_data_anonymous.id",
            unique=True,
            sparse=True,
            background=True,
            name="_auth_data_anonymous_id",
        )

    async def sync_indexes(self, class_name: str) -> None:
        try:
            listed = await (await self._collection(class_name).list_indexes()).to_list()
        except OperationFailure:
            return
        indexes: dict[str, dict[str, Any]] = {}
        for index in sorted(listed, key=lambda entry: entry["name"]):
            key = dict(index["key"])
            if "_fts" in key:
                key = {field: "text" for field in index.get("weights", {})}
            indexes[index["name"]] = key
        if indexes:
            await self._collection(SCHEMA_COLLECTION).update_one(
                {"_id": class_name}, {"$set": {"_metadata.indexes": indexes}}, session=self._session()
            )

    async def purge(self, schema: ClassSchema) -> None:
        await self._collection(schema.name).delete_many({}, session=self._session())

    # Objects ----------------------------------------------------------------------------------------

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
        options.update(self._limit("max_time_ms"))
        where = self._filter(schema, query, acl_key="_wperm" if query.for_write else "_rperm")
        collection = self._collection(schema.name)
        if query.read_preference:
            collection = collection.with_options(read_preference=_READ_PREFERENCES[query.read_preference])
        near = _split_near(where)
        if near is not None:
            documents = await self._find_near(schema, collection, near, options)
            return [from_document(schema, document) for document in documents]
        try:
            async with self._read():
                documents = await collection.find(where, **options, session=self._session()).to_list()
        except OperationFailure as error:
            field = _geo_field(query.where) if error.code in _GEO_INDEX_MISSING or "geoNear" in str(error) else None
            if field is None:
                raise self._query_error(error) from None
            # Parse Server builds a 2d index the first time a class is queried by distance.
            await self._ensure_index(schema.name, [(field, "2d")])
            async with self._read():
                found = self._collection(schema.name).find(where, **options, session=self._session())
                documents = await found.to_list()
        return [from_document(schema, document) for document in documents]

    async def _find_near(
        self,
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
        await self._ensure_index(schema.name, [(field, "2d")])
        try:
            async with self._read():
                cursor = await collection.aggregate(pipeline, session=self._session(), **extra, **self._limit())
                return await cursor.to_list()
        except OperationFailure as error:
            raise self._query_error(error) from None

    async def explain(self, schema: ClassSchema, query: Find) -> dict[str, Any]:
        options: dict[str, Any] = {"limit": query.limit or 0, "skip": query.skip}
        if query.order:
            options["sort"] = translate_sort(schema, query.order)
        options.update(self._limit("max_time_ms"))
        try:
            async with self._read():
                plan = await self._collection(schema.name).find(self._filter(schema, query), **options).explain()
        except OperationFailure as error:
            if _is_timeout(error):
                raise self._timed_out() from None
            raise InvalidQueryError(_message(error)) from None
        # BSON types (timestamps, ObjectIds) as relaxed extended JSON, which any JSON encoder takes.
        return dict(json.loads(json_util.dumps(plan)))

    async def count(self, schema: ClassSchema, query: Find) -> int:
        try:
            async with self._read():
                return await self._collection(schema.name).count_documents(
                    self._filter(schema, query, count=True), session=self._session(), **self._limit()
                )
        except OperationFailure as error:
            raise self._query_error(error) from None

    async def distinct(self, schema: ClassSchema, field: str, query: Find) -> list[Any]:
        key = stored_key(schema, field)
        try:
            async with self._read():
                values = await self._collection(schema.name).distinct(
                    key, self._filter(schema, query), session=self._session(), **self._limit()
                )
        except OperationFailure as error:
            raise self._query_error(error) from None
        return [value for value in values if value is not None]

    async def aggregate(self, schema: ClassSchema, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stages = translate_pipeline(schema, pipeline)
        pointer_group = any(
            isinstance(s.get("$group", {}).get("_id"), str) and "$_p_" in s["$group"]["_id"]
            for s in stages
            if "$group" in s
        )
        try:
            async with self._read():
                cursor = await self._collection(schema.name).aggregate(stages, session=self._session(), **self._limit())
                results = await cursor.to_list()
        except OperationFailure as error:
            if _is_timeout(error):
                raise self._timed_out() from None
            # Parse reports every failing pipeline as a bad query, with the database's reason.
            raise InvalidQueryError(_message(error)) from None
        except InvalidDocument as error:  # a key BSON cannot hold (a NUL), refused before it is sent
            raise InvalidQueryError(str(error)) from None
        except OverflowError:
            raise InvalidQueryError("A number in the pipeline does not fit in 64 bits.") from None
        return [from_aggregate_result(schema, result, pointer_group) for result in results]

    async def insert(self, schema: ClassSchema, record: Record) -> None:
        try:
            await insert_once(self._collection(schema.name), to_document(schema, record), self._session())
        except DuplicateKeyError as error:
            raise _duplicate(error) from None

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
            document = await self._collection(schema.name).find_one_and_update(
                mongo_filter,
                translate_update(schema, changes),
                return_document=ReturnDocument.BEFORE,
                session=self._session(),
                **self._limit(),
            )
        except DuplicateKeyError as error:
            raise _duplicate(error) from None
        except OperationFailure as error:
            raise self._query_error(error) from None
        return None if document is None else from_document(schema, document)

    async def delete(
        self, schema: ClassSchema, object_id: str, where: Mapping[str, Any], acl: frozenset[str] | None
    ) -> bool:
        mongo_filter = self._filter(schema, Find({**where, "objectId": object_id}, acl=acl), acl_key="_wperm")
        result = await self._collection(schema.name).delete_one(mongo_filter, session=self._session())
        return result.deleted_count > 0

    # Relations --------------------------------------------------------------------------------------

    async def add_relation(self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]) -> None:
        collection = self._collection(join_collection(class_name, field))
        for related_id in related_ids:
            row = {"relatedId": related_id, "owningId": owning_id}
            await collection.update_one(row, {"$set": row}, upsert=True, session=self._session())

    async def remove_relation(self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]) -> None:
        await self._collection(join_collection(class_name, field)).delete_many(
            {"owningId": owning_id, "relatedId": {"$in": list(related_ids)}}, session=self._session()
        )

    async def related_ids(self, class_name: str, field: str, owning_id: str) -> list[str]:
        async with self._read():
            cursor = self._collection(join_collection(class_name, field)).find(
                {"owningId": owning_id}, {"relatedId": 1}, session=self._session(), **self._limit("max_time_ms")
            )
            return [row["relatedId"] async for row in cursor]

    async def related_by_owner(self, class_name: str, field: str, owning_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {owner: [] for owner in owning_ids}
        async with self._read():
            cursor = self._collection(join_collection(class_name, field)).find(
                {"owningId": {"$in": list(owning_ids)}},
                {"owningId": 1, "relatedId": 1},
                session=self._session(),
                **self._limit("max_time_ms"),
            )
            async for row in cursor:
                found.setdefault(row["owningId"], []).append(row["relatedId"])
        return found

    async def owning_ids(self, class_name: str, field: str, related_ids: Sequence[str]) -> list[str]:
        async with self._read():
            cursor = self._collection(join_collection(class_name, field)).find(
                {"relatedId": {"$in": list(related_ids)}},
                {"owningId": 1},
                session=self._session(),
                **self._limit("max_time_ms"),
            )
            return [row["owningId"] async for row in cursor]


class _TimedRead:
    """`async with storage._read():` (a class, not a generator: it wraps every read, and costs a third as much)."""

    __slots__ = ("read", "storage")

    def __init__(self, storage: MongoStorage) -> None:
        self.storage = storage
        self.read = None if storage._deadlines is None else storage._deadlines.read()

    async def __aenter__(self) -> None:
        if self.read is not None:
            await self.read.__aenter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.read is not None:
            try:
                await self.read.__aexit__(kind, error, trace)
            except DeadlineExceeded:
                log.warning("a query outlived its time limit by %g s; its connection was closed", _GRACE)
                raise self.storage._timed_out() from None
        if isinstance(error, PyMongoError) and _is_timeout(error):
            raise self.storage._timed_out() from None


def join_collection(class_name: str, field: str) -> str:
    return f"_Join:{field}:{class_name}"


def _geo_field(where: Mapping[str, Any]) -> str | None:
    for key, value in where.items():
        if key == "$and":
            for sub in value:
                found = _geo_field(sub)
                if found:
                    return found
        elif isinstance(value, dict) and "$nearSphere" in value:
            return key
    return None


def _split_near(where: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
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
            found = _split_near(sub) if isinstance(sub, dict) else None
            if found is not None:
                field, constraint, sub_rest = found
                rest = {**where, "$and": [*ands[:index], sub_rest, *ands[index + 1 :]]}
                return field, constraint, rest
    return None


def _duplicate(error: DuplicateKeyError) -> DuplicateValueError:
    duplicate = DuplicateValueError("A duplicate value for a field with unique values was provided")
    details = error.details or {}
    key_pattern = details.get("keyPattern") or {}
    duplicate.field = next(iter(key_pattern), None)  # type: ignore[attr-defined]
    return duplicate


def _message(error: PyMongoError) -> str:
    details = getattr(error, "details", None) or {}
    return str(details.get("errmsg") or error)


def _is_timeout(error: PyMongoError) -> bool:
    """The database stopped a command at its time limit, or the driver gave up waiting for it (but not for a
    database it cannot reach, which is an outage: the guard answers that)."""
    if is_unreachable(error):
        return False
    return error.timeout or (isinstance(error, OperationFailure) and error.code == _MAX_TIME_EXPIRED)


def _query_error(error: PyMongoError) -> PyMongoError | InternalError | InvalidQueryError:
    if is_unreachable(error):
        return error  # a server shutting down: the guard answers it as an outage
    # Bad values, unknown operators, invalid regular expressions: the query is at fault, not the server.
    if isinstance(error, OperationFailure) and error.code in (2, 9, 17287, 16810, 51091, 51108):
        return InvalidQueryError(_message(error))
    log.error("database error: %s", error)
    return InternalError("Database adapter error")

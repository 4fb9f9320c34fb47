"""Class schemas on MongoDB: their `_SCHEMA` entries (in `catalog`'s format) and their collections' indexes."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.collation import Collation
from pymongo.errors import DuplicateKeyError, OperationFailure

from app.domain.classes import ClassSchema, FieldType
from app.errors import DuplicateValueError, InvalidQueryError
from app.storage.mongo import catalog
from app.storage.mongo.connection import Connection
from app.storage.mongo.documents import stored_key
from app.storage.mongo.errors import message
from app.storage.mongo.reachability import guarded_methods
from app.storage.mongo.relations import join_collection

CASE_INSENSITIVE = Collation(locale="en_US", strength=2)
"""Parse Server's collation for usernames and emails: its `case_insensitive_*` indexes and the finds that use them."""

log = logging.getLogger("app.storage.mongo")

SCHEMA_COLLECTION = "_SCHEMA"


@guarded_methods
class MongoClasses:
    """The class operations of the storage port, on one database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.reachability = connection.reachability  # an unreachable database: DatabaseUnavailableError

    async def load_classes(self) -> list[ClassSchema]:
        async with self.connection.read():
            cursor = self.connection.collection(SCHEMA_COLLECTION).find(
                {}, session=self.connection.session(), **self.connection.limit("max_time_ms")
            )
            return [catalog.schema_from_document(document) async for document in cursor]

    async def create_class(self, schema: ClassSchema, *, stored_permissions: Mapping[str, Any] | None) -> None:
        document = catalog.document_from_schema(schema, permissions=stored_permissions)
        try:
            await self._create_indexes(schema.name, schema.indexes)
            await self.connection.collection(SCHEMA_COLLECTION).insert_one(document, session=self.connection.session())
        except DuplicateKeyError:
            raise DuplicateValueError("Class already exists.") from None
        await self._create_geo_indexes(schema.name, schema.fields)

    async def add_fields(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        collection = self.connection.collection(SCHEMA_COLLECTION)
        async with self.connection.read():
            existing = await collection.find_one(
                {"_id": class_name}, session=self.connection.session(), **self.connection.limit("max_time_ms")
            )
        if existing is None:
            document = catalog.document_from_schema(ClassSchema.build(class_name, fields), permissions=None)
            try:
                await collection.insert_one(document, session=self.connection.session())
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
                {"_id": class_name, name: {"$exists": False}}, {"$set": update}, session=self.connection.session()
            )
        await self._create_geo_indexes(class_name, fields)

    async def _create_geo_indexes(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        for name, field in fields.items():
            if field.type == "Polygon":
                await ensure_index(self.connection.collection(class_name), [(name, "2dsphere")])

    async def update_field_options(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        for name, field in fields.items():
            await self.connection.collection(SCHEMA_COLLECTION).update_one(
                {"_id": class_name, name: {"$exists": True}},
                {"$set": {f"_metadata.fields_options.{name}": catalog.field_options(field)}},
                session=self.connection.session(),
            )

    async def set_permissions(self, class_name: str, permissions: Mapping[str, Any] | None) -> None:
        stored = None if permissions is None else dict(permissions)
        await self.connection.collection(SCHEMA_COLLECTION).update_one(
            {"_id": class_name}, {"$set": {"_metadata.class_permissions": stored}}, session=self.connection.session()
        )

    async def update_indexes(
        self, schema: ClassSchema, add: Mapping[str, Mapping[str, Any]], drop: Sequence[str]
    ) -> None:
        collection = self.connection.collection(schema.name)
        for name in drop:
            try:
                await collection.drop_index(name)
            except OperationFailure:
                log.warning("index %s of %s was already gone", name, schema.name)
        await self._create_indexes(schema.name, add)
        indexes = {name: spec for name, spec in (schema.indexes or {"_id_": {"_id": 1}}).items() if name not in drop}
        indexes.update(add)
        await self.connection.collection(SCHEMA_COLLECTION).update_one(
            {"_id": schema.name}, {"$set": {"_metadata.indexes": indexes}}, session=self.connection.session()
        )

    async def _create_indexes(self, class_name: str, indexes: Mapping[str, Mapping[str, Any]]) -> None:
        for name, spec in indexes.items():
            if name == "_id_":
                continue
            keys = [(key, value) for key, value in spec.items()]
            try:
                await self.connection.collection(class_name).create_index(keys, name=name)
            except OperationFailure as error:
                raise InvalidQueryError(f"Index {name} could not be created: {message(error)}") from None

    async def delete_fields(self, schema: ClassSchema, names: Sequence[str]) -> None:
        stored = [stored_key(schema, name) for name in names]
        await self.connection.collection(schema.name).update_many(
            {"$or": [{key: {"$exists": True}} for key in stored]},
            {"$unset": dict.fromkeys(stored, "")},
            session=self.connection.session(),
        )
        unset: dict[str, str] = {}
        for name in names:
            unset[name] = ""
            unset[f"_metadata.fields_options.{name}"] = ""
        await self.connection.collection(SCHEMA_COLLECTION).update_one(
            {"_id": schema.name}, {"$unset": unset}, session=self.connection.session()
        )
        for name in names:
            if schema.fields[name].type == "Relation":
                await self.connection.collection(join_collection(schema.name, name)).drop()

    async def delete_class(self, schema: ClassSchema) -> None:
        await self.connection.collection(schema.name).drop()
        await self.connection.collection(SCHEMA_COLLECTION).delete_one(
            {"_id": schema.name}, session=self.connection.session()
        )
        for name in schema.relation_fields:
            await self.connection.collection(join_collection(schema.name, name)).drop()

    async def ensure_system_indexes(self) -> None:
        """The unique and case-insensitive indexes Parse Server creates at start.

        Options are given in Parse Server's order: SecantusDB compares index options in order, and a
        different order would stop Parse Server from starting on a database ParseQL prepared.
        """
        users, roles = self.connection.collection("_User"), self.connection.collection("_Role")
        idempotency = self.connection.collection("_Idempotency")
        await users.create_index("username", unique=True, background=True, sparse=True)
        await users.create_index(
            "username",
            background=True,
            sparse=True,
            collation=CASE_INSENSITIVE,
            name="case_insensitive_username",
        )
        await users.create_index(
            "email", background=True, sparse=True, collation=CASE_INSENSITIVE, name="case_insensitive_email"
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
            listed = await (await self.connection.collection(class_name).list_indexes()).to_list()
        except OperationFailure:
            return
        indexes: dict[str, dict[str, Any]] = {}
        for index in sorted(listed, key=lambda entry: entry["name"]):
            key = dict(index["key"])
            if "_fts" in key:
                key = {field: "text" for field in index.get("weights", {})}
            indexes[index["name"]] = key
        if indexes:
            await self.connection.collection(SCHEMA_COLLECTION).update_one(
                {"_id": class_name}, {"$set": {"_metadata.indexes": indexes}}, session=self.connection.session()
            )


async def ensure_index(collection: AsyncCollection[dict[str, Any]], keys: list[tuple[str, Any]]) -> None:
    """Create an index unless the same one exists. SecantusDB refuses to re-create an index the
    server completed with options of its own (2dsphereIndexVersion), which MongoDB accepts, so
    two writers creating a class at once would otherwise fail."""
    try:
        await collection.create_index(keys)
    except OperationFailure as error:
        if error.code not in (85, 86):
            raise
        existing = await (await collection.list_indexes()).to_list()
        if not any(list(index["key"].items()) == keys for index in existing):
            raise

"""Writing test data straight into the database, in Parse Server's own format (users and sessions
until the users issue brings sign-up, and the fixture dump)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bson import json_util
from pymongo import AsyncMongoClient

FIXTURE = Path(__file__).parent / "fixtures" / "parse-9.10-mongo.json"


async def load_fixture(uri: str) -> None:
    """Insert every collection of the Parse-written dump; sessions get a fresh expiry so the test lasts."""
    documents: dict[str, list[dict[str, Any]]] = json_util.loads(FIXTURE.read_text())
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        db = client.get_default_database()
        for name, rows in documents.items():
            if name == "_Session":
                for row in rows:
                    row["expiresAt"] = datetime.now(UTC) + timedelta(days=365)
            if rows:
                await db[name].insert_many(rows)
    finally:
        await client.close()


def _is_postgres(uri: str) -> bool:
    return uri.startswith(("postgres://", "postgresql://"))


async def _insert_on_postgres(uri: str, class_name: str, record: dict[str, Any]) -> None:
    """A record written through the PostgreSQL engine (its rows are Parse Server's: no second writer to keep)."""
    from app.domain.classes import ClassSchema
    from app.storage.postgres.engine import PostgresStorage

    storage = PostgresStorage(uri)
    try:
        await storage.insert(ClassSchema.build(class_name, {}), record)
    finally:
        await storage.close()


async def make_session(uri: str, user_id: str, *, expires_in: timedelta = timedelta(days=365)) -> str:
    """A `_Session` row for a user, as Parse Server writes one at login; returns its token."""
    token = "r:" + secrets.token_hex(16)
    now = datetime.now(UTC)
    if _is_postgres(uri):
        from app.domain.values import Pointer

        session = {
            "objectId": secrets.token_hex(5),
            "user": Pointer("_User", user_id),
            "sessionToken": token,
            "createdWith": {"action": "login", "authProvider": "password"},
            "expiresAt": now + expires_in,
            "createdAt": now,
            "updatedAt": now,
        }
        await _insert_on_postgres(uri, "_Session", session)
        return token
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        await client.get_default_database()["_Session"].insert_one(
            {
                "_id": secrets.token_hex(5),
                "_p_user": f"_User${user_id}",
                "_session_token": token,
                "createdWith": {"action": "login", "authProvider": "password"},
                "expiresAt": now + expires_in,
                "_created_at": now,
                "_updated_at": now,
            }
        )
    finally:
        await client.close()
    return token


async def make_user(uri: str, username: str) -> tuple[str, str]:
    """A `_User` (private to itself, as Parse 9 creates users) and a session; returns (id, token)."""
    user_id = secrets.token_hex(5)
    now = datetime.now(UTC)
    if _is_postgres(uri):
        from app.domain.acl import ACL

        user = {
            "objectId": user_id,
            "username": username,
            "_hashed_password": "$2b$10$" + "x" * 53,
            "ACL": ACL((user_id,), (user_id,)),
            "createdAt": now,
            "updatedAt": now,
        }
        await _insert_on_postgres(uri, "_User", user)
        return user_id, await make_session(uri, user_id)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        await client.get_default_database()["_User"].insert_one(
            {
                "_id": user_id,
                "username": username,
                "_hashed_password": "$2b$10$" + "x" * 53,
                "_rperm": [user_id],
                "_wperm": [user_id],
                "_acl": {user_id: {"r": True, "w": True}},
                "_created_at": now,
                "_updated_at": now,
            }
        )
    finally:
        await client.close()
    return user_id, await make_session(uri, user_id)


async def raw_documents(uri: str, collection: str) -> list[dict[str, Any]]:
    """A collection's documents exactly as stored, to check the storage format."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        return await client.get_default_database()[collection].find({}).to_list()
    finally:
        await client.close()

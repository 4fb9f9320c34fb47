"""The data cloud code reads and writes, through the same object service as every client (hooks included)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.acl import Auth
from app.domain.cloud_requests import CloudObject
from app.domain.objects import ObjectService
from app.domain.queries import QueryOptions


class CloudData:
    """`request.data`: finds and writes as the request's caller; `.master()` for the master key's rights."""

    def __init__(self, objects: ObjectService, auth: Auth) -> None:
        self._objects = objects
        self._auth = auth

    def master(self) -> CloudData:
        return CloudData(self._objects, self._auth.as_master())

    async def find(
        self,
        class_name: str,
        where: Mapping[str, Any] | None = None,
        *,
        limit: int | None = None,
        skip: int = 0,
        order: tuple[str, ...] | list[str] = (),
        keys: tuple[str, ...] | list[str] | None = None,
        include: tuple[str, ...] | list[str] = (),
    ) -> list[CloudObject]:
        """Objects matching a Parse `where` (`{"score": {"$gt": 10}}`), as a REST find would return them."""
        options = QueryOptions(
            order=tuple(order),
            skip=skip,
            limit=limit,
            keys=tuple(keys) if keys is not None else None,
            include=tuple(include),
        )
        found = await self._objects.find(self._auth, class_name, dict(where or {}), options)
        return [CloudObject(class_name, record, existed=True) for record in found.results]

    async def count(self, class_name: str, where: Mapping[str, Any] | None = None) -> int:
        found = await self._objects.find(self._auth, class_name, dict(where or {}), QueryOptions(limit=0, count=True))
        return found.count or 0

    async def get(self, class_name: str, object_id: str) -> CloudObject:
        return CloudObject(class_name, await self._objects.get(self._auth, class_name, object_id), existed=True)

    async def create(self, class_name: str, fields: Mapping[str, Any]) -> CloudObject:
        saved = await self._objects.create(self._auth, class_name, dict(fields))
        return CloudObject(class_name, saved.object, existed=True)

    async def update(self, class_name: str, object_id: str, fields: Mapping[str, Any]) -> CloudObject:
        saved = await self._objects.update(self._auth, class_name, object_id, dict(fields))
        return CloudObject(class_name, saved.object, existed=True)

    async def save(self, obj: CloudObject) -> CloudObject:
        """Write an object's changes: a create when it has no id yet, else an update."""
        if obj.id is None or not obj.existed():
            return await self.create(obj.class_name, obj.changes)
        return await self.update(obj.class_name, obj.id, obj.changes)

    async def delete(self, class_name: str, object_id: str) -> None:
        await self._objects.delete(self._auth, class_name, object_id)

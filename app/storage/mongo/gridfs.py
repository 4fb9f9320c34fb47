"""Files in MongoDB GridFS, bucket `fs`, laid out as Parse Server's GridFSBucketAdapter writes them.

Parse stores `filename`, `metadata`, `length`, `chunkSize` (255 KiB) and `uploadDate` in `fs.files` and the
bytes in `fs.chunks`; we add the upload's `contentType`, which Parse ignores, so the two servers read each
other's files. Chunks are written and read a few at a time: pymongo's GridFS classes buffer up to 32 MB
per write and read 101 chunks per batch, which would put most of a large file in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from app.domain.files import StoredFile
from app.storage.mongo.reachability import Reachability, guarded_methods, insert_once, is_unreachable

BUCKET = "fs"
CHUNK_SIZE = 255 * 1024  # the GridFS default, which Parse (through the Node driver) writes
READ_BATCH = 4


@guarded_methods
class GridFSStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], reachability: Reachability | None = None) -> None:
        self.files = db[f"{BUCKET}.files"]
        self.chunks = db[f"{BUCKET}.chunks"]
        self.reachability = reachability or Reachability(db.client)
        self._indexed = False

    async def _ensure_indexes(self) -> None:
        """The indexes every GridFS driver creates, unless a driver (Parse's) made them already.

        Existing ones are looked up by key, as drivers do: asking again with other options would be refused.
        """
        if self._indexed:
            return
        for collection, keys, unique in (
            (self.files, [("filename", ASCENDING), ("uploadDate", ASCENDING)], False),
            (self.chunks, [("files_id", ASCENDING), ("n", ASCENDING)], True),
        ):
            existing = [list(index["key"].items()) async for index in await collection.list_indexes()]
            if keys not in existing:
                await collection.create_index(keys, unique=unique)
        self._indexed = True

    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str | None, metadata: Mapping[str, Any]
    ) -> None:
        await self._ensure_indexes()
        file_id, number, length = ObjectId(), 0, 0
        pending = bytearray()
        try:
            async for data in chunks:
                pending += data
                length += len(data)
                while len(pending) >= CHUNK_SIZE:
                    await insert_once(
                        self.chunks,
                        {"_id": ObjectId(), "files_id": file_id, "n": number, "data": bytes(pending[:CHUNK_SIZE])},
                    )
                    del pending[:CHUNK_SIZE]
                    number += 1
            if pending:
                await insert_once(
                    self.chunks, {"_id": ObjectId(), "files_id": file_id, "n": number, "data": bytes(pending)}
                )
            # The files document comes last: until it exists, no reader sees the file.
            document: dict[str, Any] = {
                "_id": file_id,
                "length": length,
                "chunkSize": CHUNK_SIZE,
                "uploadDate": datetime.now(UTC),
                "filename": name,
                "metadata": dict(metadata),
            }
            if content_type:
                document["contentType"] = content_type
            await insert_once(self.files, document)
        except BaseException as error:
            # Without the database there is nothing to clean; the orphaned chunks are never read.
            if not is_unreachable(error):
                await self.chunks.delete_many({"files_id": file_id})
            raise

    async def find(self, name: str) -> StoredFile | None:
        # The newest revision, as openDownloadStreamByName picks it.
        document = await self.files.find_one({"filename": name}, sort=[("uploadDate", DESCENDING), ("_id", DESCENDING)])
        if document is None:
            return None
        return StoredFile(
            name=name,
            length=int(document.get("length", 0)),
            content_type=document.get("contentType"),
            metadata=document.get("metadata") or {},
            ref=(document["_id"], int(document.get("chunkSize") or CHUNK_SIZE)),
        )

    async def read(self, file: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return
        file_id, chunk_size = file.ref
        first, last = start // chunk_size, (end - 1) // chunk_size
        cursor = (
            self.chunks.find({"files_id": file_id, "n": {"$gte": first, "$lte": last}}, {"n": 1, "data": 1})
            .sort("n", ASCENDING)
            .batch_size(READ_BATCH)
        )
        async with cursor:
            async for chunk in cursor:
                offset = chunk["n"] * chunk_size
                data: bytes = chunk["data"]
                yield data[max(start - offset, 0) : end - offset]

    async def delete(self, name: str) -> bool:
        ids = [document["_id"] async for document in self.files.find({"filename": name}, {"_id": 1})]
        for file_id in ids:
            await self.files.delete_one({"_id": file_id})
            await self.chunks.delete_many({"files_id": file_id})
        return bool(ids)

    async def close(self) -> None:
        """The database client belongs to the object storage, which closes it."""

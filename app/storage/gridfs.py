"""Files in MongoDB GridFS, bucket `fs`, laid out as Parse Server's GridFSBucketAdapter writes them.

Parse stores `filename`, `metadata`, `length`, `chunkSize` (255 KiB) and `uploadDate`; we add the upload's
`contentType`, which Parse ignores, so the two servers read each other's files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from gridfs import AsyncGridFSBucket
from pymongo.asynchronous.database import AsyncDatabase

from app.domain.files import StoredFile

BUCKET = "fs"


class GridFSStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        self.files = db[f"{BUCKET}.files"]

    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str | None, metadata: Mapping[str, Any]
    ) -> None:
        upload = self.bucket.open_upload_stream(name, metadata=dict(metadata))
        if content_type:
            await upload.set("contentType", content_type)
        try:
            async for chunk in chunks:
                await upload.write(chunk)
        except BaseException:
            await upload.abort()  # removes the chunks written so far
            raise
        await upload.close()

    async def find(self, name: str) -> StoredFile | None:
        # The newest revision, as openDownloadStreamByName picks it.
        document = await self.files.find_one({"filename": name}, sort=[("uploadDate", -1), ("_id", -1)])
        if document is None:
            return None
        return StoredFile(
            name=name,
            length=int(document.get("length", 0)),
            content_type=document.get("contentType"),
            metadata=document.get("metadata") or {},
            ref=document["_id"],
        )

    async def read(self, file: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        stream = await self.bucket.open_download_stream(file.ref)
        try:
            await stream.seek(start)
            position = start
            while position < end:
                chunk = await stream.readchunk()
                if not chunk:
                    break
                chunk = chunk[: end - position]
                position += len(chunk)
                yield chunk
        finally:
            await stream.close()

    async def delete(self, name: str) -> bool:
        ids = [document["_id"] async for document in self.files.find({"filename": name}, {"_id": 1})]
        for file_id in ids:
            await self.bucket.delete(file_id)
        return bool(ids)

    async def close(self) -> None:
        """The database client belongs to the object storage, which closes it."""

"""Files in an S3 bucket (AWS or any S3-compatible server), through `obstore`.

obstore is async from end to end (a Rust client, no thread per request), streams uploads as multipart
uploads that it aborts when the body fails, and reads byte ranges as streams; boto3 would need a thread
per call and aiobotocore pins botocore to a narrow range.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import obstore
from obstore.store import S3Store

from app.domain.files import FALLBACK_TYPE, StoredFile

# Parse's S3 adapter keeps metadata as S3 user metadata; these attribute names are S3's own headers.
_HEADERS = {"Content-Type", "Content-Disposition", "Content-Encoding", "Content-Language", "Cache-Control"}


@dataclass(frozen=True, slots=True)
class S3Config:
    bucket: str
    region: str | None = None
    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    prefix: str = ""


class S3FileStore:
    def __init__(self, config: S3Config) -> None:
        options: dict[str, Any] = {}
        if config.region:
            options["region"] = config.region
        if config.endpoint:
            options["endpoint"] = config.endpoint
        if config.access_key_id and config.secret_access_key:
            options["access_key_id"] = config.access_key_id
            options["secret_access_key"] = config.secret_access_key
        # Without keys the usual AWS chain applies (AWS_* variables, instance and task roles).
        if (config.endpoint or "").startswith("http://"):
            options["client_options"] = {"allow_http": True}  # a local S3-compatible server
        self.store = S3Store(config.bucket, **options)
        self.prefix = config.prefix

    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str | None, metadata: Mapping[str, Any]
    ) -> None:
        attributes: dict[str, str] = {
            str(key): value if isinstance(value, str) else str(value)
            for key, value in metadata.items()
            if str(key) not in _HEADERS
        }
        # S3 would otherwise say binary/octet-stream; the domain's fallback reads the same everywhere.
        attributes["Content-Type"] = content_type or FALLBACK_TYPE
        await obstore.put_async(self.store, self.prefix + name, chunks, attributes=attributes)

    async def find(self, name: str) -> StoredFile | None:
        try:
            # A zero-length read answers the object's size and attributes in one request.
            result = await obstore.get_async(self.store, self.prefix + name, options={"head": True})
        except (FileNotFoundError, ValueError):  # ValueError: a name no object key can have
            return None
        attributes = dict(result.attributes)
        content_type = attributes.pop("Content-Type", None)
        return StoredFile(
            name=name,
            length=int(result.meta["size"]),
            content_type=str(content_type) if content_type else None,
            metadata={key: value for key, value in attributes.items() if key not in _HEADERS},
            ref=result.meta.get("e_tag"),
        )

    async def read(self, file: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        if end <= start:
            return
        options: dict[str, Any] = {"range": (start, end)}
        if file.ref:
            options["if_match"] = file.ref  # the object found, not one written over it since
        result = await obstore.get_async(self.store, self.prefix + file.name, options=options)  # type: ignore[arg-type]
        async for chunk in result.stream():
            yield bytes(chunk)

    async def delete(self, name: str) -> bool:
        try:
            await obstore.head_async(self.store, self.prefix + name)
        except (FileNotFoundError, ValueError):
            return False
        await obstore.delete_async(self.store, self.prefix + name)
        return True

    async def close(self) -> None:
        """obstore holds no connection that needs closing."""

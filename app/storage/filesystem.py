"""Files in a directory: each file's bytes under its name, its content type and metadata in `.meta/<name>.json`.

Uploads are written to `.partial/` and moved into place whole, so a reader never sees half a file.
Disk calls run in a worker thread, one chunk at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from app.domain.files import StoredFile

READ_SIZE = 256 * 1024


class FileSystemStore:
    def __init__(self, directory: str | Path) -> None:
        self.root = Path(directory).resolve()
        self.partial = self.root / ".partial"
        self.meta = self.root / ".meta"

    def _path(self, name: str, under: Path | None = None) -> Path:
        base = under or self.root
        if "\x00" in name:
            raise FileNotFoundError(name)
        path = (base / name).resolve()
        # A name is a path below the directory, never one that climbs out of it.
        if not name or name.startswith(".") or not path.is_relative_to(base) or path == base:
            raise FileNotFoundError(name)
        return path

    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str | None, metadata: Mapping[str, Any]
    ) -> None:
        target = self._path(name)
        await asyncio.to_thread(self.partial.mkdir, parents=True, exist_ok=True)
        temporary = self.partial / secrets.token_hex(16)
        handle: BinaryIO = await asyncio.to_thread(temporary.open, "wb")
        try:
            async for chunk in chunks:
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(handle.close)
            info = json.dumps({"contentType": content_type, "metadata": dict(metadata)})
            await asyncio.to_thread(self._commit, temporary, target, self._path(f"{name}.json", self.meta), info)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise

    @staticmethod
    def _commit(temporary: Path, target: Path, meta: Path, info: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(info)
        os.replace(temporary, target)

    async def find(self, name: str) -> StoredFile | None:
        try:
            path = self._path(name)
        except FileNotFoundError:
            return None
        return await asyncio.to_thread(self._describe, name, path)

    def _describe(self, name: str, path: Path) -> StoredFile | None:
        if not path.is_file():
            return None
        info: dict[str, Any] = {}
        # Without its sidecar (a file put in the directory by hand) a file is served by its extension.
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(self._path(f"{name}.json", self.meta).read_text())
        return StoredFile(
            name=name,
            length=path.stat().st_size,
            content_type=info.get("contentType"),
            metadata=info.get("metadata") or {},
            ref=path,
        )

    async def read(self, file: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        handle: BinaryIO = await asyncio.to_thread(Path(file.ref).open, "rb")
        try:
            await asyncio.to_thread(handle.seek, start)
            remaining = end - start
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(READ_SIZE, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                yield chunk
        finally:
            # Closed at once, not in a thread: a download cancelled twice (client gone, then shutdown) would
            # otherwise be interrupted again while waiting for the close, and leave the file open.
            handle.close()

    async def delete(self, name: str) -> bool:
        try:
            path, meta = self._path(name), self._path(f"{name}.json", self.meta)
        except FileNotFoundError:
            return False
        return await asyncio.to_thread(self._remove, path, meta)

    @staticmethod
    def _remove(path: Path, meta: Path) -> bool:
        if not path.is_file():
            return False
        path.unlink()
        meta.unlink(missing_ok=True)
        return True

    async def close(self) -> None:
        """Nothing stays open between calls."""

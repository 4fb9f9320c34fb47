"""Files in a directory, laid out as Parse's filesystem files adapter lays them out: a Parse app's `files/` folder is
served as it is, and Parse Server serves the files ParseQL writes there.

Each file's bytes are under its name as JavaScript's encodeURIComponent writes it (`a b@2x.png` is stored as
`a%20b%402x.png`), encrypted as Parse encrypts them when a key is set (app/storage/file_encryption.py). A file an
earlier ParseQL wrote under the raw name is still found, read and deleted there. The content type and metadata,
which Parse does not keep, go to a sidecar of ParseQL's own, `.meta/<stored name>.json`, optional on read: a file
without one (Parse wrote it) is served by its extension, as Parse serves it.

Uploads are written to `.partial/` and moved into place whole, so a reader never sees half a file. Parse's adapter
passes over names that start with a dot, so neither folder is taken for a file. Disk calls run in a worker thread,
one chunk at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from app.domain.files import StoredFile, uri_component
from app.storage.file_encryption import OVERHEAD, FileEncryption, InvalidTag, Opener, Sealer

READ_SIZE = 256 * 1024
log = logging.getLogger("app.storage.files")


class FileSystemStore:
    def __init__(self, directory: str | Path, encryption: FileEncryption | None = None) -> None:
        self.root = Path(directory).resolve()
        self.partial = self.root / ".partial"
        self.meta = self.root / ".meta"
        self.encryption = encryption

    def _path(self, name: str, under: Path | None = None) -> Path:
        base = under or self.root
        if "\x00" in name:
            raise FileNotFoundError(name)
        path = (base / name).resolve()
        # A name is a path below the directory, never one that climbs out of it.
        if not name or name.startswith(".") or not path.is_relative_to(base) or path == base:
            raise FileNotFoundError(name)
        return path

    def _target(self, name: str) -> Path:
        """Where Parse's adapter keeps a file of that name, and where this store writes it."""
        try:
            return self._path(uri_component(name))
        except UnicodeEncodeError:  # a lone surrogate, which encodeURIComponent refuses too
            raise FileNotFoundError(name) from None

    def _places(self, name: str) -> list[Path]:
        """Where a file of that name may be: Parse's name for it, then the raw name an earlier ParseQL used."""
        try:
            places = [self._target(name)]
        except FileNotFoundError:
            return []
        # With a `%` in it, the raw name may be another file's encoded one (`a%20b` is where `a b` lives).
        if "%" not in name:
            with contextlib.suppress(FileNotFoundError):
                raw = self._path(name)
                if raw != places[0]:
                    places.append(raw)
        return places

    def _sidecar(self, path: Path) -> Path:
        return self.meta / f"{path.relative_to(self.root)}.json"

    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str | None, metadata: Mapping[str, Any]
    ) -> None:
        target = self._target(name)
        await asyncio.to_thread(self.partial.mkdir, parents=True, exist_ok=True)
        temporary = self.partial / secrets.token_hex(16)
        handle: BinaryIO = await asyncio.to_thread(temporary.open, "wb")
        sealer = self.encryption.sealer() if self.encryption is not None else None
        try:
            async for chunk in chunks:
                await asyncio.to_thread(self._write, handle, chunk, sealer)
            if sealer is not None:
                await asyncio.to_thread(handle.write, sealer.finish())
            await asyncio.to_thread(handle.close)
            info = json.dumps({"contentType": content_type, "metadata": dict(metadata)})
            await asyncio.to_thread(self._commit, temporary, target, self._sidecar(target), info)
        except BaseException:
            await asyncio.to_thread(handle.close)
            await asyncio.to_thread(temporary.unlink, missing_ok=True)
            raise

    @staticmethod
    def _write(handle: BinaryIO, chunk: bytes, sealer: Sealer | None) -> None:
        handle.write(sealer.update(chunk) if sealer is not None else chunk)

    @staticmethod
    def _commit(temporary: Path, target: Path, meta: Path, info: str) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(info)
        os.replace(temporary, target)

    async def find(self, name: str) -> StoredFile | None:
        return await asyncio.to_thread(self._find, name)

    def _find(self, name: str) -> StoredFile | None:
        for path in self._places(name):
            # os.path, not Path.is_file: a name too long for the disk is a file that is not there, not an error.
            if os.path.isfile(path):
                return self._describe(name, path)
        return None

    def _describe(self, name: str, path: Path) -> StoredFile | None:
        length = path.stat().st_size
        if self.encryption is not None:
            # Checked whole before a byte is served: a download that failed its tag would already have answered 200.
            if not self._genuine(path, length):
                log.warning("file %s does not decrypt with the files encryption key: not served", path.name)
                return None
            length -= OVERHEAD
        info: dict[str, Any] = {}
        # Without its sidecar (Parse wrote the file, or someone put it there by hand) a file is served by its extension.
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(self._sidecar(path).read_text())
        return StoredFile(
            name=name,
            length=length,
            content_type=info.get("contentType"),
            metadata=info.get("metadata") or {},
            ref=path,
        )

    def _genuine(self, path: Path, size: int) -> bool:
        """Whether the file opens with the key, every byte as written (a wrong key fails as a changed byte does)."""
        if size < OVERHEAD:
            return False
        with path.open("rb") as handle:
            opener = self._opener(handle, size - OVERHEAD)
            remaining = size - OVERHEAD
            while remaining > 0:
                chunk = handle.read(min(READ_SIZE, remaining))
                if not chunk:
                    return False
                opener.update(chunk)
                remaining -= len(chunk)
            try:
                opener.finish()
            except InvalidTag:
                return False
        return True

    def _opener(self, handle: BinaryIO, length: int) -> Opener:
        """An opener for a file of `length` plain bytes, from its trailer; leaves the handle at its first byte."""
        assert self.encryption is not None
        handle.seek(length)
        opener = self.encryption.opener(handle.read(OVERHEAD))
        handle.seek(0)
        return opener

    async def read(self, file: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        handle: BinaryIO = await asyncio.to_thread(Path(file.ref).open, "rb")
        try:
            if self.encryption is None:
                chunks = self._plain(handle, start, end)
            else:
                chunks = self._decrypted(handle, file.length, start, end)
            async for chunk in chunks:
                yield chunk
        finally:
            # Closed at once, not in a thread: a download cancelled twice (client gone, then shutdown) would
            # otherwise be interrupted again while waiting for the close, and leave the file open.
            handle.close()

    @staticmethod
    async def _plain(handle: BinaryIO, start: int, end: int) -> AsyncIterator[bytes]:
        await asyncio.to_thread(handle.seek, start)
        remaining = end - start
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(READ_SIZE, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk

    async def _decrypted(self, handle: BinaryIO, length: int, start: int, end: int) -> AsyncIterator[bytes]:
        # GCM's counter cannot be entered mid-file without redoing its setup, so a range is decrypted from byte 0.
        opener = await asyncio.to_thread(self._opener, handle, length)
        position = 0
        while position < end:
            chunk = await asyncio.to_thread(self._open_chunk, handle, opener, min(READ_SIZE, length - position))
            if not chunk:
                break
            if position + len(chunk) > start:
                yield chunk[max(0, start - position) : end - position]
            position += len(chunk)
        if end >= length:
            opener.finish()  # InvalidTag when the file changed since `find` checked it: the download breaks off

    @staticmethod
    def _open_chunk(handle: BinaryIO, opener: Opener, size: int) -> bytes:
        return opener.update(handle.read(size))

    async def delete(self, name: str) -> bool:
        return await asyncio.to_thread(self._remove, self._places(name))

    def _remove(self, places: list[Path]) -> bool:
        """Removes the file under each of its names (Parse's and an earlier ParseQL's), with its sidecar."""
        removed = False
        for path in places:
            if os.path.isfile(path):
                path.unlink()
                self._sidecar(path).unlink(missing_ok=True)
                removed = True
        return removed

    async def close(self) -> None:
        """Nothing stays open between calls."""

"""Files: the `FileStore` seam every backend implements, and Parse's rules for naming, permitting and sizing uploads.

Bytes move as async iterators of chunks in both directions, so no file is ever held whole in memory.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from app.domain import media_types
from app.domain.access import require_master
from app.domain.acl import Auth
from app.domain.cloud_requests import FileInfo
from app.domain.hooks import Hooks
from app.domain.values import File
from app.errors import (
    AppError,
    FileDeleteError,
    FileSaveError,
    InvalidFileNameError,
    OperationForbiddenError,
    PayloadTooLargeError,
    UnauthorizedError,
)

# Parse Server 9's default allow-list: everything but the extensions browsers render as active content.
DEFAULT_FILE_EXTENSIONS = (
    r"^(?!([xXsS]?[hH][tT][mM][lL]?(\+[xX][mM][lL])?|[xX][hH][tT]|[sS][vV][gG]([zZ]|\+[xX][mM][lL])?|[xX][mM][lL]"
    r"|[xX][sS][lL][tT]?(\+[xX][mM][lL])?|[xX][sS][dD]|[rR][nN][gG]|[rR][dD][fF](\+[xX][mM][lL])?|[oO][wW][lL]"
    r"|[mM][aA][tT][hH][mM][lL](\+[xX][mM][lL])?)$)",
)
_NAME = re.compile(r"[_a-zA-Z0-9][a-zA-Z0-9@. ~_-]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~A-Za-z0-9]+")
FALLBACK_TYPE = "application/octet-stream"
# What JavaScript's encodeURIComponent leaves alone besides letters and digits.
_URI_COMPONENT_SAFE = "-_.!~*'()"


NO_DIRECTORY: Any = object()
"""An upload that names no directory (`None` is a directory given as null, which Parse refuses)."""


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A stored file as its store describes it; `ref` is the store's own handle for reading it."""

    name: str
    length: int
    content_type: str | None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    ref: Any = None


class FileStore(Protocol):
    """Where file bytes live (GridFS, a directory, S3): one contract, tested against each."""

    async def save(
        self, name: str, chunks: AsyncIterator[bytes], content_type: str | None, metadata: Mapping[str, Any]
    ) -> None:
        """Store the chunks under `name`; if the iterator raises, nothing stays stored and the error propagates."""

    async def find(self, name: str) -> StoredFile | None:
        """The newest file of that name, or None."""

    def read(self, file: StoredFile, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes `start` (inclusive) to `end` (exclusive) of a file `find` returned, in chunks."""
        ...

    async def delete(self, name: str) -> bool:
        """Remove every file of that name; False when there was none."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class UploadRules:
    """Parse Server's `fileUpload`, `maxUploadSize` and `preserveFileName` options."""

    max_size: int = 20 * 1024**2
    for_public: bool = False
    for_anonymous_users: bool = False
    for_authenticated_users: bool = True
    extensions: tuple[str, ...] = DEFAULT_FILE_EXTENSIONS
    preserve_file_name: bool = False


@dataclass(frozen=True, slots=True)
class DownloadRules:
    """Parse Server's `fileDownload` option: who may download (everyone, by default)."""

    for_public: bool = True
    for_anonymous_users: bool = True
    for_authenticated_users: bool = True

    @property
    def open_to_all(self) -> bool:
        return self.for_public and self.for_anonymous_users and self.for_authenticated_users


def check_name(name: str) -> None:
    """Parse's default filename rule, refused with code 122."""
    if not name:
        raise InvalidFileNameError("Filename not provided.")
    if len(name) > 128:
        raise InvalidFileNameError("Filename too long.")
    if not _NAME.fullmatch(name):
        raise InvalidFileNameError("Filename contains invalid characters.")


_DIRECTORY = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_\-/]*")
RESERVED_DIRECTORIES = ("metadata",)
"""First segments a directory may not have: its files' URLs would read as another route (`/files/<app>/metadata/…`)."""


def check_directory(directory: Any) -> str:
    """Parse 9's rules for the directory an upload is stored under, refused with code 122 in Parse's words."""
    if not isinstance(directory, str):
        raise InvalidFileNameError("Directory must be a string.")
    if not directory:
        raise InvalidFileNameError("Directory must not be empty.")
    if len(directory) > 256:
        raise InvalidFileNameError("Directory path is too long.")
    if ".." in directory:
        raise InvalidFileNameError('Directory must not contain "..".')
    if directory.startswith("/") or directory.endswith("/"):
        raise InvalidFileNameError('Directory must not start or end with "/".')
    if "//" in directory:
        raise InvalidFileNameError("Directory must not contain consecutive slashes.")
    first = directory.split("/", 1)[0]
    if first in RESERVED_DIRECTORIES:
        raise InvalidFileNameError(f'Directory must not start with reserved segment "{first}".')
    if not _DIRECTORY.fullmatch(directory):
        raise InvalidFileNameError("Directory contains invalid characters.")
    return directory


def stored_name(name: str, content_type: str | None, *, preserve: bool = False) -> tuple[str, str | None]:
    """The name a file is stored under and the type it is stored with.

    A name without an extension gets the content type's, a known extension decides the type, and a random
    32-hex prefix keeps names unique (unless `preserve`).
    """
    extension = media_types.extension_of(name)
    if not extension:
        suffix = media_types.extension_for(content_type)
        if suffix:
            name = f"{name}{'' if name.endswith('.') else '.'}{suffix}"
    else:
        content_type = media_types.type_for(name) or content_type
    if not preserve:
        name = f"{secrets.token_hex(16)}_{name}"
    return name, content_type


def uri_component(name: str) -> str:
    """A name as JavaScript's encodeURIComponent writes it: how Parse puts a file's name in its URL, and how its
    filesystem adapter names the file on disk (`a b@2x.png` is `a%20b%402x.png`)."""
    return quote(name, safe=_URI_COMPONENT_SAFE)


def url_path(name: str) -> str:
    """A stored name as it ends a file's URL: each segment of a name in a directory encoded on its own, as Parse's
    GridFS and S3 adapters form it (`photos/2026/…_a b.png` is `photos/2026/…_a%20b.png`)."""
    return "/".join(uri_component(segment) for segment in name.split("/"))


def served_type(file: StoredFile) -> str:
    """The Content-Type a download answers with: the extension's, else the stored one, else octet-stream."""
    media_type = media_types.type_for(file.name) or file.content_type or FALLBACK_TYPE
    bare = media_type.split(";", 1)[0].strip().lower()
    textual = bare.startswith("text/") or bare in ("application/json", "application/javascript")
    # As Express sends them, so clients decode text the same way.
    if textual and "charset" not in media_type.lower():
        media_type = f"{media_type}; charset=utf-8"
    return media_type


class FileService:
    """Uploads, downloads and deletes under Parse's rules; every transport goes through here."""

    def __init__(
        self,
        store: FileStore,
        rules: UploadRules,
        is_anonymous: Callable[[str], Awaitable[bool]],
        downloads: DownloadRules | None = None,
    ) -> None:
        self.store = store
        self.rules = rules
        self.hooks: Hooks | None = None
        """Cloud code's file hooks; set by the app once cloud code is loaded."""
        self.downloads = downloads or DownloadRules()
        self._is_anonymous = is_anonymous
        self._extensions = [re.compile(pattern) for pattern in rules.extensions if pattern != "*"]
        self._any_extension = "*" in rules.extensions

    async def require_upload_allowed(self, auth: Auth, name: str, content_type: str | None) -> None:
        """Refuse, in Parse's words and order, an upload this caller may not make."""
        if auth.read_only:
            raise UnauthorizedError("read-only masterKey isn't allowed to create a file.")
        if not auth.master:
            anonymous = auth.user_id is not None and await self._is_anonymous(auth.user_id)
            if anonymous and not self.rules.for_anonymous_users:
                raise FileSaveError("File upload by anonymous user is disabled.")
            if auth.user_id and not anonymous and not self.rules.for_authenticated_users:
                raise FileSaveError("File upload by authenticated user is disabled.")
            if auth.user_id is None and not self.rules.for_public:
                raise FileSaveError("File upload by public is disabled.")
        check_name(name)
        if not auth.master:
            self._require_extension(name, content_type)

    def _allows(self, extension: str) -> bool:
        return self._any_extension or any(pattern.search(extension) for pattern in self._extensions)

    def _require_extension(self, name: str, content_type: str | None) -> None:
        extension = re.sub(r"\s+", "", media_types.extension_of(name).split(";", 1)[0])
        if extension and not self._allows(extension):
            raise FileSaveError(f"File upload of extension {extension} is disabled.")
        if self._any_extension or not content_type or (extension and media_types.type_for(name)):
            return
        # The stored type is the client's when the extension says nothing, so the type is checked instead.
        kind, slash, rest = content_type.partition("/")
        subtype = rest.split(";", 1)[0].strip()
        if not slash or not _TOKEN.fullmatch(kind.strip()) or not _TOKEN.fullmatch(subtype):
            bare = re.sub(r"\s+", "", content_type.split(";", 1)[0] if not slash else kind)
            if bare and not self._allows(bare):
                raise FileSaveError(f"File upload of extension {bare} is disabled.")
            raise FileSaveError("Invalid Content-Type.")
        if not self._allows(subtype):
            raise FileSaveError(f"File upload of extension {subtype} is disabled.")

    async def create(
        self,
        auth: Auth,
        name: str,
        content_type: str | None,
        chunks: AsyncIterator[bytes],
        metadata: Mapping[str, Any] | None = None,
        *,
        too_large: Callable[[int], AppError] | None = None,
        directory: Any = NO_DIRECTORY,
    ) -> str:
        """Store an upload and return its stored name; an empty or oversized body stores nothing. A `directory`
        (Parse 9's, the master key's only) goes before the name: `photos/2026/<hex>_name.png`."""
        await self.require_upload_allowed(auth, name, content_type)
        chosen: str | None = None
        if directory is not NO_DIRECTORY:
            if not auth.master:
                raise OperationForbiddenError("Directory can only be set using the Master Key.")
            chosen = check_directory(directory)
        if self.hooks is not None:
            # Cloud code may refuse the upload, change its metadata or choose its directory before a byte is stored.
            info = FileInfo(name, content_type, dict(metadata or {}), directory=chosen)
            info = await self.hooks.on_file("before_save", auth, info)
            metadata = info.metadata
            # Checked again: a directory is a path in every store, whoever chose it (Parse takes the hook's as is).
            chosen = check_directory(info.directory) if info.directory is not None else None
        first = b""
        async for chunk in chunks:
            if chunk:
                first = chunk
                break
        if not first:
            raise FileSaveError("Invalid file upload.")
        final_name, final_type = stored_name(name, content_type, preserve=self.rules.preserve_file_name)
        if chosen is not None:
            final_name = f"{chosen}/{final_name}"
        limit = self.rules.max_size
        error = too_large or (lambda _: PayloadTooLargeError("request entity too large"))

        size = 0

        async def limited() -> AsyncIterator[bytes]:
            nonlocal size
            pending: bytes | None = first
            while pending is not None:
                size += len(pending)
                if size > limit:
                    raise error(limit)
                yield pending
                pending = await anext(chunks, None)

        try:
            await self.store.save(final_name, limited(), final_type, dict(metadata or {}))
        except AppError:
            raise
        except Exception as failure:
            raise FileSaveError(f"Could not store file: {final_name}.") from failure
        if self.hooks is not None:
            await self.hooks.on_file("after_save", auth, FileInfo(final_name, final_type, dict(metadata or {}), size))
        return final_name

    async def require_download_allowed(self, auth: Auth) -> None:
        """Refuse, in Parse's words, a download this caller may not make (code 119)."""
        if auth.master or self.downloads.open_to_all:
            return
        anonymous = auth.user_id is not None and await self._is_anonymous(auth.user_id)
        if anonymous and not self.downloads.for_anonymous_users:
            raise OperationForbiddenError("File download by anonymous user is disabled.")
        if auth.user_id and not anonymous and not self.downloads.for_authenticated_users:
            raise OperationForbiddenError("File download by authenticated user is disabled.")
        if auth.user_id is None and not self.downloads.for_public:
            raise OperationForbiddenError("File download by public is disabled.")

    async def find(self, name: str) -> StoredFile | None:
        return await self.store.find(name)

    def read(self, file: StoredFile, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        return self.store.read(file, start, file.length if end is None else end)

    async def delete(self, auth: Auth, name: str) -> None:
        """The master key's only, not the read-only one's."""
        require_master(auth)
        if auth.read_only:
            raise UnauthorizedError("read-only masterKey isn't allowed to delete a file.")
        if self.hooks is not None:
            await self.hooks.on_file("before_delete", auth, FileInfo(name, None, {}))
        if not await self.store.delete(name):
            raise FileDeleteError("FileNotFound")
        if self.hooks is not None:
            await self.hooks.on_file("after_delete", auth, FileInfo(name, None, {}))

    async def close(self) -> None:
        await self.store.close()


def limited_error(limit: int) -> FileSaveError:
    """The refusal of a streamed upload past the size limit (Parse's stream mode and GraphQL)."""
    return FileSaveError(f"File size exceeds maximum allowed: {limit} bytes.")


class FileUrlDomains:
    """Parse's `fileUpload.allowedFileUrlDomains`: the hosts a File value's `url` may name when an object is written
    (`*` any, `*.example.com` any subdomain); a File without a url is always accepted."""

    def __init__(self, domains: Sequence[str]) -> None:
        self.domains = None if "*" in domains else tuple(domain.lower() for domain in domains)

    def require_allowed(self, values: Any) -> None:
        if self.domains is not None:
            self._walk(values)

    def _walk(self, value: Any) -> None:
        if isinstance(value, File):
            if value.url:
                self._check(value.url)
        elif isinstance(value, Mapping):
            for item in value.values():
                self._walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self._walk(item)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for part in dataclasses.fields(value):  # update operations: Add, AddUnique, Remove hold values
                self._walk(getattr(value, part.name))

    def _check(self, url: str) -> None:
        assert self.domains is not None
        try:
            host = urlsplit(url).hostname
        except ValueError:
            host = None
        if not host:
            raise FileSaveError("Invalid file URL.")
        for domain in self.domains:
            if host == domain or (domain.startswith("*.") and host.endswith(domain[1:])):
                return
        raise FileSaveError(f"File URL domain '{host}' is not allowed.")

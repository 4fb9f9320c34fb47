"""`/parse/files`: uploads streamed into the file store, downloads streamed out (byte ranges too), deletes.

Mounted ahead of the JSON REST endpoint because a file body is raw bytes, read chunk by chunk, never whole.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse

from app.domain.files import NO_DIRECTORY, limited_error, served_type
from app.errors import AppError, InvalidFileNameError, InvalidJSONError, PayloadTooLargeError, UnauthorizedError
from app.transport.callers import Credentials, Services, authenticate, file_encoder
from app.transport.http import (
    CORS_HEADERS,
    HttpEndpoint,
    error_response,
    header_credentials,
    json_response,
    parse_mount_url,
    route_not_found,
)
from app.transport.wire import parse_json

log = logging.getLogger("app.files")

MOUNT = "/parse/files"
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")
_NOT_FOUND = "File not found."


class Unsatisfiable(Exception):
    """A byte range that starts past the end of the file: 416."""


def byte_range(header: str | None, length: int) -> tuple[int, int] | None:
    """The [start, end) a `Range: bytes=…` header asks for; None to send the whole file (RFC 9110 §14)."""
    found = _RANGE.fullmatch(header or "")
    if not found or not (found.group(1) or found.group(2)):
        return None  # absent, several ranges, or not bytes: answered whole, as the RFC allows
    first, last = _position(found.group(1)), _position(found.group(2))
    if first is None:
        assert last is not None
        if last == 0:
            raise Unsatisfiable
        return max(0, length - last), length
    if last is not None and last < first:
        return None  # an invalid range is ignored
    if first >= length:
        raise Unsatisfiable
    return first, min(length, last + 1) if last is not None else length


def _position(digits: str) -> int | None:
    """A byte position; one of more than 18 digits is past the end of any file (and Python refuses to read
    numbers of thousands of digits)."""
    if not digits:
        return None
    return int(digits) if len(digits) <= 18 else 10**18


async def _request_chunks(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _metadata_header(value: str) -> dict[str, Any]:
    """`X-Parse-File-Metadata`: the metadata of a streamed upload, a JSON object."""
    try:
        metadata = parse_json(value)
    except ValueError:
        metadata = None
    if not isinstance(metadata, dict):
        raise InvalidJSONError("Invalid JSON in X-Parse-File-Metadata header.")
    return metadata


class FilesEndpoint(HttpEndpoint):
    """The ASGI app mounted at /parse/files."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, request: Request) -> Response:
        path = request.url.path[len(MOUNT) :].lstrip("/")
        try:
            if request.method == "OPTIONS":
                return Response(b"OK", 200, CORS_HEADERS, "text/plain; charset=utf-8")
            if request.method in ("GET", "HEAD") and "/" in path:
                app_id, name = path.split("/", 1)
                if app_id != self.services.settings.app_id:
                    raise UnauthorizedError("Permission denied")
                if name.startswith("metadata/"):
                    try:
                        await self._require_download_allowed(request)
                    except AppError as refused:
                        # Parse answers this route's refusals with 403, the download's with 400.
                        return json_response({"code": refused.code, "error": refused.message}, 403)
                    return await self.metadata(name[len("metadata/") :])
                await self._require_download_allowed(request)
                return await self.download(request, name)
            if request.method == "POST":
                name = path.rstrip("/")
                if "/" in name:  # an encoded slash; Parse's route reads it into the name and refuses it
                    raise InvalidFileNameError("Filename contains invalid characters.")
                return await self.upload(request, name)
            if request.method == "DELETE" and path:
                return await self.delete(request, path)
        except AppError as error:
            return error_response(error)
        except ClientDisconnect:
            raise  # not an error of ours: HttpEndpoint answers no one
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return json_response({"code": 1, "message": "Internal server error."}, 500)
        return route_not_found(request.method, request.url.path)

    async def upload(self, request: Request, name: str) -> Response:
        settings = self.services.settings
        limit = settings.max_upload_size
        streamed = request.headers.get("x-parse-upload-mode") == "stream"
        too_large = limited_error if streamed else (lambda _: PayloadTooLargeError("request entity too large"))
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise too_large(limit)
        credentials = header_credentials(request.headers)
        content_type = request.headers.get("content-type")
        metadata: dict[str, Any] = {}
        directory: Any = NO_DIRECTORY
        chunks = _request_chunks(request)
        if credentials.app_id is None:
            # The JS SDK sends files as JSON ({base64, _ContentType, fileData}) with its keys in the body.
            credentials, content_type, file_data, data = await self._json_upload(request, limit)
            metadata = file_data.get("metadata") or {}
            directory = file_data.get("directory", NO_DIRECTORY)
            chunks = _one(data)
        if streamed and request.headers.get("x-parse-file-metadata"):
            metadata = _metadata_header(request.headers["x-parse-file-metadata"])
        if streamed and request.headers.get("x-parse-file-directory"):
            directory = request.headers["x-parse-file-directory"]
        # Parse builds a Parse.File from the upload, and a Parse.File without a type is text/plain.
        content_type = content_type or "text/plain"
        client = request.client.host if request.client else None
        auth = await authenticate(self.services, credentials, client)
        stored = await self.services.files.create(
            auth, name, content_type, chunks, metadata, too_large=too_large, directory=directory
        )
        url = file_encoder(parse_mount_url(request, settings), settings.app_id).file_url(stored)
        return json_response({"url": url, "name": stored}, 201, {"Location": url})

    async def _json_upload(self, request: Request, limit: int) -> tuple[Credentials, str | None, dict[str, Any], bytes]:
        parts, size = [], 0
        async for chunk in request.stream():
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError("request entity too large")
        try:
            body = parse_json(b"".join(parts))
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("_ApplicationId"), str):
            raise UnauthorizedError("unauthorized")
        credentials = Credentials(app_id=body["_ApplicationId"], headers=request.headers)
        for field, attribute in (
            ("_SessionToken", "session_token"),
            ("_MasterKey", "master_key"),
            ("_InstallationId", "installation_id"),
        ):
            value = body.get(field)
            if value is not None and not isinstance(value, str):
                raise UnauthorizedError("unauthorized")
            setattr(credentials, attribute, value)
        content_type = body.get("_ContentType")
        encoded = body.get("base64") or ""
        if not isinstance(encoded, str) or not (content_type is None or isinstance(content_type, str)):
            raise UnauthorizedError("unauthorized")
        file_data = body.get("fileData")
        file_data = file_data if isinstance(file_data, dict) else {}
        metadata = file_data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise InvalidJSONError("Invalid JSON in fileData.metadata.")
        try:
            data = base64.b64decode(encoded)
        except (binascii.Error, ValueError):
            raise InvalidJSONError("The file's base64 data is not valid base64.") from None
        return credentials, content_type, file_data, data

    async def _require_download_allowed(self, request: Request) -> None:
        files = self.services.files
        if files.downloads.open_to_all:
            return  # Parse's default: no session is looked up for a download
        # The app id is in the path, so a browser's plain GET (no Parse headers) still counts as the public.
        credentials = header_credentials(request.headers)
        credentials.app_id = self.services.settings.app_id
        client = request.client.host if request.client else None
        await files.require_download_allowed(await authenticate(self.services, credentials, client))

    async def download(self, request: Request, name: str) -> Response:
        files = self.services.files
        found = await files.find(name)
        if found is None:
            return Response(_NOT_FOUND, 404, CORS_HEADERS, "text/plain; charset=utf-8")
        headers = {**CORS_HEADERS, "X-Content-Type-Options": "nosniff", "Accept-Ranges": "bytes"}
        media_type = served_type(found)
        try:
            wanted = byte_range(request.headers.get("range"), found.length)
        except Unsatisfiable:
            headers["Content-Range"] = f"bytes */{found.length}"
            return Response(b"", 416, headers, media_type)
        start, end, status = 0, found.length, 200
        if wanted is not None:
            (start, end), status = wanted, 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{found.length}"
        headers["Content-Length"] = str(end - start)
        if request.method == "HEAD":
            return Response(b"", status, headers, media_type)
        return StreamingResponse(files.read(found, start, end), status, headers, media_type)

    async def metadata(self, name: str) -> Response:
        found = await self.services.files.find(name)
        return json_response({"metadata": dict(found.metadata)} if found is not None else {})

    async def delete(self, request: Request, name: str) -> Response:
        client = request.client.host if request.client else None
        auth = await authenticate(self.services, header_credentials(request.headers), client)
        await self.services.files.delete(auth, name)
        return Response(b"", 200, CORS_HEADERS)

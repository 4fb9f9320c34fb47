"""Files of a multipart GraphQL request, read in chunks by the resolver that stores them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.datastructures import UploadFile

CHUNK_SIZE = 256 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    """A file of a multipart request, where the operation's `Upload` variable was.

    Starlette spools the part to a temporary file past 1 MB; it stays open until the request is answered.
    """

    filename: str
    content_type: str | None
    file: UploadFile

    async def chunks(self) -> AsyncIterator[bytes]:
        await self.file.seek(0)  # the same upload may be mapped to several variables
        while chunk := await self.file.read(CHUNK_SIZE):
            yield chunk

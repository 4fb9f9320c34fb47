"""A 50 MB file goes up and comes back down over real HTTP without the server holding it in memory."""

from __future__ import annotations

import hashlib
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import APP_ID, MASTER_KEY, make_settings, mongodb_only, serving

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHUNK = 64 * 1024
CHUNKS = 800  # 50 MiB
SIZE = CHUNK * CHUNKS
BOUND = 16 * 1024**2  # far below the file's size: what streaming keeps, with room for buffers and the client


def piece(index: int) -> bytes:
    return bytes([index % 251]) * CHUNK


@pytest.mark.parametrize(
    ("adapter", "key"),
    [pytest.param("gridfs", None, marks=mongodb_only("GridFS")), ("filesystem", None), ("filesystem", "s3cret")],
)
async def test_a_50_mb_file_streams_both_ways_without_growing_memory_by_its_size(
    adapter: str, key: str | None, database_server: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_server,
        f"big_{adapter}",
        tmp_path,
        files_adapter=adapter,
        max_upload_size=64 * 1024**2,
        files_encryption_key=key,  # encrypted as Parse's adapter does, still streamed both ways
    )
    expected = hashlib.sha256()
    for index in range(CHUNKS):
        expected.update(piece(index))

    async def body() -> AsyncIterator[bytes]:
        for index in range(CHUNKS):
            yield piece(index)

    async with serving(settings) as (_, client, _address):
        headers = {
            "X-Parse-Application-Id": APP_ID,
            "X-Parse-Master-Key": MASTER_KEY,
            "Content-Type": "application/octet-stream",
            "Content-Length": str(SIZE),
        }
        tracemalloc.start()
        try:
            uploaded = await client.post("/parse/files/big.bin", content=body(), headers=headers, timeout=300)
            assert uploaded.status_code == 201, uploaded.text
            name = uploaded.json()["name"]
            received = hashlib.sha256()
            length = 0
            async with client.stream("GET", f"/parse/files/{APP_ID}/{name}", timeout=300) as download:
                assert download.status_code == 200
                assert download.headers["content-length"] == str(SIZE)
                async for chunk in download.aiter_raw():
                    received.update(chunk)
                    length += len(chunk)
            middle = SIZE // 2 + 10
            ranged = await client.get(
                f"/parse/files/{APP_ID}/{name}", headers={"Range": f"bytes={middle}-{middle + CHUNK * 20 - 1}"}
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert length == SIZE and received.hexdigest() == expected.hexdigest()
    assert ranged.status_code == 206 and len(ranged.content) == CHUNK * 20
    around = b"".join(piece(index) for index in range(middle // CHUNK, middle // CHUNK + 21))
    assert ranged.content == around[middle % CHUNK : middle % CHUNK + CHUNK * 20]
    assert peak < BOUND, f"peak traced memory {peak / 1024**2:.1f} MiB for a {SIZE / 1024**2:.0f} MiB file"

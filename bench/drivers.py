"""psycopg 3 (async, psycopg_pool) against asyncpg on the embedded PostgreSQL: round trips per second.

N primary-key selects and N inserts, one task at a time (latency) and 8 tasks on a pool of 8 (throughput), both
with parameters, as the engine sends them. Run: python bench/drivers.py [N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]
from psycopg_pool import AsyncConnectionPool

from app.embedded_postgres import EmbeddedPostgres

TASKS = 8
SETUP = """
DROP TABLE IF EXISTS bench;
CREATE TABLE bench ("objectId" text PRIMARY KEY, "n" double precision, "payload" jsonb);
INSERT INTO bench SELECT 'id' || i, i, '{"a": 1}' FROM generate_series(1, 10000) i;
"""


async def timed(name: str, n: int, job: Callable[[int], Awaitable[None]], tasks: int) -> None:
    per_task = n // tasks

    async def worker(offset: int) -> None:
        for i in range(per_task):
            await job(offset * per_task + i)

    started = time.perf_counter()
    await asyncio.gather(*(worker(t) for t in range(tasks)))
    elapsed = time.perf_counter() - started
    print(f"{name:<40} {per_task * tasks / elapsed:>9,.0f} /s")


async def with_psycopg(uri: str, n: int) -> None:
    async with AsyncConnectionPool(uri, min_size=TASKS, max_size=TASKS, open=False) as pool:
        async with pool.connection() as connection:
            await connection.execute(SETUP)

        async def select(i: int) -> None:
            async with pool.connection() as connection:
                cursor = await connection.execute('SELECT * FROM bench WHERE "objectId" = %s', (f"id{i % 10000 + 1}",))
                await cursor.fetchone()

        async def insert(i: int) -> None:
            async with pool.connection() as connection:
                await connection.execute(
                    'INSERT INTO bench ("objectId", "n", "payload") VALUES (%s, %s, %s::jsonb)',
                    (f"p{i}-{time.monotonic_ns()}", i, '{"a": 2}'),
                )

        for tasks in (1, TASKS):
            await timed(f"psycopg select by key, {tasks} task(s)", n, select, tasks)
            await timed(f"psycopg insert, {tasks} task(s)", n, insert, tasks)


async def with_asyncpg(uri: str, n: int) -> None:
    pool = await asyncpg.create_pool(uri, min_size=TASKS, max_size=TASKS)
    try:
        async with pool.acquire() as connection:
            await connection.execute(SETUP)

        async def select(i: int) -> None:
            async with pool.acquire() as connection:
                await connection.fetchrow('SELECT * FROM bench WHERE "objectId" = $1', f"id{i % 10000 + 1}")

        async def insert(i: int) -> None:
            async with pool.acquire() as connection:
                await connection.execute(
                    'INSERT INTO bench ("objectId", "n", "payload") VALUES ($1, $2, $3::jsonb)',
                    f"a{i}-{time.monotonic_ns()}",
                    i,
                    '{"a": 2}',
                )

        for tasks in (1, TASKS):
            await timed(f"asyncpg select by key, {tasks} task(s)", n, select, tasks)
            await timed(f"asyncpg insert, {tasks} task(s)", n, insert, tasks)
    finally:
        await pool.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedPostgres(folder, durable=False)
        uri = server.start()
        try:
            asyncio.run(with_psycopg(uri, n))
            asyncio.run(with_asyncpg(uri, n))
            asyncio.run(with_psycopg(uri, n))
        finally:
            server.stop()


if __name__ == "__main__":
    main()

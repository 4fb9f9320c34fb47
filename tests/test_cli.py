"""`parseql serve` as a user runs it: the embedded database comes and goes with the server."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ENGINE, fresh_uri
from tests.processes import database_port as _database_port
from tests.processes import port_open as _port_open
from tests.processes import start_server as _start


@pytest.fixture
def tmp_path(server_home: Path) -> Path:
    """Every test's folder here is `server_home` (conftest.py): the servers these tests start run the embedded
    PostgreSQL, whose own user must keep reaching its data folder."""
    return server_home


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("engine", "folder", "named"), [(None, "pg", "PostgreSQL"), ("mongodb", "db", "SecantusDB")])
def test_serve_prints_the_urls_and_keys_and_stops_its_database_on_ctrl_c(
    tmp_path: Path, engine: str | None, folder: str, named: str
) -> None:
    process, port, log = _start(tmp_path, *(["--embedded", engine] if engine else []))
    database_port = _database_port(log)
    key = (tmp_path / "data" / "master_key").read_text().strip()
    banner = log.read_text()
    assert f"http://127.0.0.1:{port}/parse" in banner
    assert "app id      app" in banner
    assert key in banner
    assert f"database    embedded {named}" in banner
    created = httpx.post(
        f"http://127.0.0.1:{port}/parse/classes/Note",
        json={"text": "hi"},
        headers={"X-Parse-Application-Id": "app", "X-Parse-Master-Key": key},
    )
    assert created.status_code == 201
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    assert not _port_open(database_port), "the embedded database outlived the server"
    assert (tmp_path / "data" / folder).is_dir()


def test_a_database_uri_skips_the_embedded_database(tmp_path: Path, database_server: str) -> None:
    uri = fresh_uri(database_server, "cli_uri_test")
    process, port, log = _start(tmp_path, "--database-uri", uri, "--master-key", "given")
    try:
        assert "embedded database ready" not in log.read_text()
        assert "master key  given" in log.read_text()
        info = httpx.get(
            f"http://127.0.0.1:{port}/parse/serverInfo",
            headers={"X-Parse-Application-Id": "app", "X-Parse-Master-Key": "given"},
        )
        assert info.status_code == 200
        engines = ["PostgreSQL"] if ENGINE == "postgres" else ["SecantusDB", "MongoDB"]
        assert info.json()["database"]["engine"] in engines
        assert ("database    PostgreSQL" in log.read_text()) == (ENGINE == "postgres")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def test_bad_settings_are_refused_before_anything_starts(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app", "--port", "lots", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--port" in result.stderr
    assert not (tmp_path / "db").exists()


def test_a_data_dir_of_the_earlier_embedded_database_is_kept_and_can_be_moved_to_postgresql(tmp_path: Path) -> None:
    """ParseQL embedded SecantusDB before it embedded PostgreSQL: such a data dir is not silently replaced by an
    empty database; the server says what to do, and `parseql migrate` moves it, files included."""
    process, port, log = _start(tmp_path, "--embedded", "mongodb", "--master-key", "m")
    headers = {"X-Parse-Application-Id": "app", "X-Parse-Master-Key": "m"}
    base = f"http://127.0.0.1:{port}/parse"
    note = httpx.post(f"{base}/classes/Note", json={"text": "kept"}, headers=headers).json()["objectId"]
    upload = httpx.post(f"{base}/files/hello.txt", content=b"hello", headers={**headers, "Content-Type": "text/plain"})
    name = upload.json()["name"]
    httpx.put(f"{base}/classes/Note/{note}", json={"file": {"__type": "File", "name": name}}, headers=headers)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0

    data = str(tmp_path / "data")
    refused = subprocess.run(
        [sys.executable, "-m", "app", "--data-dir", data, "--master-key", "m", "--port", "1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "--embedded mongodb" in refused.stderr and "parseql migrate" in refused.stderr, refused.stderr

    command = ["migrate", "--from", "embedded:mongodb", "--to", "embedded:postgres", "--data-dir", data]
    moved = subprocess.run([sys.executable, "-m", "app", *command], capture_output=True, text=True, timeout=300)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "every object, relation and file arrived" in moved.stdout

    process, port, log = _start(tmp_path, "--master-key", "m")
    try:
        assert "embedded PostgreSQL" in log.read_text()
        base = f"http://127.0.0.1:{port}/parse"
        found = httpx.get(f"{base}/classes/Note/{note}", headers=headers).json()
        assert found["text"] == "kept"
        assert httpx.get(found["file"]["url"]).content == b"hello"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0

"""`parseql serve` as a user runs it: the embedded database comes and goes with the server."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import fresh_uri
from tests.processes import database_port as _database_port
from tests.processes import port_open as _port_open
from tests.processes import start_server as _start

ROOT = Path(__file__).resolve().parents[1]


def test_serve_prints_the_urls_and_keys_and_stops_its_database_on_ctrl_c(tmp_path: Path) -> None:
    process, port, log = _start(tmp_path)
    database_port = _database_port(log)
    key = (tmp_path / "data" / "master_key").read_text().strip()
    banner = log.read_text()
    assert f"http://127.0.0.1:{port}/parse" in banner
    assert "app id      app" in banner
    assert key in banner
    created = httpx.post(
        f"http://127.0.0.1:{port}/parse/classes/Note",
        json={"text": "hi"},
        headers={"X-Parse-Application-Id": "app", "X-Parse-Master-Key": key},
    )
    assert created.status_code == 201
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    assert not _port_open(database_port), "the embedded database outlived the server"
    assert (tmp_path / "data" / "db").is_dir()


def test_a_database_uri_skips_the_embedded_database(tmp_path: Path, database_server: str) -> None:
    uri = fresh_uri(database_server, "cli_uri_test")
    process, port, log = _start(tmp_path, "--database-uri", uri, "--master-key", "given")
    try:
        assert "embedded database ready" not in log.read_text()
        assert "master key  given" in log.read_text()
        assert (
            httpx.get(
                f"http://127.0.0.1:{port}/parse/serverInfo",
                headers={"X-Parse-Application-Id": "app", "X-Parse-Master-Key": "given"},
            ).status_code
            == 200
        )
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

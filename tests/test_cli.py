"""`parseql serve` as a user runs it: the embedded database comes and goes with the server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[str], int, Path]:
    port = _free_port()
    log = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARSEQL_")}
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
                "--schema-dir",
                str(tmp_path / "schema"),
                *flags,
            ],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/parse/health").status_code == 200:
                return process, port, log
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError(f"the server did not start:\n{log.read_text()}")


def _database_port(log: Path) -> int:
    found = re.search(r"embedded database ready on port (\d+)", log.read_text())
    assert found, log.read_text()
    return int(found.group(1))


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


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


def test_a_crash_of_the_embedded_database_stops_the_server_with_a_clear_message(tmp_path: Path) -> None:
    process, _, log = _start(tmp_path)
    database_port = _database_port(log)
    listing = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True).stdout
    pid = next(
        int(line.split()[0])
        for line in listing.splitlines()
        if "secantusd" in line and f"--port {database_port} " in line
    )
    os.kill(pid, signal.SIGKILL)
    assert process.wait(30) == 1
    output = log.read_text()
    assert "the embedded database exited unexpectedly" in output
    assert "embedded-db.log" in output


def test_a_database_uri_skips_the_embedded_database(tmp_path: Path, database_server: str) -> None:
    process, port, log = _start(tmp_path, "--database-uri", f"{database_server}/cli_uri_test", "--master-key", "given")
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

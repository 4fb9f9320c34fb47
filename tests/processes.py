"""Real `parseql serve` processes for tests, and their embedded databases found as a user finds them (`ps`)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_server(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[str], int, Path]:
    """`python -m app` on a free port with its data under `tmp_path`, once `/parse/health` says ok: the process,
    its port and its log (stdout and stderr)."""
    port = free_port()
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


def database_port(log: Path) -> int:
    """The embedded database's port, from the line the server logs when it is ready."""
    found = re.search(r"embedded database ready: \w+://(?:\w+@)?127\.0\.0\.1:(\d+)/", log.read_text())
    assert found, log.read_text()
    return int(found.group(1))


def database_pids(port: int) -> list[int]:
    """The embedded database processes serving `port`, as `ps` lists them: SecantusDB, or PostgreSQL's postmaster
    (not its backends, which name themselves `postgres: …`)."""
    listing = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True).stdout
    found = []
    for line in listing.splitlines():
        pid, _, args = line.strip().partition(" ")
        if "<defunct>" in args:
            continue
        if ("secantusd" in args and f"--port {port} " in args) or (
            "bin/postgres " in args and f"port={port} " in f"{args} "
        ):
            found.append(int(pid))
    return found


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Return once `condition()` holds; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)

"""Parse Server 9.10 as a live peer for interoperability tests, installed from npm into bench/peer."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

PEER_DIR = Path(__file__).resolve().parents[2] / "bench" / "peer"


def require_peer() -> None:
    """Install the peer once (npm ci from the lock file), or skip with the reason when Node is missing."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("Node.js and npm are needed to run Parse Server as a peer; .ci/run installs them")
    if not (PEER_DIR / "node_modules" / "parse-server" / "package.json").is_file():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PEER_DIR,
            check=True,
            timeout=900,
            stdout=subprocess.DEVNULL,
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def parse_server(
    database_uri: str,
    *,
    files_in: Path | None = None,
    files_key: str | None = None,
    idempotency_paths: list[str] | None = None,
) -> AsyncIterator[httpx.AsyncClient]:
    """Parse Server on `database_uri`; yields a client for it (app id `app`, master key `master`).

    With `files_in`, Parse keeps its files with its filesystem adapter in `files_in/files` (the adapter's folder is
    relative to the working directory), encrypted with `files_key` when given. With `idempotency_paths`, Parse's
    `idempotencyOptions.paths`."""
    port = _free_port()
    env = {
        **os.environ,
        "PEER_PORT": str(port),
        "PEER_DATABASE_URI": database_uri,
        "PEER_APP_ID": "app",
        "PEER_MASTER_KEY": "master",
    }
    if idempotency_paths is not None:
        env["PEER_IDEMPOTENCY_PATHS"] = json.dumps(idempotency_paths)
    if files_in is not None:
        env["PEER_FILES"] = "fs"
        if files_key is not None:
            env["PEER_FILES_KEY"] = files_key
    log_path = Path(tempfile.mkdtemp(prefix="parse-peer-")) / "parse.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["node", str(PEER_DIR / "server.js")],
            cwd=files_in or PEER_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            for _ in range(300):
                if process.poll() is not None:
                    raise RuntimeError(f"Parse Server exited while starting:\n{log_path.read_text()}")
                try:
                    if (await client.get("/parse/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("Parse Server did not start in 60 s")
            yield client
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

"""Real clients against a running ParseQL: the Node packages they need (installed once from package-lock.json),
and a way to run one client script and read the JSON it prints."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

E2E_DIR = Path(__file__).resolve().parent
NODE_MODULES = E2E_DIR / "node_modules"
CLIENT_TIMEOUT = 60  # seconds one client script may run


def require_node_clients() -> None:
    """`npm ci` here once per machine (again when the lock file changes), or skip with the reason."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("Node.js and npm are needed to run the JavaScript clients; .ci/run installs them")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout
    if int(version.strip().lstrip("v").split(".")[0]) < 20:
        pytest.skip(f"the clients' packages need Node.js 20 or later, this is {version.strip()}")
    installed = NODE_MODULES / ".package-lock.json"  # npm writes it last, so it marks a finished install
    lock = E2E_DIR / "package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=E2E_DIR,
            check=True,
            timeout=600,
            stdout=subprocess.DEVNULL,
        )


async def run_client(script: str, *args: str) -> Any:
    """Run `node <script> <args>` in tests/e2e and return the JSON its last line of output holds."""
    process = await asyncio.create_subprocess_exec(
        "node",
        script,
        *args,
        cwd=E2E_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CLIENT_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, f"{script} failed:\n{err.decode()}{out.decode()}"
    return json.loads(out.decode().strip().splitlines()[-1])


# Headless Chromium, with a screenshot in tests/artifacts/ of each page whose test failed: the browser tests' own.
from tests.browser.conftest import browser, page, pytest_runtest_makereport  # noqa: E402

__all__ = ["browser", "page", "pytest_runtest_makereport", "require_node_clients", "run_client"]

"""The Parse JavaScript SDK's LiveQuery client, unchanged, against ParseQL's LiveQuery socket."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import make_settings, serving
from tests.interop.peer import PEER_DIR, require_peer

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCRIPT = Path(__file__).with_name("sdk_livequery.js")


async def test_the_js_sdk_receives_create_update_leave_enter_and_delete(database_server: str, tmp_path: Path) -> None:
    require_peer()  # installs Parse Server 9.10 and, with it, the `parse` SDK it depends on
    settings = make_settings(database_server, "sdk_livequery", tmp_path, allow_client_class_creation=True)
    async with serving(settings) as (_, _, address):
        process = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            str(PEER_DIR / "node_modules" / "parse"),
            address,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
    # Parse Server 9.10 answers this script with exactly these events.
    assert process.returncode == 0, output.decode()
    assert output.decode().strip() == "create:2 update:3 leave:0 enter:5 delete:5"

"""docs/parse-options.md accounts for every option of Parse Server 9.10, read from the peer's own definitions, and
names only ParseQL settings that exist.

A Parse release that adds an option, or a ParseQL setting renamed without the page, fails here."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from app.settings import Settings
from tests.interop.peer import PEER_DIR, require_peer

PAGE = Path(__file__).resolve().parents[2] / "docs" / "parse-options.md"

_FLAG = re.compile(r"`--([a-z0-9-]+)")
_STATUS = re.compile(r"\*\*(yes|built in|n/a|not yet)\*\*")


def parse_options() -> dict[str, list[str]]:
    """Each group of Parse's definitions (`ParseServerOptions`, `RateLimitOptions`…) and its option names."""
    script = (
        "const d = require('parse-server/lib/Options/Definitions.js');"
        "const out = {}; for (const [g, o] of Object.entries(d)) out[g] = Object.keys(o);"
        "console.log(JSON.stringify(out));"
    )
    done = subprocess.run(["node", "-e", script], cwd=PEER_DIR, capture_output=True, text=True, check=True, timeout=60)
    options: dict[str, list[str]] = json.loads(done.stdout)
    return options


def page_rows() -> list[str]:
    return [line for line in PAGE.read_text().splitlines() if line.startswith("| ") and not line.startswith("|---")]


def test_every_parse_option_has_a_row_with_a_status() -> None:
    require_peer()
    rows = page_rows()
    text = "\n".join(rows)
    missing = [
        f"{group}.{name}"
        for group, names in parse_options().items()
        for name in names
        if f"`{name}`" not in text and f"`pages.{name}`" not in text
    ]
    assert missing == []
    unstated = [row for row in rows[1:] if "Parse option" not in row and not _STATUS.search(row)]
    assert unstated == []


def test_every_not_yet_says_why() -> None:
    for row in page_rows():
        status = _STATUS.search(row)
        if status and status.group(1) == "not yet":
            reason = row[status.end() :].strip(" :|")
            assert len(reason) > 20, row


def test_every_flag_named_is_a_parseql_setting() -> None:
    known = {name.replace("_", "-") for name in Settings.names()}
    named = {flag for row in page_rows() for flag in _FLAG.findall(row) if not flag.endswith("-")}
    # `--password-*` and `--s3-*` stand for families of flags; each member is checked where it is named.
    assert sorted(named - known) == []

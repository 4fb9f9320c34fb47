"""JSON on the wire: request bodies in, response bodies out (orjson both ways)."""

from __future__ import annotations

from typing import Any

import orjson


def parse_json(data: bytes | str) -> Any:
    """Parse a JSON document; raises ValueError with a readable reason."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ValueError(str(error)) from None


def dump_json(value: Any) -> bytes:
    return orjson.dumps(value)

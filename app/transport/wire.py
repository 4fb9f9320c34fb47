"""JSON on the wire: request bodies in, response bodies out (orjson both ways).

What arrives is nested at most `MAX_NESTING` levels: every later pass (decoding, validation, query
translation, the matcher, encoders) recurses over it, so the bound is checked once, here, for every
body, query parameter and websocket message.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.domain.encoding import MAX_NESTING, TOO_DEEP, nests_deeper_than


class JSONTooDeepError(ValueError):
    """A JSON document nested deeper than `MAX_NESTING` levels."""


def parse_json(data: bytes | str) -> Any:
    """Parse a JSON document; raises ValueError with a readable reason."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error):  # orjson's own bound (1024), far above ours
            raise JSONTooDeepError(TOO_DEEP) from None
        raise ValueError(str(error)) from None
    if _opening_brackets(data) > MAX_NESTING and nests_deeper_than(value, MAX_NESTING):
        raise JSONTooDeepError(TOO_DEEP)
    return value


def _opening_brackets(data: bytes | str) -> int:
    """At least the depth of the document (brackets in strings count too): when it is small, most bodies
    skip the walk, which costs a loop over every element."""
    if isinstance(data, str):
        return data.count("[") + data.count("{")
    return data.count(b"[") + data.count(b"{")


def dump_json(value: Any) -> bytes:
    return orjson.dumps(value)

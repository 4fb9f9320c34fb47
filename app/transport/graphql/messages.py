"""graphql-core's error messages in graphql-js's words (what Parse Server answers), and the redaction Parse
Server 9 applies to them for callers who may not introspect."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from graphql.pyutils import inspect as python_inspect

_SINGLE_QUOTED = re.compile(r"'([^'\n]*)'")
_MAX_DEPTH = 2
_MAX_ITEMS = 10


def js_inspect(value: Any, depth: int = 0) -> str:
    """A value as graphql-js's `inspect` writes it: `{ key: "text", list: [1, 2] }`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        if not value:
            return "[]"
        if depth >= _MAX_DEPTH:
            return "[Array]"
        items = [js_inspect(item, depth + 1) for item in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            more = len(value) - _MAX_ITEMS
            items.append(f"... {more} more item{'s' if more > 1 else ''}")
        return "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        if depth >= _MAX_DEPTH:
            return "[Object]"
        return "{ " + ", ".join(f"{key}: {js_inspect(item, depth + 1)}" for key, item in value.items()) + " }"
    return str(value)


def _values(value: Any) -> Iterator[Any]:
    """A variable's value and every value inside it, outermost first."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _values(item)
    elif isinstance(value, list):
        for item in value:
            yield from _values(item)


def js_message(message: str, variables: Any = None) -> str:
    """graphql-core writes names in 'single quotes' and values as Python would; graphql-js as below."""
    if variables:
        for value in _values(variables):
            if isinstance(value, dict | list | str):
                shown = python_inspect(value)
                if shown in message:
                    message = message.replace(shown, js_inspect(value))
    return _SINGLE_QUOTED.sub(r'"\1"', message)


# Redaction -----------------------------------------------------------------------------------------------------

_SUGGESTION = re.compile(r" ?Did you mean(.+?)\?$")
_REQUIRED_FIELD = re.compile(r'Field "[^"]*" of required type "[^"]*" was not provided\.')
# (pattern, replacement): the last group is a type name, kept when the caller wrote it in the operation; a
# replacement's {0} is the first group.
_TYPE_MENTIONS = [
    (re.compile(r'Expected value of type "([^"]+)"'), "Expected value of the correct type"),
    (re.compile(r'Expected type "([^"]+)" to be an object\.'), "Expected an object."),
    (re.compile(r'Expected non-nullable type "([^"]+)" not to be null\.'), "Expected a non-null value."),
    (re.compile(r' is not defined by type "([^"]+)"\.'), " is not defined."),
    (re.compile(r' used in position expecting type "([^"]+)"\.'), " used in position expecting a different type."),
    (re.compile(r'Cannot query field ("[^"]*") on type "([^"]+)"\.'), "Cannot query field {0}."),
    (
        re.compile(r'Field ("[^"]*") of type "([^"]+)" must have a selection of subfields\.'),
        "Field {0} must have a selection of subfields.",
    ),
]
_FRAGMENT_TYPES = re.compile(r'objects of type "([^"]+)" can never be of type "([^"]+)"\.')


def redacted(message: str, operation_text: str | None) -> str:
    """Without "did you mean" hints, and without type names the caller did not write in the operation."""
    words = set(re.split(r"[^_A-Za-z0-9]+", operation_text or ""))

    def written(type_name: str) -> bool:
        return re.sub(r"[\[\]!]", "", type_name) in words

    def redact(template: str) -> Any:
        def replace(match: re.Match[str]) -> str:
            return match[0] if written(match.groups()[-1]) else template.format(*match.groups())

        return replace

    def fragment(match: re.Match[str]) -> str:
        parent = f'type "{match[1]}"' if written(match[1]) else "the parent type"
        spread = f'type "{match[2]}"' if written(match[2]) else "the given type"
        return f"objects of {parent} can never be of {spread}."

    message = _REQUIRED_FIELD.sub("Field of required type was not provided.", _SUGGESTION.sub("", message))
    for pattern, template in _TYPE_MENTIONS:
        message = pattern.sub(redact(template), message)
    return _FRAGMENT_TYPES.sub(fragment, message)

"""Route patterns as Parse Server's rate limits read them: path-to-regexp 8's syntax, compiled to one regex.

The syntax: text matches itself; `:name` is one segment (one or more characters, no `/`); `*name` is one or more
characters of anything, `/` included; `{…}` makes its content optional; `\\` escapes the next character. The
characters `()[]?+!}` are reserved and refused, as is a `:` or `*` without a name. A pattern matches a whole path,
ignoring case, with or without one trailing `/`.

Each optional group doubles the alternatives: the pattern is expanded into its sequences (at most 256), each
compiled alone and joined with `|`. Within a sequence a capture must not swallow the text that separates it from
the capture before it, so `/:a-:b` reads `x-y-z` as `x-y` and `z`: a parameter after another in one segment
excludes the text between them, and a wildcard after a wildcard excludes the text since the last one.

Beyond Parse 9 (and as Parse 6 to 8 read it): `*` alone matches every path, and an unnamed `*` after a `/`
matches anything there, nothing included, so rate limits written for earlier versions (`/functions/*`) keep
their meaning instead of stopping the server.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

_RESERVED = set("}()[]+?!")
_MAX_SEQUENCES = 256


class RoutePatternError(ValueError):
    """The pattern cannot be read; the message says where."""


@dataclass(frozen=True, slots=True)
class _Text:
    value: str


@dataclass(frozen=True, slots=True)
class _Capture:
    kind: Literal["param", "wildcard", "any"]
    name: str


@dataclass(frozen=True, slots=True)
class _Group:
    tokens: tuple[_Token, ...]


_Token = _Text | _Capture | _Group


def _starts_name(char: str) -> bool:
    return char in "$_" or char.isidentifier()


def _continues_name(char: str) -> bool:
    return char in "$\u200c\u200d" or ("a" + char).isidentifier() or unicodedata.category(char) == "Mn"


def _parse(pattern: str) -> tuple[_Token, ...]:
    position = 0

    def read(until: str) -> tuple[_Token, ...]:
        nonlocal position
        tokens: list[_Token] = []
        text = ""
        while position < len(pattern):
            char = pattern[position]
            position += 1
            if char == until:
                return (*tokens, _Text(text)) if text else tuple(tokens)
            if char == "\\":
                if position == len(pattern):
                    raise RoutePatternError(f"a \\ ends the pattern at {position}")
                text += pattern[position]
                position += 1
            elif char in ":*":
                start = position
                name = _read_name()
                if not name and char == "*" and _legacy_star(start):
                    tokens.extend([_Text(text)] if text else [])
                    tokens.append(_Capture("any", ""))
                    text = ""
                    continue
                if not name:
                    raise RoutePatternError(f"{char} needs a name at {start} (write {char}name)")
                tokens.extend([_Text(text)] if text else [])
                tokens.append(_Capture("param" if char == ":" else "wildcard", name))
                text = ""
            elif char == "{":
                tokens.extend([_Text(text)] if text else [])
                text = ""
                tokens.append(_Group(read("}")))
            elif char in _RESERVED:
                raise RoutePatternError(f"{char} at {position - 1} is reserved (escape it as \\{char})")
            else:
                text += char
        if until:
            raise RoutePatternError(f"a {{ is not closed by {until}")
        return (*tokens, _Text(text)) if text else tuple(tokens)

    def _read_name() -> str:
        nonlocal position
        if position < len(pattern) and pattern[position] == '"':
            end = pattern.find('"', position + 1)
            if end < 0:
                raise RoutePatternError(f"a quoted name at {position} is not closed")
            name = pattern[position + 1 : end]
            position = end + 1
            return name
        name = ""
        if position < len(pattern) and _starts_name(pattern[position]):
            while position < len(pattern) and _continues_name(pattern[position]):
                name += pattern[position]
                position += 1
        return name

    def _legacy_star(after: int) -> bool:
        # `*` alone, or `/*` ending a segment: Parse 6-8's spelling of "anything here".
        before = pattern[: after - 1]
        return (before == "" or before.endswith("/")) and (after == len(pattern) or pattern[after] == "/")

    return read("")


def _sequences(tokens: tuple[_Token, ...]) -> list[list[_Text | _Capture]]:
    """Every sequence the optional groups allow: with each group's content, and without it."""
    results: list[list[_Text | _Capture]] = [[]]
    for token in tokens:
        if isinstance(token, _Group):
            inner = _sequences(token.tokens)
            results = [done + more for done in results for more in ([], *inner)]
        else:
            results = [[*done, token] for done in results]
        if len(results) > _MAX_SEQUENCES:
            raise RoutePatternError("too many optional groups")
    return results


def _excluding(*texts: str) -> str:
    """One character that does not start any of `texts` (non-empty ones)."""
    texts = tuple(sorted({text for text in texts if text}, key=len, reverse=True))
    if all(len(text) == 1 for text in texts):
        return "[^" + "".join(re.escape(text) for text in texts) + "]"
    return "(?:(?!" + "|".join(re.escape(text) for text in texts) + ")[\\s\\S])"


def _sequence_regex(tokens: list[_Text | _Capture], pattern: str) -> str:
    source = ""
    since_capture = ""  # text since the last capture
    since_wildcard = ""  # text since the last wildcard
    after_wildcard = False
    segment = 0  # captures in this segment: 1 a parameter, 2 a wildcard
    previous: str | None = None
    for index, token in enumerate(tokens):
        if isinstance(token, _Text):
            source += re.escape(token.value)
            since_capture += token.value
            if after_wildcard:
                since_wildcard += token.value
            if "/" in token.value:
                segment = 0
            continue
        if token.kind == "any":
            source += "[\\s\\S]*"
            since_capture, previous = "", None
            continue
        if previous and not since_capture:
            raise RoutePatternError(f'"{token.name}" follows another capture with no text between them in {pattern}')
        if token.kind == "param":
            if segment & 2:
                source += f"({_excluding('/', since_capture)}+)"
            elif _wildcard_later_in_segment(tokens, index + 1):
                source += f"({_excluding('/', _text_after(tokens, index + 1))}+)"
            elif segment & 1:
                source += f"({_excluding('/', since_capture)}+|{re.escape(since_capture)})"
            else:
                source += "([^/]+)"
            segment |= 1
            after_wildcard = False
        else:
            if segment & 2:
                source += f"({_excluding(since_capture)}+)"
            elif since_wildcard:
                source += f"({_excluding(since_wildcard)}+|[^/]+)"
            else:
                source += "([\\s\\S]+)"
            since_wildcard, after_wildcard = "", True
            segment |= 2
        previous, since_capture = token.kind, ""
    return source


def _wildcard_later_in_segment(tokens: list[_Text | _Capture], start: int) -> bool:
    for token in tokens[start:]:
        if isinstance(token, _Capture) and token.kind == "wildcard":
            return True
        if isinstance(token, _Text) and "/" in token.value:
            return False
    return False


def _text_after(tokens: list[_Text | _Capture], start: int) -> str:
    text = ""
    for token in tokens[start:]:
        if not isinstance(token, _Text):
            break
        text += token.value
    return text


@dataclass(frozen=True, slots=True)
class RoutePattern:
    """One compiled pattern; `matches(path)` for a path under the mount (`/classes/Note`)."""

    source: str
    regex: re.Pattern[str]

    @classmethod
    def compile(cls, pattern: str) -> RoutePattern:
        """The pattern compiled, or `RoutePatternError` saying what is wrong with it."""
        sequences = _sequences(_parse(pattern))
        body = "|".join(_sequence_regex(sequence, pattern) for sequence in sequences)
        return cls(pattern, re.compile(f"^(?:{body})(?:/$)?$", re.IGNORECASE))

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None

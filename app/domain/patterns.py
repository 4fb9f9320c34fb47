r"""The regular expressions of `$regex`: read as the database reads them, and translated for RE2, the
linear-time engine live queries match with (`backtracking.py` checks them for runaway backtracking).

Reading. `parse` follows the grammar of Python's `re`, with which SecantusDB (the embedded database) compiles
every `$regex` after turning PCRE's `\Z` and `\z` into Python's; for what the Parse SDKs and most people send,
PCRE (MongoDB) reads it the same way. The tree keeps what a match needs: sets of characters (a literal, a
class, `.`, `\d`), sequences, alternatives, repetitions, anchors, and the constructs a backtracking engine
alone can run (backreferences, lookaround, atomic groups, possessive quantifiers, conditionals).

Translating. `to_re2` writes the tree in RE2's syntax with Python's meanings spelled out: `\d`, `\w` and `\s`
as the exact Unicode ranges Python gives them, `.` without `s` as "not a newline", flags as scoped groups,
`x` mode already read away. PCRE's `$` (and `\Z`) also matches before a final newline, which RE2 cannot
say; where nothing can be read after it, `\n?\z` finds the same texts. What RE2 cannot run exactly is
refused with the reason: backreferences, lookaround, atomic groups and possessive quantifiers, `\b` (a
Unicode word boundary, where RE2 knows only ASCII words), a `$` followed by more pattern.
"""

from __future__ import annotations

import array
import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Final

from app.errors import InvalidQueryError

MAX_PATTERN: Final = 1000
"""The longest pattern accepted where one is checked or translated (SecantusDB's own limit)."""

_MAX_CODE = 0x10FFFF
_MAX_DEPTH = 100
_ALL: Final = ((0, _MAX_CODE),)
_NEWLINE = 0x0A
_VERBOSE_SPACE = frozenset(" \t\n\r\v\f")
_ESCAPES = {"a": 0x07, "f": 0x0C, "n": 0x0A, "r": 0x0D, "t": 0x09, "v": 0x0B, "\\": 0x5C}
_DIGITS = "0123456789"
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"
_INLINE_FLAGS = "aiLmsux"

Ranges = tuple[tuple[int, int], ...]


class PatternError(InvalidQueryError):
    """A `$regex` that is not a valid regular expression, or that this server will not run."""


class Untranslatable(Exception):
    """A construct RE2 cannot run with the database's meaning; the message says which."""


# The tree ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chars:
    """One character out of a set: literal ranges and the classes `d D w W s S`, maybe negated."""

    ranges: Ranges = ()
    classes: tuple[str, ...] = ()
    negated: bool = False
    fold: bool = False
    """Case-insensitive (the `i` flag was on)."""
    ascii: bool = False
    """Python's `a` flag: `\\w`, `\\d`, `\\s` are ASCII only."""


@dataclass(frozen=True, slots=True)
class Anchor:
    kind: str
    """`start` (`\\A`, `^`), `line_start` (`^` with m), `end` (`$`, `\\Z`: the end or before a final newline),
    `line_end` (`$` with m), `text_end` (`\\z`), `word`, `not_word` (`\\b`, `\\B`)."""


@dataclass(frozen=True, slots=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Alt:
    branches: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Repeat:
    item: Node
    low: int
    high: int | None
    possessive: bool = False


@dataclass(frozen=True, slots=True)
class Backtracking:
    """What only a backtracking engine runs: `kind` names it, `items` are the patterns inside."""

    kind: str
    items: tuple[Node, ...] = ()


Node = Chars | Anchor | Seq | Alt | Repeat | Backtracking


@dataclass(frozen=True, slots=True)
class Pattern:
    root: Node
    anomalies: tuple[str, ...] = ()
    """What Python warns about and reads otherwise than PCRE (a POSIX class such as `[[:alpha:]]`)."""


# Reading -------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Flags:
    fold: bool = False
    multiline: bool = False
    dotall: bool = False
    verbose: bool = False
    ascii: bool = False

    def with_letters(self, on: str, off: str = "") -> _Flags:
        changed = _Flags(self.fold, self.multiline, self.dotall, self.verbose, self.ascii)
        for letter, value in [(letter, True) for letter in on] + [(letter, False) for letter in off]:
            if letter == "i":
                changed.fold = value
            elif letter == "m":
                changed.multiline = value
            elif letter == "s":
                changed.dotall = value
            elif letter == "x":
                changed.verbose = value
            elif letter == "a":
                changed.ascii = value
        return changed


@dataclass(slots=True)
class _Reader:
    text: str
    at: int = 0
    groups: int = 0
    open_groups: set[int] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    anomalies: list[str] = field(default_factory=list)

    @property
    def next(self) -> str | None:
        return self.text[self.at] if self.at < len(self.text) else None

    def take(self) -> str | None:
        char = self.next
        if char is not None:
            self.at += 1
        return char

    def match(self, expected: str) -> bool:
        if self.text.startswith(expected, self.at):
            self.at += len(expected)
            return True
        return False

    def take_while(self, allowed: str, most: int) -> str:
        start = self.at
        while self.at < len(self.text) and self.at - start < most and self.text[self.at] in allowed:
            self.at += 1
        return self.text[start : self.at]

    def fail(self, message: str) -> PatternError:
        return PatternError(f"Invalid regular expression: {message} at position {self.at}")


def parse(pattern: str, options: str = "") -> Pattern:
    """The tree of a `$regex` with its `$options` (i, m, s, x, u), or PatternError when it is not valid."""
    reader = _Reader(unquote(pattern))
    flags = _Flags().with_letters("".join(option for option in options if option in "imsx"))
    # Python takes inline flags for the whole pattern only at its start: `(?i)…`.
    while True:
        found = re.match(r"\(\?(?:([aiLmsux]+)|#[^)]*)\)", reader.text[reader.at :])
        if found is None:
            break
        letters = found.group(1) or ""
        if "L" in letters:
            raise reader.fail("the L flag needs a bytes pattern")
        flags = flags.with_letters(letters)
        reader.at += found.end()
    root = _alternatives(reader, flags, depth=0)
    if reader.next is not None:
        raise reader.fail("unbalanced parenthesis")
    return Pattern(root, tuple(reader.anomalies))


_QUOTED = re.compile(r"\\Q(.*?)(?:\\E|$)", re.DOTALL)
_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}/-])")


def unquote(pattern: str) -> str:
    r"""PCRE's `\Q…\E` quoting as escapes, as the MongoDB engine rewrites it before the database reads the pattern."""
    if "\\Q" not in pattern:
        return pattern
    return _QUOTED.sub(lambda m: _SPECIAL.sub(r"\\\1", m.group(1)), pattern)


def _alternatives(reader: _Reader, flags: _Flags, depth: int) -> Node:
    branches = [_sequence(reader, flags, depth)]
    while reader.match("|"):
        branches.append(_sequence(reader, flags, depth))
    return branches[0] if len(branches) == 1 else Alt(tuple(branches))


def _sequence(reader: _Reader, flags: _Flags, depth: int) -> Node:
    items: list[Node] = []
    while True:
        char = reader.next
        if char is None or char == "|" or (char == ")" and depth > 0):
            break
        if char == ")":
            raise reader.fail("unbalanced parenthesis")
        if flags.verbose:
            if char in _VERBOSE_SPACE:
                reader.take()
                continue
            if char == "#":
                while reader.take() not in (None, "\n"):
                    pass
                continue
        if char in "*+?{":
            quantifier = _quantifier(reader)
            if quantifier is None:
                items.append(_literal(ord(reader.take() or ""), flags))
                continue
            low, high = quantifier
            # SecantusDB writes `\Z` as a lookahead, which Python lets a quantifier follow.
            if not items or (isinstance(items[-1], Anchor) and items[-1].kind != "end"):
                raise reader.fail("nothing to repeat")
            if isinstance(items[-1], Repeat):
                raise reader.fail("multiple repeat")
            reader.match("?")  # lazy: the same texts match
            possessive = reader.match("+")
            items[-1] = Repeat(items[-1], low, high, possessive)
            continue
        atom = _atom(reader, flags, depth)
        if atom is not None:  # a comment `(?#…)` is nothing, and a quantifier after it repeats what came before
            items.append(atom)
    if len(items) == 1:
        return items[0]
    return Seq(tuple(items))


def _quantifier(reader: _Reader) -> tuple[int, int | None] | None:
    """`*`, `+`, `?` or `{m,n}` at the reader, consumed; None for a `{` that is a literal, as Python reads it."""
    char = reader.take()
    if char == "*":
        return 0, None
    if char == "+":
        return 1, None
    if char == "?":
        return 0, 1
    start = reader.at
    if reader.next == "}":
        reader.at = start - 1
        return None
    low = reader.take_while(_DIGITS, len(reader.text))
    if reader.match(","):
        high = reader.take_while(_DIGITS, len(reader.text))
    else:
        high = low
    if not reader.match("}"):
        reader.at = start - 1
        return None
    minimum = int(low) if low else 0
    maximum = int(high) if high else None
    if maximum is not None and maximum < minimum:
        raise reader.fail("min repeat greater than max repeat")
    return minimum, maximum


def _literal(code: int, flags: _Flags) -> Chars:
    return Chars(((code, code),), fold=flags.fold, ascii=flags.ascii)


def _atom(reader: _Reader, flags: _Flags, depth: int) -> Node | None:
    char = reader.take()
    assert char is not None
    if char == "\\":
        return _escape(reader, flags)
    if char == "[":
        return _char_class(reader, flags)
    if char == ".":
        return Chars(_ALL) if flags.dotall else Chars(((_NEWLINE, _NEWLINE),), negated=True)
    if char == "^":
        return Anchor("line_start" if flags.multiline else "start")
    if char == "$":
        return Anchor("line_end" if flags.multiline else "end")
    if char == "(":
        return _group(reader, flags, depth)
    return _literal(ord(char), flags)


def _group(reader: _Reader, flags: _Flags, depth: int) -> Node | None:
    if depth >= _MAX_DEPTH:
        raise reader.fail(f"more than {_MAX_DEPTH} nested groups")
    kind = None
    inner_flags = flags
    capture = False
    if reader.match("?"):
        if reader.match(":"):
            pass
        elif reader.match("P<"):
            name = _group_name(reader, ">")
            if name in reader.names:
                raise reader.fail(f"redefinition of group name {name!r}")
            reader.names.add(name)
            capture = True
        elif reader.match("P="):
            name = _group_name(reader, ")")
            if name not in reader.names:
                raise reader.fail(f"unknown group name {name!r}")
            return Backtracking("backreference")
        elif reader.match("#"):
            while True:
                char = reader.take()
                if char is None:
                    raise reader.fail("missing ), unterminated comment")
                if char == ")":
                    return None
        elif reader.match("="):
            kind = "lookahead"
        elif reader.match("!"):
            kind = "negative lookahead"
        elif reader.match("<="):
            kind = "lookbehind"
        elif reader.match("<!"):
            kind = "negative lookbehind"
        elif reader.match(">"):
            kind = "atomic group"
        elif reader.match("("):
            return _conditional(reader, flags, depth)
        else:
            found = re.match(r"([aiLmsux]*)(?:-([imsx]*))?:", reader.text[reader.at :])
            if found is None or not (found.group(1) or found.group(2)):
                if re.match(r"[aiLmsux]+\)", reader.text[reader.at :]):
                    raise reader.fail("global flags not at the start of the expression")
                raise reader.fail("unknown extension ?" + (reader.next or ""))
            if "L" in found.group(1):
                raise reader.fail("the L flag needs a bytes pattern")
            reader.at += found.end()
            inner_flags = flags.with_letters(found.group(1), found.group(2) or "")
    else:
        capture = True
    number = 0
    if capture:
        reader.groups += 1
        number = reader.groups
        reader.open_groups.add(number)
    inner = _alternatives(reader, inner_flags, depth + 1)
    if not reader.match(")"):
        raise reader.fail("missing ), unterminated subpattern")
    reader.open_groups.discard(number)
    if kind is not None:
        return Backtracking(kind, (inner,))
    # As a sequence of one, a group takes a quantifier whatever it holds (`(a+)+`, `(?:^)*`).
    return Seq((inner,))


def _conditional(reader: _Reader, flags: _Flags, depth: int) -> Node:
    name = _group_name(reader, ")", allow_digits=True)
    if not (name.isdigit() or name in reader.names):
        raise reader.fail(f"unknown group name {name!r}")
    inner = _alternatives(reader, flags, depth + 1)
    if not reader.match(")"):
        raise reader.fail("missing ), unterminated subpattern")
    branches = inner.branches if isinstance(inner, Alt) else (inner,)
    if len(branches) > 2:
        raise reader.fail("conditional backref with more than two branches")
    return Backtracking("conditional", branches)


def _group_name(reader: _Reader, end: str, *, allow_digits: bool = False) -> str:
    close = reader.text.find(end, reader.at)
    if close < 0:
        raise reader.fail("missing group name terminator")
    name = reader.text[reader.at : close]
    reader.at = close + 1
    if not (name.isidentifier() or (allow_digits and name.isdigit())):
        raise reader.fail(f"bad character in group name {name!r}")
    return name


def _escape(reader: _Reader, flags: _Flags) -> Node:
    char = reader.take()
    if char is None:
        raise reader.fail("bad escape (end of pattern)")
    if char in "dDwWsS":
        return Chars(classes=(char,), fold=flags.fold, ascii=flags.ascii)
    # SecantusDB rewrites PCRE's `\Z` and `\z` into Python's dialect with their PCRE meanings.
    anchors = {"A": "start", "z": "text_end", "Z": "end", "b": "word", "B": "not_word"}
    if char in anchors:
        return Anchor(anchors[char])
    if char in _DIGITS and char != "0":
        digits = char
        if reader.next is not None and reader.next in _DIGITS:
            digits += reader.take() or ""
            if digits[0] in _OCTAL and digits[1] in _OCTAL and reader.next is not None and reader.next in _OCTAL:
                code = int(digits + (reader.take() or ""), 8)
                if code > 0o377:
                    raise reader.fail("octal escape value outside of range 0-0o377")
                return _literal(code, flags)
        number = int(digits)
        if number > reader.groups:
            raise reader.fail(f"invalid group reference {number}")
        if number in reader.open_groups:
            raise reader.fail("cannot refer to an open group")
        return Backtracking("backreference")
    return _literal(_escaped_code(reader, char, in_class=False), flags)


def _escaped_code(reader: _Reader, char: str, *, in_class: bool) -> int:
    """The character an escape such as `\\n`, `\\x41`, `\\u00e9` or `\\.` stands for, as Python reads it."""
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char == "b" and in_class:
        return 0x08
    for letter, width in (("x", 2), ("u", 4), ("U", 8)):
        if char == letter:
            digits = reader.take_while(_HEX, width)
            if len(digits) != width:
                raise reader.fail(f"incomplete escape \\{letter}{digits}")
            code = int(digits, 16)
            if code > _MAX_CODE:
                raise reader.fail(f"bad escape \\{letter}{digits}")
            return code
    if char == "N":
        if not reader.match("{"):
            raise reader.fail("missing {")
        close = reader.text.find("}", reader.at)
        if close < 0:
            raise reader.fail("missing }, unterminated name")
        name = reader.text[reader.at : close]
        reader.at = close + 1
        try:
            return ord(unicodedata.lookup(name))
        except KeyError:
            raise reader.fail(f"undefined character name {name!r}") from None
    if char in _OCTAL and (in_class or char == "0"):
        code = int(char + reader.take_while(_OCTAL, 2), 8)
        if code > 0o377:
            raise reader.fail("octal escape value outside of range 0-0o377")
        return code
    if char.isascii() and (char.isalpha() or char.isdigit()):
        raise reader.fail(f"bad escape \\{char}")
    return ord(char)


def _char_class(reader: _Reader, flags: _Flags) -> Chars:
    if reader.next == "[":
        reader.anomalies.append("a nested set such as [[:alpha:]] (POSIX classes are not read as PCRE reads them)")
    negated = reader.match("^")
    ranges: list[tuple[int, int]] = []
    classes: list[str] = []
    empty = True
    while True:
        char = reader.take()
        if char is None:
            raise reader.fail("unterminated character set")
        if char == "]" and not empty:
            break
        empty = False
        low: int | None
        if char == "\\":
            escaped = reader.take()
            if escaped is None:
                raise reader.fail("unterminated character set")
            if escaped in "dDwWsS":
                classes.append(escaped)
                low = None
            else:
                low = _escaped_code(reader, escaped, in_class=True)
        else:
            if char in "-&~|" and reader.next == char and (ranges or classes):
                reader.anomalies.append(f"a possible set operation {char}{char}")
            low = ord(char)
        if reader.match("-"):
            other = reader.take()
            if other is None:
                raise reader.fail("unterminated character set")
            if other == "]":
                if low is not None:
                    ranges.append((low, low))
                ranges.append((ord("-"), ord("-")))
                break
            if other == "\\":
                escaped = reader.take()
                if escaped is None:
                    raise reader.fail("unterminated character set")
                if escaped in "dDwWsS":
                    raise reader.fail("bad character range")
                high = _escaped_code(reader, escaped, in_class=True)
            else:
                if other == "-":
                    reader.anomalies.append("a possible set difference --")
                high = ord(other)
            if low is None or high < low:
                raise reader.fail("bad character range")
            ranges.append((low, high))
        elif low is not None:
            ranges.append((low, low))
    return Chars(_merged(ranges), tuple(dict.fromkeys(classes)), negated, flags.fold, flags.ascii)


# Character sets -------------------------------------------------------------------------------------


def _merged(ranges: list[tuple[int, int]] | Ranges) -> Ranges:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            if high > merged[-1][1]:
                merged[-1] = (merged[-1][0], high)
        else:
            merged.append((low, high))
    return tuple(merged)


def _complement(ranges: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    next_low = 0
    for low, high in ranges:
        if low > next_low:
            out.append((next_low, low - 1))
        next_low = high + 1
    if next_low <= _MAX_CODE:
        out.append((next_low, _MAX_CODE))
    return tuple(out)


def intersection(first: Ranges, second: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    i = j = 0
    while i < len(first) and j < len(second):
        low = max(first[i][0], second[j][0])
        high = min(first[i][1], second[j][1])
        if low <= high:
            out.append((low, high))
        if first[i][1] < second[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


@functools.cache
def _class_ranges(name: str, ascii_only: bool) -> Ranges:
    r"""Exactly the characters Python's `\d`, `\w`, `\s` (or their negations) match."""
    if name.isupper():
        return _complement(_class_ranges(name.lower(), ascii_only))
    if ascii_only:
        return {"d": ((0x30, 0x39),), "w": _WORD_ASCII, "s": ((0x09, 0x0D), (0x20, 0x20))}[name]
    return _unicode_classes()[name]


_WORD_ASCII: Final = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))


@functools.cache
def _unicode_classes() -> dict[str, Ranges]:
    # Every character once, in a string Python's own `re` scans for each class (35 ms, once).
    every = array.array("I", range(_MAX_CODE + 1)).tobytes().decode("utf-32-le", "surrogatepass")
    return {name: tuple((m.start(), m.end() - 1) for m in re.finditer(rf"\{name}+", every)) for name in "dws"}


def _case_variants(code: int) -> set[int]:
    """A character and those a case-insensitive match takes for it (over-approximated: for the analysis)."""
    found = {code}
    for _ in range(2):
        for known in list(found):
            char = chr(known)
            for other in (char.lower(), char.upper(), char.title(), char.casefold()):
                if len(other) == 1:
                    found.add(ord(other))
    if found & _TURKISH_I:
        found |= _TURKISH_I
    return found


# Python's `re` reads `i` case-insensitively as matching I, i, U+0130 and U+0131 alike; RE2 leaves out the last two.
_TURKISH_I: Final = frozenset({0x49, 0x69, 0x130, 0x131})


def _ascii_fold(ranges: Ranges) -> Ranges:
    extra: list[tuple[int, int]] = []
    for low, high in ranges:
        for first, last, shift in ((0x41, 0x5A, 0x20), (0x61, 0x7A, -0x20)):
            a, b = max(low, first), min(high, last)
            if a <= b:
                extra.append((a + shift, b + shift))
    return _merged([*ranges, *extra])


@functools.cache
def charset(chars: Chars) -> Ranges:
    """The characters an atom may match, for the analysis: exact, or larger where case folding is involved."""
    ranges: list[tuple[int, int]] = list(chars.ranges)
    if chars.fold:
        if chars.ascii:
            ranges = list(_ascii_fold(tuple(ranges)))
        else:
            for low, high in chars.ranges:
                if high - low > 512:
                    ranges.append((0x80, _MAX_CODE))  # a wide range: take every non-ASCII character
                    ranges.extend(_ascii_fold(((low, high),)))
                    continue
                ranges.extend((variant, variant) for code in range(low, high + 1) for variant in _case_variants(code))
    for name in chars.classes:
        ranges.extend(_class_ranges(name, chars.ascii))
    merged = _merged(ranges)
    return _complement(merged) if chars.negated else merged


# Translating for RE2 --------------------------------------------------------------------------------


def to_re2(pattern: Pattern) -> str:
    """The pattern in RE2's syntax, finding the same texts as the database; Untranslatable when it cannot."""
    if pattern.anomalies:
        raise Untranslatable(pattern.anomalies[0])
    return _emit(pattern.root, tail=True)


def _emit(node: Node, tail: bool) -> str:
    if isinstance(node, Chars):
        return _emit_chars(node)
    if isinstance(node, Anchor):
        return _emit_anchor(node, tail)
    if isinstance(node, Seq):
        last = len(node.items) - 1
        return "".join(f"(?:{_emit(item, tail and index == last)})" for index, item in enumerate(node.items))
    if isinstance(node, Alt):
        return "|".join(_emit(branch, tail) for branch in node.branches)
    if isinstance(node, Repeat):
        if node.possessive:
            raise Untranslatable("a possessive quantifier needs a backtracking engine")
        if node.high is not None and node.high > 1000:
            raise Untranslatable("a repetition above 1000")
        inner = f"(?:{_emit(node.item, tail and node.high is not None and node.high <= 1)})"
        if node.high is None:
            return inner + {0: "*", 1: "+"}.get(node.low, f"{{{node.low},}}")
        return inner + ("?" if (node.low, node.high) == (0, 1) else f"{{{node.low},{node.high}}}")
    raise Untranslatable(f"a {node.kind} needs a backtracking engine")


def _emit_anchor(anchor: Anchor, tail: bool) -> str:
    match anchor.kind:
        case "start":
            return r"\A"
        case "line_start":
            return "(?m:^)"
        case "line_end":
            return "(?m:$)"
        case "text_end":
            return r"\z"
        case "end":
            if not tail:
                raise Untranslatable("$ (or \\Z) followed by more pattern")
            # The end, or before a final newline: reading that newline finds the same texts when nothing follows.
            return r"\n?\z"
    raise Untranslatable(r"\b and \B (RE2's word boundaries know only ASCII words)")


def _emit_ranges(ranges: Ranges, negated: bool = False) -> str:
    parts = [f"\\x{{{low:x}}}" if low == high else f"\\x{{{low:x}}}-\\x{{{high:x}}}" for low, high in ranges]
    if not parts:
        # RE2 has no empty class: a set of nothing is a character that never occurs, negated.
        return r"[^\x00-\x{10ffff}]" if not negated else r"[\x00-\x{10ffff}]"
    return ("[^" if negated else "[") + "".join(parts) + "]"


def _emit_chars(chars: Chars) -> str:
    if chars.ascii:
        raise Untranslatable("the a flag (ASCII classes) is not PCRE's")
    categories = _merged([r for name in chars.classes for r in _class_ranges(name, False)])
    literals = chars.ranges
    if not chars.fold or not literals:
        return _emit_ranges(_merged([*literals, *categories]), chars.negated)
    if any(intersection(literals, ((code, code),)) for code in _TURKISH_I):
        literals = _merged([*literals, *((code, code) for code in _TURKISH_I)])
    folded = f"(?i:{_emit_ranges(literals, chars.negated)})"
    if not categories:
        return folded
    if chars.negated:
        raise Untranslatable("a negated class mixing \\d, \\w or \\s with letters under the i flag")
    # Categories are not case-folded by Python: only the literal part is.
    return f"{_emit_ranges(categories)}|{folded}"

"""The server's recent log lines, kept in memory for `/parse/scriptlog` (Parse Dashboard's Logs page).

`RecentLogs` is a `logging.Handler` on the server's loggers (`app`, and `cloud`, which cloud code writes to through
`request.log`). It keeps the newest records in arrival order, dropping the oldest once it holds more than its count
or its bytes (a message counts its UTF-8 length; one longer than a sixteenth of the bytes is cut, so that no single
line empties the store). One store per process: with several workers or instances, each answers with its own lines,
as each Parse Server answers from its own log files.

A query reads as Parse's logger controller reads its options: `level` (`error`, `warn` or `info`, the default;
`verbose`, `debug` and `silly` show everything), `size` (or `n`, which wins: 10 unless a positive number), `order`
(`desc`, the default, newest first; any other value oldest first, as Parse sorts), `from` (default a week ago) and
`until` (default now), dates in ISO 8601 (a date alone, or a time without a zone, is UTC) or RFC 2822; a date that
does not parse is the default, as in Parse. The answer is Parse's: `[{message, level, timestamp}]`, where `level` is
Parse's name for the record's level.

Records marked `OFF_THE_RECORD` (`log.info(..., extra=OFF_THE_RECORD)`) are printed but never kept: the emails the
log mailer writes hold links that are as good as a password.
"""

from __future__ import annotations

import email.utils
import logging
import traceback
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.access import require_master
from app.domain.acl import Auth
from app.domain.values import iso

OFF_THE_RECORD = {"off_the_record": True}
"""`extra=` for a record the console may print but the store must not keep."""

LOGGERS = ("app", "cloud")
"""The loggers whose records are kept: the server's own, and cloud code's (`request.log`)."""

DEFAULT_SIZE = 10
"""Lines a query answers when it does not say (Parse's default)."""
DEFAULT_WINDOW = timedelta(days=7)
"""How far back a query reads when it gives no `from` (Parse's default)."""
TRUNCATED = "... (truncated)"

_QUERY_LEVELS = {
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "verbose": logging.NOTSET,
    "debug": logging.NOTSET,
    "silly": logging.NOTSET,
}


def parse_level_name(levelno: int) -> str:
    """Parse's (winston's) name for a Python level."""
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warn"
    if levelno >= logging.INFO:
        return "info"
    return "debug"


@dataclass(frozen=True, slots=True)
class Line:
    created: float
    levelno: int
    message: str
    size: int
    """The message's bytes in UTF-8, as the store's byte bound counts them."""

    def as_parse(self) -> dict[str, Any]:
        moment = datetime.fromtimestamp(self.created, UTC)
        return {"message": self.message, "level": parse_level_name(self.levelno), "timestamp": iso(moment)}


@dataclass(frozen=True, slots=True)
class LogQuery:
    """What a caller asks of the store, read as Parse reads `/scriptlog`'s parameters."""

    level: int = logging.INFO
    size: int = DEFAULT_SIZE
    newest_first: bool = True
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> LogQuery:
        level = params.get("level")
        size = params.get("n") or params.get("size")
        order = params.get("order")
        return cls(
            level=_QUERY_LEVELS.get(str(level).lower(), logging.INFO) if level else logging.INFO,
            size=_size(size),
            newest_first=order in (None, "", "desc"),
            since=_date(params.get("from")),
            until=_date(params.get("until")),
        )


def _size(value: Any) -> int:
    """Parse's `Number(size) || 10`; a fraction is cut as slicing an array cuts it, and nothing below one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return DEFAULT_SIZE
    if number != number or number < 1:  # NaN, zero, negatives
        return DEFAULT_SIZE
    return int(min(number, 2**31))


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class RecentLogs(logging.Handler):
    """The newest log records of this process, bounded by count and by bytes; the master key reads them."""

    def __init__(self, max_records: int = 1000, max_bytes: int = 1024 * 1024, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.max_line = max(256, max_bytes // 16)
        self.lines: deque[Line] = deque()
        self.bytes = 0

    # Receiving ----------------------------------------------------------------------------------------------

    def attach(self) -> None:
        """Start keeping the records of `LOGGERS`; a logger that would drop records of this store's level before
        any handler sees them is opened to that level (its handlers still choose what they print)."""
        # With no log configured, Python prints warnings through its last resort, used only when a record finds no
        # handler at all: this one would silence it, so it is kept explicitly.
        keep_last_resort = not logging.getLogger().handlers and logging.lastResort is not None
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            if keep_last_resort and logging.lastResort is not None:
                logger.addHandler(logging.lastResort)
            if logger.getEffectiveLevel() > self.level:
                logger.setLevel(self.level)

    def detach(self) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.removeHandler(self)
            if logging.lastResort is not None and not any(isinstance(h, RecentLogs) for h in logger.handlers):
                logger.removeHandler(logging.lastResort)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "off_the_record", False) or self.max_records <= 0:
            return
        try:
            message = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                message += "\n" + "".join(traceback.format_exception(record.exc_info[1])).rstrip()
        except Exception:  # a record that cannot be formatted: logging's own complaint, not ours to raise
            self.handleError(record)
            return
        if len(message) > self.max_line:
            message = message[: self.max_line] + TRUNCATED
        self._keep(Line(record.created, record.levelno, message, len(message.encode("utf-8", "replace"))))

    def _keep(self, line: Line) -> None:
        # Called under the handler's lock (logging.Handler.handle takes it around emit).
        self.lines.append(line)
        self.bytes += line.size
        while self.lines and (len(self.lines) > self.max_records or self.bytes > self.max_bytes):
            dropped = self.lines.popleft()
            self.bytes -= dropped.size

    # Reading ------------------------------------------------------------------------------------------------

    def query(self, auth: Auth, query: LogQuery) -> list[dict[str, Any]]:
        """The lines a query selects, in Parse's shape (master key)."""
        require_master(auth)
        now = datetime.now(UTC)
        since = (query.since or now - DEFAULT_WINDOW).timestamp()
        until = (query.until or now).timestamp()
        self.acquire()
        try:
            lines = list(self.lines)
        finally:
            self.release()
        chosen = [line for line in lines if line.levelno >= query.level and since <= line.created <= until]
        # Records arrive in order; a thread's record may come a little late, so sort as Parse sorts its files.
        chosen.sort(key=lambda line: line.created, reverse=query.newest_first)
        return [line.as_parse() for line in chosen[: query.size]]

"""Request idempotency, as Parse Server's `idempotencyOptions`: a write sent twice runs once.

A client that retries a request (after a timeout, say) sends the same `X-Parse-Request-Id` again. When the request's
path, taken after the mount and without its leading slash (`functions/charge`, `classes/Order/xyz`), matches one of
the configured patterns (regular expressions anchored at the start, as Parse reads them: `functions/.*`, `.*`), the
id is claimed in the database before anything runs; the same id again within the ttl is refused with 159 and runs
nothing. The claim is one atomic write against the unique index on `_Idempotency.reqId` (Parse's class and index),
so two instances given the same request at the same moment cannot both run it. An id past its expiry is claimed
anew; expired ids are purged by the engine (MongoDB's TTL index, as Parse Server makes it; on PostgreSQL, a few at
each claim).

Parse applies this to the routes that create or change (objects, users, installations, functions, named jobs) when
they arrive over HTTP, and to nothing else: not to deletes or reads, not to `/batch` sub-requests, not to GraphQL.
The transport says which routes; this module decides whether a request id is new.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from app.domain.store import RequestIdStore
from app.errors import DuplicateRequestError


class Idempotency:
    """The configured paths and ttl, and the claim of a request's id."""

    def __init__(self, store: RequestIdStore, paths: Sequence[str], ttl: float) -> None:
        self.store = store
        # Parse anchors a pattern at the start unless it is already anchored; it may end anywhere.
        self.patterns = [re.compile(path if path.startswith("^") else f"^{path}") for path in paths]
        self.ttl = timedelta(seconds=ttl)

    def applies_to(self, path: str) -> bool:
        """Whether requests to `path` (as routed, after the mount: `/functions/charge`) are deduplicated."""
        relative = path[1:] if path.startswith("/") else path
        return any(pattern.search(relative) for pattern in self.patterns)

    async def require_new(self, request_id: str | None, path: str) -> None:
        """Claim the request's id when its path is one of the configured ones; DuplicateRequestError when another
        request claimed it within the ttl. No id, or a path not configured: nothing to do."""
        if not request_id or not self.applies_to(path):
            return
        if not await self.store.claim(request_id, self.ttl):
            raise DuplicateRequestError("Duplicate request")

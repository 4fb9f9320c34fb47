"""How much work one request may ask for (Parse's `requestComplexity`, and the length of a list in a `where`),
and who is exempt: the master key, read-only or not, as in Parse Server.

The rules live with what they bound: `queries.py` checks a `where`, `includes.py` the include paths of a find,
this module the size of a batch; GraphQL documents are the GraphQL transport's (`complexity.py`). Every limit
is checked before any database work, and `-1` turns one off, as in Parse.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.access import exempt_from_limits
from app.domain.acl import Auth
from app.errors import InvalidJSONError

UNLIMITED = -1


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The limits one server applies; the defaults are those Parse Server announces as its future defaults."""

    query_depth: int = 10
    """Nesting of `$or`/`$and`/`$nor`."""
    subquery_depth: int = 10
    """Nesting of `$inQuery`/`$notInQuery`/`$select`/`$dontSelect`."""
    subquery_limit: int = 1000
    """Results a sub-query reads (more are left out, as Parse does): they become a list in the outer query."""
    include_depth: int = 10
    include_count: int = 100
    batch_request_limit: int = 100
    query_list_size: int = 1000
    """Values in one `$in`/`$nin`/`$all`/`$containedBy`, and branches of one `$or`/`$and`/`$nor`."""
    allow_regex: bool = True

    def apply_to(self, auth: Auth) -> bool:
        return not exempt_from_limits(auth)

    def require_batch_size(self, auth: Auth, size: int) -> None:
        limit = self.batch_request_limit
        if limit != UNLIMITED and size > limit and self.apply_to(auth):
            raise InvalidJSONError(f"Batch request contains {size} sub-requests, which exceeds the limit of {limit}.")

    def subquery_reads(self, auth: Auth) -> int | None:
        """How many results one sub-query of this caller reads; None: every match."""
        if self.subquery_limit == UNLIMITED or not self.apply_to(auth):
            return None
        return self.subquery_limit

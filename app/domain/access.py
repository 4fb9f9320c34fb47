"""What only the master key may ask, and what its read-only twin may not: the checks the services make first.

Every service method that serves the master key alone calls `require_master` (and `require_writing_master` when
it changes something) before any other work, and says so in its docstring; transports only map the refusal to
their own shape (`MasterKeyRequiredError` is 403 over REST, 119 over GraphQL, as Parse Server answers). A service
that a transport must ask before it reads the request (so that Parse's order of errors holds: the key first, then
the body) offers a `require_access` of its own, which its operations call again; the table in
`tests/test_service_checks.py` lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.domain.acl import Auth
from app.errors import MasterKeyRequiredError, OperationForbiddenError, denied

MASTER_KEY_REQUIRED = "unauthorized: master key is required"


def require_master(auth: Auth, detail: str = MASTER_KEY_REQUIRED) -> None:
    """Refuse anyone but the master key (read-only or not), the maintenance key included, as Parse does; `detail` is
    only logged."""
    if not auth.master or auth.maintenance:
        raise denied(MasterKeyRequiredError, detail)


def require_writing_master(auth: Auth, action: str, detail: str = MASTER_KEY_REQUIRED) -> None:
    """Refuse anyone but the master key, then its read-only twin: "read-only masterKey isn't allowed to <action>"."""
    require_master(auth, detail)
    if auth.read_only:
        raise denied(OperationForbiddenError, f"read-only masterKey isn't allowed to {action}.")


def reveals_schema(auth: Auth, *, open_to_all: bool) -> bool:
    """Whether GraphQL introspection and "did you mean" suggestions answer this caller: the master key (read-only
    too), or everyone when the server opens them (Parse Server 9's `graphQLPublicIntrospection`)."""
    return auth.master or open_to_all


def exempt_from_limits(auth: Auth) -> bool:
    """Whether the request limits (`limits.py`, GraphQL's complexity) spare this caller: the master key, read-only
    or not, as in Parse Server."""
    return auth.master


def spared_by_rate_limits(auth: Auth) -> bool:
    """Whether rate limits spare this caller unless a rule says `includeMasterKey`: the master key, read-only or not,
    as in Parse Server (the maintenance key is counted)."""
    return auth.master and not auth.maintenance


class RouteAllowList:
    """Parse's `routeAllowList`: with patterns set, callers without the master (or maintenance) key reach only the
    REST routes one of them matches whole, each sub-request of a batch included. The route is the path after the
    mount, without its slashes at either end (`classes/Chat`, `functions/hello`)."""

    def __init__(self, patterns: Sequence[str] | None) -> None:
        self.patterns = None if patterns is None else [re.compile(f"(?:{pattern})") for pattern in patterns]

    def require_allowed(self, auth: Auth, method: str, path: str) -> None:
        if self.patterns is None or auth.master:
            return
        route = path.strip("/")
        if not any(pattern.fullmatch(route) for pattern in self.patterns):
            raise denied(OperationForbiddenError, f"Route not allowed by routeAllowList: {method} {route}")

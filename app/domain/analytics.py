"""Analytics events (`POST /parse/events/<name>`) handed to cloud code, as Parse hands them to its analytics adapter.

`AppOpened` goes to the `app_opened` hook (the adapter's `appOpened`); any other name to the `track_event` hook
registered for that name, else to the one registered without a name (the adapter's `trackEvent`). Whatever the hook
does, fails or returns, the client is answered `{}`, as Parse answers: an event is never the client's problem. A
failure is logged (`cloud_log.py`), and so reaches the Logs page's errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from app.domain.acl import Auth
from app.domain.cloud_requests import EventRequest
from app.domain.hooks import Hooks, Registration, run
from app.errors import AppError

APP_OPENED = "AppOpened"
"""The event name the SDKs send when the app opens; Parse routes it apart from custom events."""
EVENTS_CLASS = "@Event"
"""The class name the analytics hooks register under, beside `@File` and `@Connect`."""
ANY_EVENT = "*"
"""`track_event()`'s name when it takes every custom event without a hook of its own."""


def event_registration(hooks: Hooks, event_name: str) -> tuple[str, Registration] | None:
    """The hook an event goes to, with Parse's name for it (the adapter method)."""
    registry = hooks.registry
    if event_name == APP_OPENED:
        found = registry.trigger("app_opened", EVENTS_CLASS)
        return ("appOpened", found) if found is not None else None
    found = registry.trigger("track_event", f"{EVENTS_CLASS}:{event_name}") or registry.trigger(
        "track_event", f"{EVENTS_CLASS}:{ANY_EVENT}"
    )
    return ("trackEvent", found) if found is not None else None


class Analytics:
    """Where `/events` sends what clients report; anyone with the application id may send an event."""

    def __init__(self) -> None:
        self.hooks: Hooks | None = None
        """Cloud code, when there is any (set with the other services' hooks)."""

    async def track(self, auth: Auth, event_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Run the event's hook, if any, and answer `{}` whatever it did (any caller)."""
        hooks = self.hooks
        found = event_registration(hooks, event_name) if hooks is not None else None
        if hooks is None or found is None:
            return {}
        trigger_name, registration = found
        dimensions = params.get("dimensions")
        request = EventRequest(
            **await hooks.request_fields_for(trigger_name, auth),
            event_name=event_name,
            dimensions=dict(dimensions) if isinstance(dimensions, Mapping) else {},
            params=dict(params),
        )
        # A failure is logged by `run`; Parse answers the client `{}` all the same.
        with contextlib.suppress(AppError):
            await run(registration, request, f"{trigger_name} {event_name}")
        return {}

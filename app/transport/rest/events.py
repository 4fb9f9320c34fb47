"""`/events/<name>`: analytics events (`AppOpened` and custom ones), handed to cloud code's hooks for them."""

from __future__ import annotations

from typing import Any

from app.domain.encoding import decode_value
from app.errors import AppError
from app.transport.rest.router import RestCall, RestResponse


async def track_event(call: RestCall) -> RestResponse:
    params = {key: _decoded(value) for key, value in call.json_body().items()}
    return RestResponse(await call.services.analytics.track(call.auth, call.params["event_name"], params))


def _decoded(value: Any) -> Any:
    """A value as cloud code reads values (a Date as a datetime); as sent when it is not Parse's JSON, since Parse
    hands its adapter the body as it came and answers `{}` whatever it holds."""
    try:
        return decode_value(value)
    except AppError:
        return value

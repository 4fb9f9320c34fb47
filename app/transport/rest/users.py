"""`/login`, `/logout`, `/users/me`, `/sessions/me`, `/verifyPassword`, `/loginAs`, the emailed-link requests and the
session upgrade: signing in and out, and the caller's own user and session."""

from __future__ import annotations

import json
from typing import Any

from app.transport.rest import answers
from app.transport.rest.router import RestCall, RestResponse


def _credentials(call: RestCall) -> dict[str, Any]:
    """Username or email and password from the body (the JS SDK sends its GETs as POSTs with `_method`), or from the
    query when the body names neither (Parse's order); as the account service's keyword arguments."""
    given = call.json_body()
    if not given.get("username") and not given.get("email"):
        # Query values arrive read as JSON (`123` a number); credentials are the text that was sent.
        given = {**{k: v if isinstance(v, str) else json.dumps(v) for k, v in call.query.items()}, **given}
    return {
        "username": given.get("username"),
        "email": given.get("email"),
        "password": given.get("password"),
        "ignore_email_verification": given.get("ignoreEmailVerification", False),
    }


async def log_in(call: RestCall) -> RestResponse:
    """`POST /login` with a body, or `GET /login?username=…&password=…`, as the SDKs send it."""
    signed_in = await call.services.accounts.log_in(call.auth, **_credentials(call))
    return RestResponse(call.encoder.object(answers.signed_in(signed_in)))


async def verify_password(call: RestCall) -> RestResponse:
    """`GET` or `POST /verifyPassword`: the user the credentials name, with no session made."""
    user = await call.services.accounts.verify_password(call.auth, **_credentials(call))
    return RestResponse(call.encoder.object(user))


async def log_in_as(call: RestCall) -> RestResponse:
    """`POST /loginAs` with `userId` in the body or the query (master key): a session for that user."""
    user_id = call.json_body().get("userId") or call.query.get("userId")
    signed_in = await call.services.accounts.log_in_as(call.auth, user_id)
    return RestResponse(call.encoder.object(answers.signed_in(signed_in)))


async def log_out(call: RestCall) -> RestResponse:
    await call.services.accounts.log_out(call.auth)
    return RestResponse({})


async def current_user(call: RestCall) -> RestResponse:
    user = await call.services.accounts.current_user(call.auth)
    return RestResponse(call.encoder.object({**user, "sessionToken": call.auth.session_token}))


async def current_session(call: RestCall) -> RestResponse:
    session = await call.services.accounts.current_session(call.auth)
    return RestResponse(call.encoder.object(session))


async def request_password_reset(call: RestCall) -> RestResponse:
    body = call.json_body()
    await call.services.mail.request_password_reset(body.get("email"), call.auth.origin, body.get("token"))
    return RestResponse({})


async def request_verification_email(call: RestCall) -> RestResponse:
    await call.services.mail.request_verification_email(call.json_body().get("email"), call.auth)
    return RestResponse({})


async def upgrade_to_revocable_session(call: RestCall) -> RestResponse:
    session = await call.services.accounts.upgrade_session(call.auth)
    return RestResponse(call.encoder.object(session))

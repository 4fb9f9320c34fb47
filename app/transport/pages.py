"""The pages under `/parse/apps` that emailed links open: verify an email, choose a new password, and the pages
that say how it went. Parse Server 9's pages router, with our own HTML.

Behaviour follows Parse: a GET answers with the page itself (200), a POST redirects (303) to the page's URL with
its parameters in the query, except the password form, which answers with the next page. Every page also carries
its parameters as `x-parse-page-param-*` headers, for apps that read them rather than the HTML.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response

from app.domain.account_mail import ResetLinkError
from app.domain.acl import Origin
from app.transport.callers import Services
from app.transport.http import CORS_HEADERS, HttpEndpoint, route_not_found

_PASSWORDS_DIFFER = "The two passwords are not the same."

# Each page: its title and body; {name} placeholders are page parameters, escaped when filled in.
_PAGES: dict[str, tuple[str, str]] = {
    "password_reset.html": (
        "Choose a new password",
        """<p class="error">{error}</p>
<form method="POST" action="{publicServerUrl}/apps/{appId}/request_password_reset">
  <input type="hidden" name="token" value="{token}">
  <input type="hidden" name="username" value="{username}">
  <label>New password <input type="password" name="new_password" required autocomplete="new-password"></label>
  <label>Repeat it <input type="password" name="confirm_new_password" required autocomplete="new-password"></label>
  <button type="submit">Save the new password</button>
</form>""",
    ),
    "password_reset_success.html": ("Password changed", "<p>Your new password is set. You can log in with it now.</p>"),
    "password_reset_link_invalid.html": (
        "This link does not work",
        "<p>The password reset link is wrong, already used or too old. Ask the app for a new one.</p>",
    ),
    "email_verification_success.html": ("Email verified", "<p>Thank you: your email address is confirmed.</p>"),
    "email_verification_link_invalid.html": (
        "This link does not work",
        "<p>The verification link is wrong, already used or too old. Ask the app to send a new one.</p>",
    ),
    "email_verification_link_expired.html": (
        "This link has expired",
        """<p>The verification link is too old. Send yourself a new one:</p>
<form method="POST" action="{publicServerUrl}/apps/{appId}/resend_verification_email">
  <input type="hidden" name="username" value="{username}">
  <button type="submit">Send a new link</button>
</form>""",
    ),
    "email_verification_send_success.html": ("Link sent", "<p>A new verification link is on its way.</p>"),
    "email_verification_send_fail.html": (
        "No link sent",
        "<p>No verification link could be sent for this account. It may be verified already.</p>",
    ),
}

_LAYOUT = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · {appName}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 28rem; margin: 4rem auto; padding: 0 1rem; color: #222; }}
label {{ display: block; margin: 1rem 0; }} input[type=password] {{ display: block; width: 100%; padding: .4rem; }}
.error {{ color: #b00020; }} .error:empty {{ display: none; }}
</style>
</head>
<body>
<p>{appName}</p>
<h1>{title}</h1>
{body}
</body>
</html>
"""


class _Keys(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


class PagesEndpoint(HttpEndpoint):
    """The ASGI app mounted at /parse/apps."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def handle(self, request: Request) -> Response:
        parts = [part for part in request.url.path.split("/")[3:] if part]  # after /parse/apps
        method = request.method
        if len(parts) == 1 and parts[0] == "choose_password" and method == "GET":
            app_id = request.query_params.get("appId") or request.query_params.get("id")
            return self._for_app(app_id) or self._choose_password(request)
        if len(parts) == 2 and parts[1] in ("verify_email", "request_password_reset", "resend_verification_email"):
            refused = self._for_app(parts[0])
            if refused is not None:
                return refused
            if (method, parts[1]) == ("GET", "verify_email"):
                return await self._verify_email(request)
            if (method, parts[1]) == ("POST", "resend_verification_email"):
                return await self._resend(request)
            if (method, parts[1]) == ("GET", "request_password_reset"):
                return await self._reset_page(request)
            if (method, parts[1]) == ("POST", "request_password_reset"):
                return await self._reset(request)
        if len(parts) == 1 and parts[0] in _PAGES and method == "GET":
            return self._page(parts[0], {}) if self._configured else _not_found()
        return route_not_found(method, request.url.path)

    @property
    def _configured(self) -> bool:
        return self.services.mail.settings.configured

    def _for_app(self, app_id: str | None) -> Response | None:
        """Parse's refusals before a page: 403 for another app's link, 404 while email is not configured."""
        if app_id != self.services.settings.app_id:
            return JSONResponse({"error": "unauthorized"}, 403, CORS_HEADERS)
        return None if self._configured else _not_found()

    async def _verify_email(self, request: Request) -> Response:
        token = request.query_params.get("token")
        verified = await self.services.mail.verify_email(token)
        return self._page("email_verification_success.html" if verified else "email_verification_link_invalid.html", {})

    async def _resend(self, request: Request) -> Response:
        form = await request.form()
        username, token = form.get("username"), form.get("token")
        if not username and not token:
            return self._redirect("email_verification_link_invalid.html", {})
        origin = Origin(request.headers, request.client.host if request.client else None)
        sent = await self.services.mail.resend_verification(username, token, origin)
        quiet = self.services.mail.settings.verify_success_on_invalid_email
        return self._redirect(
            "email_verification_send_success.html" if sent or quiet else "email_verification_send_fail.html", {}
        )

    def _choose_password(self, request: Request) -> Response:
        query = request.query_params
        return self._page("password_reset.html", {"token": query.get("token"), "username": query.get("username")})

    async def _reset_page(self, request: Request) -> Response:
        token = request.query_params.get("token")
        try:
            await self.services.mail.check_reset_token(token)
        except ResetLinkError:
            return self._page("password_reset_link_invalid.html", {})
        return self._page("password_reset.html", {"token": token})

    async def _reset(self, request: Request) -> Response:
        form = await request.form()
        token, password = _text(form.get("token")), _text(form.get("new_password"))
        xhr = request.headers.get("x-requested-with") == "XMLHttpRequest"
        if not xhr and (not token or not password):
            return self._redirect("password_reset_link_invalid.html", {})
        if not token:
            return _parse_error(-1, "Missing token")
        if not password:
            return _parse_error(201, "Missing password")
        confirmation = form.get("confirm_new_password")
        try:
            if confirmation is not None and confirmation != password:
                # Parse leaves this check to the page's script; the page works without one here.
                raise ResetLinkError(_PASSWORDS_DIFFER)
            origin = Origin(request.headers, request.client.host if request.client else None)
            await self.services.mail.reset_password(token, password, origin)
        except ResetLinkError as error:
            if xhr:
                return _parse_error(-1, error.message)
            return self._page("password_reset.html", {"token": token, "error": error.message})
        if xhr:
            return PlainTextResponse("Password successfully reset", headers=CORS_HEADERS)
        return self._page("password_reset_success.html", {})

    def _params(self, given: dict[str, Any]) -> dict[str, str]:
        settings = self.services.mail.settings
        defaults = {"appId": settings.app_id, "appName": settings.app_name, "publicServerUrl": settings.public_url}
        return {k: str(v) for k, v in {**given, **defaults}.items() if v is not None}

    def _page(self, name: str, given: dict[str, Any]) -> Response:
        if self.services.settings.pages_force_redirect or _page_id(name) in self.services.settings.pages_custom_urls:
            return self._redirect(name, given)
        params = self._params(given)
        escaped = _Keys({k: html.escape(v) for k, v in params.items()})
        title, body = _PAGES[name]
        page = _LAYOUT.format_map(_Keys({**escaped, "title": title, "body": body.format_map(escaped)}))
        return HTMLResponse(page, headers={**CORS_HEADERS, **_param_headers(params)})

    def _redirect(self, name: str, given: dict[str, Any]) -> Response:
        params = self._params(given)
        custom = self.services.settings.pages_custom_urls.get(_page_id(name))
        if custom is not None:
            # Parse's pages.customUrls: the app's own page, with the parameters in its query as well.
            parts = urlsplit(custom)
            query = urlencode([*parse_qsl(parts.query), *params.items()])
            location = urlunsplit(parts._replace(query=query))
            return RedirectResponse(location, 303, headers={**CORS_HEADERS, **_param_headers(params)})
        location = f"{self.services.mail.settings.public_url}/apps/{name}?{urlencode(params)}"
        return RedirectResponse(location, 303, headers={**CORS_HEADERS, **_param_headers(params)})


def _page_id(name: str) -> str:
    """Parse's id of a page from its file: `password_reset_success.html` is `passwordResetSuccess`."""
    first, *rest = name.removesuffix(".html").split("_")
    return first + "".join(word.capitalize() for word in rest)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _param_headers(params: dict[str, str]) -> dict[str, str]:
    # Header values cannot hold control characters (or, for Starlette, anything beyond Latin-1).
    return {
        f"x-parse-page-param-{key.lower()}": "".join(c for c in value if c.isprintable())
        .encode("latin-1", "replace")
        .decode("latin-1")
        for key, value in params.items()
    }


def _parse_error(code: int, message: str) -> Response:
    return JSONResponse({"code": code, "error": message}, 400, CORS_HEADERS)


def _not_found() -> Response:
    return HTMLResponse("Not found.", 404, CORS_HEADERS)

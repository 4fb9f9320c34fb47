"""The browser playground at `/playground`: the built GraphiQL page (`playground/dist`, committed, so serving it
needs no Node) and `config.json`, what the page asks the server: the application id and whether introspection is
public. Never a key: introspection stays the master key's unless `graphql_public_introspection` opens it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings

DIST = Path(__file__).resolve().parents[2] / "playground" / "dist"

# The page loads only its own files; the websocket to /graphql is same-origin, which 'self' covers. CodeMirror
# positions its parts with style attributes and GraphiQL's fonts are data: URLs, hence those two allowances.
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    # The file names carry no hash: the browser revalidates (ETag) rather than keeping an old build.
    "cache-control": "no-cache",
}


class SecurityHeaders:
    """Adds the playground's security and cache headers to every response of the app it wraps."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in _SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in _SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def playground_app(settings: Settings, directory: Path = DIST) -> ASGIApp:
    """The app mounted at /playground: the page and its assets, and config.json."""

    async def config(request: Request) -> Response:
        return JSONResponse({"appId": settings.app_id, "publicIntrospection": settings.graphql_public_introspection})

    if (directory / "index.html").is_file():
        files: ASGIApp = StaticFiles(directory=directory, html=True)
    else:
        files = PlainTextResponse(f"The playground is not built: run `make playground` ({directory} is missing).", 404)
    return SecurityHeaders(Router(routes=[Route("/config.json", config), Mount("/", app=files)]))

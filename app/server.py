"""uvicorn's server, with websockets closed as "going away" (1001) before it stops.

uvicorn drops open websockets with 1012 (service restart) when it shuts down, before the app's
lifespan ends; closing them first with 1001 tells live query clients the server is leaving, so they
reconnect elsewhere instead of treating it as an error. (With `--workers` above 1, uvicorn's own
supervisor starts the workers and they close with its 1012; clients reconnect all the same.)
"""

from __future__ import annotations

import socket

import uvicorn

from app.transport.sockets import close_all


class Server(uvicorn.Server):
    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await close_all()
        await super().shutdown(sockets)

"""The HTTP client webhooks are called with: httpx, one pool of connections kept alive for the server's life."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from app.domain.webhooks import WebhookReply, WebhookUnreachableError


class HttpWebhookClient:
    """POSTs JSON to webhook URLs; a failure to get an answer becomes WebhookUnreachableError, in words."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        # Made on first use, inside the server's event loop (a webhook may never be called).
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    async def post(self, url: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> WebhookReply:
        try:
            response = await self._http().post(url, json=body, headers=dict(headers), timeout=self.timeout)
        except httpx.TimeoutException:
            raise WebhookUnreachableError(f"no answer within {self.timeout:g} s") from None
        except httpx.ConnectError as error:
            raise WebhookUnreachableError(f"could not connect ({error or 'connection refused'})") from None
        except httpx.HTTPError as error:
            raise WebhookUnreachableError(f"the call failed ({type(error).__name__}: {error})") from None
        return WebhookReply(response.status_code, response.headers.get("content-type", ""), response.text)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

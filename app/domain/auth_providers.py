"""Third-party log-in (`authData`): anonymous ids, and OpenID Connect id tokens verified against the issuer's
keys (Sign in with Apple, Google, or any issuer configured), with Parse Server's messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from app.errors import AppError, ObjectNotFoundError

# What Parse Server knows of the providers it verifies by OpenID Connect: issuers, keys, and the authData field
# holding the token.
_KNOWN = {
    "google": (
        "Google",
        ("accounts.google.com", "https://accounts.google.com"),
        "https://www.googleapis.com/oauth2/v3/certs",
        "id_token",
    ),
    "apple": ("Apple", ("https://appleid.apple.com",), "https://appleid.apple.com/auth/keys", "token"),
}


class AuthConfigError(ValueError):
    """Provider settings that cannot work; the message says which and why."""


@dataclass(frozen=True, slots=True)
class OpenIDProvider:
    name: str
    display: str
    issuers: tuple[str, ...]
    client_ids: tuple[str, ...]
    jwks_url: str | None
    jwks: Mapping[str, Any] | None
    token_field: str

    async def verify(self, data: Mapping[str, Any]) -> None:
        """Check that `data` holds an id token this issuer signed for this app, about the user `data["id"]`."""
        token = data.get(self.token_field)
        if not isinstance(token, str) or not token:
            raise ObjectNotFoundError("id token is invalid for this user.")
        key = await self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256", "ES256"],
                audience=list(self.client_ids),
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.PyJWTError as error:
            raise ObjectNotFoundError(str(error)) from None
        if claims.get("iss") not in self.issuers:
            raise ObjectNotFoundError(
                f"id token not issued by correct OpenID provider - expected: {' or '.join(self.issuers)} "
                f"| from: {claims.get('iss')}"
            )
        if claims.get("sub") != data.get("id"):
            raise ObjectNotFoundError("auth data is invalid for this user.")

    async def _signing_key(self, token: str) -> Any:
        try:
            key_id = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise ObjectNotFoundError("id token is invalid for this user.") from None
        if not isinstance(key_id, str):
            raise ObjectNotFoundError(f"Unable to find matching key for Key ID: {key_id}")
        try:
            if self.jwks is not None:
                return jwt.PyJWKSet.from_dict(dict(self.jwks))[key_id].key
            return (await asyncio.to_thread(_client(self.jwks_url or "").get_signing_key, key_id)).key
        except (KeyError, jwt.PyJWKError, jwt.PyJWKClientError):
            raise ObjectNotFoundError(f"Unable to find matching key for Key ID: {key_id}") from None


_CLIENTS: dict[str, jwt.PyJWKClient] = {}


def _client(url: str) -> jwt.PyJWKClient:
    """One key client per issuer, caching its keys for an hour (as Parse Server's adapters do)."""
    client = _CLIENTS.get(url)
    if client is None:
        client = _CLIENTS[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=10)
    return client


class AuthProviders:
    """The providers this server accepts in `authData`, from the `auth` setting."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        config = dict(config or {})
        # `enabled: false` turns any provider off, as in Parse: its auth data is then an unsupported method.
        self.disabled = {name for name, options in config.items() if _switched_off(options)}
        config.pop("anonymous", None)
        self.anonymous = "anonymous" not in self.disabled
        self.openid = {name: _provider(name, options) for name, options in config.items() if name not in self.disabled}

    def is_anonymous(self, name: str) -> bool:
        return name == "anonymous" and self.anonymous

    async def verify(self, name: str, data: Any) -> None:
        """Refuse `authData` of a provider this server does not accept, or that does not prove its id."""
        if not isinstance(data, Mapping) or not isinstance(data.get("id"), str) or not data["id"]:
            raise AppError(f"{name} auth data requires an id.", code=101)
        if self.is_anonymous(name):
            return
        provider = self.openid.get(name)
        if provider is None and name in self.disabled:
            raise AppError("This authentication method is unsupported.", code=252)
        if provider is None:
            if name in _KNOWN:
                raise ObjectNotFoundError(f"{_KNOWN[name][0]} auth is not configured.")
            raise AppError("This authentication method is unsupported.", code=252)
        await provider.verify(data)


def _switched_off(options: Any) -> bool:
    return isinstance(options, Mapping) and options.get("enabled") is False


def _provider(name: str, options: Any) -> OpenIDProvider:
    if not isinstance(options, Mapping):
        raise AuthConfigError(f"auth.{name}: expected a table of options")
    client_ids = options.get("client_id")
    if isinstance(client_ids, str):
        client_ids = [client_ids]
    if not client_ids or not all(isinstance(c, str) and c for c in client_ids):
        raise AuthConfigError(f"auth.{name}: client_id (one, or a list) is required")
    display, issuers, jwks_url, token_field = _KNOWN.get(name, (name, (), None, "id_token"))
    issuer = options.get("issuer")
    if issuer is not None:
        issuers = (issuer,) if isinstance(issuer, str) else tuple(issuer)
    jwks = options.get("jwks")
    if isinstance(jwks, str):
        jwks = json.loads(jwks)
    jwks_url = options.get("jwks_url", jwks_url)
    if not issuers or (jwks is None and not jwks_url):
        raise AuthConfigError(f"auth.{name}: an OpenID provider needs issuer and jwks_url (or jwks)")
    return OpenIDProvider(
        name, display, tuple(issuers), tuple(client_ids), jwks_url, jwks, options.get("token_field", token_field)
    )

"""Logging in with OpenID Connect id tokens: verified against the issuer's keys (served here by a local key
server the test starts, with keys the test makes; never a call to the internet), linked and unlinked."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from app.asgi import StartupError, build_services
from tests.conftest import Api, make_settings, running
from tests.graphql.helpers import Gql

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLIENT_ID = "com.example.app"
GOOGLE = "https://accounts.google.com"
ACME = "https://id.acme.test"


class Issuer:
    """An OpenID provider's signing key, and its public half as a JWKS."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": self.key_id, "use": "sig", "alg": "RS256"}]}

    def token(self, subject: str, *, issuer: str, audience: str = CLIENT_ID, expires_in: float = 300) -> str:
        claims = {
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "iat": int(time.time()),
            "exp": int(time.time() + expires_in),
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.key_id})


@pytest.fixture(scope="module")
def google() -> Issuer:
    return Issuer("google-key-1")


@pytest.fixture(scope="module")
def acme() -> Issuer:
    return Issuer("acme-key-1")


@pytest.fixture(scope="module")
def key_server(google: Issuer) -> Iterator[str]:
    """Google's key endpoint, stood in for on this machine."""
    body = json.dumps(google.jwks).encode()

    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/oauth2/v3/certs"
    finally:
        server.shutdown()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(
    database_server: str, tmp_path_factory: pytest.TempPathFactory, key_server: str, acme: Issuer
) -> AsyncIterator[Api]:
    auth = {
        "google": {"client_id": CLIENT_ID, "jwks_url": key_server},
        "acme": {"client_id": [CLIENT_ID, "other"], "issuer": ACME, "jwks": acme.jwks},
        # Switched off, as Parse's `enabled: false`: a full configuration that must still not be used.
        "retired": {"client_id": CLIENT_ID, "issuer": ACME, "jwks": acme.jwks, "enabled": False},
        "anonymous": {"enabled": False},
    }
    settings = make_settings(database_server, "auth_providers", tmp_path_factory.mktemp("data"), auth=auth)
    async with running(settings) as (_, client):
        yield Api(client)


async def test_a_google_id_token_signs_up_then_logs_in(api: Api, google: Issuer) -> None:
    data = {"google": {"id": "g-100", "id_token": google.token("g-100", issuer=GOOGLE)}}
    first = await api.post("/users", {"authData": data})
    assert first.status_code == 201 and first.json()["authDataResponse"] == {}
    again = await api.post("/users", {"authData": data})
    assert again.status_code == 200 and again.json()["objectId"] == first.json()["objectId"]
    session = await api.get("/sessions/me", token=again.json()["sessionToken"])
    assert session.json()["createdWith"] == {"action": "login", "authProvider": "google"}
    graphql = await Gql(api.client).data(
        "mutation($d: Object!) { logInWith(input: {authData: $d}) { viewer { user { objectId } } } }", {"d": data}
    )
    assert graphql["logInWith"]["viewer"]["user"]["objectId"] == first.json()["objectId"]


async def test_a_token_that_does_not_prove_the_id_is_refused_and_nothing_is_made(
    api: Api, google: Issuer, acme: Issuer
) -> None:
    impostor = Issuer("google-key-1")  # the right key id, the wrong key
    cases = [
        ({"id": "g-200", "id_token": google.token("g-999", issuer=GOOGLE)}, "auth data is invalid for this user."),
        ({"id": "g-200", "id_token": google.token("g-200", issuer=ACME)}, "id token not issued by correct"),
        ({"id": "g-200", "id_token": google.token("g-200", issuer=GOOGLE, audience="someone.else")}, "Audience"),
        ({"id": "g-200", "id_token": google.token("g-200", issuer=GOOGLE, expires_in=-60)}, "expired"),
        ({"id": "g-200", "id_token": impostor.token("g-200", issuer=GOOGLE)}, "Signature"),
        ({"id": "g-200", "id_token": acme.token("g-200", issuer=GOOGLE)}, "Unable to find matching key"),
        ({"id": "g-200", "id_token": "not a token"}, "id token is invalid for this user."),
        ({"id": "g-200"}, "id token is invalid for this user."),
    ]
    for data, message in cases:
        answer = await api.post("/users", {"authData": {"google": data}})
        assert answer.status_code == 404 and answer.json()["code"] == 101, answer.json()
        assert message in answer.json()["error"], (message, answer.json())
    found = await api.get("/users", master=True, params={"where": {"authData.google.id": "g-200"}})
    assert found.json()["results"] == []
    assert (await api.post("/users", {"authData": {"apple": {"id": "a", "token": "t"}}})).json() == {
        "code": 101,
        "error": "Apple auth is not configured.",
    }
    assert (await api.post("/users", {"authData": {"myspace": {"id": "m"}}})).json()["code"] == 252


async def test_a_provider_links_to_one_user_and_unlinks(api: Api, acme: Issuer) -> None:
    mia = (await api.post("/users", {"username": "mia", "password": "pw"})).json()
    acme_data = {"acme": {"id": "acme-7", "id_token": acme.token("acme-7", issuer=ACME)}}
    path = f"/users/{mia['objectId']}"
    assert (await api.put(path, {"authData": acme_data}, token=mia["sessionToken"])).status_code == 200
    by_acme = await api.post("/users", {"authData": acme_data})
    assert by_acme.status_code == 200 and by_acme.json()["objectId"] == mia["objectId"]

    ned = (await api.post("/users", {"username": "ned", "password": "pw"})).json()
    taken = await api.put(f"/users/{ned['objectId']}", {"authData": acme_data}, token=ned["sessionToken"])
    assert taken.json() == {"code": 208, "error": "this auth is already used"}
    forged = {"acme": {"id": "acme-8", "id_token": acme.token("acme-7", issuer=ACME)}}
    refused = await api.put(f"/users/{ned['objectId']}", {"authData": forged}, token=ned["sessionToken"])
    assert refused.json()["code"] == 101

    assert (await api.put(path, {"authData": {"acme": None}}, token=mia["sessionToken"])).status_code == 200
    after = await api.post("/users", {"authData": acme_data})
    assert after.status_code == 201 and after.json()["objectId"] != mia["objectId"]


async def test_a_provider_switched_off_is_an_unsupported_method(api: Api, acme: Issuer) -> None:
    before = (await api.get("/users", params={"count": 1, "limit": 0}, master=True)).json()["count"]
    for data in (
        {"retired": {"id": "r-1", "id_token": acme.token("r-1", issuer=ACME)}},
        {"anonymous": {"id": "0b5e1a52-9a3c-4c1e-8b52-1f1c2d3e4f50"}},
    ):
        refused = await api.post("/users", {"authData": data})
        assert (refused.status_code, refused.json()) == (
            400,
            {"code": 252, "error": "This authentication method is unsupported."},
        )
    assert (await api.get("/users", params={"count": 1, "limit": 0}, master=True)).json()["count"] == before


async def test_unusable_provider_settings_stop_the_server_at_start(database_server: str, tmp_path: Path) -> None:
    for auth, message in (
        ({"google": {}}, "auth.google: client_id"),
        ({"okta": {"client_id": "x"}}, "auth.okta: an OpenID provider needs issuer and jwks_url"),
    ):
        settings = make_settings(database_server, "auth_settings", tmp_path, auth=auth)
        with pytest.raises(StartupError, match=message):
            build_services(settings)

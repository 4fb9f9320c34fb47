"""Email verification and password reset, end to end: a real SMTP server receives what the server sends, and the
tests open the links in those emails over HTTP, as the user's browser would."""

from __future__ import annotations

import asyncio
import email
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from app.asgi import StartupError, create_app
from app.domain.store import Find
from app.domain.values import utc_now
from tests.conftest import APP_ID, Api, make_settings, running, serving
from tests.graphql.helpers import Gql

pytestmark = pytest.mark.asyncio(loop_scope="session")

PUBLIC = "http://127.0.0.1:1337/parse"
NOT_CONFIGURED = {
    "code": 1,
    "error": "An appName, publicServerURL, and emailAdapter are required for password reset and email "
    "verification functionality.",
}


class Inbox:
    """What the SMTP server received, handed from its thread to the test's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Message] = asyncio.Queue()

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or b"")
        self.loop.call_soon_threadsafe(self.queue.put_nowait, message)
        return "250 OK"

    async def next(self) -> Message:
        return await asyncio.wait_for(self.queue.get(), 10)

    def empty(self) -> bool:
        return self.queue.empty()


def _login(server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture(loop_scope="session")
async def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    """A real SMTP server on a free port that checks the password our mailer logs in with (in plain text: it
    offers no TLS; a wrong password would mean no mail)."""
    inbox, port = Inbox(asyncio.get_running_loop()), _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=_login, auth_required=False, auth_require_tls=False
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@asynccontextmanager
async def server(
    database_server: str, tmp_path: Path, port: int | None, **overrides: Any
) -> AsyncIterator[tuple[Api, Any]]:
    settings: dict[str, Any] = {"app_name": "Acme", "server_url": PUBLIC}
    if port is not None:
        settings.update(smtp_url=f"smtp://mailer:s3cret@127.0.0.1:{port}", mail_from="Acme <noreply@acme.test>")
    settings.update(overrides)
    async with running(make_settings(database_server, "mail", tmp_path, **settings)) as (app, client):
        yield Api(client), app.state.services


def link_in(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = re.search(r"https?://\S+", body.decode())
    assert found, body
    return found.group(0)


async def open_link(api: Api, link: str, **kwargs: Any) -> httpx.Response:
    assert link.startswith(PUBLIC + "/apps/"), link
    return await api.client.get(link.removeprefix("http://127.0.0.1:1337"), **kwargs)


async def user_row(services: Any, user_id: str) -> dict[str, Any]:
    """The user as stored, internal fields included (what no client ever sees)."""
    schema = await services.schemas.require("_User")
    (row,) = await services.storage.find(schema, Find({"objectId": user_id}, limit=1))
    return dict(row)


async def set_internal(services: Any, class_name: str, object_id: str, **changes: Any) -> None:
    schema = await services.schemas.require(class_name)
    await services.storage.update(schema, object_id, {}, changes, None)


def form_token(page: str) -> str:
    found = re.search(r'name="token" value="([^"]*)"', page)
    assert found, page
    return found.group(1)


# Verification -------------------------------------------------------------------------------------------------


async def test_a_new_user_verifies_the_email_through_the_mailed_link(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port, verify_user_emails=True) as (api, services):
        signed_up = await api.post("/users", {"username": "ann", "password": "pw", "email": "ann@example.com"})
        assert signed_up.status_code == 201 and "sessionToken" in signed_up.json()
        user_id = signed_up.json()["objectId"]

        message = await inbox.next()
        assert (message["To"], message["From"]) == ("ann@example.com", "Acme <noreply@acme.test>")
        assert "Acme" in message["Subject"]
        link = link_in(message)
        assert link.startswith(f"{PUBLIC}/apps/{APP_ID}/verify_email?token=")
        stored = await user_row(services, user_id)
        assert stored["emailVerified"] is False and link.endswith(stored["_email_verify_token"])

        # The token is nowhere in what clients read.
        seen = await api.get(f"/users/{user_id}", master=True)
        assert seen.json()["emailVerified"] is False
        assert stored["_email_verify_token"] not in seen.text
        me = await api.get("/users/me", token=signed_up.json()["sessionToken"])
        assert stored["_email_verify_token"] not in me.text
        for key in ("_email_verify_token", "_perishable_token"):  # nor can a query probe for it
            probe = await api.get("/users", params={"where": {key: {"$exists": True}}}, master=True)
            assert probe.json() == {"code": 105, "error": f"Invalid key name: {key}"}
        graphql = await Gql(api.client).post(
            "query($id: ID!) { user(id: $id) { emailVerified } }", {"id": user_id}, master=True
        )
        assert graphql.json() == {"data": {"user": {"emailVerified": False}}}

        page = await open_link(api, link)
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "Email verified" in page.text and page.headers["x-parse-page-param-appname"] == "Acme"
        assert (await api.get(f"/users/{user_id}", master=True)).json()["emailVerified"] is True
        assert "_email_verify_token" not in await user_row(services, user_id)

        again = await open_link(api, link)
        assert again.status_code == 200 and "This link does not work" in again.text


async def test_changing_the_email_asks_for_a_new_verification(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port, verify_user_emails=True) as (api, services):
        bob = (await api.post("/users", {"username": "bob", "password": "pw", "email": "bob@example.com"})).json()
        assert (await open_link(api, link_in(await inbox.next()))).status_code == 200
        changed = await api.put(f"/users/{bob['objectId']}", {"email": "bob@new.example"}, token=bob["sessionToken"])
        assert changed.status_code == 200
        message = await inbox.next()
        assert message["To"] == "bob@new.example"
        assert (await user_row(services, bob["objectId"]))["emailVerified"] is False
        assert "Email verified" in (await open_link(api, link_in(message))).text


async def test_unverified_users_cannot_log_in_when_configured(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    options = {"verify_user_emails": True, "prevent_login_with_unverified_email": True}
    async with server(database_server, tmp_path, port, **options) as (api, _):
        signed_up = await api.post("/users", {"username": "cy", "password": "pw", "email": "cy@example.com"})
        assert signed_up.status_code == 201 and "sessionToken" not in signed_up.json()
        refused = await api.post("/login", {"username": "cy", "password": "pw"})
        assert (refused.status_code, refused.json()) == (400, {"code": 205, "error": "User email is not verified."})
        wrong = await api.post("/login", {"username": "cy", "password": "nope"})
        assert wrong.json()["code"] == 101  # the password is checked first
        by_master = await api.request(
            "POST", "/login", {"username": "cy", "password": "pw", "ignoreEmailVerification": True}, master=True
        )
        assert by_master.status_code == 200
        not_by_client = await api.post("/login", {"username": "cy", "password": "pw", "ignoreEmailVerification": True})
        assert not_by_client.json()["code"] == 205

        await open_link(api, link_in(await inbox.next()))
        assert (await api.post("/login", {"username": "cy", "password": "pw"})).status_code == 200


async def test_sign_up_fails_with_205_until_verified_when_configured(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    options = {
        "verify_user_emails": True,
        "prevent_login_with_unverified_email": True,
        "prevent_signup_with_unverified_email": True,
    }
    async with server(database_server, tmp_path, port, **options) as (api, _):
        signed_up = await api.post("/users", {"username": "di", "password": "pw", "email": "di@example.com"})
        assert (signed_up.status_code, signed_up.json()) == (400, {"code": 205, "error": "User email is not verified."})
        await open_link(api, link_in(await inbox.next()))  # the user exists, and the mail went out
        assert (await api.post("/login", {"username": "di", "password": "pw"})).status_code == 200


async def test_an_expired_verification_link_opens_the_invalid_link_page(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    options = {"verify_user_emails": True, "email_verify_token_validity_duration": 3600}
    async with server(database_server, tmp_path, port, **options) as (api, services):
        user = (await api.post("/users", {"username": "eve", "password": "pw", "email": "eve@example.com"})).json()
        link = link_in(await inbox.next())
        stored = await user_row(services, user["objectId"])
        assert stored["_email_verify_token_expires_at"] > utc_now() + timedelta(minutes=59)
        await set_internal(services, "_User", user["objectId"], _email_verify_token_expires_at=utc_now())

        page = await open_link(api, link)
        assert page.status_code == 200 and "This link does not work" in page.text
        assert (await user_row(services, user["objectId"]))["emailVerified"] is False


async def test_a_verification_email_can_be_requested_again(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port, verify_user_emails=True) as (api, _):
        await api.post("/users", {"username": "fay", "password": "pw", "email": "fay@example.com"})
        first = link_in(await inbox.next())
        answer = await api.post("/verificationEmailRequest", {"email": "fay@example.com"})
        assert (answer.status_code, answer.json()) == (200, {})
        second = link_in(await inbox.next())
        assert second != first
        assert "This link does not work" in (await open_link(api, first)).text  # the new token replaced it
        assert "Email verified" in (await open_link(api, second)).text

        # Unknown and verified addresses answer alike, and nothing is sent.
        for address in ("nobody@example.com", "fay@example.com"):
            quiet = await api.post("/verificationEmailRequest", {"email": address})
            assert (quiet.status_code, quiet.json()) == (200, {})
        assert inbox.empty()
        missing = await api.post("/verificationEmailRequest", {})
        assert (missing.status_code, missing.json()) == (400, {"code": 204, "error": "you must provide an email"})
        number = await api.post("/verificationEmailRequest", {"email": 5})
        assert number.json() == {"code": 125, "error": "you must provide a valid email string"}


async def test_verification_requests_can_say_what_went_wrong(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    options = {"verify_user_emails": True, "email_verify_success_on_invalid_email": False}
    async with server(database_server, tmp_path, port, **options) as (api, _):
        await api.post("/users", {"username": "gus", "password": "pw", "email": "gus@example.com"})
        await open_link(api, link_in(await inbox.next()))
        unknown = await api.post("/verificationEmailRequest", {"email": "nobody@example.com"})
        assert unknown.json() == {"code": 205, "error": "No user found with email nobody@example.com"}
        verified = await api.post("/verificationEmailRequest", {"email": "gus@example.com"})
        assert verified.json() == {"code": -1, "error": "Email gus@example.com is already verified."}


# Password reset -----------------------------------------------------------------------------------------------


async def test_a_password_is_reset_through_the_mailed_link(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port) as (api, services):
        hal = (await api.post("/users", {"username": "hal", "password": "old-pw", "email": "hal@example.com"})).json()
        other = (await api.post("/login", {"username": "hal", "password": "old-pw"})).json()["sessionToken"]

        answer = await api.post("/requestPasswordReset", {"email": "hal@example.com"})
        assert (answer.status_code, answer.json()) == (200, {})
        message = await inbox.next()
        assert message["To"] == "hal@example.com" and "Acme" in message["Subject"]
        link = link_in(message)
        assert link.startswith(f"{PUBLIC}/apps/{APP_ID}/request_password_reset?token=")
        token = (await user_row(services, hal["objectId"]))["_perishable_token"]
        assert token not in (await api.get(f"/users/{hal['objectId']}", master=True)).text

        page = await open_link(api, link)
        assert page.status_code == 200 and "Choose a new password" in page.text
        assert form_token(page.text) == token
        action = re.search(r'action="([^"]+)"', page.text)
        assert action and action.group(1) == f"{PUBLIC}/apps/{APP_ID}/request_password_reset"

        done = await api.client.post(
            f"/parse/apps/{APP_ID}/request_password_reset",
            data={"token": token, "new_password": "new-pw", "confirm_new_password": "new-pw"},
        )
        assert done.status_code == 200 and "Password changed" in done.text
        assert (await api.post("/login", {"username": "hal", "password": "new-pw"})).status_code == 200
        assert (await api.post("/login", {"username": "hal", "password": "old-pw"})).status_code == 404
        for old in (hal["sessionToken"], other):
            assert (await api.get("/users/me", token=old)).json()["code"] == 209
        assert "_perishable_token" not in await user_row(services, hal["objectId"])
        assert "This link does not work" in (await open_link(api, link)).text


async def test_a_reset_form_that_fails_shows_why_and_changes_nothing(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    options = {"password_pattern": r"\d", "password_pattern_error": "Use a digit."}
    async with server(database_server, tmp_path, port, **options) as (api, _):
        await api.post("/users", {"username": "ida", "password": "pw1", "email": "ida@example.com"})
        await api.post("/requestPasswordReset", {"email": "ida@example.com"})
        token = form_token((await open_link(api, link_in(await inbox.next()))).text)
        path = f"/parse/apps/{APP_ID}/request_password_reset"

        weak = await api.client.post(path, data={"token": token, "new_password": "nodigit"})
        assert weak.status_code == 200 and "Use a digit." in weak.text and form_token(weak.text) == token
        xhr = {"X-Requested-With": "XMLHttpRequest"}
        by_script = await api.client.post(path, data={"token": token, "new_password": "nodigit"}, headers=xhr)
        assert (by_script.status_code, by_script.json()) == (400, {"code": -1, "error": "Use a digit."})
        differ = await api.client.post(path, data={"token": token, "new_password": "a1", "confirm_new_password": "b1"})
        assert "The two passwords are not the same." in differ.text
        no_token = await api.client.post(path, data={"new_password": "a1"})
        assert no_token.status_code == 303
        assert no_token.headers["location"].startswith(f"{PUBLIC}/apps/password_reset_link_invalid.html?")
        bad = await api.client.post(path, data={"token": "wrong", "new_password": "a1"}, headers=xhr)
        assert bad.json() == {"code": -1, "error": "Failed to reset password: username / email / token is invalid"}
        assert (await api.post("/login", {"username": "ida", "password": "pw1"})).status_code == 200

        ok = await api.client.post(path, data={"token": token, "new_password": "good1"}, headers=xhr)
        assert (ok.status_code, ok.text) == (200, "Password successfully reset")


async def test_an_expired_reset_link_cannot_be_used(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port, reset_token_validity_duration=600) as (api, services):
        jo = (await api.post("/users", {"username": "jo", "password": "pw", "email": "jo@example.com"})).json()
        await api.post("/requestPasswordReset", {"email": "jo@example.com"})
        link = link_in(await inbox.next())
        token = (await user_row(services, jo["objectId"]))["_perishable_token"]
        await set_internal(services, "_User", jo["objectId"], _perishable_token_expires_at=utc_now())

        assert "This link does not work" in (await open_link(api, link)).text
        expired = await api.client.post(
            f"/parse/apps/{APP_ID}/request_password_reset", data={"token": token, "new_password": "new"}
        )
        assert "The password reset link has expired" in expired.text
        assert (await api.post("/login", {"username": "jo", "password": "pw"})).status_code == 200

        # Parse 9: the expired link's token asks for a new link, without the address.
        again = await api.post("/requestPasswordReset", {"token": token})
        assert (again.status_code, again.json()) == (200, {})
        fresh = link_in(await inbox.next())
        assert fresh != link and "Choose a new password" in (await open_link(api, fresh)).text
        unknown = await api.post("/requestPasswordReset", {"token": "no-such-token"})
        assert (unknown.status_code, unknown.json()) == (
            400,
            {"code": 125, "error": "you must provide a valid email string"},
        )
        number = await api.post("/requestPasswordReset", {"token": 5})
        assert (number.status_code, number.json()) == (400, {"code": 162, "error": "token must be a string"})


@pytest.mark.parametrize("unlock", [True, False])
async def test_a_reset_unlocks_a_locked_account_when_configured(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int], unlock: bool
) -> None:
    inbox, port = smtp
    options = {"account_lockout_threshold": 2, "account_lockout_unlock_on_password_reset": unlock}
    async with server(database_server, tmp_path, port, **options) as (api, _):
        await api.post("/users", {"username": "kai", "password": "pw", "email": "kai@example.com"})
        for _ in range(3):
            locked = await api.post("/login", {"username": "kai", "password": "wrong"})
        assert "Your account is locked" in locked.json()["error"]
        await api.post("/requestPasswordReset", {"email": "kai@example.com"})
        token = form_token((await open_link(api, link_in(await inbox.next()))).text)
        await api.client.post(
            f"/parse/apps/{APP_ID}/request_password_reset", data={"token": token, "new_password": "n1"}
        )

        after = await api.post("/login", {"username": "kai", "password": "n1"})
        if unlock:
            assert after.status_code == 200
        else:
            assert "Your account is locked" in after.json()["error"]


async def test_reset_requests_answer_as_parse_for_unknown_or_bad_input(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port) as (api, services):
        lu = (await api.post("/users", {"username": "lu", "password": "pw", "email": "lu@example.com"})).json()
        unknown = await api.post("/requestPasswordReset", {"email": "nobody@example.com"})
        assert (unknown.status_code, unknown.json()) == (200, {})
        missing = await api.post("/requestPasswordReset", {})
        assert (missing.status_code, missing.json()) == (400, {"code": 204, "error": "you must provide an email"})
        number = await api.post("/requestPasswordReset", {"email": 5})
        assert (number.status_code, number.json()) == (
            400,
            {"code": 125, "error": "you must provide a valid email string"},
        )
        assert inbox.empty()
        assert "_perishable_token" not in await user_row(services, lu["objectId"])

    async with server(database_server, tmp_path, port, reset_password_success_on_invalid_email=False) as (api, _):
        unknown = await api.post("/requestPasswordReset", {"email": "nobody@example.com"})
        assert (unknown.status_code, unknown.json()) == (
            404,
            {"code": 101, "error": "A user with that email does not exist."},
        )


async def test_a_user_without_email_is_found_by_username(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port) as (api, _):
        await api.post("/users", {"username": "max@example.com", "password": "pw"})
        assert (await api.post("/requestPasswordReset", {"email": "max@example.com"})).json() == {}
        assert (await inbox.next())["To"] == "max@example.com"


async def test_graphql_resets_passwords_and_sends_verification_emails(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port, verify_user_emails=True) as (api, services):
        gql = Gql(api.client)
        nia = (await api.post("/users", {"username": "nia", "password": "pw", "email": "nia@example.com"})).json()
        await inbox.next()
        sent = await gql.data('mutation { sendVerificationEmail(input: {email: "nia@example.com"}) { ok } }')
        assert sent == {"sendVerificationEmail": {"ok": True}}
        assert "Email verified" in (await open_link(api, link_in(await inbox.next()))).text

        reset = await gql.data('mutation { resetPassword(input: {email: "nia@example.com"}) { ok } }')
        assert reset == {"resetPassword": {"ok": True}}
        await inbox.next()
        token = (await user_row(services, nia["objectId"]))["_perishable_token"]
        confirm = (
            'mutation($t: String!) { confirmResetPassword(input: {username: "nia", password: "new", token: $t}) '
            "{ ok } }"
        )
        bad = await gql.error(confirm, {"t": "wrong"})
        assert (
            bad["message"] == 'Unexpected error value: "Failed to reset password: username / email / token is invalid"'
        )
        assert await gql.data(confirm, {"t": token}) == {"confirmResetPassword": {"ok": True}}
        assert (await api.post("/login", {"username": "nia", "password": "new"})).status_code == 200


# Without configuration, and the logging mailer ----------------------------------------------------------------


async def test_without_an_app_name_the_features_answer_as_parse_without_an_email_adapter(
    database_server: str, tmp_path: Path
) -> None:
    settings = make_settings(database_server, "no_mail", tmp_path)
    async with running(settings) as (_, client):
        api = Api(client)
        for path in ("/requestPasswordReset", "/verificationEmailRequest"):
            answer = await api.post(path, {"email": "a@example.com"})
            assert (answer.status_code, answer.json()) == (500, NOT_CONFIGURED)
        page = await client.get(f"/parse/apps/{APP_ID}/verify_email?token=x")
        assert (page.status_code, page.text) == (404, "Not found.")
        other_app = await client.get("/parse/apps/other/verify_email?token=x")
        assert (other_app.status_code, other_app.json()) == (403, {"error": "unauthorized"})


async def test_without_a_mail_server_the_links_are_logged(
    database_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="app.mail")
    async with server(database_server, tmp_path, None, verify_user_emails=True) as (api, services):
        user = (await api.post("/users", {"username": "ola", "password": "pw", "email": "ola@example.com"})).json()
        token = (await user_row(services, user["objectId"]))["_email_verify_token"]
    # Mail goes out in the background; the server's stop waits for it.
    logged = [record.getMessage() for record in caplog.records if record.name == "app.mail"]
    assert any("ola@example.com" in line and token in line for line in logged), logged


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"verify_user_emails": True}, "verify_user_emails needs app_name"),
        ({"app_name": "A", "email_verify_token_reuse_if_valid": True}, "needs email_verify_token_validity_duration"),
        ({"app_name": "A", "reset_token_reuse_if_valid": True}, "needs reset_token_validity_duration"),
        ({"app_name": "A", "smtp_url": "smtp://127.0.0.1:25"}, "smtp_url needs mail_from"),
    ],
)
async def test_email_options_that_cannot_work_together_stop_the_start(
    database_server: str, tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(StartupError, match=message):
        create_app(make_settings(database_server, "bad_mail", tmp_path, **options))


async def test_a_mail_server_that_is_down_does_not_fail_the_sign_up(
    database_server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    options = {"verify_user_emails": True, "smtp_url": f"smtp://127.0.0.1:{_free_port()}", "mail_from": "a@b.test"}
    async with server(database_server, tmp_path, None, **options) as (api, _):
        signed_up = await api.post("/users", {"username": "pat", "password": "pw", "email": "pat@example.com"})
        assert signed_up.status_code == 201
    assert any("could not send email to pat@example.com" in r.getMessage() for r in caplog.records)


async def test_the_pages_resend_a_verification_link_and_serve_their_result_pages(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    async with server(database_server, tmp_path, port, verify_user_emails=True) as (api, _):
        await api.post("/users", {"username": "quin", "password": "pw", "email": "quin@example.com"})
        await inbox.next()
        resent = await api.client.post(f"/parse/apps/{APP_ID}/resend_verification_email", data={"username": "quin"})
        assert resent.status_code == 303
        location = resent.headers["location"]
        assert location.startswith(f"{PUBLIC}/apps/email_verification_send_success.html?appId={APP_ID}&appName=Acme")
        assert "Email verified" in (await open_link(api, link_in(await inbox.next()))).text
        shown = await open_link(api, location)
        assert shown.status_code == 200 and "Link sent" in shown.text

        nothing = await api.client.post(f"/parse/apps/{APP_ID}/resend_verification_email", data={})
        assert nothing.headers["location"].startswith(f"{PUBLIC}/apps/email_verification_link_invalid.html?")
        chooser = await api.client.get("/parse/apps/choose_password", params={"appId": APP_ID, "token": "<t>"})
        assert chooser.status_code == 200 and 'name="token" value="&lt;t&gt;"' in chooser.text
        missing = await api.client.get("/parse/apps/no_such_page.html")
        assert (missing.status_code, missing.json()) == (
            404,
            {"code": 107, "error": "Cannot GET /parse/apps/no_such_page.html"},
        )


# Requests that mail do not wait for the mail server -----------------------------------------------------------

SMTP_DELAY = 1.0


class SlowInbox(Inbox):
    """A mail server that takes `SMTP_DELAY` seconds to accept each message."""

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(SMTP_DELAY)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize(
    ("path", "options"),
    [("/requestPasswordReset", {}), ("/verificationEmailRequest", {"verify_user_emails": True})],
)
async def test_a_known_address_is_answered_without_waiting_for_the_mail_server(
    database_server: str, tmp_path: Path, path: str, options: dict[str, Any]
) -> None:
    inbox, port = SlowInbox(asyncio.get_running_loop()), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, auth_required=False, auth_require_tls=False)
    controller.start()
    settings = make_settings(
        database_server,
        "slow_mail",
        tmp_path,
        app_name="Acme",
        server_url=PUBLIC,
        smtp_url=f"smtp://127.0.0.1:{port}",
        mail_from="noreply@acme.test",
        **options,
    )
    try:
        async with serving(settings) as (_, client, _address):
            api = Api(client)
            await api.post("/users", {"username": "ria", "password": "pw", "email": "ria@example.com"})

            async def timed(address: str) -> float:
                started = time.perf_counter()
                answer = await api.post(path, {"email": address})
                assert (answer.status_code, answer.json()) == (200, {})
                return time.perf_counter() - started

            rounds = 5
            known = [await timed("ria@example.com") for _ in range(rounds)]
            unknown = [await timed("nobody@example.com") for _ in range(rounds)]
            # Each known-address answer came well before the mail server took a single message.
            assert max(known) / SMTP_DELAY < 0.5, (known, unknown)
            addressed = [(await inbox.next())["To"] for _ in range(rounds)]
            assert addressed == ["ria@example.com"] * rounds
            assert inbox.empty()
    finally:
        controller.stop()


async def test_mail_still_queued_goes_out_before_the_server_stops(database_server: str, tmp_path: Path) -> None:
    inbox, port = SlowInbox(asyncio.get_running_loop()), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, auth_required=False, auth_require_tls=False)
    controller.start()
    try:
        async with server(
            database_server, tmp_path, None, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="a@b.test"
        ) as (
            api,
            _,
        ):
            await api.post("/users", {"username": "sol", "password": "pw", "email": "sol@example.com"})
            assert (await api.post("/requestPasswordReset", {"email": "sol@example.com"})).json() == {}
        # The server stopped, and the message it had accepted to send was delivered first.
        assert not inbox.empty() and (await inbox.next())["To"] == "sol@example.com"
    finally:
        controller.stop()


# The options as functions of the request (Parse 9's verifyUserEmails and preventLoginWithUnverifiedEmail) -----

POLICY_CLOUD = """
import json

from app.cloud import Cloud, EmailRequest

cloud = Cloud()


def note(kind: str, request: EmailRequest) -> None:
    seen = {
        "kind": kind,
        "username": request.object.get("username"),
        "email": request.object.get("email"),
        "original": request.original.get("email") if request.original is not None else None,
        "created_with": request.created_with,
        "resend": request.resend_request,
        "master": request.master,
        "ip": request.ip,
        "installation_id": request.installation_id,
        "internal": sorted(key for key in request.object.to_dict() if key.startswith("_") or key == "password"),
    }
    with open(SEEN, "a") as log:
        log.write(json.dumps(seen) + "\\n")


@cloud.verify_user_emails
def verify(request: EmailRequest) -> bool:  # a plain function: run in a worker thread
    note("verify", request)
    return str(request.object.get("email", "")).endswith("@strict.test")


@cloud.prevent_login_with_unverified_email
async def prevent(request: EmailRequest) -> bool:
    note("prevent", request)
    return request.object.get("username") != "lenient"
"""


async def test_cloud_code_decides_per_request_who_verifies_and_who_may_log_in_unverified(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    seen_path = tmp_path / "seen.jsonl"
    cloud = tmp_path / "policy_cloud.py"
    cloud.write_text(f"SEEN = {str(seen_path)!r}\n{POLICY_CLOUD}")

    def seen() -> list[dict[str, Any]]:
        lines = seen_path.read_text().splitlines() if seen_path.exists() else []
        seen_path.unlink(missing_ok=True)
        return [json.loads(line) for line in lines]

    async with server(database_server, tmp_path, port, cloud=str(cloud)) as (api, services):
        # A loose address: no verification, a session at once, no mail.
        ann = await api.post("/users", {"username": "ann", "password": "pw", "email": "ann@loose.test"})
        assert ann.status_code == 201 and "sessionToken" in ann.json()
        # Asked twice, as Parse asks: whether to make a token, then whether to hold the session back.
        first, asked = seen()
        assert (
            first
            == asked
            == {
                "kind": "verify",
                "username": "ann",
                "email": "ann@loose.test",
                "original": None,
                "created_with": {"action": "signup", "authProvider": "password"},
                "resend": False,
                "master": False,
                "ip": "127.0.0.1",
                "installation_id": None,
                "internal": [],
            }
        )
        assert "emailVerified" not in await user_row(services, ann.json()["objectId"])

        # A strict address: verified, and no session until it is.
        signing_up = {"username": "bea", "password": "pw", "email": "bea@strict.test"}
        bea = await api.client.post(
            "/parse/users", json=signing_up, headers={**api.headers(), "X-Parse-Installation-Id": "inst-1"}
        )
        assert bea.status_code == 201 and "sessionToken" not in bea.json()
        assert [(s["kind"], s["created_with"], s["installation_id"]) for s in seen()] == [
            ("verify", {"action": "signup", "authProvider": "password"}, "inst-1"),  # the token is made
            ("verify", {"action": "signup", "authProvider": "password"}, "inst-1"),  # the session is held back
            ("prevent", {"action": "signup", "authProvider": "password"}, "inst-1"),
        ]
        bea_link = link_in(await inbox.next())
        refused = await api.post("/login", {"username": "bea", "password": "pw"})
        assert refused.json() == {"code": 205, "error": "User email is not verified."}
        assert [(s["kind"], s["created_with"]) for s in seen()] == [
            ("verify", {"action": "login", "authProvider": "password"}),
            ("prevent", {"action": "login", "authProvider": "password"}),
        ]
        by_master = await api.post("/login", {"username": "bea", "password": "pw"}, master=True)
        assert by_master.json()["code"] == 205 and [s["master"] for s in seen()] == [True, True]
        skipping = {"username": "bea", "password": "pw", "ignoreEmailVerification": True}
        assert (await api.post("/login", skipping, master=True)).status_code == 200
        assert seen() == []  # not asked at all

        # Verified by the function, but allowed in unverified by the other one.
        lenient = await api.post("/users", {"username": "lenient", "password": "pw", "email": "len@strict.test"})
        assert "sessionToken" in lenient.json()
        assert (await inbox.next())["To"] == "len@strict.test"
        seen()
        assert (await api.post("/login", {"username": "lenient", "password": "pw"})).status_code == 200
        # A loose user logs in without the second function being asked.
        assert (await api.post("/login", {"username": "ann", "password": "pw"})).status_code == 200
        assert [s["kind"] for s in seen()] == ["verify", "prevent", "verify"]

        # Changing to a strict address asks, with the user before and after, and mails a link.
        changed = await api.put(
            f"/users/{ann.json()['objectId']}", {"email": "ann@strict.test"}, token=ann.json()["sessionToken"]
        )
        assert changed.status_code == 200
        (asked,) = seen()
        assert (asked["email"], asked["original"], asked["created_with"]) == ("ann@strict.test", "ann@loose.test", None)
        assert asked["internal"] == []
        assert (await inbox.next())["To"] == "ann@strict.test"

        # A link asked for again: the function is told so (resend_request), and says yes: a new link goes out.
        again = await api.post("/verificationEmailRequest", {"email": "bea@strict.test"})
        assert again.json() == {}
        (asked,) = seen()
        assert (asked["kind"], asked["resend"], asked["created_with"], asked["username"]) == (
            "verify",
            True,
            None,
            "bea",
        )
        new_link = link_in(await inbox.next())
        assert new_link != bea_link
        assert "Email verified" in (await open_link(api, new_link)).text  # links work: verification is on
        assert (await api.post("/login", {"username": "bea", "password": "pw"})).status_code == 200


async def test_a_function_that_fails_fails_the_request_as_cloud_code_does(
    database_server: str, tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    cloud = tmp_path / "broken_cloud.py"
    cloud.write_text(
        "from app.cloud import Cloud, CloudError\ncloud = Cloud()\n\n"
        "@cloud.verify_user_emails\nasync def verify(request):\n    raise CloudError('no sign-ups today', code=142)\n"
    )
    async with server(database_server, tmp_path, smtp[1], cloud=str(cloud)) as (api, _):
        refused = await api.post("/users", {"username": "cal", "password": "pw", "email": "cal@x.test"})
        assert (refused.status_code, refused.json()) == (400, {"code": 142, "error": "no sign-ups today"})
        assert (await api.get("/users", master=True)).json() == {"results": []}
    with pytest.raises(StartupError, match="verify_user_emails needs app_name"):
        create_app(make_settings(database_server, "no_name", tmp_path, cloud=str(cloud)))


async def test_pages_of_the_apps_own_replace_ours_and_redirects_can_be_forced(
    database_server: str, tmp_path: Path
) -> None:
    custom = {
        "emailVerificationLinkInvalid": "https://app.example/links/invalid?from=parse",
        "passwordResetLinkInvalid": "https://app.example/reset-failed",
    }
    async with server(database_server, tmp_path / "custom", None, pages_custom_urls=custom) as (api, _):
        page = await api.client.get(f"/parse/apps/{APP_ID}/verify_email?token=nonsense")
        assert page.status_code == 303
        assert page.headers["location"] == (
            f"https://app.example/links/invalid?from=parse&appId={APP_ID}&appName=Acme"
            f"&publicServerUrl={PUBLIC.replace(':', '%3A').replace('/', '%2F')}"
        )
        assert page.headers["x-parse-page-param-appname"] == "Acme"
        reset = await api.client.get(f"/parse/apps/{APP_ID}/request_password_reset?token=nonsense")
        assert (reset.status_code, reset.headers["location"].split("?")[0]) == (303, custom["passwordResetLinkInvalid"])
        # A page without a custom URL is still ours.
        ours = await api.client.get(f"/parse/apps/choose_password?id={APP_ID}&token=t&username=u")
        assert ours.status_code == 200 and "<form" in ours.text
    async with server(database_server, tmp_path / "forced", None, pages_force_redirect=True) as (api, _):
        page = await api.client.get(f"/parse/apps/{APP_ID}/verify_email?token=nonsense")
        assert page.status_code == 303
        assert page.headers["location"].startswith(f"{PUBLIC}/apps/email_verification_link_invalid.html?")

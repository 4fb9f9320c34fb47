"""Parse Dashboard's Push pages (npm `parse-dashboard`, unchanged, in headless Chromium) against a ParseQL whose push
option sends through the local Firebase Cloud Messaging server: past pushes listed and shown from `_PushStatus`,
saved audiences listed from `/push_audiences`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, serving
from tests.e2e.conftest import require_node_clients
from tests.e2e.test_dashboard import WAIT, Dashboard, expect, parse_dashboard
from tests.push_servers import FcmServer, fcm_server

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fcm() -> AsyncIterator[FcmServer]:
    async with fcm_server() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dashboard(
    fcm: FcmServer, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Dashboard]:
    require_node_clients()
    settings = make_settings(
        database_server,
        "e2e_dashboard_push",
        tmp_path_factory.mktemp("data"),
        push={"android": {"firebaseServiceAccount": fcm.service_account()}},
        push_fcm_url=fcm.url,
    )
    async with serving(settings) as (_, client, address), parse_dashboard(address, Api(client)) as dashboard:
        yield dashboard


async def install(api: Api, token: str) -> None:
    installation = {"installationId": f"id-{token}", "deviceType": "android", "deviceToken": token, "channels": ["d"]}
    assert (await api.post("/classes/_Installation", installation, master=True)).status_code == 201


async def sent_push(api: Api, alert: str) -> str:
    await install(api, "dash-tok")
    answer = await api.post("/push", {"channels": ["d"], "data": {"alert": alert}}, master=True)
    status_id = answer.headers["X-Parse-Push-Status-Id"]
    deadline = time.monotonic() + 15
    while (await api.get(f"/classes/_PushStatus/{status_id}", master=True)).json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "the push was not sent"
        await asyncio.sleep(0.05)
    return status_id


async def test_past_pushes_are_listed_and_shown(dashboard: Dashboard, page: Any) -> None:
    status_id = await sent_push(dashboard.api, "Hello from the Dashboard test")
    dashboard.follow(page)

    await page.goto(f"{dashboard.url}/push/activity/all")
    await expect(page.get_by_text("Hello from the Dashboard test").first).to_be_visible(timeout=WAIT)

    await page.goto(f"{dashboard.url}/push/{status_id}")
    await expect(page.get_by_text("Hello from the Dashboard test").first).to_be_visible(timeout=WAIT)
    # The sends counted in _PushStatus, and the query it was sent to.
    await expect(page.get_by_text("Push Sends").locator("xpath=preceding-sibling::*[1]")).to_have_text("1")
    await expect(page.get_by_text("channels", exact=True)).to_be_visible()
    assert [call for call in dashboard.requests if call[0] >= 400] == []


async def test_a_push_sent_from_the_dashboards_form_reaches_the_device(
    dashboard: Dashboard, fcm: FcmServer, page: Any
) -> None:
    await install(dashboard.api, "form-tok")
    dashboard.follow(page)
    await page.goto(f"{dashboard.url}/push/new")
    await page.get_by_text("Everyone", exact=True).first.click()
    await page.locator("textarea").first.fill("Sent from the form")
    fcm.messages.clear()
    await page.get_by_text("Send push", exact=True).click()

    # The Dashboard reads the push's status id from the answer's headers, across origins too.
    await page.get_by_text("Saved!", exact=True).wait_for()
    message = await fcm.message_to("form-tok")
    assert json.loads(message["android"]["data"]["data"]) == {"alert": "Sent from the form"}
    assert [call for call in dashboard.requests if call[0] >= 400] == []


async def test_saved_audiences_are_listed(dashboard: Dashboard, page: Any) -> None:
    query = '{"deviceType":"android"}'
    await dashboard.api.post("/push_audiences", {"name": "Android phones", "query": query}, master=True)
    dashboard.follow(page)

    await page.goto(f"{dashboard.url}/push/audiences")
    await expect(page.get_by_text("Android phones").first).to_be_visible(timeout=WAIT)
    assert [call for call in dashboard.requests if call[0] >= 400] == []


async def test_no_page_is_hidden_by_server_info(dashboard: Dashboard, page: Any) -> None:
    """With push configured, serverInfo offers every page Parse Dashboard has for a Parse Server app."""
    await page.goto(f"{dashboard.url}/browser/_User")  # the Browser, open
    await page.get_by_text("No data to display").wait_for()
    for name in ("Webhooks", "Jobs", "Logs", "Config", "API Console", "Push"):
        await expect(page.get_by_role("link", name=name, exact=True).first).to_be_visible(timeout=WAIT)

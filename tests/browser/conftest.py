"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright (never Playwright's own
download), one browser per module, and a screenshot in tests/artifacts/ of every page whose test failed."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Generator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = shutil.which("chromium")
NO_CHROMIUM = "chromium is not installed (apt-get install chromium; .ci/run installs it)"
FAILED = pytest.StashKey[bool]()  # whether the test's call phase failed, for the page fixture's screenshot


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[FAILED] = report.failed


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    driver_module = pytest.importorskip("playwright.async_api", reason="playwright is missing: pip install -e '.[dev]'")
    async with driver_module.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """A fresh page (its own storage); saved as tests/artifacts/<test>.png when the test fails."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        if request.node.stash.get(FAILED, False):
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        await context.close()

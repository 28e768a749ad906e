"""One headless Chromium for the browser tests, a fresh context per test, the app on a live server.

Playwright cannot download its own browsers here, so it drives Debian's Chromium (`make test` installs it).
The customer's page is served as http://example.com:PORT: Chromium's host resolver maps example.com to loopback
and refuses every other name, so nothing leaves the machine and the server does not drop the events as
localhost traffic (it would for 127.0.0.1, whatever the script tag says).
"""

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from tracking import buffer, ingest
from tracking.services import salts_forget_cache

CHROMIUM = "/usr/bin/chromium"
SITE_HOST = "example.com"
# Headless Chromium says "HeadlessChrome", which the server drops as a bot; a visitor's desktop Chrome does not.
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling home, and this closed network answers each call with a refusal.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--host-resolver-rules=MAP {SITE_HOST} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost",
    # The context's user_agent reaches only requests made while the page lives; a keepalive request sent on
    # pagehide leaves from the browser process with the default "HeadlessChrome" and would be dropped as a bot.
    f"--user-agent={USER_AGENT}",
]
WAIT_SECONDS = 10.0  # an upper bound for a loaded 2-core machine; a passing wait returns at once


@pytest.fixture(scope="package")
def browser(django_db_setup):
    if connection.vendor == "sqlite":
        # The live server and the test share one in-memory SQLite connection across threads, and its table locks
        # fail at once instead of waiting: concurrent tracker requests would get "database table is locked".
        pytest.skip("the browser tests need PostgreSQL (make test uses it when 127.0.0.1:5432 answers)")
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: `make chromium` installs Debian's Chromium"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API runs an asyncio loop on this thread, so Django would refuse every ORM call from the
    # test as "async". The tests block on purpose and the loop only carries the browser protocol; the live
    # server thread, which does the real work, has no loop. Scoped to this package (the browser's lifetime).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def context(browser, customer):
    # After `customer` (and so the database), so that it is closed before the tables are flushed.
    context = browser.new_context(user_agent=USER_AGENT, viewport={"width": 1280, "height": 800}, locale="en-US")
    context.set_default_timeout(WAIT_SECONDS * 1000)
    yield context
    # Closing a page ends its view, and the engagement it sends would reach the server while the next test
    # sets up; opting out first keeps it quiet.
    for page in context.pages:
        with contextlib.suppress(PlaywrightError):  # a page mid-navigation: nothing of it is checked any more
            page.evaluate("window.humblytics_ignore = true")
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


@dataclass(frozen=True)
class Customer:
    """The customer's site as the browser reaches it."""

    origin: str

    def url(self, path):
        return self.origin + path


def _forget_process_caches():
    # The live server runs in this process: its site and salt caches would outlive the rows of a test.
    ingest.site_cache_clear()
    salts_forget_cache()
    buffer.reset()


@pytest.fixture
def customer(settings, live_server, site):
    """example.com (alice's `site`) serving tests/tracking/browser/pages with the snippet; direct writes."""
    settings.ROOT_URLCONF = "tests.tracking.browser.urls"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, SITE_HOST, "localhost"]
    settings.REDIS_URL = None  # rows land synchronously, inside the request
    _forget_process_caches()
    yield Customer(origin=f"http://{SITE_HOST}:{live_server.thread.port}")
    _forget_process_caches()


def wait_for(check, *, timeout=WAIT_SECONDS, interval=0.05):
    """Poll `check` until it returns something truthy; fail with its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            break
        time.sleep(interval)
    assert result, f"still {result!r} after {timeout}s"
    return result

"""Split tests in real headless Chromium: the customer's pages on http://example.com:PORT embed the per-site script
(synchronously, in <head>) from http://localhost:PORT, as tests/tracking/browser does for the core tracker.

Every visitor is a fresh browser context (its own HTTP cache) with its own Chrome build number in the User-Agent:
the server then hashes a different cookie-free visitor id for each, as it would for different people (all of them
come from 127.0.0.1; a custom X-Forwarded-For header would make the tracker's cross-origin requests preflighted). Playwright's Chromium reports navigator.webdriver = true, which the runtime treats as a bot; a
visitor's context hides it, as a person's browser would not have it, except where a test wants the bot.
"""

import contextlib
import itertools

import pytest
from playwright.sync_api import Error as PlaywrightError

from splittests import delivery
from tests.revenue.conftest import localstripe, localstripe_clean, localstripe_server  # noqa: F401 (fixtures)
from tests.tracking.browser.conftest import (  # noqa: F401 (fixtures)
    SITE_HOST,
    USER_AGENT,
    WAIT_SECONDS,
    Customer,
    _forget_process_caches,
    browser,
)

NOT_AUTOMATED = "Object.defineProperty(Navigator.prototype, 'webdriver', {get: () => false});"
_builds = itertools.count(1)


@pytest.fixture
def customer(settings, live_server, site):
    settings.ROOT_URLCONF = "tests.splittests.browser.urls"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, SITE_HOST, "localhost"]
    settings.REDIS_URL = None  # page views land inside the request
    _forget_process_caches()
    delivery.forget()
    yield Customer(origin=f"http://{SITE_HOST}:{live_server.thread.port}")
    _forget_process_caches()
    delivery.forget()


@pytest.fixture
def visitor(browser, customer):  # noqa: F811 (the imported fixture)
    """visitor(user_agent=…, automated=False) → a new page of a new person (own context, own visitor id)."""
    contexts = []

    def _new(*, user_agent=None, automated=False):
        user_agent = user_agent or USER_AGENT.replace("Chrome/156.0.0.0", f"Chrome/156.0.{next(_builds)}.0")
        context = browser.new_context(user_agent=user_agent, viewport={"width": 1280, "height": 800}, locale="en-US")
        context.set_default_timeout(WAIT_SECONDS * 1000)
        if not automated:
            context.add_init_script(NOT_AUTOMATED)
        contexts.append(context)
        return context.new_page()

    yield _new
    for context in contexts:
        for page in context.pages:
            with contextlib.suppress(PlaywrightError):
                page.evaluate("window.humblytics_ignore = true")
        context.close()

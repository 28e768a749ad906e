"""localstripe for the revenue tests: one server per test session, emptied before each test that asks for it.

`localstripe` yields the base URL of a session-wide server (state carries over between tests);
`localstripe_clean` empties it first (DELETE /_config/data, a few ms) and yields the same URL;
`stripe_client` is a `stripe.StripeClient` pointed at a clean server; `stripe_api` also makes that server the
app's Stripe (settings), and `connection` connects the `site` to it with `connection_key`.
A failing test that used localstripe gets the server's log for that test appended to its report.
"""

import importlib.util

import pytest
import stripe

from tests.revenue.localstripe import LocalStripe

# What the stripe-python 16.1.0 SDK pins; localstripe ignores the header but a real account would not.
STRIPE_VERSION = "2026-10-28.endive"
TEST_KEY = "sk_test_humblytics"


@pytest.fixture(scope="session")
def localstripe_server():
    if importlib.util.find_spec("localstripe") is None:
        pytest.fail("localstripe is not installed in this venv: run `make install-dev` (requirements-dev.txt pins it)")
    server = LocalStripe()
    server.start()
    yield server
    server.stop()
    server.remove_log()  # a failing test already has its part of the log in its report


@pytest.fixture(scope="session")
def localstripe(localstripe_server):
    return localstripe_server.url


@pytest.fixture
def localstripe_clean(localstripe_server, request):
    localstripe_server.reset()
    request.node.localstripe_log_start = localstripe_server.log_size()
    request.node.localstripe_server = localstripe_server
    return localstripe_server.url


def make_client(url, api_key=TEST_KEY):
    return stripe.StripeClient(
        api_key, base_addresses={"api": url}, stripe_version=STRIPE_VERSION, max_network_retries=0
    )


@pytest.fixture
def stripe_client(localstripe_clean):
    return make_client(localstripe_clean)


@pytest.fixture
def stripe_api(localstripe_clean, settings):
    """localstripe as the app's Stripe, without the production pacing; a client of the tests' own on it."""
    settings.STRIPE_API_BASE = localstripe_clean
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 50
    return make_client(localstripe_clean, TEST_KEY)


@pytest.fixture
def connection_key():
    return TEST_KEY


@pytest.fixture
def connection(site, stripe_api, alice, connection_key):
    from revenue import services

    return services.connection_connect(site=site, secret_key=connection_key, user=alice)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    server = getattr(item, "localstripe_server", None)
    if server is not None and report.failed:
        report.sections.append(("localstripe log", server.log_tail(since=item.localstripe_log_start)))
    return report

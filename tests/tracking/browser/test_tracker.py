"""The tracker in a real browser: what a visitor's Chromium sends, and what lands in the database.

Pages are tests/tracking/browser/pages/*.html on http://example.com:PORT, the tracker and the Events API on
http://localhost:PORT (cross-origin, as on a customer's site). Rows are written inside the API request
(REDIS_URL off) except in the buffer test, so each test polls the database for a bounded time.
"""

import os
import re
import uuid
from decimal import Decimal

import pytest
import redis

from tests.tracking.browser.conftest import wait_for
from tracking import buffer
from tracking.models import DroppedEvents, Event, PageView, Visit

pytestmark = pytest.mark.browser

VIEW_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
REFERRER = "https://news.ycombinator.com/item?id=42"
VISIT_FIELDS = [
    "hostname", "entry_page", "exit_page", "referrer", "referrer_host", "source", "channel", "utm_source",
    "utm_medium", "utm_campaign", "utm_content", "utm_term", "click_id", "country", "browser", "os", "device",
    "screen_class",
]  # fmt: skip


def view_id(page):
    return page.evaluate("window.Humblytics.viewId")


def landed(page, site):
    """The page's current view id, once its page view is stored.

    Navigate on only after that: the server stamps each request with its arrival time, and two page views
    milliseconds apart may be stored in either order (a real visitor does not click that fast).
    """
    current = view_id(page)
    wait_for(lambda: PageView.objects.filter(site=site, view_id=current).exists())
    return current


def views_of(site, count):
    """The site's page views as {view_id: pathname}, once there are `count` of them."""
    return wait_for(
        lambda: (
            len(rows := dict(PageView.objects.filter(site=site).values_list("view_id", "pathname"))) == count and rows
        )
    )


def events_of(site, count):
    """The site's events as {name: (view_id, pathname, props)}, once there are `count` of them."""
    fields = ("name", "view_id", "pathname", "props")
    return wait_for(
        lambda: (
            len(rows := {name: rest for name, *rest in Event.objects.filter(site=site).values_list(*fields)}) == count
            and {name: tuple(rest) for name, rest in rows.items()}
        )
    )


def test_the_view_id_is_there_for_the_next_script_and_is_the_one_stored(page, customer, site):
    page.goto(customer.url("/inline/"))

    # Read by the inline script right after a blocking tag: page code can hand the id on (to a checkout link,
    # a form) at the first moment it runs, and the server stores that same id rather than assigning its own.
    right_after_tag = page.evaluate("window.seen.rightAfterTag")
    assert VIEW_ID.match(right_after_tag)
    assert view_id(page) == right_after_tag
    assert views_of(site, 1) == {right_after_tag: "/inline/"}


def test_the_view_id_does_not_wait_for_the_server(page, customer, site):
    # The Events API unreachable: the id is made in the page, so it is there all the same.
    page.route("**/api/event", lambda route: route.abort())
    page.goto(customer.url("/inline/"))

    right_after_tag = page.evaluate("window.seen.rightAfterTag")
    assert VIEW_ID.match(right_after_tag)
    assert view_id(page) == right_after_tag
    assert not PageView.objects.exists()


def test_a_page_view_lands_with_its_path_referrer_utm_tags_and_device(page, customer, site, charlies_site):
    landing = "/landing/?utm_source=newsletter&utm_medium=email&utm_campaign=spring-sale&utm_content=hero"
    page.goto(customer.url(landing), referer=REFERRER)

    # The documented snippet is deferred: its id is there for the page's DOMContentLoaded handlers.
    at_dom_content_loaded = page.evaluate("window.seen.atDomContentLoaded")
    assert VIEW_ID.match(at_dom_content_loaded)
    assert view_id(page) == at_dom_content_loaded
    assert views_of(site, 1) == {at_dom_content_loaded: "/landing/"}

    view = PageView.objects.select_related("visit").get(site=site, view_id=at_dom_content_loaded)
    assert (view.hostname, view.engaged_ms, view.scroll_depth, view.props) == ("example.com", 0, None, {})
    assert {field: getattr(view.visit, field) for field in VISIT_FIELDS} == {
        "hostname": "example.com",
        "entry_page": "/landing/",
        "exit_page": "/landing/",
        "referrer": "https://news.ycombinator.com/item",  # without its query
        "referrer_host": "news.ycombinator.com",
        "source": "newsletter",
        "channel": "Email",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring-sale",
        "utm_content": "hero",
        "utm_term": "",
        "click_id": "",
        "country": "",  # loopback has no location
        "browser": "Chrome",
        "os": "Windows",
        "device": "Desktop",
        "screen_class": "Laptop",  # 1280 px wide
    }
    assert view.visit.browser_version.startswith("156.")
    assert (view.visit.pageviews, view.visit.events, view.visit.is_bounce) == (1, 0, True)
    assert not Visit.objects.filter(site=charlies_site).exists()  # only the site named by data-domain


def test_spa_navigation_starts_a_new_view_in_the_same_visit(page, customer, site):
    page.goto(customer.url("/landing/"))
    first = landed(page, site)
    page.evaluate("history.pushState({}, '', '/pricing')")
    second = landed(page, site)
    page.evaluate("history.back()")  # popstate back to /landing/: a third view
    page.wait_for_url("**/landing/")
    third = landed(page, site)

    assert len({first, second, third}) == 3
    assert views_of(site, 3) == {first: "/landing/", second: "/pricing", third: "/landing/"}
    visit = Visit.objects.get(site=site)
    assert set(PageView.objects.values_list("visit_id", flat=True)) == {visit.id}
    assert (visit.pageviews, visit.entry_page, visit.is_bounce) == (3, "/landing/", False)
    # Each navigation ended the view before it: its engagement arrived.
    wait_for(lambda: PageView.objects.filter(view_id__in=[first, second], engaged_ms__gt=0).count() == 2)


def test_queued_tracked_and_clicked_events_land_on_their_views(page, customer, site):
    # signup.html calls humblytics('Signup', {props: {plan: 'pro'}}) through the stub before the tracker loads.
    page.goto(customer.url("/signup/"))
    first = landed(page, site)
    page.evaluate("Humblytics.track('Download', {props: {file: 'guide.pdf', empty: null}})")
    page.click("#cta")  # data-humblytics-event="Cta" data-humblytics-event-position="hero"
    events_of(site, 3)
    page.evaluate("history.pushState({}, '', '/welcome')")
    second = landed(page, site)
    page.evaluate("humblytics('Upgrade', {revenue: {amount: 49.5, currency: 'EUR'}})")  # the stub, replaced

    assert events_of(site, 4) == {
        "Signup": (first, "/signup/", {"plan": "pro"}),
        "Download": (first, "/signup/", {"file": "guide.pdf"}),
        "Cta": (first, "/signup/", {"position": "hero"}),
        "Upgrade": (second, "/welcome", {}),
    }
    assert views_of(site, 2) == {first: "/signup/", second: "/welcome"}
    upgrade = Event.objects.get(name="Upgrade")
    assert (upgrade.revenue_amount, upgrade.revenue_currency, upgrade.interactive) == (Decimal("49.5"), "EUR", True)
    # Not checked here: that all of it is one visit. Written directly, the page view and the queued Signup
    # (sent in the same millisecond) are stored by two concurrent requests; when the later-stamped one wins the
    # lock, the page view starts a visit of its own. The buffer test below checks the one visit.


@pytest.mark.parametrize("leave", ["link", "close"])
def test_leaving_after_a_scroll_records_engaged_time_and_the_deepest_scroll(page, customer, site, leave):
    page.goto(customer.url("/landing/"))
    viewed = landed(page, site)
    page.mouse.wheel(0, 10_000)
    page.wait_for_function("window.seen.maxScrollY > 3000")
    page.evaluate("scrollTo(0, 0)")  # back to the top: the depth kept is the deepest, not the last
    page.wait_for_function("scrollY === 0")
    page.wait_for_timeout(50)  # a little engaged time to count (the assertion below polls the database)

    if leave == "link":
        page.click("#leave")
        page.wait_for_url("**/plain/")
    else:
        page.close(run_before_unload=True)

    view = wait_for(lambda: PageView.objects.filter(site=site, view_id=viewed, engaged_ms__gt=0).first())
    assert view.scroll_depth == 100
    assert 50 <= view.engaged_ms < 60_000
    assert not DroppedEvents.objects.exists()  # the engagement left with the visitor's User-Agent, not as a bot


def test_the_tracker_stores_nothing_in_the_browser(page, context, customer, site):
    page.goto(customer.url("/signup/?utm_source=newsletter"), referer=REFERRER)
    landed(page, site)
    page.evaluate("Humblytics.track('Download')")
    page.click("#cta")
    page.mouse.wheel(0, 2_000)
    events_of(site, 3)
    page.evaluate("history.pushState({}, '', '/welcome')")
    landed(page, site)

    stored = page.evaluate(
        """async () => ({
            cookie: document.cookie,
            localStorage: localStorage.length,
            sessionStorage: sessionStorage.length,
            indexedDB: (await indexedDB.databases()).map((db) => db.name),
        })"""
    )
    assert stored == {"cookie": "", "localStorage": 0, "sessionStorage": 0, "indexedDB": []}
    page.click("#leave")
    page.wait_for_url("**/plain/")
    wait_for(lambda: PageView.objects.filter(site=site, pathname="/welcome", engaged_ms__gt=0).exists())
    assert context.cookies() == []
    assert not DroppedEvents.objects.exists()


def test_an_opted_out_visitor_sends_nothing(page, customer, site):
    # optout.html sets window.humblytics_ignore = true and queues a Signup before the tracker loads.
    sent, warnings = [], []
    page.on("request", lambda request: "/api/event" in request.url and sent.append(request.post_data_json["n"]))
    page.on("console", lambda message: message.type == "warning" and warnings.append(message.text))
    page.goto(customer.url("/optout/"))
    page.evaluate("Humblytics.track('Download')")
    page.click("#cta")
    page.evaluate("history.pushState({}, '', '/elsewhere')")

    assert warnings == [
        "Humblytics: ignoring pageview (opt-out)",
        "Humblytics: ignoring Signup (opt-out)",
        "Humblytics: ignoring Download (opt-out)",
        "Humblytics: ignoring Cta (opt-out)",
        "Humblytics: ignoring engagement (opt-out)",
        "Humblytics: ignoring pageview (opt-out)",
    ]
    # The switch is read before every send: turned off, the next event goes out, and it is the first one.
    page.evaluate("window.humblytics_ignore = false; Humblytics.track('Sentinel')")
    events_of(site, 1)
    page.evaluate("0")  # a round trip, so Playwright has handed us every request event the browser reported
    assert sent == ["Sentinel"]
    assert not PageView.objects.exists()
    assert list(Event.objects.values_list("name", "pathname")) == [("Sentinel", "/elsewhere")]
    assert not DroppedEvents.objects.exists()


@pytest.mark.redis
def test_events_go_through_the_redis_buffer_and_land_when_drained(page, customer, site, settings):
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set")
    connection = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    try:
        connection.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at REDIS_URL does not answer: {error}")
    settings.REDIS_URL = url
    settings.EVENT_BUFFER_STREAM = stream = f"hly:test-browser:{uuid.uuid4().hex}"
    buffer.reset()
    try:
        page.goto(customer.url("/signup/"))
        viewed = view_id(page)
        wait_for(lambda: connection.xlen(stream) == 2)  # the page view and the queued Signup
        assert not PageView.objects.exists()
        assert not Event.objects.exists()

        assert buffer.Flusher(consumer="browser-test").drain() == 2
        assert views_of(site, 1) == {viewed: "/signup/"}
        assert events_of(site, 1) == {"Signup": (viewed, "/signup/", {"plan": "pro"})}
        assert connection.xlen(stream) == 0
        visit = Visit.objects.get(site=site)  # one batch, stored in time order: one visit
        assert (visit.pageviews, visit.events, visit.is_bounce, visit.browser) == (1, 1, False, "Chrome")
    finally:
        connection.delete(stream, f"{stream}:dead")
        connection.close()
        buffer.reset()

"""POST /api/event: every documented answer, and what lands in the database."""

import json

import pytest
from django.db import connection

from tracking import buffer, fastpath, ingest, services
from tracking.models import DroppedEvents, Event, PageView, Visit

from .wsgi_client import FastPathClient

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
VIEW = "Zm9vYmFyYmF6cXV1eDEyMzQ"


@pytest.fixture(params=["fast path", "django view"])
def client(request, client):
    """Every test runs through both doors: the production WSGI fast path and the Django view."""
    return FastPathClient() if request.param == "fast path" else client


@pytest.fixture(autouse=True)
def _direct_writes(settings):
    """These tests exercise the view with direct writes (the embedded default); the buffer has its own tests."""
    settings.REDIS_URL = None
    settings.TRUSTED_PROXY_COUNT = 1
    ingest.site_cache_clear()
    services.salts_forget_cache()
    buffer.reset()
    fastpath._allowed_hosts.clear()
    yield
    buffer.reset()
    ingest.site_cache_clear()


def post(client, payload, *, ua=CHROME, ip="81.169.145.1", content_type="text/plain", **headers):
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return client.post(
        "/api/event", body, content_type=content_type, HTTP_USER_AGENT=ua, HTTP_X_FORWARDED_FOR=ip, **headers
    )


def pageview(**overrides):
    payload = {
        "n": "pageview",
        "u": "https://example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=launch",
        "d": "example.com",
        "r": "https://www.google.com/",
        "w": 1440,
        "v": VIEW,
    }
    payload.update(overrides)
    return payload


def test_it_accepts_a_pageview_and_stores_it_enriched(client, site):
    response = post(client, pageview())
    assert response.status_code == 202
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "X-Humblytics-Dropped" not in response
    view = PageView.objects.get()
    assert (view.site_id, view.view_id, view.pathname, view.hostname) == (site.pk, VIEW, "/pricing", "example.com")
    visit = Visit.objects.get()
    assert (visit.utm_source, visit.utm_medium, visit.utm_campaign) == ("newsletter", "email", "launch")
    assert visit.channel == "Email"
    assert (visit.browser, visit.os, visit.device, visit.screen_class) == ("Chrome", "Windows", "Desktop", "Desktop")
    assert (visit.country, visit.city) == ("DE", "Berlin")
    assert visit.entry_page == "/pricing"


def test_plausibles_payload_lands_like_ours(client, site):
    plausible = {
        "name": "pageview", "url": "https://example.com/pricing?utm_source=newsletter&utm_medium=email&utm_campaign=launch",
        "domain": "example.com", "referrer": "https://www.google.com/", "screen_width": 1440,
    }  # fmt: skip
    assert post(client, plausible, content_type="application/json").status_code == 202
    assert post(client, pageview(), ip="81.169.145.2").status_code == 202
    theirs, ours = Visit.objects.order_by("visitor_id")[:2]
    fields = ["entry_page", "source", "channel", "utm_source", "utm_campaign", "country", "browser", "device"]
    assert [getattr(theirs, f) for f in fields] == [getattr(ours, f) for f in fields]
    # Plausible's tracker sends no view id: the server makes one up.
    assert len(PageView.objects.exclude(view_id=VIEW).get().view_id) >= 16


def test_it_stores_a_custom_event_with_props_and_revenue(client, site):
    post(client, pageview())
    payload = {
        "n": "Purchase", "u": "https://example.com/checkout", "d": "example.com", "v": VIEW,
        "p": {"plan": "pro"}, "$": {"amount": "49.00", "currency": "EUR"},
    }  # fmt: skip
    assert post(client, payload).status_code == 202
    event = Event.objects.get()
    assert (event.name, event.props, str(event.revenue_amount), event.revenue_currency) == (
        "Purchase", {"plan": "pro"}, "49.000000", "EUR"
    )  # fmt: skip
    assert Visit.objects.get().is_bounce is False


def test_the_same_event_sent_twice_is_stored_once(client, site):
    for _ in range(2):
        assert post(client, pageview()).status_code == 202
        assert (
            post(client, {"n": "Signup", "u": "https://example.com/", "d": "example.com", "v": VIEW}).status_code == 202
        )
    assert (PageView.objects.count(), Event.objects.count(), Visit.objects.get().pageviews) == (1, 1, 1)


def test_engagement_updates_the_page_view(client, site):
    post(client, pageview())
    post(
        client,
        {"n": "engagement", "u": "https://example.com/pricing", "d": "example.com", "v": VIEW, "sd": 75, "e": 42_000},
    )
    view = PageView.objects.get()
    assert (view.engaged_ms, view.scroll_depth) == (42_000, 75)
    assert Visit.objects.get().duration == 42


def test_it_answers_a_preflight_without_cookies(client):
    response = client.options(
        "/api/event", HTTP_ORIGIN="https://example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert response.status_code == 204
    assert response["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    assert response["Access-Control-Allow-Headers"] == "Content-Type"
    assert not response.cookies


def test_it_sets_no_cookie_even_for_a_logged_in_user(client, site, alice):
    client.force_login(alice)
    response = post(client, pageview())
    assert response.status_code == 202
    assert not response.cookies


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        (b"{oops", 400, "body"),
        ({"u": "https://example.com/", "d": "example.com"}, 400, "name"),
        ({"n": "pageview", "d": "example.com"}, 400, "url"),
        ({"n": "pageview", "u": "https://example.com/"}, 400, "domain"),
        ({"n": "pageview", "u": "javascript:alert(document.cookie)", "d": "example.com"}, 400, "url"),
        (
            {"n": "x", "u": "https://example.com/", "d": "example.com", "p": {str(i): "v" for i in range(31)}},
            400,
            "props",
        ),
        ({"n": "x", "u": "https://example.com/", "d": "example.com", "p": {"count": 3}}, 400, "props"),
        ({"n": "x", "u": "https://example.com/", "d": "example.com", "v": "'; DROP TABLE x;--"}, 400, "view_id"),
        ({"n": "x", "u": "https://example.com/", "d": "example.com", "p": {"a": "b" * 9000}}, 413, "body"),
    ],
)
def test_it_rejects_bad_input_with_a_message_naming_the_field(client, site, payload, status, field):
    response = post(client, payload)
    assert response.status_code == status
    assert response.json()["error"].startswith(f"{field}:")
    assert PageView.objects.count() == 0


def test_it_refuses_a_body_larger_than_8_kb_by_its_declared_length(client, site):
    response = client.generic("POST", "/api/event", b"x" * 9000, content_type="text/plain", HTTP_USER_AGENT=CHROME)
    assert response.status_code == 413


def test_it_refuses_other_methods_and_content_types(client, site):
    assert client.get("/api/event").status_code == 405
    response = client.post("/api/event", {"n": "pageview"}, HTTP_USER_AGENT=CHROME)  # multipart form
    assert response.status_code == 415
    assert "content-type" in response.json()["error"]


@pytest.mark.parametrize(
    ("payload", "ua", "reason"),
    [
        (pageview(d="unknown.example"), CHROME, "unknown-domain"),
        (pageview(), "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot"),
        (pageview(), "curl/8.5.0", "bot"),
        (pageview(), "", "bot"),
        (pageview(), CHROME.replace("Chrome/", "HeadlessChrome/"), "bot"),
        (pageview(u="http://localhost:8000/"), CHROME, "localhost"),
        (pageview(u="http://127.0.0.1/"), CHROME, "localhost"),
    ],
)
def test_it_drops_what_it_must_not_count_with_a_reason(client, site, payload, ua, reason):
    response = post(client, payload, ua=ua)
    assert response.status_code == 202
    assert response["X-Humblytics-Dropped"] == reason
    assert PageView.objects.count() == 0
    if reason != "unknown-domain":
        assert DroppedEvents.objects.get(site=site).reason == reason


def test_it_drops_gpc_visitors_only_where_the_site_opted_in(client, site):
    assert "X-Humblytics-Dropped" not in post(client, pageview(), HTTP_SEC_GPC="1")
    site.respect_gpc = True
    site.save()
    ingest.site_cache_clear()
    response = post(client, pageview(v="another-view-id-0000001"), HTTP_SEC_GPC="1")
    assert response["X-Humblytics-Dropped"] == "opted-out"
    assert PageView.objects.count() == 1


def test_it_records_for_every_known_domain_in_a_comma_list(client, site, charlies_site):
    assert post(client, pageview(d="example.com,charlie.dev,nobody.example")).status_code == 202
    assert sorted(PageView.objects.values_list("site__domain", flat=True)) == ["charlie.dev", "example.com"]


def test_it_reads_the_client_ip_through_the_trusted_proxy_only(client, site):
    # Two requests whose forged left-most X-Forwarded-For differs but whose proxy-seen IP is the same.
    post(client, pageview(v="first-view-000000000001"), ip="6.6.6.6, 81.169.145.1")
    post(client, pageview(v="second-view-00000000001", u="https://example.com/b"), ip="7.7.7.7, 81.169.145.1")
    assert Visit.objects.count() == 1


def test_it_never_stores_the_ip_or_user_agent(client, site):
    post(client, pageview(), ip="81.169.145.77")
    post(client, {"n": "Signup", "u": "https://example.com/", "d": "example.com", "v": VIEW}, ip="81.169.145.77")
    with connection.cursor() as cursor:
        for table in ("tracking_visit", "tracking_pageview", "tracking_event"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump = repr(cursor.fetchall())
            assert "81.169.145.77" not in dump
            assert "Windows NT 10.0" not in dump


def test_it_stores_directly_when_redis_is_unreachable(client, site, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    buffer.reset()
    assert post(client, pageview()).status_code == 202
    assert PageView.objects.get().view_id == VIEW


def test_a_non_ascii_path_is_stored_percent_encoded_as_browsers_report_it(client, site):
    # 1,950 four-byte characters: 7,800 bytes raw, more than a page-view index entry may hold on PostgreSQL.
    body = json.dumps(pageview(u="https://example.com/" + "\U0001f600" * 1950), ensure_ascii=False).encode()
    assert post(client, body).status_code == 202
    assert post(client, pageview(u="https://example.com/привет", v="cyrillic-view-000000001")).status_code == 202
    paths = sorted(PageView.objects.values_list("pathname", flat=True), key=len)
    assert paths[0] == "/%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82"
    assert paths[1].startswith("/%F0%9F%98%80") and len(paths[1].encode()) <= 2000

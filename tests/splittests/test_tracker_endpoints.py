"""The per-site script and POST /api/exposure: what a visitor's browser gets and what it may send."""

import gzip
import json
import re

import pytest

from splittests import delivery, services
from splittests.models import Exposure
from splittests.tracker_views import site_script_body
from tests.splittests.conftest import control_of, variant_named
from tracking.script_view import _script

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
VIEW = "AbCdEfGhIjKlMnOpQrStUv"


def script(client, site="example.com", ua=CHROME, **headers):
    return client.get("/js/script.js", {"site": site}, HTTP_USER_AGENT=ua, **headers)


def config_of(body: bytes):
    match = re.search(rb"if\(humblyticsSplit\((\{.*?\})\)\)return;", body)
    assert match, body[:300]
    return json.loads(match.group(1))


def post(client, body, ua=CHROME, content_type="text/plain", **extra):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/exposure", data, content_type=content_type, HTTP_USER_AGENT=ua, **extra)


def payload(test, variant, **overrides):
    return {"t": test.pk, "x": variant.pk, "v": VIEW, "d": "example.com", "u": "https://example.com/pricing-b",
            **overrides}  # fmt: skip


# --- the per-site script ---------------------------------------------------------------------


def test_a_site_without_running_tests_gets_exactly_the_core(client, draft):
    response = script(client)
    assert response.status_code == 200
    assert response.content == _script().raw
    assert response["Cache-Control"] == "private, max-age=60"


def test_the_plain_url_is_unchanged(client, running):
    response = client.get("/js/script.js", HTTP_USER_AGENT=CHROME)
    assert response.content == _script().raw
    assert response["Cache-Control"].startswith("public")


def test_a_running_test_comes_with_the_runtime_and_this_visitors_variant(client, running):
    response = script(client)
    body = response.content
    assert body.endswith(_script().raw + b"})();\n")
    config = config_of(body)
    [test] = config["t"]
    b = variant_named(running, "B")
    assert test["i"] == running.pk and test["p"] == "/pricing"
    assert test["r"] == {str(b.pk): "/pricing-b"}
    assert test["a"] in (control_of(running).pk, b.pk)
    assert test["k"] == ("r" if test["a"] == b.pk else "c")
    assert response["Cache-Control"] == "private, max-age=60"
    assert response["Access-Control-Allow-Origin"] == "*"
    for api in ("localStorage", "sessionStorage", "indexedDB", "document.cookie"):
        assert api.encode() not in body


def test_user_level_assignment_is_the_same_on_every_load(client, running):
    first = config_of(script(client).content)["t"][0]["a"]
    assert all(config_of(script(client).content)["t"][0]["a"] == first for _ in range(5))


def test_many_visitors_split_between_the_variants(client, running, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    seen = {config_of(script(client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").content)["t"][0]["a"] for n in range(40)}
    assert seen == {control_of(running).pk, variant_named(running, "B").pk}


def test_a_crawler_gets_the_core_alone(client, running):
    assert script(client, ua=GOOGLEBOT).content == _script().raw


def test_a_visitor_outside_the_traffic_share_gets_no_variant(rf, running):
    running.traffic_percent = 1
    running.save()
    delivery.forget()
    request = rf.get("/js/script.js", {"site": "example.com"}, HTTP_USER_AGENT=CHROME, REMOTE_ADDR="198.51.100.7")
    assigned = []
    for n in range(30):
        request.META["REMOTE_ADDR"] = f"198.51.100.{n}"
        assigned.append(config_of(site_script_body(request, _script().raw))["t"][0]["a"])
    assert assigned.count(None) >= 25


def test_session_level_keeps_the_variant_a_visit_was_exposed_to(client, rf, site, running):
    running.randomization = "session"
    running.save()
    delivery.forget()
    request = rf.get("/js/script.js", {"site": "example.com"}, HTTP_USER_AGENT=CHROME, REMOTE_ADDR="198.51.100.9")
    b = variant_named(running, "B")
    response = post(client, payload(running, b), REMOTE_ADDR="198.51.100.9")
    assert response.status_code == 202
    assert all(config_of(site_script_body(request, _script().raw))["t"][0]["a"] == b.pk for _ in range(10))


def test_the_site_script_is_gzipped_and_revalidated(client, running):
    response = script(client, HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    plain = gzip.decompress(response.content)
    assert config_of(plain)["t"][0]["i"] == running.pk
    again = script(client, HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_an_unknown_or_hostile_site_parameter_gets_the_core(client, db):
    for value in ("nobody.example", "", "x" * 5000, "<script>"):
        response = script(client, site=value)
        assert (response.status_code, response.content) == (200, _script().raw)


def test_a_test_left_without_weights_is_not_delivered(client, running):
    running.variants.update(weight=0)  # by hand: the forms refuse it
    response = script(client)
    assert (response.status_code, response.content) == (200, _script().raw)


def test_the_site_still_gets_its_tracker_when_the_tests_cannot_be_read(client, running, monkeypatch, caplog):
    def broken(domain):
        raise RuntimeError("database away")

    monkeypatch.setattr(delivery, "running_tests", broken)
    response = script(client)
    assert (response.status_code, response.content) == (200, _script().raw)
    assert "split tests left out of the site script for 'example.com'" in caplog.text


def test_a_paused_test_is_no_longer_delivered(client, running):
    services.splittest_pause(test=running)
    assert script(client).content == _script().raw


# --- POST /api/exposure ----------------------------------------------------------------------


def test_it_records_an_exposure(client, running):
    b = variant_named(running, "B")
    response = post(client, payload(running, b))
    assert (response.status_code, response.content) == (202, b"ok")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not response.cookies
    exposure = Exposure.objects.get()
    assert (exposure.test, exposure.variant, exposure.view_id, exposure.site) == (running, b, VIEW, running.site)
    assert exposure.visitor_id > 0


def test_a_duplicate_exposure_is_stored_once(client, running):
    b = variant_named(running, "B")
    assert post(client, payload(running, b)).status_code == 202
    again = post(client, payload(running, b))
    assert (again.status_code, again["X-Humblytics-Dropped"]) == (202, "duplicate")
    assert Exposure.objects.count() == 1


def test_it_answers_the_preflight(client, db):
    response = client.options("/api/exposure")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Methods"] == "POST, OPTIONS"


def test_it_rejects_other_methods(client, db):
    response = client.get("/api/exposure")
    assert response.status_code == 405
    assert response.json() == {"error": "method: use POST"}


def test_it_rejects_other_content_types(client, running):
    response = post(client, payload(running, control_of(running)), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


def test_it_rejects_oversized_body(client, running):
    big = json.dumps(payload(running, control_of(running), pad="x" * 9000))
    response = post(client, big)
    assert response.status_code == 413
    assert response.json() == {"error": "body: larger than 8192 bytes"}
    assert not Exposure.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "body: not valid JSON"),
        (b"{not json", "body: not valid JSON"),
        (b"\xff\xfe", "body: not valid JSON"),
        (b"[1, 2]", "body: must be a JSON object"),
        (b'{"t": NaN}', "body: NaN is not JSON"),
        (b"[" * 4000 + b"]" * 4000, "body: not valid JSON"),  # nesting deep enough to overflow the parser
    ],
)
def test_it_rejects_malformed_bodies(client, db, body, error):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == error


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"t": "1"}, "t"), ({"t": True}, "t"), ({"t": -1}, "t"), ({"t": 2**70}, "t"), ({"x": None}, "x"),
        ({"v": "short"}, "v"), ({"v": "bad id with spaces!!"}, "v"), ({"v": ["x"]}, "v"), ({"d": ""}, "d"),
        ({"d": 5}, "d"), ({"u": "javascript:alert(1)"}, "u"), ({"u": "/relative"}, "u"), ({"u": "http://[::1"}, "u"),
    ],
)  # fmt: skip
def test_it_names_the_bad_field(client, running, overrides, field):
    response = post(client, payload(running, control_of(running), **overrides))
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{field}: ")
    assert not Exposure.objects.exists()


def test_it_rejects_a_variant_of_another_test(client, running, site, alice):
    from tests.splittests.conftest import REDIRECT_B, fields, variants

    other = services.splittest_launch(
        test=services.splittest_create(
            site=site, user=alice, fields=fields(page_path="/x"), variants=variants(REDIRECT_B)
        )
    )
    response = post(client, payload(running, control_of(other)))
    assert response.status_code == 400
    assert response.json()["error"] == f"x: {control_of(other).pk} is not a variant of test {running.pk}"


@pytest.mark.parametrize(
    ("setup", "overrides", "ua", "reason"),
    [
        (None, {"d": "nobody.example"}, CHROME, "unknown-domain"),
        (None, {}, GOOGLEBOT, "bot"),
        (None, {}, "", "bot"),
        (None, {"u": "http://localhost:8000/pricing-b"}, CHROME, "localhost"),
        ("pause", {}, CHROME, "test-not-running"),
        (None, {"t": 999_999}, CHROME, "test-not-running"),
    ],
)
def test_it_drops_what_it_must_not_count(client, running, setup, overrides, ua, reason):
    if setup == "pause":
        services.splittest_pause(test=running)
    response = post(client, payload(running, control_of(running), **overrides), ua=ua)
    assert (response.status_code, response["X-Humblytics-Dropped"]) == (202, reason)
    assert not Exposure.objects.exists()


def test_a_test_of_another_site_is_not_recorded_for_this_one(client, running, charlies_site):
    response = post(client, payload(running, control_of(running), d="charlie.dev"))
    assert (response.status_code, response["X-Humblytics-Dropped"]) == (202, "test-not-running")


def test_session_level_draws_afresh_for_a_new_visit_and_from_the_visit_within_one(rf, site, running):
    from django.utils import timezone

    from splittests.tracker_views import _visitor_id
    from tests.tracking.factories import record
    from tracking.services import events_store

    running.randomization, running.traffic_percent = "session", 50
    running.save()
    delivery.forget()
    request = rf.get("/js/script.js", {"site": "example.com"}, HTTP_USER_AGENT=CHROME, REMOTE_ADDR="198.51.100.20")

    def loads():
        return {config_of(site_script_body(request, _script().raw))["t"][0]["a"] for _ in range(20)}

    assert len(loads()) > 1  # no visit yet: each first page of a visit is a new draw
    now = timezone.now()
    visitor = _visitor_id(request.META, site.pk, now)
    events_store([record(site, visitor=visitor, ts=(now.timestamp() - 300), path="/")])
    assert len(loads()) == 1  # the open visit keys the draw: every page load of it agrees

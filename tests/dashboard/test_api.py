"""The Stats API (POST /api/v2/query) against answers computed by hand on a small fixed dataset.

The site (example.com) is in Europe/Berlin (UTC+1 in March 2026). Visits (visitor id → pages):
  A  visitor 1, 9 Mar 23:30 UTC (10 Mar in Berlin), Google, DE: / then /pricing, Signup {plan: pro}
  B  visitor 2, 10 Mar 10:00 UTC, Hacker News, US: /pricing (bounce)
  C  visitor 3, 10 Mar 22:59 UTC, Direct, DE: /blog/a (bounce)
  D  visitor 3, 10 Mar 23:30 UTC (11 Mar in Berlin), Direct, DE: /blog/b (bounce)
  E  visitor 4, 11 Mar 12:00 UTC, Google, GB: / then /blog/a
Goals: Visit /pricing, Signup, Visit /blog/*.
"""

import json
from datetime import UTC, date, datetime

import pytest
from django.test import Client

from dashboard import api
from sites import services as site_services
from tests.tracking.factories import record
from tracking import services

URL = "/api/v2/query"
TODAY = date(2026, 3, 12)
RANGE = ["2026-03-10", "2026-03-11"]


def ts(day, hour, minute):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def _isolated_cache(isolated_cache):
    """Rate-limit counters on the real cache (Redis under make test), under this test's own key prefix."""


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    monkeypatch.setattr(api, "site_today", lambda site: TODAY)


@pytest.fixture
def data(site):
    google = {"source": "Google", "channel": "Organic Search", "referrer_host": "google.com"}
    hn = {"source": "Hacker News", "channel": "Referral", "referrer_host": "news.ycombinator.com"}
    direct = {"source": "Direct / None", "channel": "Direct"}
    rows = [
        record(site, visitor=1, ts=ts(9, 23, 30), path="/", view="view-a-1-0000000000", country="DE", **google),
        record(site, visitor=1, ts=ts(9, 23, 35), path="/pricing", view="view-a-2-0000000000", country="DE", **google),
        record(site, kind="event", name="Signup", visitor=1, ts=ts(9, 23, 36), path="/pricing", view="view-a-2-0000000000", props={"plan": "pro"}, country="DE", **google),
        record(site, visitor=2, ts=ts(10, 10, 0), path="/pricing", view="view-b-1-0000000000", country="US", **hn),
        record(site, visitor=3, ts=ts(10, 22, 59), path="/blog/a", view="view-c-1-0000000000", country="DE", **direct),
        record(site, visitor=3, ts=ts(10, 23, 30), path="/blog/b", view="view-d-1-0000000000", country="DE", **direct),
        record(site, visitor=4, ts=ts(11, 12, 0), path="/", view="view-e-1-0000000000", country="GB", **google),
        record(site, visitor=4, ts=ts(11, 12, 10), path="/blog/a", view="view-e-2-0000000000", country="GB", **google),
    ]  # fmt: skip
    services.events_store(rows)
    site_services.goal_create(site=site, kind="page", page_path="/pricing")
    site_services.goal_create(site=site, kind="event", event_name="Signup")
    site_services.goal_create(site=site, kind="page", page_path="/blog/*")
    return site


def post(key, body, *, client=None, raw=None, content_type="application/json", **headers):
    client = client or Client()
    if key is not None:
        headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {key}")
    payload = raw if raw is not None else json.dumps(body)
    return client.post(URL, payload, content_type=content_type, **headers)


def ask(key, **body):
    body.setdefault("site_id", "example.com")
    body.setdefault("date_range", RANGE)
    return post(key, body)


def table(response):
    assert response.status_code == 200, response.json()
    return [(tuple(row["dimensions"]), tuple(row["metrics"])) for row in response.json()["results"]]


# --- answers ------------------------------------------------------------------------------------
def test_it_breaks_down_by_source(data, key):
    response = ask(key, metrics=["visitors", "visits", "bounce_rate"], dimensions=["visit:source"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "results": [
            {"dimensions": ["Google"], "metrics": [2, 2, 0]},
            {"dimensions": ["Direct / None"], "metrics": [1, 2, 100]},
            {"dimensions": ["Hacker News"], "metrics": [1, 1, 100]},
        ],
        "meta": {"total_rows": 3},
        "query": {
            "site_id": "example.com",
            "metrics": ["visitors", "visits", "bounce_rate"],
            "date_range": ["2026-03-10", "2026-03-11"],
            "dimensions": ["visit:source"],
            "filters": [],
            "order_by": [],
            "pagination": {"limit": 100, "offset": 0},
        },
    }


def test_it_answers_totals_without_dimensions(data, key):
    response = ask(key, metrics=["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "events"])
    assert response.json()["results"] == [{"dimensions": [], "metrics": [4, 5, 7, 1.4, 60, 1]}]
    assert response.json()["meta"] == {"total_rows": 1}


def test_it_answers_a_time_series_with_every_bucket(data, key):
    response = ask(
        key, metrics=["visitors", "visits"], dimensions=["time:day"], date_range=["2026-03-09", "2026-03-11"]
    )
    assert table(response) == [(("2026-03-09",), (0, 0)), (("2026-03-10",), (3, 3)), (("2026-03-11",), (2, 2))]
    assert response.json()["meta"] == {"total_rows": 3, "time_labels": ["2026-03-09", "2026-03-10", "2026-03-11"]}


def test_it_answers_a_filtered_breakdown(data, key):
    response = ask(
        key, metrics=["visitors", "visits", "pageviews"], dimensions=["visit:source"],
        filters=[["is", "visit:country", ["DE"]]],
    )  # fmt: skip
    assert table(response) == [(("Direct / None",), (1, 2, 2)), (("Google",), (1, 1, 2))]
    assert response.json()["query"]["filters"] == [["is", "visit:country", ["DE"]]]


def test_it_echoes_nested_filters_order_and_pagination(data, key):
    response = ask(
        key, metrics=["visits"], dimensions=["visit:source"],
        filters=[["or", [["is", "visit:country", ["US"]], ["not", ["is", "visit:country", ["DE"]]]]]],
        order_by=[["visits", "asc"]], pagination={"limit": 1, "offset": 1},
    )  # fmt: skip
    assert table(response) == [(("Hacker News",), (1,))]  # Google (1: visit E), then Hacker News (1): ties by name
    body = response.json()
    assert body["meta"] == {"total_rows": 2}
    assert body["query"]["filters"] == [
        ["or", [["is", "visit:country", ["US"]], ["not", ["is", "visit:country", ["DE"]]]]]
    ]
    assert body["query"]["order_by"] == [["visits", "asc"]]
    assert body["query"]["pagination"] == {"limit": 1, "offset": 1}


def test_it_answers_goal_conversions(data, key):
    response = ask(key, metrics=["visitors", "events", "conversion_rate"], dimensions=["event:goal"])
    assert table(response) == [
        (("Visit /blog/*",), (2, 3, 50.0)),
        (("Visit /pricing",), (2, 2, 50.0)),
        (("Signup",), (1, 1, 25.0)),
    ]
    signups = ask(key, metrics=["visitors", "conversion_rate"], filters=[["is", "event:goal", ["Signup"]]])
    assert table(signups) == [((), (1, 25.0))]


def test_named_periods_count_back_from_today_in_the_sites_timezone(data, key):
    response = ask(key, metrics=["visitors"], date_range="7d")
    assert response.json()["query"]["date_range"] == ["2026-03-06", "2026-03-12"]
    assert table(response) == [((), (4,))]


def test_it_accepts_the_domain_as_typed(data, key):
    response = ask(key, metrics=["visitors"], site_id="WWW.Example.com")
    assert table(response) == [((), (4,))]
    assert response.json()["query"]["site_id"] == "example.com"


# --- comparisons --------------------------------------------------------------------------------
def test_comparisons_give_the_previous_period_and_the_change(data, key):
    response = ask(
        key, metrics=["visitors", "pageviews"], date_range=["2026-03-11", "2026-03-11"],
        include={"comparisons": {"mode": "previous_period"}},
    )  # fmt: skip
    body = response.json()
    assert body["results"] == [
        {
            "dimensions": [],
            "metrics": [2, 3],
            "comparison": {"dimensions": [], "metrics": [3, 4], "change": [-33.3, -25.0]},
        }
    ]
    assert body["meta"] == {"total_rows": 1, "comparison_date_range": ["2026-03-10", "2026-03-10"]}
    assert body["query"]["include"] == {"comparisons": {"mode": "previous_period"}}


def test_comparisons_match_time_buckets_by_position(data, key):
    response = ask(
        key, metrics=["visitors"], dimensions=["time:day"], date_range=["2026-03-11", "2026-03-11"],
        include={"comparisons": {"mode": "previous_period"}},
    )  # fmt: skip
    assert response.json()["results"] == [
        {
            "dimensions": ["2026-03-11"],
            "metrics": [2],
            "comparison": {"dimensions": ["2026-03-10"], "metrics": [3], "change": [-33.3]},
        }
    ]


def test_comparisons_match_breakdown_rows_by_dimension(data, key):
    response = ask(
        key, metrics=["visits"], dimensions=["visit:source"], date_range=["2026-03-11", "2026-03-11"],
        include={"comparisons": {"mode": "previous_period"}},
    )  # fmt: skip
    assert response.json()["results"] == [
        {
            "dimensions": ["Direct / None"],
            "metrics": [1],
            "comparison": {"dimensions": ["Direct / None"], "metrics": [1], "change": [0.0]},
        },
        {
            "dimensions": ["Google"],
            "metrics": [1],
            "comparison": {"dimensions": ["Google"], "metrics": [1], "change": [0.0]},
        },
    ]


def test_a_change_from_nothing_is_null(data, key):
    response = ask(
        key, metrics=["visitors"], dimensions=["visit:source"], pagination={"limit": 1},
        include={"comparisons": {"mode": "previous_period"}},
    )  # fmt: skip
    assert response.json()["results"] == [
        {
            "dimensions": ["Google"],
            "metrics": [2],
            "comparison": {"dimensions": ["Google"], "metrics": [0], "change": [None]},
        }
    ]
    assert response.json()["meta"]["comparison_date_range"] == ["2026-03-08", "2026-03-09"]


# --- who may read -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Missing API key: send the header Authorization: Bearer <your site API key>"),
        ("", "Missing API key: send the header Authorization: Bearer <your site API key>"),
        ("Bearer", "Malformed Authorization header: use Authorization: Bearer <your site API key>"),
        ("Basic YWxpY2U6c2VjcmV0", "Malformed Authorization header: use Authorization: Bearer <your site API key>"),
        ("Bearer one two", "Malformed Authorization header: use Authorization: Bearer <your site API key>"),
        ("Bearer not-a-key", "Invalid API key: it is unknown or has been revoked"),
        ("Bearer hly_" + "A" * 44, "Invalid API key: it is unknown or has been revoked"),
    ],
)
def test_it_refuses_requests_without_a_valid_key(data, key, header, message):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = post(None, {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d"}, **headers)
    assert response.status_code == 401
    assert response.json() == {"error": message}
    assert response["WWW-Authenticate"] == "Bearer"


def test_it_refuses_a_revoked_key(data, site):
    api_key, plaintext = site_services.apikey_create(site=site, name="Old")
    site_services.apikey_revoke(api_key=api_key)
    response = ask(plaintext, metrics=["visitors"])
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid API key: it is unknown or has been revoked"}


def test_a_tampered_key_is_refused(data, key):
    tampered = key[:-1] + ("a" if key[-1] != "a" else "b")
    assert ask(tampered, metrics=["visitors"]).status_code == 401


def test_a_session_is_not_enough(data, login, alice):
    client = login(alice)
    response = post(None, {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d"}, client=client)
    assert response.status_code == 401
    assert response.json()["error"].startswith("Missing API key")


def test_it_needs_no_csrf_token(data, key):
    response = post(
        key,
        {"site_id": "example.com", "metrics": ["visitors"], "date_range": RANGE},
        client=Client(enforce_csrf_checks=True),
    )
    assert table(response) == [((), (4,))]


def test_another_sites_key_cannot_read_the_site(data, charlies_key):
    response = ask(charlies_key, metrics=["visitors"])
    assert response.status_code == 403
    assert response.json() == {"error": "This API key cannot read example.com"}


def test_an_unknown_domain_gets_the_same_answer_as_someone_elses(data, key):
    response = ask(key, metrics=["visitors"], site_id="charlie.dev")
    assert response.status_code == 403
    assert response.json() == {"error": "This API key cannot read charlie.dev"}
    response = ask(key, metrics=["visitors"], site_id="nobody-registered-this.example")
    assert response.status_code == 403
    assert response.json() == {"error": "This API key cannot read nobody-registered-this.example"}
    response = ask(key, metrics=["visitors"], site_id="not a domain!")
    assert response.json() == {"error": "This API key cannot read not a domain!"}


def test_the_site_check_comes_before_the_query_check(data, charlies_key):
    response = ask(charlies_key, metrics=["bogus"])
    assert response.status_code == 403
    assert response.json() == {"error": "This API key cannot read example.com"}


def test_the_outsiders_key_reads_only_the_outsiders_site(data, charlies_site, charlies_key):
    services.events_store([record(charlies_site, visitor=99, ts=ts(10, 12, 0), path="/secret")])
    response = ask(charlies_key, site_id="charlie.dev", metrics=["visitors"], dimensions=["event:page"])
    assert table(response) == [(("/secret",), (1,))]


def test_it_records_when_a_key_was_last_used(data, site, key):
    api_key = site.api_keys.get()
    assert api_key.last_used_at is None
    assert ask(key, metrics=["visitors"]).status_code == 200
    api_key.refresh_from_db()
    assert api_key.last_used_at is not None


# --- mistakes -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"site_id": None}, 'site_id: required, the site\'s domain like "example.com"'),
        ({"site_id": 42}, 'site_id: give the site\'s domain as text, like "example.com"'),
        ({"date_range": None}, 'date_range: required, like "30d" or ["2026-01-01", "2026-01-31"]'),
        ({"metrics": None}, 'metrics: give a non-empty list, like ["visitors", "pageviews"]'),
        ({"metrics": ["bogus"]}, "metrics: unknown metric 'bogus'; known: visitors, visits, pageviews"),
        ({"metrics": ["visitors", "visitors"]}, "metrics: 'visitors' is listed twice"),
        ({"dimensions": ["visit:nope"]}, "dimensions: unknown dimension 'visit:nope'"),
        ({"dimensions": ["time:day", "time:hour"]}, "dimensions: at most one time dimension"),
        ({"date_range": "fortnight"}, "date_range: use one of day, today, yesterday"),
        ({"date_range": ["2026-02-30", "2026-03-01"]}, "date_range: dates must look like 2026-01-31"),
        ({"date_range": ["2026-03-02", "2026-03-01"]}, "date_range: the end is before the start"),
        ({"date_range": ["1900-01-01", "1900-01-31"]}, "date_range: dates must lie between 1970-01-01 and 2999-12-31"),
        ({"date_range": ["9999-12-30", "9999-12-31"]}, "date_range: dates must lie between 1970-01-01 and 2999-12-31"),
        ({"filters": [["like", "visit:source", ["x"]]]}, "filters: unknown operator 'like'"),
        ({"filters": [["is", "visit:source", "Google"]]}, "filters: visit:source needs a non-empty list of values"),
        ({"filters": [["is", "time:day", ["2026-03-10"]]]}, "filters: cannot filter on 'time:day'"),
        ({"filters": [["matches", "event:page", ["("]]]}, "filters: '(' is not a valid regular expression"),
        ({"filters": "visit:source=Google"}, "filters: give a list of filters"),
        ({"metrics": ["conversion_rate"]}, "metrics: conversion_rate needs an event:goal filter or dimension"),
        ({"order_by": [["pageviews", "desc"]]}, "order_by: 'pageviews' is not among the query's metrics or dimensions"),
        ({"pagination": {"limit": 0}}, "pagination: limit must be a whole number from 1 to 10000"),
        ({"include": {"comparisons": {"mode": "year_over_year"}}}, 'include: comparisons takes {"mode": one of previous_period}'),
        ({"include": {"imports": True}}, "include: unknown option 'imports'; supported: comparisons"),
        ({"include": []}, 'include: give an object, like {"comparisons": {"mode": "previous_period"}}'),
        ({"dimension": ["visit:source"]}, "body: unknown field 'dimension'; fields are site_id, metrics, date_range"),
        ({"filters": [["is", "visit:source", ["a\x00b"]]]}, "body: text cannot contain NUL characters"),
    ],
)  # fmt: skip
def test_it_rejects_bad_queries_naming_the_problem(data, key, changes, message):
    body = {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d"}
    body.update(changes)
    body = {name: value for name, value in body.items() if value is not None}
    response = post(key, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "body: empty; send a JSON object with site_id, metrics and date_range"),
        ("{not json", "body: not valid JSON"),
        ('{"metrics": NaN}', "body: not valid JSON"),
        (b"\xff\xfe{}", "body: not valid JSON"),
        ('["site_id", "example.com"]', "body: must be a JSON object"),
        ('"example.com"', "body: must be a JSON object"),
        ("null", "body: must be a JSON object"),
        ("[" * 40 + "]" * 40, "body: nested deeper than 32 levels"),
        ("[" * 30_000 + "]" * 30_000, "body: not valid JSON"),  # deeper than Python's recursion limit
        ('{"site_id": "example.com", "metrics": ["\\ud800"]}', "body: text contains an unpaired surrogate"),
    ],
)
def test_it_rejects_bodies_that_are_not_a_json_object(data, key, raw, message):
    response = post(key, None, raw=raw)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_it_wants_json(data, key):
    response = post(key, None, raw="site_id=example.com", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json() == {"error": "body: send JSON with Content-Type: application/json"}


def test_it_refuses_a_body_over_64_kb(data, key):
    body = {
        "site_id": "example.com",
        "metrics": ["visitors"],
        "date_range": "7d",
        "filters": [["is", "visit:source", ["x" * 1000] * 66]],
    }
    response = post(key, body)
    assert response.status_code == 413
    assert response.json() == {"error": "body: larger than 64 KB"}


def test_it_answers_only_post(data, key):
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 405
    assert response.json() == {"error": 'Method "GET" not allowed.'}


HOSTILE = [
    {"site_id": ["example.com"]}, {"site_id": {"a": 1}}, {"site_id": "example.com", "metrics": "visitors"},
    {"site_id": "example.com", "metrics": [None], "date_range": "7d"},
    {"site_id": "example.com", "metrics": [["visitors"]], "date_range": "7d"},
    {"site_id": "example.com", "metrics": [{"visitors": 1}], "date_range": "7d"},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": 7},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": ["2026-01-01"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": [1, 2]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": ["0001-01-01", "0001-01-02"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": ["2026-01-01T10:00", "2026-01-02"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": ["20260101", "20260102"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": {"from": "2026-01-01"}},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": "visit:source"},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": [None]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["event:props:"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["event:props:a__b"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["event:props:a__contains"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["event:props:'; drop table x"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["event:props:" + "k" * 300]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "dimensions": ["event:page", "event:name"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "event:props:a__b", ["x"]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "event:props:pk", ["x"]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [[]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [[None]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["and"]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["and", []]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["not", 1, 2]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "visit:source", [1]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["is", "visit:source", ["x" * 2001]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["matches", "visit:source", ["(?P<x>a)"]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["matches", "event:page", ["(?<=a)b", "a{,3}", "\\Z"]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["matches", "event:goal", ["(a+)+$"]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["contains", "event:page", ["%_\\"]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "filters": [["not", ["not", ["not", ["not", ["not", ["is", "visit:os", ["x"]]]]]]]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "order_by": [["visitors"]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "order_by": [[["visitors"], "desc"]]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "order_by": "visitors"},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "pagination": {"limit": True}},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "pagination": {"limit": 1e308}},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "pagination": {"offset": 10**30}},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "pagination": []},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "include": {"comparisons": None}},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "7d", "include": {"comparisons": {"mode": ["x"]}}},
    {"site_id": "example.com", "metrics": ["visitors", "bounce_rate"], "dimensions": ["event:props:plan", "time:hour"], "date_range": ["2021-01-01", "2025-12-31"]},
    {"site_id": "example.com", "metrics": ["visitors"], "date_range": "all", "dimensions": ["time:hour"], "include": {"comparisons": {"mode": "previous_period"}}},
    {"site_id": "\u0130" * 300}, {"site_id": "example.com\u0000"}, {"\u0000": 1}, {"": None},
]  # fmt: skip


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_bodies_get_a_clear_answer_never_a_500(data, key, body):
    response = post(key, body)
    assert response.status_code in (200, 400, 403), response.content
    if response.status_code != 200:
        assert set(response.json()) == {"error"} and response.json()["error"]


def _junk(rng, depth=0):
    """Random JSON, biased towards the API's own words so it reaches deep into the checks."""
    words = ["visitors", "pageviews", "conversion_rate", "visit:source", "event:page", "event:goal", "time:day",
             "event:props:plan", "is", "not", "and", "or", "matches", "contains_not", "7d", "all", "asc", "desc",
             "2026-03-10", "2026-13-01", "example.com", "charlie.dev", "", "\u2603", "(", "*", "%", "limit", "offset",
             "metrics", "dimensions", "filters", "mode", "previous_period"]  # fmt: skip
    kind = rng.randrange(8 if depth < 4 else 4)
    if kind == 0:
        return rng.choice(words)
    if kind == 1:
        return rng.choice([None, True, False, 0, -1, 1, 10**20, 0.5, -1e300])
    if kind == 2:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(6)))
    if kind == 3:
        return rng.randrange(-5, 20_000)
    if kind in (4, 5, 6):
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(words): _junk(rng, depth + 1) for _ in range(rng.randrange(4))}


def _junk_body(rng):
    body = {"site_id": "example.com", "metrics": ["visitors"], "date_range": RANGE}
    for name in rng.sample(list(api.FIELDS), rng.randrange(1, 4)):
        body[name] = _junk(rng)
    return body


def test_random_junk_never_gets_a_500(data, key, settings):
    import random

    settings.STATS_API_BURST = settings.STATS_API_RATE_PER_HOUR = 10_000
    rng = random.Random(20260312)
    statuses = set()
    for _ in range(300):
        body = _junk_body(rng)
        response = post(key, body)
        statuses.add(response.status_code)
        assert response.status_code in (200, 400, 403), (body, response.content)
        assert ("error" in response.json()) == (response.status_code != 200)
    assert statuses >= {200, 400}  # the generator reaches both sides


# --- rate limits --------------------------------------------------------------------------------
def test_it_limits_bursts_per_key(data, key, charlies_key, settings):
    settings.STATS_API_BURST, settings.STATS_API_BURST_SECONDS = 3, 10
    for _ in range(3):
        assert ask(key, metrics=["visitors"]).status_code == 200
    response = ask(key, metrics=["visitors"])
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 10
    assert response.json() == {
        "error": f"rate limit exceeded (3 requests per 10 seconds per API key); retry in {response['Retry-After']} seconds"
    }
    # Another key has its own budget.
    assert ask(charlies_key, metrics=["visitors"], site_id="charlie.dev").status_code == 200


def test_it_limits_requests_per_hour_per_key(data, key, settings):
    settings.STATS_API_RATE_PER_HOUR = 2
    assert ask(key, metrics=["visitors"]).status_code == 200
    assert ask(key, metrics=["visitors"]).status_code == 200
    response = ask(key, metrics=["visitors"])
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert response.json()["error"].startswith("rate limit exceeded (2 requests per hour per API key); retry in ")


def test_bad_keys_are_refused_before_counting(data, key, settings):
    settings.STATS_API_BURST = 1
    for _ in range(3):
        assert post("hly_" + "B" * 44, {"site_id": "example.com"}).status_code == 401
    assert ask(key, metrics=["visitors"]).status_code == 200


def test_it_lets_requests_through_when_the_cache_is_down(data, key, monkeypatch):
    from dashboard import throttling

    class DownCache:
        def add(self, *args, **kwargs):
            raise ConnectionError("Redis is down")

    monkeypatch.setattr(throttling, "cache", DownCache())
    assert table(ask(key, metrics=["visitors"])) == [((), (4,))]


# --- schema -------------------------------------------------------------------------------------
def test_the_schema_documents_the_query_endpoint():
    response = Client().get("/api/v2/schema?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["info"]["title"] == "Humblytics Stats API"
    operation = schema["paths"]["/api/v2/query"]["post"]
    assert operation["security"] == [{"siteApiKey": []}]
    assert schema["components"]["securitySchemes"]["siteApiKey"]["scheme"] == "bearer"
    body = schema["components"]["schemas"]["QueryRequest"]
    assert set(body["required"]) == {"site_id", "metrics", "date_range"}
    assert {"dimensions", "filters", "order_by", "pagination", "include"} <= set(body["properties"])
    assert {"200", "400", "401", "403", "413", "429"} <= set(operation["responses"])
    assert "/api/v2/query" in Client().get("/api/v2/schema").content.decode()  # YAML by default

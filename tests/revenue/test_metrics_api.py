"""Revenue metrics through the Stats API (POST /api/v2/query), on the dataset of tests/revenue/test_metrics.py.

Live payments of example.com in 10–11 March (Berlin): p1 100 and p2 50 (20 refunded) from Google/DE, p3 40 from
Hacker News/US, p4 from Direct/DE with no USD amount, p5 25 unattributed. charlie.dev has p7, 777.
"""

import json

import pytest
from django.test import Client

from dashboard import api
from tests.revenue.test_metrics import RANGE, TODAY
from tests.revenue.test_metrics import data as data  # the shared dataset (a fixture), re-exported for pytest

URL = "/api/v2/query"


@pytest.fixture(autouse=True)
def _isolated_cache(isolated_cache):
    """Rate-limit counters on the real cache (Redis under make test), under this test's own key prefix."""


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch):
    monkeypatch.setattr(api, "site_today", lambda site: TODAY)


def ask(key, **body):
    body.setdefault("site_id", "example.com")
    body.setdefault("date_range", RANGE)
    return Client().post(URL, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")


REVENUE_META = {"currency": "USD", "livemode": True, "payments": 5, "unconverted_payments": 1}


def test_it_answers_revenue_totals_with_the_currency_in_the_meta(data, key):
    response = ask(
        key, metrics=["visitors", "revenue", "net_revenue", "refunds", "attributed_revenue", "payments",
                      "paying_visitors", "revenue_per_visitor", "average_order_value", "conversion_rate"],
    )  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [{"dimensions": [], "metrics": [5, 215.0, 195.0, 20.0, 190.0, 5, 3, 43.0, 53.75, 60.0]}]
    assert body["meta"] == {"total_rows": 1, "revenue": REVENUE_META}


def test_it_breaks_revenue_down_by_source_ordered_by_revenue(data, key):
    response = ask(
        key, metrics=["revenue", "payments", "visitors"], dimensions=["visit:source"], order_by=[["revenue", "asc"]]
    )
    assert response.status_code == 200
    assert response.json()["results"] == [
        {"dimensions": ["Direct / None"], "metrics": [0.0, 1, 2]},
        {"dimensions": ["Hacker News"], "metrics": [40.0, 1, 1]},
        {"dimensions": ["Google"], "metrics": [150.0, 2, 2]},
    ]
    # Only attributed payments have a source: p5 is left out, so 4 payments were met here.
    assert response.json()["meta"] == {
        "total_rows": 3, "revenue": {**REVENUE_META, "payments": 4},
    }  # fmt: skip


def test_it_answers_a_daily_revenue_series_with_a_comparison(data, key):
    response = ask(
        key, metrics=["revenue", "payments"], date_range=["2026-03-11", "2026-03-11"], dimensions=["time:day"],
        include={"comparisons": {"mode": "previous_period"}},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "dimensions": ["2026-03-11"],
            "metrics": [50.0, 1],  # p2, paid 00:10 Berlin time
            "comparison": {"dimensions": ["2026-03-10"], "metrics": [165.0, 4], "change": [-69.7, -75.0]},
        }
    ]
    assert response.json()["meta"] == {
        "total_rows": 1,
        "time_labels": ["2026-03-11"],
        "revenue": {"currency": "USD", "livemode": True, "payments": 1, "unconverted_payments": 0},
        "comparison_date_range": ["2026-03-10", "2026-03-10"],
    }


def test_it_refuses_revenue_by_goal_with_a_message(data, key):
    response = ask(key, metrics=["revenue"], dimensions=["event:goal"])
    assert response.status_code == 400
    assert response.json() == {
        "error": "metrics: revenue cannot be broken down by event:goal; use visit: dimensions, event:page or time:"
    }


def test_conversion_rate_without_a_goal_or_revenue_is_still_refused(data, key):
    response = ask(key, metrics=["visitors", "conversion_rate"])
    assert response.status_code == 400
    assert response.json()["error"].startswith("metrics: conversion_rate needs an event:goal filter or dimension")


def test_the_outsiders_key_cannot_read_our_revenue(data, charlies_key):
    response = ask(charlies_key, metrics=["revenue", "payments"], dimensions=["visit:source"])
    assert response.status_code == 403
    assert response.json() == {"error": "This API key cannot read example.com"}


def test_the_outsiders_key_reads_only_his_own_revenue(data, charlies_key):
    response = ask(charlies_key, site_id="charlie.dev", metrics=["revenue", "payments"])
    assert response.status_code == 200
    assert response.json()["results"] == [{"dimensions": [], "metrics": [777.0, 1]}]

"""Revenue metrics in the query engine against answers computed by hand.

The site (example.com) is in Europe/Berlin (UTC+1 in March 2026) and reports in USD; the range is 10–11 March.
Visits (visitor id → page views):
  A  visitor 1, 10 Mar 09:00 UTC, Google, DE, Chrome:        / (a1), /pricing (a2, +5 min)
  B  visitor 2, 10 Mar 10:00 UTC, Hacker News, US, Firefox:  /pricing (b1)
  C  visitor 3, 10 Mar 22:30 UTC (23:30 Berlin), Direct, DE, Safari: /checkout (c1)
  D  visitor 4, 11 Mar 12:00 UTC, Google, GB, Chrome:        / (d1)
  E  visitor 5, 11 Mar 13:00 UTC, Direct, FR, Edge:          / (e1)
Live payments (USD, the site's own unless said):
  p1  A via /pricing, 10 Mar 09:10 UTC,               100.00
  p2  A via /pricing, 10 Mar 23:10 UTC (11 Mar 00:10 Berlin), 50.00, 20.00 refunded → net 30.00
  p3  B via /pricing, 10 Mar 10:05 UTC,               40.00
  p4  C via /checkout, 10 Mar 22:50 UTC, in EUR with no conversion: no reporting amount
  p5  unattributed (no view id), 9 Mar 23:30 UTC (10 Mar 00:30 Berlin), 25.00
Never counted for example.com in live mode:
  p6  test mode, D via /, 11 Mar, 999.00
  p7  charlie.dev's payment in the range, 777.00 — pointing at A's visit, which must not make it ours
  p8  D via /, 11 Mar 23:30 UTC (12 Mar 00:30 Berlin): after the range, 10.00
Totals: payments 5 (p1–p5), revenue 215, refunds 20, net 195, attributed 190, paying visitors 3 (1, 2, 3),
visitors 5 → revenue per visitor 43, average order value 215 / 4 converted = 53.75, conversion rate 60%.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from dashboard import engine, formatting
from dashboard.query import QueryError, build
from revenue import metrics
from revenue.models import Payment, StripeConnection
from sites import services as site_services
from tests.tracking.factories import record
from tracking import services
from tracking.models import PageView

TODAY = date(2026, 3, 12)
RANGE = ["2026-03-10", "2026-03-11"]


def at(day, hour, minute):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def pay(site, stripe_id, *, created, gross, refunded="0", view=None, livemode=True, convertible=True, visit_of=None):
    pageview = PageView.objects.get(view_id=view) if view else None
    visit = pageview.visit if pageview else visit_of
    gross, refunded = Decimal(gross), Decimal(refunded)
    return Payment.objects.create(
        site=site, stripe_id=stripe_id, livemode=livemode, created_at=created,
        currency="USD" if convertible else "EUR", amount=int(gross * 100), amount_refunded=int(refunded * 100),
        reporting_currency=site.currency,
        gross=gross if convertible else None, refunds=refunded if convertible else None,
        net=gross - refunded if convertible else None,
        conversion=Payment.Conversion.SAME if convertible else Payment.Conversion.UNAVAILABLE,
        attribution=Payment.Attribution.ATTRIBUTED if visit else Payment.Attribution.NO_VIEW_ID,
        view_id=view or "", view_source="payment_intent" if view else "", pageview=pageview, visit=visit,
        visitor_id=visit.visitor_id if visit else None,
    )  # fmt: skip


@pytest.fixture
def data(site, charlies_site):
    google = {"source": "Google", "channel": "Organic Search", "referrer_host": "google.com"}
    hn = {"source": "Hacker News", "channel": "Referral", "referrer_host": "news.ycombinator.com"}
    direct = {"source": "Direct / None", "channel": "Direct"}
    chrome = {"browser": "Chrome", "os": "Windows", "device": "Desktop"}
    rows = [
        record(site, visitor=1, ts=at(10, 9, 0).timestamp(), path="/", view="view-a1", country="DE", **google, **chrome),
        record(site, visitor=1, ts=at(10, 9, 5).timestamp(), path="/pricing", view="view-a2", country="DE", **google, **chrome),
        record(site, visitor=2, ts=at(10, 10, 0).timestamp(), path="/pricing", view="view-b1", country="US", browser="Firefox", **hn),
        record(site, visitor=3, ts=at(10, 22, 30).timestamp(), path="/checkout", view="view-c1", country="DE", browser="Safari", **direct),
        record(site, visitor=4, ts=at(11, 12, 0).timestamp(), path="/", view="view-d1", country="GB", **google, **chrome),
        record(site, visitor=5, ts=at(11, 13, 0).timestamp(), path="/", view="view-e1", country="FR", browser="Edge", **direct),
    ]  # fmt: skip
    services.events_store(rows)
    site_services.goal_create(site=site, kind="page", page_path="/pricing")
    site_services.goal_create(site=site, kind="event", event_name="Signup")
    pay(site, "pi_1", created=at(10, 9, 10), gross="100.00", view="view-a2")
    pay(site, "pi_2", created=at(10, 23, 10), gross="50.00", refunded="20.00", view="view-a2")
    pay(site, "pi_3", created=at(10, 10, 5), gross="40.00", view="view-b1")
    pay(site, "pi_4", created=at(10, 22, 50), gross="80.00", view="view-c1", convertible=False)
    pay(site, "pi_5", created=at(9, 23, 30), gross="25.00")
    pay(site, "pi_6", created=at(11, 12, 5), gross="999.00", view="view-d1", livemode=False)
    a_visit = PageView.objects.get(view_id="view-a1").visit
    pay(charlies_site, "pi_7", created=at(10, 12, 0), gross="777.00", visit_of=a_visit)
    pay(site, "pi_8", created=at(11, 23, 30), gross="10.00", view="view-d1")
    return site


def ask(site, **payload):
    payload.setdefault("date_range", RANGE)
    return engine.run(site, build(payload, today=TODAY))


def totals(site, names, **payload):
    return dict(zip(names, ask(site, metrics=names, **payload).rows[0]["metrics"], strict=True))


def table(result):
    return [(tuple(row["dimensions"]), tuple(row["metrics"])) for row in result.rows]


MONEY = ["revenue", "net_revenue", "refunds", "attributed_revenue", "payments", "paying_visitors"]
RATIOS = ["revenue_per_visitor", "average_order_value", "conversion_rate"]


# --- totals --------------------------------------------------------------------------------------
def test_it_totals_every_live_payment_of_the_site_in_the_range(data):
    assert totals(data, ["visitors", *MONEY, *RATIOS]) == {
        "visitors": 5, "revenue": 215.0, "net_revenue": 195.0, "refunds": 20.0, "attributed_revenue": 190.0,
        "payments": 5, "paying_visitors": 3, "revenue_per_visitor": 43.0, "average_order_value": 53.75,
        "conversion_rate": 60.0,
    }  # fmt: skip


def test_the_meta_says_how_many_payments_had_no_reporting_amount(data):
    result = ask(data, metrics=["revenue"])
    assert result.meta == {
        "time_labels": None,
        "revenue": {"currency": "USD", "livemode": True, "payments": 5, "unconverted_payments": 1},
    }


def test_a_refund_reduces_net_revenue_but_not_revenue(data):
    Payment.objects.filter(stripe_id="pi_1").update(refunds=Decimal("100.00"), net=Decimal("0"))  # fully refunded
    assert totals(data, ["revenue", "refunds", "net_revenue", "payments", "paying_visitors"]) == {
        "revenue": 215.0, "refunds": 120.0, "net_revenue": 95.0, "payments": 5, "paying_visitors": 3,
    }  # fmt: skip


def test_a_payment_in_another_reporting_currency_counts_as_unconverted(data):
    data.currency = "EUR"  # the payments were converted into USD, which the site no longer reports in
    data.save(update_fields=["currency"])
    result = ask(data, metrics=["revenue", "payments", "average_order_value"])
    assert result.rows[0]["metrics"] == [0.0, 5, 0.0]
    assert result.meta["revenue"] == {"currency": "EUR", "livemode": True, "payments": 5, "unconverted_payments": 5}


def test_a_test_mode_connection_counts_only_test_payments(data):
    StripeConnection.objects.create(site=data, secret_key="rk_test_secret", key_hint="rk_test_…cret", mode="test")
    assert totals(data, ["revenue", "payments", "paying_visitors"]) == {
        "revenue": 999.0, "payments": 1, "paying_visitors": 1,
    }  # fmt: skip
    assert ask(data, metrics=["revenue"]).meta["revenue"]["livemode"] is False


def test_a_live_connection_counts_live_payments_as_no_connection_does(data):
    StripeConnection.objects.create(site=data, secret_key="rk_live_secret", key_hint="rk_live_…cret", mode="live")
    assert totals(data, ["revenue", "payments"]) == {"revenue": 215.0, "payments": 5}


def test_another_sites_payment_never_counts_even_pointing_at_our_visit(data, charlies_site):
    assert totals(data, ["revenue", "payments"], dimensions=["visit:source"], order_by=[["payments", "desc"]]) == {
        "revenue": 150.0, "payments": 2,  # Google: p1 and p2, not charlie's p7 on visit A
    }  # fmt: skip
    assert totals(charlies_site, ["revenue", "payments"]) == {"revenue": 777.0, "payments": 1}
    assert table(ask(charlies_site, metrics=["revenue"], dimensions=["visit:source"])) == []


def test_an_empty_range_gives_zeros_not_errors(data):
    assert totals(data, [*MONEY, *RATIOS], date_range=["2026-03-01", "2026-03-02"]) == dict.fromkeys(
        [*MONEY, *RATIOS], 0
    )


# --- breakdowns ----------------------------------------------------------------------------------
def test_it_breaks_revenue_down_by_the_payments_visit_source(data):
    result = ask(data, metrics=["revenue", "payments", "visitors", *RATIOS], dimensions=["visit:source"])
    assert table(result) == [
        (("Google",), (150.0, 2, 2, 75.0, 75.0, 50.0)),  # p1 + p2; visitors 1 and 4, one paid
        (("Hacker News",), (40.0, 1, 1, 40.0, 40.0, 100.0)),
        (("Direct / None",), (0.0, 1, 2, 0.0, 0.0, 50.0)),  # p4 has no USD amount; the unattributed p5 is nowhere
    ]


def test_it_breaks_revenue_down_by_country_and_browser(data):
    by_country = ask(data, metrics=["revenue", "payments", "visitors"], dimensions=["visit:country"])
    assert table(by_country) == [
        (("DE",), (150.0, 3, 2)),
        (("US",), (40.0, 1, 1)),
        (("FR",), (0, 0, 1)),
        (("GB",), (0, 0, 1)),  # p6 is a test payment, p8 after the range
    ]
    by_browser = ask(data, metrics=["revenue", "net_revenue"], dimensions=["visit:browser"])
    # Safari's only payment (p4) has no USD amount: a row of zeros, left out like any empty row.
    assert table(by_browser) == [(("Chrome",), (150.0, 130.0)), (("Firefox",), (40.0, 40.0))]


def test_a_page_breakdown_credits_the_page_whose_view_id_the_payment_carried(data):
    result = ask(data, metrics=["revenue", "payments"], dimensions=["event:page"])
    assert table(result) == [(("/pricing",), (190.0, 3)), (("/checkout",), (0.0, 1))]


def test_it_orders_rows_by_revenue(data):
    result = ask(data, metrics=["visitors", "revenue"], dimensions=["visit:source"], order_by=[["revenue", "asc"]])
    assert table(result) == [
        (("Direct / None",), (2, 0.0)),
        (("Hacker News",), (1, 40.0)),
        (("Google",), (2, 150.0)),
    ]


def test_it_refuses_event_dimensions_revenue_has_no_value_for(data):
    for dimension in ("event:goal", "event:name", "event:props:plan"):
        with pytest.raises(QueryError) as error:
            ask(data, metrics=["revenue"], dimensions=[dimension])
        assert error.value.message == (
            f"metrics: revenue cannot be broken down by {dimension}; use visit: dimensions, event:page or time:"
        )


# --- time ----------------------------------------------------------------------------------------
def test_a_time_series_buckets_payments_by_day_in_the_sites_timezone(data):
    result = ask(data, metrics=["revenue", "net_revenue", "payments"], dimensions=["time:day"])
    assert table(result) == [
        (("2026-03-10",), (165.0, 165.0, 4)),  # p5 (00:30 Berlin, unattributed), p1, p3, p4 (23:50 Berlin)
        (("2026-03-11",), (50.0, 30.0, 1)),  # p2: 23:10 UTC on the 10th is 00:10 on the 11th in Berlin
    ]


def test_a_time_series_by_source_counts_only_attributed_payments(data):
    result = ask(data, metrics=["revenue"], dimensions=["time:day", "visit:source"], order_by=[["revenue", "desc"]])
    assert table(result) == [
        (("2026-03-10", "Google"), (100.0,)),
        (("2026-03-11", "Google"), (50.0,)),
        (("2026-03-10", "Hacker News"), (40.0,)),
        (("2026-03-10", "Direct / None"), (0.0,)),  # p4, unconverted
        (("2026-03-11", "Direct / None"), (0,)),  # E's visit, no payment
    ]


# --- filters -------------------------------------------------------------------------------------
def test_visit_filters_apply_through_the_payments_visit(data):
    assert totals(data, ["revenue", "payments"], filters=[["is", "visit:country", ["DE"]]]) == {
        "revenue": 150.0, "payments": 3,  # p1, p2, p4; not the unattributed p5
    }  # fmt: skip
    assert totals(data, ["revenue", "payments"], filters=[["is_not", "visit:source", ["Google"]]]) == {
        "revenue": 40.0, "payments": 2,
    }  # fmt: skip


def test_page_filters_apply_through_the_payments_page_view(data):
    def revenue(*filters):
        return totals(data, ["revenue", "payments"], filters=list(filters))

    assert revenue(["is", "event:page", ["/pricing"]]) == {"revenue": 190.0, "payments": 3}
    assert revenue(["is_not", "event:page", ["/pricing"]]) == {"revenue": 0.0, "payments": 1}  # p4 on /checkout
    assert revenue(["not", ["contains", "event:page", ["pric"]]]) == {"revenue": 0.0, "payments": 1}
    assert revenue(["is", "event:name", ["Signup"]]) == {"revenue": 0, "payments": 0}  # no page view is a Signup
    assert revenue(["is_not", "event:name", ["Signup"]]) == {"revenue": 190.0, "payments": 4}


def test_a_goal_keeps_its_own_conversion_rate_beside_revenue(data):
    found = totals(data, ["visitors", "conversion_rate", "revenue"], filters=[["is", "event:goal", ["Visit /pricing"]]])
    assert found == {"visitors": 2, "conversion_rate": 40.0, "revenue": 190.0}  # A and B viewed /pricing, of 5


# --- zero denominators ---------------------------------------------------------------------------
def test_ratios_with_no_visitors_or_no_converted_payments_are_zero(data):
    # 11 March from DE: no visit started, but p2 (visit A of the 10th) was paid.
    found = totals(data, ["visitors", "revenue", *RATIOS], date_range=["2026-03-11", "2026-03-11"], filters=[
        ["is", "visit:country", ["DE"]],
    ])  # fmt: skip
    assert found == {
        "visitors": 0, "revenue": 50.0, "revenue_per_visitor": 0.0, "average_order_value": 50.0,
        "conversion_rate": 0.0,
    }  # fmt: skip
    # Direct: only p4, which has no reporting amount.
    found = totals(data, ["payments", *RATIOS], filters=[["is", "visit:source", ["Direct / None"]]])
    assert found == {"payments": 1, "revenue_per_visitor": 0.0, "average_order_value": 0.0, "conversion_rate": 50.0}


def test_conversion_rate_without_a_goal_needs_a_revenue_metric(data):
    with pytest.raises(QueryError) as error:
        ask(data, metrics=["visitors", "conversion_rate"])
    assert error.value.message == (
        "metrics: conversion_rate needs an event:goal filter or dimension, "
        "or a revenue metric beside it (for paying visitors / visitors)"
    )
    assert totals(data, ["conversion_rate", "payments"]) == {"conversion_rate": 60.0, "payments": 5}


# --- registration --------------------------------------------------------------------------------
def test_the_metrics_and_cards_are_registered(site, charlies_site):
    from dashboard.query import known_metrics
    from revenue.models import Payment

    assert set(metrics.PROVIDERS) <= set(known_metrics())
    money_cards = ["revenue", "net_revenue", "refunds", "payments", "paying_visitors", "conversion_rate"]
    assert set(money_cards) <= set(formatting.CARDS)
    # Only sites with Stripe data show them.
    Payment.objects.create(
        site=site, stripe_id="pi_1", created_at=timezone.now(), currency="USD", amount=100, reporting_currency="USD"
    )
    assert set(money_cards) <= set(formatting.cards_for(site, formatting.CARDS))
    assert not set(money_cards) & set(formatting.cards_for(charlies_site, formatting.CARDS))
    assert formatting.extra_columns_for(charlies_site) == []
    assert formatting.format_value("revenue", 1234.5, "EUR") == "1,234.50 EUR"
    assert formatting.format_value("revenue", 1234.5) == "1,234.50"
    assert formatting.format_value("revenue", 1500) == "1,500"
    assert formatting.format_value("average_order_value", 12.345) == "12.345"
    assert formatting.format_value("conversion_rate", 60.0) == "60%"
    assert formatting.format_value("payments", 5) == "5"


def test_money_is_rounded_to_the_currencys_decimals():
    assert metrics.money(Decimal("12.345"), "USD") == 12.34  # half-even
    assert metrics.money(Decimal("1500.4"), "JPY") == 1500
    assert metrics.money(Decimal("1.2345"), "BHD") == 1.234
    assert metrics.money(None, "USD") == 0.0


def test_the_dashboard_shows_revenue_cards_and_chart_only_for_a_site_with_stripe_data(site, login, alice):
    from revenue.models import Payment
    from tests.tracking.factories import record
    from tracking import services as tracking_services

    tracking_services.events_store([record(site, ts=timezone.now().timestamp())])
    client = login(alice)
    page = client.get(f"/sites/{site.domain}/?period=7d").content.decode()
    assert "Revenue over time" not in page and 'data-metric="revenue"' not in page
    Payment.objects.create(
        site=site, stripe_id="pi_dash", created_at=timezone.now(), currency="USD", amount=4900, livemode=True,
        reporting_currency="USD", gross=49, net=49, refunds=0,
    )  # fmt: skip
    page = client.get(f"/sites/{site.domain}/?period=7d").content.decode()
    assert "Revenue over time" in page and 'data-metric="revenue"' in page
    assert "49.00" in page

"""The query engine against answers computed by hand on a small fixed dataset.

The site's timezone is Europe/Berlin (UTC+1 in March 2026), so 23:30 UTC on 9 March is 00:30 on
10 March there. Visits (visitor id → pages):
  A  visitor 1, 9 Mar 23:30 UTC, Google, DE, Chrome:  /  then /pricing (+5 min), Signup {plan: pro} (+6 min)
  B  visitor 2, 10 Mar 10:00 UTC, Hacker News, US, Firefox: /pricing (bounce)
  C  visitor 3, 10 Mar 22:59 UTC, Direct, DE, Safari: /blog/a (bounce)          — 10 Mar 23:59 in Berlin
  D  visitor 3, 10 Mar 23:30 UTC, Direct, DE, Safari: /blog/b (bounce, 31 min idle → a new visit, 11 Mar)
  E  visitor 4, 11 Mar 12:00 UTC, Google, GB, Chrome: / then /blog/a (+10 min)
"""

from datetime import UTC, date, datetime

import pytest

from dashboard import engine
from dashboard.query import DateRange, QueryError, build
from sites import services as site_services
from tests.tracking.factories import record
from tracking import services

TODAY = date(2026, 3, 12)
RANGE = ["2026-03-10", "2026-03-11"]


def ts(day, hour, minute):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.fixture
def data(site):
    google = {"source": "Google", "channel": "Organic Search", "referrer_host": "google.com"}
    hn = {"source": "Hacker News", "channel": "Referral", "referrer_host": "news.ycombinator.com"}
    direct = {"source": "Direct / None", "channel": "Direct"}
    chrome = {"browser": "Chrome", "os": "Windows", "device": "Desktop"}
    safari = {"browser": "Safari", "os": "iOS", "device": "Mobile"}
    firefox = {"browser": "Firefox", "os": "Linux", "device": "Desktop"}
    rows = [
        record(site, visitor=1, ts=ts(9, 23, 30), path="/", view="view-a-1-0000000000", country="DE", **google, **chrome),
        record(site, visitor=1, ts=ts(9, 23, 35), path="/pricing", view="view-a-2-0000000000", country="DE", **google, **chrome),
        record(site, kind="event", name="Signup", visitor=1, ts=ts(9, 23, 36), path="/pricing", view="view-a-2-0000000000", props={"plan": "pro"}, country="DE", **google, **chrome),
        record(site, visitor=2, ts=ts(10, 10, 0), path="/pricing", view="view-b-1-0000000000", country="US", **hn, **firefox),
        record(site, visitor=3, ts=ts(10, 22, 59), path="/blog/a", view="view-c-1-0000000000", country="DE", **direct, **safari),
        record(site, visitor=3, ts=ts(10, 23, 30), path="/blog/b", view="view-d-1-0000000000", country="DE", **direct, **safari),
        record(site, visitor=4, ts=ts(11, 12, 0), path="/", view="view-e-1-0000000000", country="GB", **google, **chrome),
        record(site, visitor=4, ts=ts(11, 12, 10), path="/blog/a", view="view-e-2-0000000000", country="GB", **google, **chrome),
    ]  # fmt: skip
    services.events_store(rows)
    site_services.goal_create(site=site, kind="page", page_path="/pricing")
    site_services.goal_create(site=site, kind="event", event_name="Signup")
    site_services.goal_create(site=site, kind="page", page_path="/blog/*")
    return site


def ask(site, **payload):
    payload.setdefault("date_range", RANGE)
    return engine.run(site, build(payload, today=TODAY))


def totals(site, metrics, **payload):
    return dict(zip(metrics, ask(site, metrics=metrics, **payload).rows[0]["metrics"], strict=True))


def table(result):
    return [(tuple(row["dimensions"]), tuple(row["metrics"])) for row in result.rows]


ALL = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"]


def test_it_totals_a_range_in_the_sites_timezone(data):
    assert totals(data, ALL) == {
        "visitors": 4, "visits": 5, "pageviews": 7, "views_per_visit": 1.4, "bounce_rate": 60,
        "visit_duration": 192, "events": 1,
    }  # fmt: skip


def test_a_day_starts_at_midnight_in_the_sites_timezone(data):
    # Visit A started 23:30 UTC on 9 March: 10 March in Berlin. Visit D started 23:30 UTC on 10 March: 11 March.
    assert totals(data, ALL, date_range=["2026-03-10", "2026-03-10"]) == {
        "visitors": 3, "visits": 3, "pageviews": 4, "views_per_visit": 1.33, "bounce_rate": 67,
        "visit_duration": 120, "events": 1,
    }  # fmt: skip
    assert totals(data, ["visitors", "visits"], date_range=["2026-03-09", "2026-03-09"]) == {"visitors": 0, "visits": 0}


def test_it_counts_a_visitor_once_over_several_days(data):
    by_day = table(ask(data, metrics=["visitors", "visits"], dimensions=["time:day"]))
    assert by_day == [(("2026-03-10",), (3, 3)), (("2026-03-11",), (2, 2))]
    assert totals(data, ["visitors"])["visitors"] == 4  # not 3 + 2


def test_it_fills_empty_buckets_of_a_time_series(data):
    series = table(ask(data, metrics=["visitors"], dimensions=["time:day"], date_range=["2026-03-08", "2026-03-11"]))
    assert series == [
        (("2026-03-08",), (0,)),
        (("2026-03-09",), (0,)),
        (("2026-03-10",), (3,)),
        (("2026-03-11",), (2,)),
    ]
    hours = ask(data, metrics=["visits"], dimensions=["time:hour"], date_range=["2026-03-10", "2026-03-10"])
    assert len(hours.rows) == 24
    assert hours.rows[0] == {"dimensions": ["2026-03-10"], "metrics": [1]}  # 00:30 Berlin
    assert hours.rows[11]["metrics"] == [1]  # 10:00 UTC = 11:00 Berlin


def test_it_breaks_down_by_a_visit_dimension(data):
    result = ask(data, metrics=["visitors", "visits", "bounce_rate"], dimensions=["visit:source"])
    assert table(result) == [
        (("Google",), (2, 2, 0)),
        (("Direct / None",), (1, 2, 100)),
        (("Hacker News",), (1, 1, 100)),
    ]
    assert result.total_rows == 3


def test_it_breaks_down_by_page(data):
    result = ask(data, metrics=["visitors", "pageviews", "bounce_rate"], dimensions=["event:page"])
    assert table(result) == [
        (("/",), (2, 2, 0)),
        (("/blog/a",), (2, 2, 100)),
        (("/pricing",), (2, 2, 100)),
        (("/blog/b",), (1, 1, 100)),
    ]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([["is", "visit:source", ["Google"]]], (2, 2, 4)),
        ([["is_not", "visit:country", ["DE"]]], (2, 2, 3)),
        ([["contains", "visit:browser", ["Fire"]]], (1, 1, 1)),
        ([["contains_not", "visit:browser", ["Chrom"]]], (2, 3, 3)),
        ([["matches", "visit:entry_page", ["^/blog"]]], (1, 2, 2)),
        ([["matches_not", "visit:entry_page", ["^/blog"]]], (3, 3, 5)),
        ([["is", "visit:country", ["US", "GB"]]], (2, 2, 3)),
        ([["or", [["is", "visit:country", ["US"]], ["is", "visit:country", ["GB"]]]]], (2, 2, 3)),
        ([["not", ["is", "visit:country", ["DE"]]]], (2, 2, 3)),
        ([["and", [["is", "visit:country", ["DE"]], ["is", "visit:device", ["Mobile"]]]]], (1, 2, 2)),
        ([["is", "visit:country", ["DE"]], ["is", "visit:browser", ["Chrome"]]], (1, 1, 2)),
        ([["is", "event:page", ["/pricing"]]], (2, 2, 2)),
        ([["contains", "event:page", ["blog"]]], (2, 3, 3)),
        # Row-level, like Plausible: visits with any page view other than / (A and E have one too).
        ([["is_not", "event:page", ["/"]]], (4, 5, 5)),
        ([["is", "event:page", ["/pricing"]], ["is", "visit:source", ["Google"]]], (1, 1, 1)),
        ([["is", "event:name", ["Signup"]]], (1, 1, 0)),
        ([["is", "event:props:plan", ["pro"]]], (1, 1, 0)),
        ([["is", "visit:country", ["FR"]]], (0, 0, 0)),
    ],
)
def test_every_filter_operator(data, filters, expected):
    result = totals(data, ["visitors", "visits", "pageviews"], filters=filters)
    assert (result["visitors"], result["visits"], result["pageviews"]) == expected


def test_goals_give_conversions_and_conversion_rates(data):
    result = ask(data, metrics=["visitors", "events", "conversion_rate"], dimensions=["event:goal"])
    assert table(result) == [
        (("Visit /blog/*",), (2, 3, 50.0)),
        (("Visit /pricing",), (2, 2, 50.0)),
        (("Signup",), (1, 1, 25.0)),
    ]


def test_a_goal_filter_gives_converted_visitors(data):
    assert totals(data, ["visitors", "events", "conversion_rate"], filters=[["is", "event:goal", ["Signup"]]]) == {
        "visitors": 1, "events": 1, "conversion_rate": 25.0,
    }  # fmt: skip
    by_source = ask(
        data, metrics=["visitors", "conversion_rate"], dimensions=["visit:source"],
        filters=[["is", "event:goal", ["Visit /pricing"]]],
    )  # fmt: skip
    assert table(by_source) == [(("Google",), (1, 50.0)), (("Hacker News",), (1, 100.0))]


def test_it_breaks_down_by_event_name_and_props(data):
    names = ask(data, metrics=["visitors", "events"], dimensions=["event:name"])
    assert table(names) == [(("pageview",), (4, 7)), (("Signup",), (1, 1))]
    plans = ask(data, metrics=["visitors", "events"], dimensions=["event:props:plan"])
    assert table(plans) == [(("pro",), (1, 1))]


def test_it_orders_and_paginates(data):
    result = ask(
        data, metrics=["visits"], dimensions=["visit:source"], order_by=[["visits", "asc"]],
        pagination={"limit": 2, "offset": 0},
    )  # fmt: skip
    assert table(result) == [(("Hacker News",), (1,)), (("Direct / None",), (2,))]
    assert result.total_rows == 3
    page_two = ask(data, metrics=["visits"], dimensions=["visit:source"], pagination={"limit": 2, "offset": 2})
    assert table(page_two) == [(("Hacker News",), (1,))]


def test_the_comparison_period_is_the_same_length_just_before():
    assert DateRange(date(2026, 3, 10), date(2026, 3, 16)).previous() == DateRange(date(2026, 3, 3), date(2026, 3, 9))


def test_an_empty_range_gives_zeros_not_errors(data):
    assert totals(data, ALL, date_range=["2025-01-01", "2025-01-07"]) == dict.fromkeys(ALL, 0)
    assert (
        ask(data, metrics=["visitors"], dimensions=["visit:source"], date_range=["2025-01-01", "2025-01-07"]).rows == []
    )


def test_another_sites_data_never_shows(data, charlies_site):
    services.events_store([record(charlies_site, visitor=99, ts=ts(10, 12, 0), path="/secret")])
    assert totals(charlies_site, ["visitors"])["visitors"] == 1
    assert ("/secret",) not in [r[0] for r in table(ask(data, metrics=["visitors"], dimensions=["event:page"]))]


def test_realtime_counts_the_last_five_minutes(data):
    now = datetime.fromtimestamp(ts(11, 12, 12), UTC)
    assert engine.realtime_visitors(data, now=now) == 1


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"metrics": ["visitors"]}, "date_range: required"),
        ({"metrics": ["bogus"], "date_range": "7d"}, "metrics: unknown metric 'bogus'"),
        ({"metrics": [], "date_range": "7d"}, "metrics:"),
        ({"metrics": ["visitors"], "date_range": "7d", "dimensions": ["visit:nope"]}, "dimensions: unknown"),
        (
            {"metrics": ["visitors"], "date_range": "7d", "dimensions": ["time:day", "time:hour"]},
            "dimensions: at most one time",
        ),
        ({"metrics": ["visitors"], "date_range": "fortnight"}, "date_range: use one of"),
        ({"metrics": ["visitors"], "date_range": ["2026-02-30", "2026-03-01"]}, "date_range: dates must look like"),
        ({"metrics": ["visitors"], "date_range": ["2026-03-02", "2026-03-01"]}, "date_range: the end is before"),
        (
            {"metrics": ["visitors"], "date_range": "7d", "filters": [["like", "visit:source", ["x"]]]},
            "filters: unknown operator",
        ),
        (
            {"metrics": ["visitors"], "date_range": "7d", "filters": [["is", "visit:source", "Google"]]},
            "filters: visit:source needs",
        ),
        (
            {"metrics": ["visitors"], "date_range": "7d", "filters": [["matches", "event:page", ["("]]]},
            "not a valid regular expression",
        ),
        (
            {
                "metrics": ["visitors"],
                "date_range": "7d",
                "filters": [["or", [["is", "visit:source", ["a"]], ["is", "event:page", ["/"]]]]],
            },
            "cannot mix",
        ),
        ({"metrics": ["conversion_rate"], "date_range": "7d"}, "conversion_rate needs an event:goal"),
        ({"metrics": ["visitors"], "date_range": "7d", "order_by": [["pageviews", "desc"]]}, "order_by:"),
        ({"metrics": ["visitors"], "date_range": "7d", "pagination": {"limit": 0}}, "pagination: limit"),
        (
            {"metrics": ["bounce_rate"], "date_range": "7d", "dimensions": ["event:name"]},
            "cannot be broken down by event:name",
        ),
        ("not an object", "body: must be a JSON object"),
    ],
)
def test_it_rejects_bad_queries_naming_the_problem(payload, message):
    with pytest.raises(QueryError) as error:
        build(payload, today=TODAY)
    assert message in error.value.message


def test_named_periods_resolve_against_today():
    resolve = lambda period: build({"metrics": ["visitors"], "date_range": period}, today=TODAY).date_range  # noqa: E731
    assert resolve("day") == DateRange(TODAY, TODAY)
    assert resolve("7d") == DateRange(date(2026, 3, 6), TODAY)
    assert resolve("month") == DateRange(date(2026, 3, 1), TODAY)
    assert resolve("last_month") == DateRange(date(2026, 2, 1), date(2026, 2, 28))
    assert resolve("12mo") == DateRange(date(2025, 4, 1), TODAY)
    assert resolve("yesterday") == DateRange(date(2026, 3, 11), date(2026, 3, 11))


def test_a_prop_on_both_a_page_view_and_an_event_of_one_visitor_counts_the_visitor_once(data):
    services.events_store(
        [record(data, visitor=1, ts=ts(10, 0, 5), path="/pricing", view="view-a-3-0000000000", props={"plan": "pro"})]
    )
    plans = ask(data, metrics=["visitors", "visits", "events"], dimensions=["event:props:plan"])
    # Visitor 1 sent plan=pro on the Signup event and on a page view of the same visit.
    assert table(plans) == [(("pro",), (1, 1, 2))]

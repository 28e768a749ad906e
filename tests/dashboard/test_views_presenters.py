"""The dashboard's URL language and number formats, without a database (dashboard/presenters.py, formatting.py)."""

from datetime import date
from urllib.parse import parse_qsl

import pytest
from django.http import QueryDict

from dashboard.formatting import csv_safe, delta, flag, format_duration, format_value
from dashboard.presenters import Filter, bucket_label, interval_for, parse_state, range_label
from dashboard.query import DateRange, QueryError

TODAY = date(2026, 3, 12)


def state(query):
    return parse_state(QueryDict(query), today=TODAY)


def test_a_state_reads_period_filters_and_tabs():
    s = state(
        "period=custom&from=2026-03-01&to=2026-03-05&f=is,visit:source,A,B&f=contains,event:page,/blog&sources=channels"
    )
    assert s.date_range == ["2026-03-01", "2026-03-05"]
    assert s.filters == (Filter("is", "visit:source", "A,B"), Filter("contains", "event:page", "/blog"))  # commas kept
    assert s.engine_filters() == [["is", "visit:source", ["A,B"]], ["contains", "event:page", ["/blog"]]]
    assert s.tabs == (("sources", "channels"),)


def test_the_default_is_the_last_30_days_and_unknown_tabs_are_ignored():
    s = state("sources=nonsense")
    assert (s.period, s.tabs, s.filters) == ("30d", (), ())


def test_links_change_one_thing_and_keep_the_rest():
    s = state("period=7d&f=is,visit:source,Google&devices=os")
    assert parse_qsl(s.with_period("day")[1:]) == [
        ("period", "day"),
        ("f", "is,visit:source,Google"),
        ("devices", "os"),
    ]
    assert parse_qsl(s.with_filter("visit:source", "Bing")[1:]) == [
        ("period", "7d"), ("f", "is,visit:source,Bing"), ("devices", "os"),
    ]  # fmt: skip
    assert parse_qsl(s.with_filter("visit:country", "DE")[1:])[1:3] == [
        ("f", "is,visit:source,Google"), ("f", "is,visit:country,DE"),
    ]  # fmt: skip
    assert s.without_filter(0) == "?period=7d&devices=os"
    assert s.with_tab("devices", "devices") == "?period=7d&f=is%2Cvisit%3Asource%2CGoogle&devices=devices"
    assert s.with_tab("devices", "browsers") == "?period=7d&f=is%2Cvisit%3Asource%2CGoogle"  # the default tab
    assert (
        s.query_string(("breakdown", "time"), with_tabs=False)
        == "?period=7d&f=is%2Cvisit%3Asource%2CGoogle&breakdown=time"
    )


def test_the_selected_goal_is_an_is_filter_on_event_goal():
    assert state("f=is,event:goal,Signup").goal == "Signup"
    assert state("f=contains,event:goal,Sign").goal is None
    assert state("f=is,event:goal,Signup").engine_filters(without_goal=True) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=week", "period: unknown period 'week'"),
        ("period=custom&to=2026-03-01", "period: a custom range needs from and to"),
        ("period=custom&from=2026-13-01&to=2026-03-01", "date_range: dates must look like"),
        ("f=is_like,visit:source,x", "f: unknown operator 'is_like'"),
        ("f=is,visit:sauce,x", "f: cannot filter on 'visit:sauce'"),
        ("f=is", "f: write a filter as operator,dimension,value"),
        ("&".join(["f=is,visit:source,x"] * 21), "f: at most 20 filters"),
    ],
)
def test_bad_parameters_raise_a_query_error(query, message):
    with pytest.raises(QueryError) as error:
        state(query)
    assert message in error.value.message


def test_intervals_and_labels_follow_the_range_length():
    day = lambda a, b: DateRange(date(2026, *a), date(2026, *b))  # noqa: E731
    assert interval_for(day((3, 12), (3, 12))) == "time:hour"
    assert interval_for(day((1, 1), (3, 31))) == "time:day"
    assert interval_for(day((1, 1), (6, 1))) == "time:week"
    assert interval_for(day((1, 1), (12, 31))) == "time:month"
    assert bucket_label("2026-03-10 14:00:00", "time:hour") == "14:00"
    assert bucket_label("2026-03-10", "time:hour") == "00:00"
    assert bucket_label("2026-03-09", "time:week") == "Week of 9 Mar"
    assert bucket_label("2026-03-01", "time:month") == "Mar 2026"
    assert range_label(DateRange(date(2025, 12, 30), date(2026, 1, 2))) == "30 Dec 2025 – 2 Jan 2026"


def test_values_are_formatted_by_kind():
    assert format_value("visitors", 12345) == "12,345"
    assert format_value("views_per_visit", 1.5) == "1.5"
    assert format_value("bounce_rate", 60) == "60%"
    assert format_value("conversion_rate", 33.33) == "33.33%"
    assert [format_duration(s) for s in (0, 45, 192, 3720)] == ["0s", "45s", "3m 12s", "1h 2m"]


def shown(change):
    return change.text, change.direction, change.tone


def test_deltas_have_a_direction_and_a_tone():
    assert shown(delta("visitors", 150, 100)) == ("▲ 50%", "up", "good")
    assert shown(delta("visitors", 50, 100)) == ("▼ 50%", "down", "bad")
    assert shown(delta("visitors", 5, 0)) == ("▲ 100%", "up", "good")
    assert shown(delta("visitors", 0, 0)) == ("0%", "flat", "neutral")
    assert shown(delta("bounce_rate", 40, 55)) == ("▼ 15 pp", "down", "good")
    assert shown(delta("bounce_rate", 55, 40)) == ("▲ 15 pp", "up", "bad")


def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote():
    assert [csv_safe(v) for v in ("=1+2", "+1", "-1", "@x", "\tx", "ok", "a=b", 5)] == [
        "'=1+2", "'+1", "'-1", "'@x", "'\tx", "ok", "a=b", 5,
    ]  # fmt: skip


def test_country_flags():
    assert flag("DE") == "🇩🇪"
    assert flag("") == flag("XYZ") == flag("1A") == ""

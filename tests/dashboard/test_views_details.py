"""Details pages (search, sort, pages), CSV export (exact content, injection escaped) and realtime.json."""

import html
import re
from datetime import timedelta

import pytest

from tests.dashboard import views_fixtures as fixtures
from tests.dashboard.views_fixtures import NOW, RANGE, URL, chips, headers, rows, text, ts
from tests.tracking.factories import record
from tracking import services

clock, seeded, goals = fixtures.clock, fixtures.seeded, fixtures.goals


@pytest.fixture
def member(login, vera):
    return login(vera)


def details(member, breakdown, query="", status=200):
    response = member.get(f"{URL}details/{breakdown}/?{RANGE}&{query}")
    assert response.status_code == status, response.content.decode()[:2000]
    return response.content.decode()


def export(member, query, status=200):
    response = member.get(f"{URL}export.csv?{query}")
    assert response.status_code == status, response.content.decode()[:2000]
    return response


def sort_links(body):
    return {name: html.unescape(href) for href, name in re.findall(r'<a href="([^"]+)" data-sort="([^"]+)">', body)}


@pytest.fixture
def many_pages(seeded):
    """105 more pages on 11 March, one visitor each: 109 page rows in all."""
    services.events_store(
        [record(seeded, visitor=100 + i, ts=ts(11, 8, 0) + i, path=f"/p/{i:03d}", country="FR") for i in range(105)]
    )
    return seeded


def test_details_list_every_row_with_all_columns(seeded, member):
    body = details(member, "visit:source")
    assert headers(body) == ["Source", "Visitors", "Visits", "Pageviews", "Bounce rate", "Visit duration"]
    assert rows(body) == [
        ("Google", {"visitors": "2", "visits": "2", "pageviews": "4", "bounce_rate": "0%", "visit_duration": "8m 0s"}),
        (
            "Direct / None",
            {"visitors": "1", "visits": "2", "pageviews": "2", "bounce_rate": "100%", "visit_duration": "0s"},
        ),
        (
            "Hacker News",
            {"visitors": "1", "visits": "1", "pageviews": "1", "bounce_rate": "100%", "visit_duration": "0s"},
        ),
    ]
    assert "Rows 1–3 of 3" in body
    assert (
        'href="/sites/example.com/?period=custom&amp;from=2026-03-10&amp;to=2026-03-11&amp;f=is%2Cvisit%3Asource%2CGoogle"'
        in body
    )


def test_details_search_with_a_contains_filter_on_the_dimension(seeded, member):
    body = details(member, "event:page", "q=blog")
    assert [label for label, _ in rows(body)] == ["/blog/a", "/blog/b"]
    assert 'value="blog"' in body
    assert "Nothing matches “nothing”." in details(member, "event:page", "q=nothing")


def test_details_sort_by_any_column_and_the_header_flips_direction(seeded, member):
    body = details(member, "visit:source", "sort=name&dir=asc")
    assert [label for label, _ in rows(body)] == ["Direct / None", "Google", "Hacker News"]
    assert 'aria-sort="ascending"' in body
    assert "dir=desc" in sort_links(body)["name"]
    body = details(member, "visit:source", "sort=visits&dir=asc")
    assert [(label, v["visits"]) for label, v in rows(body)] == [
        ("Hacker News", "1"),
        ("Direct / None", "2"),
        ("Google", "2"),
    ]
    links = sort_links(body)
    assert set(links) == {"name", "visitors", "visits", "pageviews", "bounce_rate", "visit_duration"}
    assert "sort=visits&dir=desc" in links["visits"]
    assert "sort=pageviews&dir=desc" in links["pageviews"]
    assert "period=custom&from=2026-03-10&to=2026-03-11" in links["pageviews"]


def test_details_paginate_by_100(many_pages, member):
    first = details(member, "event:page")
    assert len(rows(first)) == 100
    assert [label for label, _ in rows(first)][:4] == ["/", "/blog/a", "/pricing", "/blog/b"]
    assert "Rows 1–100 of 109" in first and "Page 1 of 2" in first
    next_url = html.unescape(re.search(r'<a class="button secondary small" href="([^"]+)" rel="next">', first).group(1))
    assert "page=2" in next_url and "period=custom" in next_url
    second = member.get(f"{URL}details/event:page/{next_url}").content.decode()
    assert [label for label, _ in rows(second)] == [f"/p/{i:03d}" for i in range(96, 105)]
    assert "Rows 101–109 of 109" in second and 'rel="prev"' in second and 'rel="next"' not in second


def test_details_keep_filters_as_chips(seeded, member):
    body = details(member, "event:page", "f=is,visit:country,DE")
    assert chips(body) == [("Country is DE", "?period=custom&from=2026-03-10&to=2026-03-11")]
    assert [label for label, _ in rows(body)] == ["/", "/blog/a", "/blog/b", "/pricing"]


def test_details_of_goals_under_a_selected_goal(goals, member):
    body = details(member, "visit:source", "f=is,event:goal,Visit /pricing")
    assert headers(body) == ["Source", "Visitors", "Conversions", "CR"]
    assert rows(body) == [
        ("Google", {"visitors": "2", "conversions": "1", "conversion_rate": "50%"}),
        ("Hacker News", {"visitors": "1", "conversions": "1", "conversion_rate": "100%"}),
    ]
    assert set(sort_links(body)) == {"name", "conversions", "conversion_rate"}  # visitors come from a second query


@pytest.mark.parametrize(
    ("breakdown", "query", "message"),
    [
        ("visit:nope", "", "breakdown: unknown breakdown 'visit:nope'"),
        ("visit:source", "sort=bogus", "sort: cannot sort this table by 'bogus'"),
        ("visit:source", "sort=visits&dir=up", "dir: use asc or desc"),
        ("visit:source", "page=0", "page: give a whole number from 1"),
        ("visit:source", "page=two", "page: give a whole number from 1"),
        ("visit:source", "f=is,visit:nope,x", "f: cannot filter on 'visit:nope'"),
    ],
)
def test_details_refuse_bad_parameters_with_a_400(seeded, member, breakdown, query, message):
    assert message in text(details(member, breakdown, query, status=400))


def test_the_csv_export_has_a_header_and_the_same_rows(seeded, member):
    response = export(member, f"{RANGE}&breakdown=visit:source")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response["Content-Disposition"] == 'attachment; filename="example.com-visit_source-2026-03-10-2026-03-11.csv"'
    )
    assert response.content.decode() == (
        "visit:source,visitors,visits,pageviews,bounce_rate,visit_duration\r\n"
        "Google,2,2,4,0,480\r\n"
        "Direct / None,1,2,2,100,0\r\n"
        "Hacker News,1,1,1,100,0\r\n"
    )


def test_the_csv_export_follows_filters_search_and_sort(seeded, member):
    response = export(member, f"{RANGE}&breakdown=visit:source&q=o&sort=name&dir=asc&f=is_not,visit:country,US")
    assert response.content.decode().splitlines()[1:] == ["Direct / None,1,2,2,100,0", "Google,2,2,4,0,480"]


def test_the_csv_export_of_the_time_series(seeded, member):
    response = export(member, f"{RANGE}&breakdown=time")
    assert response["Content-Disposition"] == 'attachment; filename="example.com-time-2026-03-10-2026-03-11.csv"'
    assert response.content.decode() == (
        "time:day,visitors,visits,pageviews,views_per_visit,bounce_rate,visit_duration\r\n"
        "2026-03-10,3,3,4,1.33,67,120\r\n"
        "2026-03-11,2,2,3,1.5,50,300\r\n"
    )


def test_the_csv_export_escapes_formula_injection(seeded, member):
    services.events_store(
        [
            record(seeded, visitor=50 + i, ts=ts(11, 9, i), path="/", source=source)
            for i, source in enumerate(["=1+2", "+SUM(A1)", "-3", "@evil", "safe=yes"])
        ]
    )
    body = export(
        member, f"{RANGE}&breakdown=visit:source&f=is_not,visit:source,Google&f=is_not,visit:source,Hacker News"
    )
    lines = body.content.decode().splitlines()
    assert sorted(line.split(",")[0] for line in lines[1:]) == [
        "'+SUM(A1)",
        "'-3",
        "'=1+2",
        "'@evil",
        "Direct / None",
        "safe=yes",
    ]


def test_the_csv_export_refuses_a_bad_breakdown(seeded, member):
    assert "breakdown: unknown breakdown 'visit:nope'" in text(
        export(member, "breakdown=visit:nope", status=400).content.decode()
    )
    assert "breakdown: unknown breakdown ''" in text(export(member, "", status=400).content.decode())


def test_realtime_json_counts_visitors_in_the_last_five_minutes(seeded, member):
    services.events_store(
        [
            record(seeded, visitor=900, ts=(NOW - timedelta(minutes=2)).timestamp(), path="/now"),
            record(seeded, visitor=901, ts=(NOW - timedelta(minutes=10)).timestamp(), path="/earlier"),
        ]
    )
    response = member.get(f"{URL}realtime.json")
    assert response.json() == {"visitors": 1, "minutes": 5}
    assert response["Cache-Control"] == "no-store"
    badge = member.get(URL).content.decode()
    assert "<span data-count>1</span> <span data-label>current visitor</span>" in badge
    assert 'data-url="/sites/example.com/realtime.json"' in badge

"""The dashboard page on the seeded site: cards, deltas, chart, panels, filters from the URL, periods, 400s."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.dashboard import views_fixtures as fixtures
from tests.dashboard.views_fixtures import (
    RANGE,
    URL,
    card_labels,
    cards,
    chips,
    headers,
    link_of,
    rows,
    section,
    text,
)

clock, seeded, goals = fixtures.clock, fixtures.seeded, fixtures.goals


@pytest.fixture
def get(login, vera):
    client = login(vera)

    def _get(query="", status=200):
        response = client.get(f"{URL}?{query}")
        assert response.status_code == status, response.content.decode()[:2000]
        return response.content.decode()

    return _get


def params(href):
    return parse_qs(urlsplit(href).query, keep_blank_values=True)


def test_the_cards_show_the_totals_with_deltas_against_the_period_before(seeded, get):
    assert cards(get(RANGE)) == {
        "visitors": ("4", "▲ 300%", "up good"),
        "visits": ("5", "▲ 400%", "up good"),
        "pageviews": ("7", "▲ 600%", "up good"),
        "views_per_visit": ("1.4", "▲ 40%", "up good"),
        "bounce_rate": ("60%", "▼ 40 pp", "down good"),  # bounce rate going down is good
        "visit_duration": ("3m 12s", "▲ 100%", "up good"),
    }


def test_a_rising_bounce_rate_is_bad_and_a_flat_one_neutral(seeded, get):
    found = cards(get("period=custom&from=2026-03-11&to=2026-03-11"))  # D bounces, E not: 50% vs 67% on 10 Mar
    assert found["bounce_rate"] == ("50%", "▼ 17 pp", "down good")
    found = cards(get("period=custom&from=2026-03-10&to=2026-03-10"))  # 67% vs 0 visits on 9 Mar
    assert found["bounce_rate"] == ("67%", "▲ 67 pp", "up bad")
    found = cards(get("period=custom&from=2026-03-05&to=2026-03-05"))  # nothing then, nothing before
    assert found["visitors"] == ("0", "0%", "flat neutral")
    assert found["bounce_rate"] == ("0%", "0 pp", "flat neutral")


def test_all_time_has_no_comparison(seeded, get):
    found = cards(get("period=all"))
    assert found["visitors"] == ("5", None, None)
    assert "compared with" not in get("period=all")


def test_the_chart_draws_both_series_with_titles(seeded, get):
    body = get(RANGE)
    assert '<title id="chart-title">Visitors and pageviews, 10 Mar – 11 Mar 2026</title>' in body
    assert body.count('<path class="series series-') == 2
    assert "<title>10 Mar: 3 visitors; 4 pageviews</title>" in body
    assert "<title>11 Mar: 2 visitors; 3 pageviews</title>" in body
    assert "NaN" not in body


def test_a_single_day_is_drawn_in_hours(seeded, get):
    body = get("period=custom&from=2026-03-11&to=2026-03-11")
    assert body.count('<rect class="hover"') == 24
    assert "<title>13:00: 1 visitors; 2 pageviews</title>" in body  # E at 12:00 UTC = 13:00 in Berlin


def test_twelve_months_are_drawn_in_months(seeded, get):
    body = get("period=12mo")
    assert body.count('<rect class="hover"') == 12
    assert ">Apr 2025</text>" in body
    assert "<title>Mar 2026: 5 visitors; 8 pageviews</title>" in body


def test_the_panels_show_the_top_rows_with_bars(seeded, get):
    body = get(RANGE)
    assert rows(section(body, "sources")) == [
        ("Google", {"visitors": "2"}),
        ("Direct / None", {"visitors": "1"}),
        ("Hacker News", {"visitors": "1"}),
    ]
    assert rows(section(body, "pages")) == [
        ("/", {"visitors": "2"}),
        ("/blog/a", {"visitors": "2"}),
        ("/pricing", {"visitors": "2"}),
        ("/blog/b", {"visitors": "1"}),
    ]
    assert rows(section(body, "locations")) == [
        ("DE", {"visitors": "2"}),
        ("GB", {"visitors": "1"}),
        ("US", {"visitors": "1"}),
    ]
    assert [label for label, _ in rows(section(body, "devices"))] == ["Chrome", "Firefox", "Safari"]
    sources = section(body, "sources")
    assert 'style="width:100.0%"' in sources and sources.count('style="width:50.0%"') == 2
    assert (
        'href="/sites/example.com/details/visit:source/?period=custom&amp;from=2026-03-10&amp;to=2026-03-11"' in sources
    )


@pytest.mark.parametrize(
    ("query", "panel", "expected"),
    [
        ("sources=channels", "sources", [("Organic Search", "2"), ("Direct", "1"), ("Referral", "1")]),
        ("sources=campaigns", "sources", [("spring", "1")]),  # visits without a campaign are left out
        ("pages=entry", "pages", [("/", "2"), ("/blog/a", "1"), ("/blog/b", "1"), ("/pricing", "1")]),
        ("pages=exit", "pages", [("/blog/a", "2"), ("/pricing", "2"), ("/blog/b", "1")]),
        ("locations=cities", "locations", [("Berlin", "4")]),
        ("devices=os", "devices", [("Windows", "2"), ("iOS", "1"), ("Linux", "1")]),
        ("devices=devices", "devices", [("Desktop", "3"), ("Mobile", "1")]),
    ],
)
def test_each_panel_tab_breaks_down_by_its_dimension(seeded, get, query, panel, expected):
    body = get(f"{RANGE}&{query}")
    assert [(label, values["visitors"]) for label, values in rows(section(body, panel))] == expected
    active = text(section(body, panel).split('class="active"')[1].split("</a>")[0].split(">", 1)[1])
    assert active.lower().startswith(query.split("=")[1][:4])


def test_a_tab_choice_is_kept_by_the_other_links(seeded, get):
    body = get(f"{RANGE}&sources=channels")
    google = link_of(section(body, "devices"), "Chrome")
    assert params(google)["sources"] == ["channels"]


def test_clicking_a_row_filters_by_it_and_keeps_the_period(seeded, get):
    href = link_of(section(get(RANGE), "sources"), "Google")
    assert params(href) == {
        "period": ["custom"],
        "from": ["2026-03-10"],
        "to": ["2026-03-11"],
        "f": ["is,visit:source,Google"],
    }
    body = get(href.lstrip("?"))
    assert cards(body)["visitors"][0] == "2"
    assert cards(body)["pageviews"][0] == "4"
    assert chips(body) == [("Source is Google", "?period=custom&from=2026-03-10&to=2026-03-11")]
    # Choosing another source replaces the first rather than asking for both at once.
    assert params(link_of(section(body, "sources"), "Google"))["f"] == ["is,visit:source,Google"]


def test_filters_combine_and_each_chip_removes_only_itself(seeded, get):
    body = get(f"{RANGE}&f=is,visit:source,Google&f=is_not,visit:country,DE")
    assert cards(body)["visitors"][0] == "1"  # E: Google from GB
    assert rows(section(body, "pages")) == [("/", {"visitors": "1"}), ("/blog/a", {"visitors": "1"})]
    (first, drop_first), (second, drop_second) = chips(body)
    assert (first, second) == ("Source is Google", "Country is not DE")
    assert params(drop_first)["f"] == ["is_not,visit:country,DE"]
    assert params(drop_second)["f"] == ["is,visit:source,Google"]
    assert params(drop_first)["period"] == ["custom"]


def test_a_contains_filter_and_url_encoded_values(seeded, get):
    body = get(f"{RANGE}&f=contains%2Cevent%3Apage%2Cblog")
    assert (cards(body)["visitors"][0], cards(body)["visits"][0]) == ("2", "3")
    assert chips(body)[0][0] == "Page contains blog"
    body = get(f"{RANGE}&f=is%2Cvisit%3Asource%2CDirect+%2F+None")
    assert cards(body)["visitors"][0] == "1"
    assert chips(body)[0][0] == "Source is Direct / None"


def test_a_bookmarked_url_shows_a_teammate_the_same_view(seeded, get, login, bob):
    query = f"{RANGE}&f=is,visit:country,DE&pages=exit"
    mine = get(query)
    theirs = login(bob).get(f"{URL}?{query}").content.decode()
    assert cards(mine) == cards(theirs)
    assert rows(section(mine, "pages")) == rows(section(theirs, "pages")) == [
        ("/blog/a", {"visitors": "1"}), ("/blog/b", {"visitors": "1"}), ("/pricing", {"visitors": "1"}),
    ]  # fmt: skip


def test_the_goals_panel_links_to_the_goals_tab_when_there_are_none(seeded, get):
    panel = section(get(RANGE), "goals")
    assert "No goals yet." in panel
    assert 'href="/sites/example.com/settings/goals/"' in panel


def test_the_goals_panel_shows_conversions_and_rates(goals, get):
    panel = section(get(RANGE), "goals")
    assert headers(panel) == ["Goal", "Uniques", "Total", "CR"]
    assert rows(panel) == [
        ("Visit /pricing", {"visitors": "2", "events": "2", "conversion_rate": "50%"}),
        ("Signup", {"visitors": "1", "events": "1", "conversion_rate": "25%"}),
    ]


def test_a_selected_goal_turns_cards_and_panels_to_conversions(goals, get):
    body = get(f"{RANGE}&f=is,event:goal,Signup")
    assert card_labels(body) == ["Unique conversions", "Total conversions", "Conversion rate"]
    assert {name: value[0] for name, value in cards(body).items()} == {
        "visitors": "1", "events": "1", "conversion_rate": "25%",
    }  # fmt: skip
    sources = section(body, "sources")
    assert headers(sources) == ["Source", "Visitors", "Conversions", "CR"]
    assert rows(sources) == [("Google", {"visitors": "2", "conversions": "1", "conversion_rate": "50%"})]
    # Every goal stays listed, so another can be chosen; the pages panel says why it shows no conversions.
    assert [label for label, _ in rows(section(body, "goals"))] == ["Visit /pricing", "Signup"]
    assert "Conversions are not broken down by page" in section(body, "pages")
    assert chips(body)[0][0] == "Goal is Signup"


def test_the_default_period_is_the_last_30_days(seeded, get):
    body = get()
    assert "11 Feb – 12 Mar 2026 · compared with the previous 30 days" in body
    assert 'class="active" aria-current="true">Last 30 days</a>' in body


@pytest.mark.parametrize(
    ("period", "label", "visitors"),
    [
        ("day", "12 Mar 2026", "0"),
        ("yesterday", "11 Mar 2026", "2"),
        ("7d", "6 Mar – 12 Mar 2026", "5"),
        ("month", "1 Mar – 12 Mar 2026", "5"),
        ("last_month", "1 Feb – 28 Feb 2026", "0"),
        ("12mo", "1 Apr 2025 – 12 Mar 2026", "5"),
    ],
)
def test_named_periods_resolve_in_the_sites_calendar(seeded, get, period, label, visitors):
    body = get(f"period={period}")
    assert f'<p class="muted range-label">{label}' in body
    assert cards(body)["visitors"][0] == visitors


def test_a_custom_range_fills_the_date_form(seeded, get):
    body = get(RANGE)
    assert '<input type="date" name="from" value="2026-03-10" required>' in body
    assert '<input type="date" name="to" value="2026-03-11" required>' in body


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=fortnight", "period: unknown period 'fortnight'"),
        ("period=custom&from=2026-03-01", "period: a custom range needs from and to"),
        ("period=custom&from=2026-02-30&to=2026-03-01", "date_range: dates must look like 2026-01-31"),
        ("period=custom&from=yesterday&to=2026-03-01", "date_range: dates must look like"),
        ("period=custom&from=2026-03-05&to=2026-03-01", "date_range: the end is before the start"),
        ("f=like,visit:source,x", "f: unknown operator 'like'"),
        ("f=matches,event:page,(", "f: unknown operator 'matches'"),
        ("f=is,visit:nope,x", "f: cannot filter on 'visit:nope'"),
        ("f=is,time:day,x", "f: cannot filter on 'time:day'"),
        ("f=is,visit:source", "f: write a filter as operator,dimension,value"),
    ],
)
def test_bad_parameters_get_a_400_naming_the_problem(seeded, get, query, message):
    body = get(query, status=400)
    assert message in text(body)
    assert 'href="/sites/example.com/"' in body

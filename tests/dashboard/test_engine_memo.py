"""Runs that share a page render's memo answer exactly as runs alone; event filters are matched once per render."""

from unittest import mock

from dashboard import engine
from dashboard.query import build
from tests.dashboard.test_engine import TODAY

FILTER_SETS = [
    [["is", "visit:source", ["Google"]], ["is", "event:page", ["/pricing"]]],
    [["is", "event:goal", ["Signup"]]],
    [["contains", "event:page", ["/blog/"]], ["is_not", "visit:country", ["US"]]],
]
QUERIES = [
    {"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]},
    {"metrics": ["visitors"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:country"]},
    {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]},
]
RANGES = [["2026-03-10", "2026-03-11"], ["2026-03-01", "2026-03-12"]]


def grid(site, filters, memo=None):
    return [
        engine.run(site, build({**query, "date_range": dates, "filters": filters}, today=TODAY), memo=memo).rows
        for query in QUERIES
        for dates in RANGES
    ]


def test_a_page_render_matches_event_filters_once_and_answers_like_runs_alone(data):
    for filters in FILTER_SETS:
        memo = {}
        assert grid(data, filters, memo) == grid(data, filters)
        matched = [key for key in memo if key[0] == "matched_visits"]
        assert len(matched) == len(RANGES)  # one per range, whatever the number of panels
        assert all(memo[key] is not None for key in matched)


def test_too_many_matched_visits_are_left_to_the_database(data):
    with mock.patch.object(engine, "MATCHED_IDS_MAX", 0):
        for filters in FILTER_SETS:
            memo = {}
            assert grid(data, filters, memo) == grid(data, filters)
            assert all(memo[key] is None for key in memo if key[0] == "matched_visits")

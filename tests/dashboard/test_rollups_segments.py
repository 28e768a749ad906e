"""Queries with one common filter come from segment rollups and answer exactly what the raw rows answer."""

from datetime import UTC, date, datetime

import pytest

from dashboard import engine
from dashboard.query import build
from sites import services as site_services
from tests.dashboard import reading
from tests.dashboard.test_engine import TODAY
from tests.dashboard.test_rollups_tail import late_traffic, traffic_after_the_snapshot, ts
from tests.tracking.factories import record
from tracking import rollup_provisional, rollup_segments, rollups, services
from tracking.models import DailyRollup, RollupState, SegmentProvisional, SegmentRollup

AFTER_EVERYTHING = datetime(2026, 3, 20, tzinfo=UTC)
# 01:30 in Berlin on 12 March: 10 March is the last complete day, 11 and 12 March are computed live.
NOW = datetime(2026, 3, 12, 0, 30, tzinfo=UTC)
SEGMENTS = [
    ["is", "visit:source", ["Google"]],
    ["is", "visit:country", ["DE"]],
    ["is", "visit:device", ["Desktop"]],
    ["is", "visit:channel", ["Direct"]],
    ["is", "visit:country", ["FR"]],  # no such visits
]
QUERIES = [
    {"metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]},
    {"metrics": ["visitors", "visits", "bounce_rate"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:country"]},
    {"metrics": ["visitors", "visit_duration"], "dimensions": ["visit:entry_page"]},
    {"metrics": ["visitors", "pageviews", "bounce_rate", "visit_duration"], "dimensions": ["event:page"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["time:week"]},
    {"metrics": ["visitors"], "dimensions": ["time:day", "visit:browser"]},
    {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]},
]
RANGES = [["2026-03-10", "2026-03-11"], ["2026-03-08", "2026-03-12"], ["2026-03-11", "2026-03-11"]]


def run(site, query, dates, filters):
    return engine.run(site, build({**query, "date_range": dates, "filters": filters}, today=TODAY)).rows


def answers(site, filter_sets, queries=QUERIES):
    return reading.answers(site, queries, RANGES, filter_sets)


def raw_answers(site, filter_sets, queries=QUERIES):
    return reading.raw_answers(site, queries, RANGES, filter_sets)


def test_one_common_filter_answers_exactly_like_raw_rows(data):
    filter_sets = [[item] for item in SEGMENTS]
    expected = raw_answers(data, filter_sets)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert RollupState.objects.get(site=data).segments_until == date(2026, 3, 18)
    assert SegmentRollup.objects.filter(site=data, segment_dim="country", segment_value="DE").exists()
    assert answers(data, filter_sets) == expected


def test_the_unfilled_tail_under_a_filter_comes_from_the_segment_snapshot(data):
    late_traffic(data)
    filter_sets = [[item] for item in SEGMENTS]
    expected = raw_answers(data, filter_sets)
    rollups.rollups_fill(data, now=NOW)
    state = RollupState.objects.get(site=data)
    assert state.segments_until == date(2026, 3, 10)
    assert state.provisional_segments
    assert set(SegmentProvisional.objects.filter(site=data).values_list("day", flat=True)) == {
        date(2026, 3, 11), date(2026, 3, 12),
    }  # fmt: skip
    assert answers(data, filter_sets) == expected
    RollupState.objects.filter(site=data).update(provisional_segments=False)  # a snapshot without segments: raw
    assert answers(data, filter_sets) == expected


def test_traffic_after_the_snapshot_is_added_under_a_filter(data):
    late_traffic(data)
    rollups.rollups_fill(data, now=NOW)
    google = {"referrer": "https://www.google.com/", "referrer_host": "www.google.com", "source": "Google",
              "channel": "Organic Search"}  # fmt: skip
    # ... and visitor 5 (FR) comes back from Google.
    traffic_after_the_snapshot(
        data, record(data, visitor=5, ts=ts(12, 0, 40), path="/", view="view-f-3-0000000000", country="FR", **google)
    )
    filter_sets = [[item] for item in SEGMENTS]
    assert answers(data, filter_sets) == raw_answers(data, filter_sets)


def test_the_segment_snapshot_is_read_not_raw_rows(data):
    rollups.rollups_fill(data, now=NOW)
    poisoned = SegmentProvisional.objects.filter(site=data, segment_dim="channel", segment_value="Direct", dimension="")
    assert poisoned.filter(day=date(2026, 3, 11)).update(visits=100) == 1  # the answer must show it
    result = run(data, {"metrics": ["visits"]}, ["2026-03-11", "2026-03-11"], [["is", "visit:channel", ["Direct"]]])
    assert result[0]["metrics"] == [100]


def test_refreshing_the_segment_snapshot_twice_changes_nothing(data):
    late_traffic(data)
    rollups.rollups_fill(data, now=NOW)
    columns = ("day", "segment_dim", "segment_value", "dimension", "value", "visitors", "visits", "bounces",
               "duration", "pageviews", "carry_in")  # fmt: skip
    before = sorted(SegmentProvisional.objects.values_list(*columns))
    assert before
    assert rollup_provisional.provisional_refresh(data, now=NOW) == 2
    assert sorted(SegmentProvisional.objects.values_list(*columns)) == before


def test_segment_rollups_are_read_not_raw_rows(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    query = {"metrics": ["visits"]}
    SegmentRollup.objects.filter(site=data, segment_value="DE", dimension="").update(visits=100)  # poisoned
    assert run(data, query, ["2026-03-10", "2026-03-10"], [SEGMENTS[1]]) == [{"dimensions": [], "metrics": [100]}]


def test_unique_visitors_under_a_filter_are_exact_across_midnight(data):
    # Visitor 3 (DE) has visit C on 10 March (Berlin) and visit D on 11 March under one visitor id.
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    carried = SegmentRollup.objects.get(
        site=data, day=date(2026, 3, 11), segment_dim="country", segment_value="DE", dimension="", value=""
    )
    assert (carried.visitors, carried.carry_in) == (1, 1)
    # 10 March: visitors 1 and 3; 11 March: visitor 3 again. Two people, not three.
    assert run(data, {"metrics": ["visitors"]}, ["2026-03-10", "2026-03-11"], [SEGMENTS[1]])[0]["metrics"] == [2]
    by_day = run(data, {"metrics": ["visitors"], "dimensions": ["time:day"]}, ["2026-03-10", "2026-03-11"],
                 [SEGMENTS[1]])  # fmt: skip
    assert [row["metrics"] for row in by_day] == [[2], [1]]  # per day each counts once


@pytest.mark.parametrize("operator", ["is", "is_not", "contains", "contains_not"])
def test_filters_on_the_breakdowns_own_dimension_keep_or_drop_rows(data, operator):
    values = {"is": ["Google"], "is_not": ["Google"], "contains": ["oo"], "contains_not": ["oo"]}[operator]
    page_values = {"is": ["/pricing"], "is_not": ["/"], "contains": ["blog"], "contains_not": ["blog"]}[operator]
    filter_sets = [
        [[operator, "visit:source", values]],
        [[operator, "visit:source", values], SEGMENTS[1]],  # and a segment
        [[operator, "event:page", page_values]],
        [[operator, "event:page", page_values], SEGMENTS[2]],
    ]
    expected = raw_answers(data, filter_sets)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert answers(data, filter_sets) == expected
    # Served from rollups: poisoned rows show (the source breakdown under "source <operator> …"; "is Google" is the
    # Google segment's total).
    if operator == "is":
        SegmentRollup.objects.filter(site=data, segment_value="Google", dimension="").update(visits=50)
    else:
        DailyRollup.objects.filter(site=data, dimension="source").update(visits=50)
    rows = run(data, QUERIES[1], RANGES[0], filter_sets[0])
    assert rows and all(row["metrics"][1] == 50 * 2 for row in rows if row["dimensions"][0] != "Hacker News")


@pytest.mark.parametrize(
    "filters",
    [
        [["is_not", "visit:country", ["DE"]]],
        [["is", "visit:country", ["DE", "GB"]]],
        [["contains", "visit:source", ["oo"]]],
        [["is", "visit:country", ["DE"]], ["is", "visit:device", ["Desktop"]]],
        [["is", "visit:country", ["DE"]], ["is", "event:name", ["Signup"]]],
        [["is", "visit:browser", ["Chrome"]]],  # not a segment dimension
        [["or", [["is", "visit:country", ["DE"]]]]],
    ],
)
def test_filters_rollups_cannot_answer_read_raw_rows(data, filters):
    # Not broken down by a filtered dimension (that filter would only keep or drop rows, as tested above).
    queries = [QUERIES[0], QUERIES[3], QUERIES[4], QUERIES[5], QUERIES[8]]
    expected = raw_answers(data, [filters], queries)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    SegmentRollup.objects.filter(site=data).update(visitors=999, visits=999)  # poisoned: must not be read
    DailyRollup.objects.filter(site=data).update(visitors=999, visits=999)
    assert answers(data, [filters], queries) == expected


def test_filling_segments_twice_changes_nothing(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    columns = ("day", "segment_dim", "segment_value", "dimension", "value", "visitors", "visits", "pageviews",
               "carry_in")  # fmt: skip
    before = sorted(SegmentRollup.objects.values_list(*columns))
    assert rollup_segments.segments_fill(data) == 0
    RollupState.objects.filter(site=data).update(segments_until=date(2026, 3, 9))  # as if a fill crashed
    assert rollup_segments.segments_fill(data) == 9
    assert sorted(SegmentRollup.objects.values_list(*columns)) == before


def test_a_new_goal_refills_the_segments_and_reads_raw_until_then(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    site_services.goal_create(site=data, kind="page", page_path="/")
    filter_sets = [[SEGMENTS[0]], [SEGMENTS[1]]]
    expected = raw_answers(data, filter_sets)
    assert answers(data, filter_sets) == expected  # goal rows of segments lack the new goal: raw rows
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert len(RollupState.objects.get(site=data).segment_goals) == 4
    assert answers(data, filter_sets) == expected


def test_a_visit_viewing_a_page_on_both_sides_of_midnight_counts_once_under_a_filter(site):
    services.events_store(
        [
            record(site, visitor=7, path="/pricing", country="DE", ts=datetime(2026, 3, 10, 22, 50, tzinfo=UTC).timestamp()),
            record(site, visitor=7, path="/pricing", country="DE", ts=datetime(2026, 3, 10, 23, 10, tzinfo=UTC).timestamp()),
        ]
    )  # fmt: skip
    query = {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page"]}
    expected = run(site, query, ["2026-03-10", "2026-03-11"], [SEGMENTS[1]])
    assert expected == [{"dimensions": ["/pricing"], "metrics": [1, 2]}]
    rollups.rollups_fill(site, now=AFTER_EVERYTHING)
    assert run(site, query, ["2026-03-10", "2026-03-11"], [SEGMENTS[1]]) == expected

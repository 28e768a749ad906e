"""Rollups answer exactly what the raw rows answer, with or without an unfilled tail."""

from datetime import UTC, date, datetime

import pytest

from dashboard import engine
from dashboard.query import build
from tests.dashboard import reading
from tests.dashboard.test_engine import TODAY
from tests.tracking.factories import record
from tracking import rollups, services
from tracking.models import DailyRollup, RollupState

AFTER_EVERYTHING = datetime(2026, 3, 20, tzinfo=UTC)
QUERIES = [
    {"metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"]},
    {"metrics": ["visitors", "visits", "bounce_rate"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:country"]},
    {"metrics": ["visitors", "visit_duration"], "dimensions": ["visit:entry_page"]},
    {"metrics": ["visitors", "pageviews", "bounce_rate", "visit_duration"], "dimensions": ["event:page"]},
    {"metrics": ["visitors", "pageviews", "events"], "dimensions": ["time:day"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["time:week"]},
    {"metrics": ["visitors"], "dimensions": ["time:month"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["time:day", "visit:browser"]},
]
RANGES = [["2026-03-10", "2026-03-11"], ["2026-03-08", "2026-03-12"], ["2026-03-11", "2026-03-11"]]


def answers(site):
    return reading.answers(site, QUERIES, RANGES)


def raw_answers(site):
    return reading.raw_answers(site, QUERIES, RANGES)


def test_rollups_answer_exactly_like_raw_rows(data):
    expected = answers(data)  # no rollups yet: raw
    assert rollups.rollups_fill(data, now=AFTER_EVERYTHING) >= 2
    assert DailyRollup.objects.filter(site=data).exists()
    assert answers(data) == expected


def test_a_visitor_on_two_adjacent_days_is_carried_not_double_counted(data):
    # Visitor 3's visits C (10 March, Berlin) and D (11 March) share one visitor id.
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    carry = DailyRollup.objects.get(site=data, day=date(2026, 3, 10), dimension="", value="").carry
    assert carry == 1
    total = engine.run(data, build({"metrics": ["visitors"], "date_range": ["2026-03-10", "2026-03-11"]}, today=TODAY))
    assert total.rows[0]["metrics"] == [4]


def test_the_unfilled_tail_comes_from_raw_rows(data):
    expected = raw_answers(data)
    # Only 10 March is complete: 11 March and later are computed live, carries across the boundary too.
    rollups.rollups_fill(data, now=datetime(2026, 3, 11, 2, 30, tzinfo=UTC))
    assert RollupState.objects.get(site=data).complete_until == date(2026, 3, 10)
    assert answers(data) == expected


def test_filling_twice_changes_nothing(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    before = sorted(DailyRollup.objects.values_list("day", "dimension", "value", "visitors", "visits", "carry"))
    assert rollups.rollups_fill(data, now=AFTER_EVERYTHING) == 0
    RollupState.objects.filter(site=data).update(complete_until=date(2026, 3, 9))  # as if a fill crashed
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    after = sorted(DailyRollup.objects.values_list("day", "dimension", "value", "visitors", "visits", "carry"))
    assert after == before


def test_a_timezone_change_rebuilds_the_days(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    data.timezone = "America/New_York"
    data.save()
    expected = raw_answers(data)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert RollupState.objects.get(site=data).timezone == "America/New_York"
    assert answers(data) == expected


def test_filtered_queries_never_use_the_unfiltered_rollups(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    DailyRollup.objects.filter(site=data).update(visitors=999)  # poisoned: a filtered total must not see them
    result = engine.run(
        data,
        build(
            {
                "metrics": ["visitors"],
                "date_range": ["2026-03-10", "2026-03-11"],
                "filters": [["is", "visit:country", ["DE"]]],
            },
            today=TODAY,
        ),
    )
    assert result.rows[0]["metrics"] == [2]


@pytest.mark.django_db
def test_a_site_without_data_fills_nothing(site):
    assert rollups.rollups_fill(site, now=AFTER_EVERYTHING) == 0
    services.events_store([record(site, ts=datetime(2026, 3, 18, 12, tzinfo=UTC).timestamp())])
    # 19 March (Berlin) is complete only at 02:00 on the 20th, one hour after "now".
    assert rollups.rollups_fill(site, now=AFTER_EVERYTHING) == 1


def test_the_beat_task_and_the_command_fill_every_site(data, charlies_site):
    from django.core.management import CommandError, call_command

    from tracking.tasks import fill_rollups

    assert fill_rollups() >= 2  # the task body; a real Celery worker runs beat tasks in the revenue tests
    assert RollupState.objects.get(site=data).complete_until is not None
    call_command("fill_rollups", "--site", "example.com", "--rebuild")
    with pytest.raises(CommandError, match="No site"):
        call_command("fill_rollups", "--site", "nope.example")


def test_a_visit_viewing_a_page_on_both_sides_of_midnight_counts_once(site):
    # Berlin midnight is 23:00 UTC: one visit with /pricing at 22:50 and 23:10 UTC spans two local days.
    services.events_store(
        [
            record(site, visitor=7, path="/pricing", ts=datetime(2026, 3, 10, 22, 50, tzinfo=UTC).timestamp()),
            record(site, visitor=7, path="/pricing", ts=datetime(2026, 3, 10, 23, 10, tzinfo=UTC).timestamp()),
        ]
    )
    query = {
        "metrics": ["visitors", "visits", "pageviews"],
        "dimensions": ["event:page"],
        "date_range": ["2026-03-10", "2026-03-11"],
    }
    expected = engine.run(site, build(query, today=TODAY)).rows
    assert expected == [{"dimensions": ["/pricing"], "metrics": [1, 1, 2]}]
    rollups.rollups_fill(site, now=AFTER_EVERYTHING)
    assert engine.run(site, build(query, today=TODAY)).rows == expected

"""Complete weeks are summed into WeeklyRollup, and ranges that contain them answer exactly what raw rows answer."""

from datetime import UTC, date, datetime

from dashboard import engine
from dashboard.query import build
from sites import services as site_services
from tests.dashboard import reading
from tests.dashboard.test_engine import TODAY
from tests.dashboard.test_rollups import QUERIES
from tests.dashboard.test_rollups_tail import ts
from tests.tracking.factories import record
from tracking import rollups, services
from tracking.models import RollupState, WeeklyRollup

# 01:00 in Berlin on 20 March: 18 March is the last complete day, so the week of 9–15 March (Monday to Sunday) is
# summed (the Monday after, 16 March, is complete: the Sunday's carry into it is final) and 16–22 March is not.
AFTER_EVERYTHING = datetime(2026, 3, 20, tzinfo=UTC)
RANGES = [
    ["2026-03-09", "2026-03-15"],  # the week alone
    ["2026-03-08", "2026-03-16"],  # the week and a day on each side
    ["2026-03-10", "2026-03-16"],  # not the whole week: days only
    ["2026-03-01", "2026-03-18"],  # the week inside a longer range, up to the last complete day
    ["2026-03-09", "2026-03-20"],  # the week, days, and the tail
]


def across_sunday_midnight(site):
    """Visitor 9 visits at 23:50 on Sunday 15 March (Berlin) and again at 00:40 on Monday: a carry out of the week."""
    services.events_store(
        [
            record(site, visitor=9, ts=ts(15, 22, 50), path="/", view="view-w-1-0000000000", country="FR"),
            record(site, visitor=9, ts=ts(15, 23, 40), path="/pricing", view="view-w-2-0000000000", country="FR"),
        ]
    )


def test_a_complete_week_is_summed_once_the_monday_after_is_complete(data):
    across_sunday_midnight(data)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    state = RollupState.objects.get(site=data)
    assert (state.complete_until, state.weeks_until) == (date(2026, 3, 18), date(2026, 3, 15))
    assert set(WeeklyRollup.objects.filter(site=data).values_list("day", flat=True)) == {date(2026, 3, 9)}
    total = WeeklyRollup.objects.get(site=data, dimension="", value="")
    # Visitors 1–4 (visitor 3 on two days: carried inside the week) and visitor 9's Sunday; 9 carries into Monday.
    assert (total.visitors, total.carry) == (5, 1)


def test_ranges_with_complete_weeks_answer_exactly_like_raw_rows(data):
    across_sunday_midnight(data)
    expected = reading.raw_answers(data, QUERIES, RANGES)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert reading.answers(data, QUERIES, RANGES) == expected


def test_the_week_is_read_not_its_days(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert WeeklyRollup.objects.filter(site=data, dimension="").update(visits=100) == 1  # the answer must show it
    result = engine.run(data, build({"metrics": ["visits"], "date_range": ["2026-03-09", "2026-03-15"]}, today=TODAY))
    assert result.rows[0]["metrics"] == [100]


def test_filling_weeks_twice_changes_nothing(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    columns = ("day", "dimension", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry")
    before = sorted(WeeklyRollup.objects.values_list(*columns))
    assert rollups.weeks_fill(data) == 0
    RollupState.objects.filter(site=data).update(weeks_until=None)  # as if a fill crashed before moving it
    assert rollups.weeks_fill(data) == 1
    assert sorted(WeeklyRollup.objects.values_list(*columns)) == before


def test_a_goal_backfilled_into_past_days_sums_the_weeks_again(data):
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    goal = site_services.goal_create(site=data, kind="page", page_path="/blog/b")
    expected = reading.raw_answers(data, [{"metrics": ["visitors", "events"], "dimensions": ["event:goal"]}], RANGES)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert WeeklyRollup.objects.filter(site=data, dimension="goal", value=str(goal.pk)).exists()
    answers = reading.answers(data, [{"metrics": ["visitors", "events"], "dimensions": ["event:goal"]}], RANGES)
    assert answers == expected

"""Complete months are summed into MonthlyRollup, and ranges that contain them answer exactly what raw rows answer."""

from datetime import UTC, date, datetime

from dashboard import engine
from dashboard.query import build
from dashboard.rollup_reader import _blocks
from sites import services as site_services
from tests.dashboard import reading
from tests.dashboard.test_engine import TODAY
from tests.dashboard.test_rollups import QUERIES
from tests.dashboard.test_rollups_weeks import AFTER_EVERYTHING
from tests.tracking.factories import record
from tracking import rollups, services
from tracking.models import MonthlyRollup, RollupState

RANGES = [
    ["2026-02-01", "2026-02-28"],  # the month alone
    ["2026-01-31", "2026-03-01"],  # the month and a day on each side
    ["2026-02-02", "2026-02-28"],  # not the whole month: weeks and days
    ["2026-02-01", "2026-03-18"],  # the month, a week, days, up to the last complete day
    ["2026-01-20", "2026-03-20"],  # days, the month, weeks, days and the tail
]


def ts(month, day, hour, minute):
    return datetime(2026, month, day, hour, minute, tzinfo=UTC).timestamp()


def february(site):
    """Traffic in February (Berlin), and visitor 8 again after midnight, on 1 March: a carry out of the month."""
    services.events_store(
        [
            record(site, visitor=21, ts=ts(2, 3, 10, 0), path="/", view="view-m-1-0000000000", country="FR"),
            record(site, visitor=21, ts=ts(2, 3, 10, 5), path="/pricing", view="view-m-2-0000000000", country="FR"),
            record(site, visitor=22, ts=ts(2, 14, 9, 0), path="/blog/a", view="view-m-3-0000000000", country="GB"),
            record(site, visitor=22, ts=ts(2, 15, 9, 0), path="/blog/b", view="view-m-4-0000000000", country="GB"),
            record(site, visitor=8, ts=ts(2, 28, 22, 50), path="/", view="view-m-5-0000000000"),
            record(site, visitor=8, ts=ts(2, 28, 23, 40), path="/pricing", view="view-m-6-0000000000"),
        ]
    )


def test_a_complete_month_is_summed_once_the_day_after_is_complete(data):
    february(data)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    state = RollupState.objects.get(site=data)
    assert state.months_until == date(2026, 2, 28)  # March is not complete yet
    assert set(MonthlyRollup.objects.filter(site=data).values_list("day", flat=True)) == {date(2026, 2, 1)}
    total = MonthlyRollup.objects.get(site=data, dimension="", value="")
    # Visitors 21, 22 (on two days: carried inside the month) and 8, who carries into 1 March.
    assert (total.visitors, total.carry) == (3, 1)


def test_ranges_with_complete_months_answer_exactly_like_raw_rows(data):
    february(data)
    expected = reading.raw_answers(data, QUERIES, RANGES)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert reading.answers(data, QUERIES, RANGES) == expected


def test_the_month_is_read_not_its_weeks_or_days(data):
    february(data)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert MonthlyRollup.objects.filter(site=data, dimension="").update(visits=100) == 1  # the answer must show it
    result = engine.run(data, build({"metrics": ["visits"], "date_range": ["2026-02-01", "2026-02-28"]}, today=TODAY))
    assert result.rows[0]["metrics"] == [100]


def test_a_range_is_cut_into_months_weeks_and_days_exactly(data):
    february(data)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    state = RollupState.objects.get(site=data)
    months, weeks, days = _blocks(date(2026, 1, 20), date(2026, 3, 18), state)
    assert months == [date(2026, 2, 1)]
    assert weeks == [
        date(2026, 3, 2),
        date(2026, 3, 9),
    ]  # 26 January–1 February reaches into the month; 16–22 March is not summed
    covered = {m.replace(day=d) for m in months for d in range(1, 29)}
    covered |= {date.fromordinal(w.toordinal() + i) for w in weeks for i in range(7)} | set(days)
    assert sorted(covered) == [
        date.fromordinal(n) for n in range(date(2026, 1, 20).toordinal(), date(2026, 3, 19).toordinal())
    ]
    assert len(covered) == 28 + 7 * len(weeks) + len(days)  # no day twice


def test_filling_months_twice_changes_nothing(data):
    february(data)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    columns = ("day", "dimension", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry")
    before = sorted(MonthlyRollup.objects.values_list(*columns))
    assert rollups.months_fill(data) == 0
    RollupState.objects.filter(site=data).update(months_until=None)  # as if a fill crashed before moving it
    assert rollups.months_fill(data) == 1
    assert sorted(MonthlyRollup.objects.values_list(*columns)) == before


def test_a_goal_backfilled_into_past_days_sums_the_months_again(data):
    february(data)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    goal = site_services.goal_create(site=data, kind="page", page_path="/blog/b")
    query = [{"metrics": ["visitors", "events"], "dimensions": ["event:goal"]}]
    expected = reading.raw_answers(data, query, RANGES)
    rollups.rollups_fill(data, now=AFTER_EVERYTHING)
    assert MonthlyRollup.objects.filter(site=data, dimension="goal", value=str(goal.pk)).exists()
    assert reading.answers(data, query, RANGES) == expected

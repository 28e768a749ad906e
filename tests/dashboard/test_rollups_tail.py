"""The provisional tail and the goal rollups answer exactly what the raw rows answer."""

from datetime import UTC, date, datetime

import pytest

from dashboard import engine
from dashboard.query import build
from sites import services as site_services
from tests.dashboard import reading
from tests.dashboard.test_engine import TODAY
from tests.dashboard.test_rollups import QUERIES, RANGES
from tests.tracking.factories import record
from tracking import rollup_provisional, rollups, services
from tracking.models import DailyRollup, ProvisionalRollup, RollupState

# 01:30 in Berlin on 12 March: 10 March is the last complete day, 11 and 12 March are the provisional tail.
NOW = datetime(2026, 3, 12, 0, 30, tzinfo=UTC)
GOAL_QUERIES = [
    {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]},
    {"metrics": ["visitors", "visits", "events"], "dimensions": ["event:goal"]},
]
ALL_RANGES = [*RANGES, ["2026-03-12", "2026-03-12"], ["2026-03-01", "2026-03-12"]]
SEGMENT_FILTERS = [[["is", "visit:country", ["FR"]]], [["is", "visit:source", ["Direct / None"]]]]  # one visit filter


def ts(day, hour, minute):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp()


def answers(site):
    return reading.answers(site, [*QUERIES, *GOAL_QUERIES], ALL_RANGES)


def raw_answers(site):
    return reading.raw_answers(site, [*QUERIES, *GOAL_QUERIES], ALL_RANGES)


def late_traffic(site):
    """Visits around the cutoff (23:50 UTC on 11 March): some settled, some still open, one visitor on both days."""
    services.events_store(
        [
            # Visitor 5 starts before the cutoff and goes on after it: an open visit of 12 March (Berlin).
            record(site, visitor=5, ts=ts(11, 23, 40), path="/pricing", view="view-f-1-0000000000", country="FR"),
            record(site, visitor=5, ts=ts(11, 23, 55), path="/blog/c", view="view-f-2-0000000000", country="FR"),
            record(site, kind="event", name="Signup", visitor=5, ts=ts(11, 23, 56), path="/blog/c",
                   view="view-f-2-0000000000", country="FR"),
            # Visitor 4 was here on 11 March (Berlin) and comes back on 12 March, after the cutoff.
            record(site, visitor=4, ts=ts(11, 23, 52), path="/blog/a", view="view-g-1-0000000000", country="GB"),
        ]
    )  # fmt: skip


def test_the_provisional_tail_answers_exactly_like_raw_rows(data):
    late_traffic(data)
    expected = raw_answers(data)
    rollups.rollups_fill(data, now=NOW)
    state = RollupState.objects.get(site=data)
    assert (state.complete_until, state.provisional_from, state.provisional_until) == (
        date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12),
    )  # fmt: skip
    assert state.provisional_cutoff == datetime(2026, 3, 11, 23, 50, tzinfo=UTC)
    assert ProvisionalRollup.objects.filter(site=data, day=date(2026, 3, 12)).exists()
    assert answers(data) == expected


def traffic_after_the_snapshot(site, *more):
    """Stored after the snapshot (NOW), some of it stamped in its last minutes (a record takes up to STORED_WITHIN to
    be stored): visitor 4 (GB) goes on with its open visit, visitor 6 (DE) is new."""
    services.events_store(
        [
            record(site, visitor=4, ts=ts(12, 0, 29), path="/pricing", view="view-g-2-0000000000", country="GB"),
            record(site, visitor=6, ts=ts(12, 0, 31), path="/", view="view-h-1-0000000000", country="DE"),
            record(site, kind="event", name="Signup", visitor=6, ts=ts(12, 0, 34), path="/",
                   view="view-h-1-0000000000", country="DE"),
            *more,
        ]
    )  # fmt: skip


def test_traffic_after_the_snapshot_is_added_from_raw_rows(data):
    late_traffic(data)
    rollups.rollups_fill(data, now=NOW)
    traffic_after_the_snapshot(data)
    assert answers(data) == raw_answers(data)


def test_the_snapshot_is_used_not_raw_rows(data):
    rollups.rollups_fill(data, now=NOW)
    ProvisionalRollup.objects.filter(site=data, dimension="").update(visits=100)  # poisoned: the tail must show it
    result = engine.run(data, build({"metrics": ["visits"], "date_range": ["2026-03-11", "2026-03-11"]}, today=TODAY))
    assert result.rows[0]["metrics"] == [100]


def test_refreshing_the_snapshot_twice_changes_nothing(data):
    late_traffic(data)
    rollups.rollups_fill(data, now=NOW)
    columns = ("day", "dimension", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry_in")
    before = sorted(ProvisionalRollup.objects.values_list(*columns))
    assert rollup_provisional.provisional_refresh(data, now=NOW) == 2
    assert sorted(ProvisionalRollup.objects.values_list(*columns)) == before


def test_goal_breakdowns_come_from_goal_rollups(data):
    rollups.rollups_fill(data, now=datetime(2026, 3, 20, tzinfo=UTC))
    goal_rows = DailyRollup.objects.filter(site=data, dimension="goal")
    # 10 March (Berlin): /pricing twice, one Signup, /blog/a once; 11 March: /blog/b and /blog/a.
    assert sorted(goal_rows.values_list("day", "pageviews")) == [
        (date(2026, 3, 10), 1), (date(2026, 3, 10), 1), (date(2026, 3, 10), 2), (date(2026, 3, 11), 2),
    ]  # fmt: skip
    goal_rows.update(pageviews=50)  # poisoned: the unfiltered goal breakdown must show it
    result = engine.run(data, build({**GOAL_QUERIES[0], "date_range": ["2026-03-09", "2026-03-11"]}, today=TODAY))
    assert {row["dimensions"][0]: row["metrics"][1] for row in result.rows} == {
        "Visit /pricing": 50, "Signup": 50, "Visit /blog/*": 100,
    }  # fmt: skip


def test_a_goal_added_later_shows_its_past_days(data):
    rollups.rollups_fill(data, now=NOW)
    goal = site_services.goal_create(site=data, kind="page", page_path="/")
    expected = raw_answers(data)
    assert goal.pk not in RollupState.objects.get(site=data).goals_filled
    assert answers(data) == expected  # read raw until backfilled
    rollups.rollups_fill(data, now=NOW)  # the beat task's next run backfills it
    assert goal.pk in RollupState.objects.get(site=data).goals_filled
    assert DailyRollup.objects.filter(site=data, dimension="goal", value=str(goal.pk), day=date(2026, 3, 10)).exists()
    assert answers(data) == expected
    rows = engine.run(data, build({**GOAL_QUERIES[0], "date_range": ["2026-03-09", "2026-03-12"]}, today=TODAY)).rows
    assert {"dimensions": ["Visit /"], "metrics": [2, 2, 50.0]} in rows


def test_backfilling_goals_twice_changes_nothing(data):
    rollups.rollups_fill(data, now=datetime(2026, 3, 20, tzinfo=UTC))
    columns = ("day", "dimension", "value", "visitors", "visits", "pageviews", "carry")
    before = sorted(DailyRollup.objects.values_list(*columns))
    RollupState.objects.filter(site=data).update(goals_filled=[])  # as if the backfill had crashed before marking
    assert rollups.goals_backfill(data) == 9  # 10 to 18 March
    assert sorted(DailyRollup.objects.values_list(*columns)) == before
    assert rollups.goals_backfill(data) == 0


def test_runs_sharing_a_memo_read_the_state_and_the_active_rows_once(data):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    late_traffic(data)
    expected = raw_answers(data)
    rollups.rollups_fill(data, now=NOW)
    memo = {}
    with CaptureQueriesContext(connection) as captured:
        got = [
            engine.run(data, build({**query, "date_range": dates}, today=TODAY), memo=memo).rows
            for query in [*QUERIES, *GOAL_QUERIES]
            for dates in ALL_RANGES
        ]
    assert got == expected  # one memo across different queries and ranges changes no answer
    sql = [q["sql"] for q in captured.captured_queries]
    assert sum('FROM "tracking_rollupstate"' in s for s in sql) == 1
    # The active visitors' visits: per distinct tail window, once with the usual columns and at most once more
    # with all of them (for a rarer dimension), not once per query.
    reads = [s.split("WHERE", 1)[1] for s in sql if s.startswith('SELECT "tracking_visit"."id"')]
    assert reads and all(reads.count(window) <= 2 for window in reads)
    assert len(reads) < len(QUERIES + GOAL_QUERIES) * len(ALL_RANGES) / 3


def test_the_snapshot_keeps_its_open_visits_and_a_snapshot_without_them_still_answers_exactly(data):
    from tracking.models import ProvisionalVisit, Visit

    late_traffic(data)
    rollups.rollups_fill(data, now=NOW)
    state = RollupState.objects.get(site=data)
    open_visits = Visit.objects.filter(site=data, last_seen_at__gte=state.provisional_cutoff)
    kept = ProvisionalVisit.objects.filter(site=data)
    assert open_visits and set(kept.values_list("visit_id", flat=True)) == set(open_visits.values_list("id", flat=True))
    assert set(kept.values_list("visitor_id", flat=True)) == set(open_visits.values_list("visitor_id", flat=True))
    expected = raw_answers(data)
    assert answers(data) == expected
    assert reading.answers(data, QUERIES, ALL_RANGES, SEGMENT_FILTERS) == reading.raw_answers(
        data, QUERIES, ALL_RANGES, SEGMENT_FILTERS
    )
    # A snapshot taken before the open visits were kept: the segment snapshot's correction finds them by a scan,
    # the unfiltered tail is read raw.
    RollupState.objects.filter(site=data).update(provisional_seen=None)
    assert answers(data) == expected
    assert reading.answers(data, QUERIES, ALL_RANGES, SEGMENT_FILTERS) == reading.raw_answers(
        data, QUERIES, ALL_RANGES, SEGMENT_FILTERS
    )


def test_a_record_of_the_snapshots_last_minutes_counts_once_whether_stored_before_or_after_it(data):
    late_traffic(data)
    # 00:29, inside the snapshot's last STORED_WITHIN (00:28–00:30): stored before it, so it saw this one...
    services.events_store(
        [record(data, visitor=5, ts=ts(12, 0, 29), path="/docs", view="view-f-4-0000000000", country="FR")]
    )
    rollups.rollups_fill(data, now=NOW)
    assert RollupState.objects.get(site=data).provisional_at == NOW
    # ... and these after it: one stamped in the same minutes (its visit is read again), one after.
    services.events_store(
        [
            record(data, visitor=5, ts=ts(12, 0, 29) + 20, path="/docs/b", view="view-f-5-0000000000", country="FR"),
            record(data, visitor=5, ts=ts(12, 0, 40), path="/docs", view="view-f-6-0000000000", country="FR"),
        ]
    )
    assert answers(data) == raw_answers(data)


def a_bounce_before_the_snapshot(site):
    """Visitor 7's visit, a bounce on /blog/a when the snapshot (NOW) sees it."""
    services.events_store([record(site, visitor=7, ts=ts(12, 0, 20), path="/blog/a", view="view-k-1-0000000000")])


def open_visits_changed_after_the_snapshot(site):
    """Visitor 7's visit becomes two page views ending on /pricing; an engagement (no page view of its own) makes
    visitor 5's open visit longer."""
    services.events_store(
        [
            record(site, visitor=7, ts=ts(12, 0, 35), path="/pricing", view="view-k-2-0000000000"),
            record(site, kind="engagement", visitor=5, ts=ts(12, 0, 31), view="view-f-2-0000000000",
                   engaged_ms=30 * 60_000),
        ]
    )  # fmt: skip


def test_an_open_visit_changed_after_the_snapshot_is_counted_as_it_is_now(data):
    late_traffic(data)
    a_bounce_before_the_snapshot(data)
    rollups.rollups_fill(data, now=NOW)
    open_visits_changed_after_the_snapshot(data)
    assert answers(data) == raw_answers(data)


def test_the_correction_reads_only_the_visitors_whose_rows_changed_since_the_snapshot(data):
    from tracking.models import Visit

    late_traffic(data)
    rollups.rollups_fill(data, now=NOW)
    traffic_after_the_snapshot(data)  # visitors 4 and 6; visitor 5's open visit has not changed
    memo = {}
    query = {"metrics": ["visitors", "visits", "bounce_rate"], "dimensions": ["visit:country"]}
    rows = engine.run(data, build({**query, "date_range": ["2026-03-12", "2026-03-12"]}, today=TODAY), memo=memo).rows
    assert rows == reading.raw_answers(data, [query], [["2026-03-12", "2026-03-12"]])[0]
    (read,) = [found for key, found in memo.items() if key[0] == "changed_rows"]
    visitors = set(Visit.objects.filter(id__in=read["ids"]).values_list("visitor_id", flat=True))
    expected = set(Visit.objects.filter(site=data, pageviews__gt=0).values_list("visitor_id", flat=True))
    assert visitors and visitors < expected
    assert visitors == set(
        Visit.objects.filter(site=data, last_seen_at__gte=datetime(2026, 3, 12, 0, 28, tzinfo=UTC)).values_list(
            "visitor_id", flat=True
        )
    )


@pytest.mark.django_db(transaction=True)
def test_a_refresh_outside_a_transaction_reads_everything_in_one_repeatable_read_view(data):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    late_traffic(data)
    expected = raw_answers(data)
    assert not connection.in_atomic_block  # as in the beat task's worker: no test transaction around the refresh
    with CaptureQueriesContext(connection) as captured:
        rollups.rollups_fill(data, now=NOW)
    sql = [q["sql"] for q in captured.captured_queries]
    if connection.vendor == "postgresql":  # SQLite's transactions see one state anyway
        # PostgreSQL refuses the setting after a statement of the transaction: taking it at all says it came first.
        isolation = sql.index("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        assert any(s.startswith('SELECT "tracking_visit"') for s in sql[isolation:])  # the snapshot's reads follow
    assert answers(data) == expected

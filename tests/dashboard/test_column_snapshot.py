"""The column store's snapshot of the days after it holds everything stored when it was taken; a render reads again
only the visits changed since, and answers exactly what the raw rows answer."""

import importlib
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
from django.apps import apps

from dashboard import engine
from dashboard.query import build
from tests.dashboard import reading
from tests.dashboard.test_column_reader import FILTER_SETS, NOW, QUERIES, ts
from tests.dashboard.test_engine import TODAY
from tests.dashboard.test_rollups_tail import (
    a_bounce_before_the_snapshot,
    late_traffic,
    open_visits_changed_after_the_snapshot,
    traffic_after_the_snapshot,
)
from tests.tracking.factories import record
from tracking import columns, rollups, services
from tracking.models import ProvisionalColumns, RollupState, Visit

# 12 March (Berlin) is the snapshot's last day; 11 March is in it too.
TAIL_RANGES = [["2026-03-12", "2026-03-12"], ["2026-03-05", "2026-03-12"]]


def tail_grid(site):
    return reading.answers(site, QUERIES, TAIL_RANGES, FILTER_SETS)


def raw_tail_grid(site):
    return reading.raw_answers(site, QUERIES, TAIL_RANGES, FILTER_SETS)


def snapshot_ids(site, day):
    row = ProvisionalColumns.objects.get(site=site, day=day, name="visit_id")
    return set(columns.unpack(row.dtype, row.data).tolist())


def test_the_snapshot_holds_every_visit_stored_when_it_was_taken_open_or_not(busy):
    late_traffic(busy)
    rollups.rollups_fill(busy, now=NOW)
    state = RollupState.objects.get(site=busy)
    assert state.provisional_at == NOW and state.provisional_columns_after == date(2026, 3, 10)
    for day in (date(2026, 3, 11), date(2026, 3, 12)):
        start, end = rollups.day_bounds(ZoneInfo(busy.timezone), day)
        stored = set(
            Visit.objects.filter(site=busy, started_at__gte=start, started_at__lt=end).values_list("id", flat=True)
        )
        assert stored and snapshot_ids(busy, day) == stored
    # Visits still open at the cutoff are in it too (before, they were left out and read raw on every render).
    open_ids = set(
        Visit.objects.filter(site=busy, last_seen_at__gte=state.provisional_cutoff).values_list("id", flat=True)
    )
    assert open_ids and open_ids <= snapshot_ids(busy, date(2026, 3, 12)) | snapshot_ids(busy, date(2026, 3, 11))


def test_filtered_answers_from_the_snapshot_with_nothing_changed_since_are_those_of_raw_rows(busy):
    late_traffic(busy)
    rollups.rollups_fill(busy, now=NOW)
    assert tail_grid(busy) == raw_tail_grid(busy)


def test_a_visit_changed_after_the_snapshot_counts_once_and_as_it_is_now(busy):
    late_traffic(busy)
    a_bounce_before_the_snapshot(busy)
    rollups.rollups_fill(busy, now=NOW)
    # Visitor 7's page views are the snapshot's one and the new one, not the first one twice; visitor 5's open visit is
    # longer; visitor 4 goes on and visitor 6 is new.
    open_visits_changed_after_the_snapshot(busy)
    traffic_after_the_snapshot(busy)
    assert tail_grid(busy) == raw_tail_grid(busy)


def test_a_record_of_the_snapshots_last_minutes_counts_once_whether_stored_before_or_after_it(busy):
    late_traffic(busy)
    # 00:29, inside the snapshot's last STORED_WITHIN: stored before it, so the snapshot holds this one...
    services.events_store(
        [record(busy, visitor=8, ts=ts(12, 0, 29), path="/pricing", view="view-m-1-0000000000", country="DE")]
    )
    rollups.rollups_fill(busy, now=NOW)
    # ... and these after it: one stamped in the same minutes (its visit is read again, not added twice), one after.
    services.events_store(
        [
            record(busy, visitor=8, ts=ts(12, 0, 29) + 20, path="/docs", view="view-m-2-0000000000", country="DE"),
            record(busy, kind="event", name="Signup", visitor=8, ts=ts(12, 0, 40), path="/docs",
                   view="view-m-2-0000000000", country="DE"),
        ]
    )  # fmt: skip
    assert tail_grid(busy) == raw_tail_grid(busy)


def test_a_render_reads_again_only_the_visits_changed_since_the_snapshot(busy):
    late_traffic(busy)
    rollups.rollups_fill(busy, now=NOW)
    traffic_after_the_snapshot(busy)  # visitor 4 goes on, visitor 6 is new; visitor 5's open visit has not changed
    memo = {}
    query = {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:country"],
             "filters": FILTER_SETS[0], "date_range": ["2026-03-12", "2026-03-12"]}  # fmt: skip
    rows = engine.run(busy, build(query, today=TODAY), memo=memo).rows
    assert rows == reading.raw_answers(busy, [query], [query["date_range"]])[0]
    (read,) = [found for render in memo.values() if isinstance(render, dict) for key, found in render.items()
               if isinstance(key, tuple) and key[0] == "columns_changed"]  # fmt: skip
    recent = datetime(2026, 3, 12, 0, 28, tzinfo=UTC)  # the snapshot's last STORED_WITHIN and since
    expected = set(Visit.objects.filter(site=busy, last_seen_at__gte=recent).values_list("id", flat=True))
    assert read[0] and set(read[0]) == expected
    assert len(expected) < Visit.objects.filter(site=busy, last_seen_at__gte=NOW - rollups.SETTLED_AFTER).count()


def test_the_upgrade_sets_aside_column_snapshots_of_the_old_kind(busy):
    rollups.rollups_fill(busy, now=NOW)
    assert ProvisionalColumns.objects.filter(site=busy).exists()
    migration = importlib.import_module("tracking.migrations.0020_provisional_columns_as_stored")
    migration.forget_old_snapshots(apps, None)
    assert RollupState.objects.get(site=busy).provisional_columns_after is None  # the days after the store: raw
    assert not ProvisionalColumns.objects.filter(site=busy).exists()
    assert tail_grid(busy)[:3] == raw_tail_grid(busy)[:3]


def test_visitor_numbers_of_new_visits_follow_the_snapshots_and_keep_a_known_visitors_number(busy):
    late_traffic(busy)
    rollups.rollups_fill(busy, now=NOW)
    traffic_after_the_snapshot(busy)  # visitor 4 was seen before the snapshot, visitor 6 is new
    from dashboard import column_reader

    memo = {}
    query = build({"metrics": ["visitors"], "filters": FILTER_SETS[2], "date_range": TAIL_RANGES[1]}, today=TODAY)
    engine.run(busy, query, memo=memo)
    (frame,) = [value for key, value in memo.items() if key[0] == "columns_frame"]
    assert isinstance(frame, column_reader.Frame)
    visitors, numbers = frame.visits("visitor")[0], frame.visits("vnum")[0]
    by_visitor = {}
    for visitor, number in zip(visitors.tolist(), numbers.tolist(), strict=True):
        by_visitor.setdefault(visitor, set()).add(number)
    assert all(len(n) == 1 for n in by_visitor.values())  # one number per visitor id
    assert len({next(iter(n)) for n in by_visitor.values()}) == len(by_visitor)  # and one visitor id per number
    assert np.isin([4, 6], visitors).all()


def test_a_store_too_far_behind_gets_no_snapshot_and_its_days_are_read_raw(busy, monkeypatch):
    late_traffic(busy)
    monkeypatch.setattr(columns, "SNAPSHOT_MAX_DAYS", 1)  # 11 and 12 March follow the store: two days, one too many
    rollups.rollups_fill(busy, now=NOW)
    assert RollupState.objects.get(site=busy).provisional_columns_after is None
    assert not ProvisionalColumns.objects.filter(site=busy).exists()
    assert tail_grid(busy) == raw_tail_grid(busy)


def test_a_range_ending_before_the_snapshots_last_day_is_answered_from_it(busy, monkeypatch):
    from dashboard import column_reader

    late_traffic(busy)
    rollups.rollups_fill(busy, now=NOW)
    traffic_after_the_snapshot(busy)  # visitor 6's new visit starts on 12 March, after the range below
    answered = []
    families = column_reader.families
    monkeypatch.setattr(column_reader, "families", lambda run: answered.append(families(run)) or answered[-1])
    query = {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:country"], "filters": FILTER_SETS[0]}
    dates = ["2026-03-05", "2026-03-11"]  # 11 March is the snapshot's first day, 12 March its last
    rows = engine.run(busy, build({**query, "date_range": dates}, today=TODAY)).rows
    assert answered and answered[0] is not None  # from the columns, not left to the raw path
    assert rows == reading.raw_answers(busy, [query], [dates])[0]


def test_the_changed_visits_are_read_once_per_render_by_the_rollup_tail_and_the_columns_alike(busy):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    late_traffic(busy)
    rollups.rollups_fill(busy, now=NOW)
    traffic_after_the_snapshot(busy)
    memo, dates = {}, ["2026-03-05", "2026-03-12"]
    with CaptureQueriesContext(connection) as captured:
        unfiltered = engine.run(busy, build({"metrics": ["visitors"], "date_range": dates}, today=TODAY), memo=memo)
        filtered = engine.run(
            busy,
            build({"metrics": ["visitors"], "date_range": dates, "filters": FILTER_SETS[0]}, today=TODAY),
            memo=memo,
        )
    checks = [q["sql"] for q in captured.captured_queries if 'FROM "tracking_provisionalvisit" INNER JOIN' in q["sql"]]
    assert len(checks) == 1  # the kept open visits checked against their current rows once, for both readers
    assert [unfiltered.rows, filtered.rows] == [
        reading.raw_answers(busy, [{"metrics": ["visitors"], **extra}], [dates])[0]
        for extra in ({}, {"filters": FILTER_SETS[0]})
    ]

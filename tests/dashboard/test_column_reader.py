"""Filtered queries that no rollup answers come from the column store and answer exactly what the raw rows answer."""

import random
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard import column_reader, engine
from dashboard.query import build
from tests.dashboard import reading
from tests.dashboard.test_engine import TODAY
from tests.dashboard.test_rollups_tail import late_traffic, traffic_after_the_snapshot
from tests.tracking.factories import record
from tracking import columns, rollups, services
from tracking.models import ColumnValues, ProvisionalColumns, RollupState, Visit, VisitColumns

AFTER_EVERYTHING = datetime(2026, 3, 20, tzinfo=UTC)
# 01:30 in Berlin on 12 March: 10 March is the last complete day, 11 and 12 March are read from raw rows.
NOW = datetime(2026, 3, 12, 0, 30, tzinfo=UTC)
FILTER_SETS = [
    [["is", "visit:source", ["Google"]], ["is", "event:page", ["/pricing"]]],
    [["is", "visit:channel", ["Organic Search"]], ["contains", "event:page", ["/blog/"]]],
    [["is_not", "visit:country", ["DE"]]],
    [["is", "visit:source", ["Google"]], ["is", "visit:country", ["DE"]]],
    [["matches", "event:page", ["^/blog/[ab]$"]]],
    [["is", "event:goal", ["Signup"]]],
    [["is", "event:name", ["Signup"]]],
    [
        ["or", [["is", "visit:browser", ["Safari"]], ["is", "visit:device", ["Desktop"]]]],
        ["is_not", "event:page", ["/"]],
    ],
    [["not", ["is", "event:page", ["/pricing"]]]],
    [["is", "event:goal", ["Visit /blog/*"]], ["is", "visit:source", ["Google"]]],
    [["is_not", "event:goal", ["Signup"]], ["contains", "visit:city", ["er"]]],
    [["is", "event:props:plan", ["pro"]]],  # not served: the raw path answers
]
QUERIES = [
    {"metrics": ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"]},
    {"metrics": ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"], "dimensions": ["visit:source"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:country"]},
    {"metrics": ["visitors", "events"], "dimensions": ["visit:browser"]},
    {"metrics": ["visitors", "visits"], "dimensions": ["visit:exit_page"]},
    {"metrics": ["visitors", "pageviews", "bounce_rate", "visit_duration"], "dimensions": ["event:page"]},
    {"metrics": ["visitors", "visits", "events"], "dimensions": ["event:page"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["time:day"]},
    {"metrics": ["visitors", "visits", "pageviews"], "dimensions": ["time:week"]},
    {"metrics": ["visitors"], "dimensions": ["time:day", "visit:device"]},
    {"metrics": ["visitors", "pageviews"], "dimensions": ["event:page", "time:day"]},
    {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]},
    {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["visit:country", "event:goal"]},
    {"metrics": ["visitors"], "dimensions": ["visit:source", "visit:country"]},
    {"metrics": ["visitors", "pageviews", "events"], "dimensions": ["time:month"]},
    {"metrics": ["visitors"], "dimensions": ["time:hour"]},  # not served: the raw path answers
]
RANGES = [["2026-03-10", "2026-03-11"], ["2026-03-05", "2026-03-12"], ["2026-03-11", "2026-03-11"]]
GOAL_ONLY = [{"metrics": ["visitors", "events", "conversion_rate"]}]  # conversion_rate needs a goal filter


def grid(site):
    goal_sets = [f for f in FILTER_SETS if any("event:goal" in str(item) for item in f)]
    return reading.answers(site, QUERIES, RANGES, FILTER_SETS) + reading.answers(site, GOAL_ONLY, RANGES, goal_sets)


def raw_grid(site):
    state = list(RollupState.objects.filter(site=site).values())
    RollupState.objects.filter(site=site).delete()
    try:
        return grid(site)
    finally:
        for row in state:
            RollupState.objects.create(**row)


def ts(day, hour, minute):
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp()


@pytest.fixture
def busy(data):
    """The engine tests' site plus a week of seeded random traffic: visits across local midnight (23:00 UTC),
    second visits of a visitor on one day, page views of many paths, Signup events, several sources and places."""
    rng = random.Random(7)
    sources = [
        {"source": "Google", "channel": "Organic Search"},
        {"source": "Hacker News", "channel": "Referral"},
        {"source": "Direct / None", "channel": "Direct"},
    ]
    places = [("DE", "Berlin"), ("US", "New York"), ("GB", "London"), ("FR", "Paris")]
    agents = [("Chrome", "Desktop"), ("Safari", "Mobile"), ("Firefox", "Desktop")]
    paths = ["/", "/pricing", "/blog/a", "/blog/b", "/blog/c", "/docs"]
    rows = []
    for n in range(90):
        day = rng.randint(5, 11)
        start = ts(day, rng.choice([8, 12, 22, 23]), rng.randint(0, 50))
        visitor = 5000 + n
        source, (country, city), (browser, device) = rng.choice(sources), rng.choice(places), rng.choice(agents)
        extra = {**source, "country": country, "city": city, "browser": browser, "device": device}
        moment = start
        for step in range(rng.randint(1, 4)):
            path = rng.choice(paths)
            view = f"view-r{n:03d}-{step}-000000000"
            rows.append(record(data, visitor=visitor, ts=moment, path=path, view=view, **extra))
            if rng.random() < 0.2:
                rows.append(record(data, kind="event", name="Signup", visitor=visitor, ts=moment + 5, path=path,
                                   view=view, **extra))  # fmt: skip
            moment += rng.randint(60, 900)
        if rng.random() < 0.15:  # the same visitor again later that day: a second visit
            rows.append(record(data, visitor=visitor, ts=moment + 3600, path="/docs",
                               view=f"view-r{n:03d}-9-000000000", **extra))  # fmt: skip
    services.events_store(rows)
    return data


def test_filtered_queries_from_the_columns_answer_exactly_like_raw_rows(busy):
    expected = raw_grid(busy)
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    state = RollupState.objects.get(site=busy)
    assert (state.columns_from, state.columns_until) == (date(2026, 3, 5), date(2026, 3, 18))
    assert grid(busy) == expected


def test_the_answers_come_from_the_columns(busy):
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    query = build(
        {"metrics": ["visitors", "pageviews"], "date_range": ["2026-03-05", "2026-03-12"], "dimensions": ["visit:source"],
         "filters": FILTER_SETS[0]}, today=TODAY,
    )  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        before = engine.run(busy, query).rows
    assert before
    assert not [q["sql"] for q in captured.captured_queries if '"tracking_visit"' in q["sql"]]
    # Poisoned: 9 March's visitors all made one. The answer must show it (so it was read from the columns).
    row = VisitColumns.objects.get(site=busy, day=date(2026, 3, 9), name="vnum")
    dtype, data = columns.pack_ints([1] * len(columns.unpack(row.dtype, row.data)))
    VisitColumns.objects.filter(pk=row.pk).update(dtype=dtype, data=data)
    assert engine.run(busy, query).rows != before


def test_the_days_after_the_store_come_from_raw_rows(busy):
    late_traffic(busy)
    rollups.rollups_fill(busy, now=NOW)
    assert RollupState.objects.get(site=busy).columns_until == date(2026, 3, 10)
    traffic_after_the_snapshot(busy)
    assert grid(busy) == raw_grid(busy)


def test_a_page_render_reads_each_range_once(busy):
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    memo = {}

    def ask(dimensions):
        payload = {"metrics": ["visitors"], "date_range": ["2026-03-05", "2026-03-11"], "dimensions": dimensions,
                   "filters": FILTER_SETS[0]}  # fmt: skip
        return engine.run(busy, build(payload, today=TODAY), memo=memo).rows

    ask(["visit:source"])
    with CaptureQueriesContext(connection) as captured:
        shared = [ask(["visit:source"]), ask(["visit:country"])]
    assert not [q for q in captured.captured_queries if "tracking_visitcolumns" in q["sql"] and "f:source" in str(q)]
    assert shared == [ask(["visit:source"]), engine.run(busy, build(
        {"metrics": ["visitors"], "date_range": ["2026-03-05", "2026-03-11"], "dimensions": ["visit:country"],
         "filters": FILTER_SETS[0]}, today=TODAY)).rows]  # fmt: skip


def test_a_day_is_stored_only_once_its_visits_have_ended(site):
    # A visit from 23:50 on 10 March (Berlin) going on until 01:31 on 11 March: at 02:10 the day is complete, but the
    # visit was seen within the last 40 minutes, so its arrays could still change; at 02:20 it has settled.
    services.events_store([
        record(site, visitor=1, ts=ts(10, 22, 50), path="/", view="view-s-1-0000000000"),
        record(site, visitor=1, ts=ts(10, 23, 15), path="/a", view="view-s-2-0000000000"),
        record(site, visitor=1, ts=ts(10, 23, 40), path="/b", view="view-s-3-0000000000"),
        record(site, visitor=1, ts=ts(11, 0, 5), path="/c", view="view-s-4-0000000000"),
        record(site, visitor=1, ts=ts(11, 0, 31), path="/d", view="view-s-5-0000000000"),
    ])  # fmt: skip
    assert Visit.objects.filter(site=site).count() == 1
    rollups.rollups_fill(site, now=datetime(2026, 3, 11, 1, 10, tzinfo=UTC))
    state = RollupState.objects.get(site=site)
    assert state.complete_until == date(2026, 3, 10)
    assert state.columns_until is None
    assert columns.columns_fill(site, now=datetime(2026, 3, 11, 1, 10, tzinfo=UTC)) == 0
    assert columns.columns_fill(site, now=datetime(2026, 3, 11, 1, 20, tzinfo=UTC)) == 1
    stored = {r.name: columns.unpack(r.dtype, r.data) for r in VisitColumns.objects.filter(site=site)}
    assert list(stored["pageviews"]) == [5]  # the visit's final count
    assert list(stored["pv_vday"]) == [0]  # only 22:50 UTC is 10 March in Berlin; the rest is 11 March's


def test_filling_again_writes_nothing_and_a_reset_rebuilds_the_same_rows(busy):
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    rows = sorted((r.day, r.name, r.dtype, bytes(r.data)) for r in VisitColumns.objects.filter(site=busy))
    texts = dict(ColumnValues.objects.filter(site=busy).values_list("name", "values"))  # what the codes mean
    assert columns.columns_fill(busy, now=AFTER_EVERYTHING) == 0
    columns.columns_reset(busy)
    assert not VisitColumns.objects.filter(site=busy).exists()
    assert columns.columns_fill(busy, now=AFTER_EVERYTHING) == 14
    again = sorted((r.day, r.name, r.dtype, bytes(r.data)) for r in VisitColumns.objects.filter(site=busy))
    assert again == rows
    assert dict(ColumnValues.objects.filter(site=busy).values_list("name", "values")) == texts


def test_a_timezone_change_forgets_the_columns(busy):
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    busy.timezone = "America/New_York"
    busy.save(update_fields=["timezone"])
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    state = RollupState.objects.get(site=busy)
    assert state.timezone == "America/New_York"
    assert state.columns_from == date(2026, 3, 5)  # cut again, in the new timezone
    assert grid(busy) == raw_grid(busy)


def test_a_store_far_behind_leaves_the_query_to_raw_rows(busy):
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    RollupState.objects.filter(site=busy).update(columns_until=date(2026, 3, 6))
    assert (date(2026, 3, 11) - date(2026, 3, 6)).days > column_reader.MAX_TAIL_DAYS
    assert grid(busy) == raw_grid(busy)


def test_the_same_visit_counts_once_across_midnight_under_a_page_filter(busy):
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    # visitor 1's visit starts at 23:30 UTC on 9 March (00:30 on 10 March, Berlin) and views /pricing
    query = {"metrics": ["visitors", "visits", "pageviews"], "date_range": ["2026-03-09", "2026-03-10"],
             "filters": [["is", "event:page", ["/pricing"]], ["is", "visit:source", ["Google"]]]}  # fmt: skip
    from_columns = engine.run(busy, build(query, today=TODAY)).rows
    assert from_columns == raw_grid_one(busy, query)


def raw_grid_one(site, query):
    state = list(RollupState.objects.filter(site=site).values())
    RollupState.objects.filter(site=site).delete()
    try:
        return engine.run(site, build(query, today=TODAY)).rows
    finally:
        for row in state:
            RollupState.objects.create(**row)


def test_visit_refs_find_each_rows_visit_within_two_days():
    import numpy as np

    today, yesterday, before = np.array([5, 9], np.int64), np.array([2, 7], np.int64), np.array([1], np.int64)
    vday, position = columns.visit_refs([9, 7, 1, 5, 4], [today, yesterday, before])
    assert vday.tolist() == [0, 1, 2, 0, columns.UNKNOWN_DAY]
    assert position.tolist()[:4] == [1, 1, 0, 0]


def test_visitors_keep_their_number_from_the_days_before_and_new_ones_are_numbered_in_order():
    numbers, next_number = columns.number_visitors([70, 50, 70, 90, 60], [60, 10, 60], [4, 2, 4], 7)
    assert numbers.tolist() == [7, 8, 7, 9, 4]  # 60 was seen before; 70, 50, 90 are new, numbered as they come
    assert next_number == 10
    assert columns.number_visitors([], [1], [0], 3)[1] == 3
    assert columns.number_visitors([5, 5], [], [], 0)[0].tolist() == [0, 0]


def test_a_visitor_across_local_midnight_has_one_number_on_both_days(busy):
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    by_visitor, days_of, arrays = {}, {}, {}
    for row in VisitColumns.objects.filter(site=busy, name__in=["visitor", "vnum"]):
        arrays[(row.day, row.name)] = columns.unpack(row.dtype, row.data).tolist()
    for day in {day for day, _ in arrays}:
        for visitor, number in zip(arrays[(day, "visitor")], arrays[(day, "vnum")], strict=True):
            by_visitor.setdefault(visitor, set()).add(number)
            days_of.setdefault(visitor, set()).add(day)
    assert any(len(days) == 2 for days in days_of.values())  # second visits after local midnight
    assert by_visitor and all(len(numbers) == 1 for numbers in by_visitor.values())
    numbers = sorted(next(iter(n)) for n in by_visitor.values())
    assert numbers == list(range(len(numbers)))  # dense: one number a visitor
    assert RollupState.objects.get(site=busy).columns_visitors == len(numbers)


def test_integers_are_packed_in_the_smallest_type_that_holds_them():
    assert columns.pack_ints([0, 255])[0] == "<u1"
    assert columns.pack_ints([256])[0] == "<u2"
    assert columns.pack_ints([70_000])[0] == "<u4"
    assert columns.pack_ints([2**40])[0] == "<i8"
    assert columns.pack_ints([-5], signed=True)[0] == "<i8"
    dictionary = columns.Dictionary(["a"])
    assert dictionary.code(["b", "a", "b", None]).tolist() == [1, 0, 1, 2]  # new texts get the next codes
    assert dictionary.values == ["a", "b", ""] and dictionary.stored == 1
    assert columns.unpack(*columns.pack_ints([], signed=True)).tolist() == []


def test_the_days_after_the_store_come_from_its_snapshot_and_the_visits_it_left_out(busy):
    late_traffic(busy)
    rollups.rollups_fill(busy, now=NOW)
    state = RollupState.objects.get(site=busy)
    assert state.provisional_columns_after == date(2026, 3, 10)
    assert set(ProvisionalColumns.objects.filter(site=busy).values_list("day", flat=True)) == {
        date(2026, 3, 11), date(2026, 3, 12),
    }  # fmt: skip
    traffic_after_the_snapshot(busy)  # after the cutoff: an open visit goes on, a new one starts
    expected = raw_grid(busy)
    assert grid(busy) == expected
    RollupState.objects.filter(site=busy).update(provisional_columns_after=None)  # no snapshot: the days read raw
    assert grid(busy) == expected


def test_the_snapshot_of_columns_is_used_not_raw_rows(busy):
    rollups.rollups_fill(busy, now=NOW)
    query = build(
        {"metrics": ["visitors"], "date_range": ["2026-03-11", "2026-03-11"],
         "filters": [["is_not", "visit:country", ["FR"]], ["contains", "event:page", ["/"]]]}, today=TODAY,
    )  # fmt: skip
    before = engine.run(busy, query).rows
    assert before[0]["metrics"][0] > 0
    ProvisionalColumns.objects.filter(site=busy, day=date(2026, 3, 11)).delete()  # poisoned: the day is empty now
    assert engine.run(busy, query).rows != before


def test_a_snapshot_taken_before_the_store_moved_on_is_not_used(busy):
    rollups.rollups_fill(busy, now=NOW)
    # The store moved on after the snapshot: its positions no longer match the stored days.
    RollupState.objects.filter(site=busy).update(provisional_columns_after=date(2026, 3, 9))
    ProvisionalColumns.objects.filter(site=busy).delete()
    assert grid(busy) == raw_grid(busy)


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_page_views_read_as_slices_of_their_runs_or_whole_answer_alike(busy, monkeypatch, share):
    expected = raw_grid(busy)
    rollups.rollups_fill(busy, now=AFTER_EVERYTHING)
    monkeypatch.setattr(column_reader, "WHOLE_ABOVE", share)  # 0: every day read whole; 1: every day as slices
    assert grid(busy) == expected


def test_the_store_names_the_visit_dimensions_as_the_rollups_do():
    assert columns.VISIT_TEXT == rollups.VISIT_FIELDS

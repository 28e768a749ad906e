"""Queries no rollup answers (two filters, event filters, `is_not`…), from the column store (tracking.columns).

The raw SQL path (dashboard.engine) joins the range's visits with their page views in every statement: at 10 M page
views, ~2 s each, because a visit row is ~330 bytes wide. Here the same rows come as arrays, ~20 bytes a visit: the
complete days from VisitColumns, the days after them (today) from raw rows into the same arrays. A page render
loads a range once (`_Frame`, in the run's memo) and every panel is a few numpy passes over it.

Exact like the rest, and the same semantics as engine._Run (the tests compare the two on every kind of query): the
visit set is the range's visits matching the visit filters (and, with event filters, having a matching page view or
event in the range); page views and events count on their own day, keyed by their visit's dimensions; visitors are
distinct visitor ids. `families(run)` answers None (the raw path then) for what it does not cover: hourly buckets,
event:name and property breakdowns, property filters, metrics from other apps, or days it cannot see.
"""

import re
from datetime import timedelta

import numpy as np
from django.db import connection

from dashboard import rollup_reader
from dashboard.buckets import pct
from dashboard.filters import python_match, wildcard_regex
from dashboard.query import TIME_DIMENSIONS, VISIT_DIMENSIONS, Logical
from tracking import columns as store
from tracking.models import ColumnValues, Event, PageView, ProvisionalColumns, Visit, VisitColumns
from tracking.rollup_segments import among
from tracking.rollups import LocalDate, day_bounds

EVENT_FILTER_DIMS = ("event:page", "event:name", "event:goal")
WHOLE_ABOVE = 1 / 3  # a stored day's page views are read whole when a page filter keeps more than this share of them
MAX_TAIL_DAYS = 3  # days after the store read raw; more (a store far behind) and the raw path answers
SPAN_DAYS = 2  # a visit's page views lie within two days of its start (engine._VISIT_SPAN)
# With the query's own, the tail's visit fields read at once: the dashboard's cards and default panels ask for these.
TAIL_FIELDS = ("source", "country", "browser")


def families(run):
    """{key: metric sums} like engine._Run's raw path, or None when the column store cannot answer."""
    if not _served(run):
        return None
    state = rollup_reader._state(run)
    if state is None or state.columns_until is None or state.columns_from is None:
        return None
    frame = _frame(run, state)
    if frame is None:
        return None
    try:
        return _Answer(run, frame).families()
    except _UnknownVisit:
        return None  # a page view whose visit started more than two days before it: the raw path counts it


class _UnknownVisit(Exception):
    pass


def _served(run):
    from dashboard.engine import provided_metrics

    query = run.query
    if provided_metrics(query) or "time:hour" in query.dimensions:
        return False
    if run.event_dim not in (None, "event:page", "event:goal"):
        return False
    return all(_leaves(item) <= set(EVENT_FILTER_DIMS) for item in query.event_filters)


def _leaves(item):
    if isinstance(item, Logical):
        return set().union(*(_leaves(child) for child in item.children))
    return {item.dimension}


def _frame(run, state):
    date_range = run.query.date_range
    first, last = date_range.start - timedelta(days=SPAN_DAYS), date_range.end
    if (last - max(state.columns_until, first - timedelta(days=1))).days > MAX_TAIL_DAYS:
        return None
    # Per event filters too: the days after the store read only the page views and events matching them (the arrays
    # of matching rows are all the answers use).
    goals = any("event:goal" in _leaves(item) for item in run.query.event_filters)
    events = (repr(run.query.event_filters), tuple(g.pk for g in run.goals) if goals else ())
    key = ("columns_frame", run.site.pk, first, last, state.columns_from, state.columns_until, events)
    if key not in run.memo:
        # The tail's visit fields read at once: the filters', the query's and the dashboard's usual ones.
        fields = {VISIT_DIMENSIONS[d] for d in run.query.dimensions if d in VISIT_DIMENSIONS}
        fields |= {VISIT_DIMENSIONS[d] for item in run.query.visit_filters for d in _leaves(item)}
        fields |= set(TAIL_FIELDS)
        tail_q = {"pv": run.pv_q, "ev": run.ev_q}
        run.memo[key] = _Frame(run.site.pk, run.tz, first, last, state, tail_q, sorted(fields), run.memo)
    return run.memo[key]


# --- the arrays -------------------------------------------------------------------------------
class _Frame:
    """The days [first, last] of one site as arrays: visits by their start day (every day, so page views in the
    range find their visit's dimensions), page views and events by their own day (the range's days only)."""

    def __init__(self, site_id, tz, first, last, state, tail_q, tail_fields, memo):
        self.site_id, self.tz, self.tail_q, self.tail_fields, self.memo = site_id, tz, tail_q, tail_fields, memo
        self.dictionaries = memo.setdefault(("column_values", site_id), {})  # one read per render, for all frames
        self.days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.range_from = SPAN_DAYS  # the index of the range's first day
        self.stored = [d for d in self.days if state.columns_from <= d <= state.columns_until]
        self.tail = [d for d in self.days if d > state.columns_until]
        self._day_columns = {}  # (day, name) -> (array, values or None)
        # The days after the store: from the provisional snapshot of columns and the raw rows of the visits it left
        # out, when it holds them all; else from raw rows.
        self.snapshot = None
        if (
            self.tail
            and state.provisional_columns_after is not None
            and state.provisional_columns_after == state.columns_until
            and state.provisional_until is not None
            and state.provisional_until >= self.tail[-1]
            and state.provisional_open is not None
        ):
            self.snapshot = (state.provisional_cutoff, state.provisional_open)
        self._global = {}
        self._tail_loaded = set()

    # per-day columns
    def _load(self, names, days):
        wanted = [(d, n) for d in days for n in names if (d, n) not in self._day_columns]
        if not wanted:
            return
        stored = sorted({d for d, _ in wanted if d in self.stored})
        if stored:
            rows = VisitColumns.objects.filter(
                site_id=self.site_id, day__in=stored, name__in=sorted({n for _, n in wanted})
            ).values_list("day", "name", "dtype", "data")
            for day, name, dtype, data in _binary_rows(rows):
                self._day_columns[(day, name)] = (store.unpack(dtype, data), None)
        tail = [d for d, _ in wanted if d in self.tail]
        if tail:
            self._load_tail({n for d, n in wanted if d in self.tail})
        for day, name in wanted:  # a day without visits (or before the store's first day) has empty arrays
            self._day_columns.setdefault((day, name), (np.zeros(0, dtype=np.int64), None))

    def column(self, name, days):
        """(the days' arrays concatenated, the texts of the codes for a text column: the site's ColumnValues)."""
        key = (name, days[0], days[-1])
        if key not in self._global:
            self._load([name], days)
            parts = [self._day_columns[(d, name)][0] for d in days]
            array = np.concatenate(_narrow(parts)) if parts else np.zeros(0, np.int64)
            self._global[key] = (array, self.dictionary(name).values if _is_text(name) else None)
        return self._global[key]

    def dictionary(self, name):
        if name not in self.dictionaries:
            self._dictionaries([name])
        return self.dictionaries[name]

    def _dictionaries(self, names):
        """Read the texts of these columns' codes not read yet in this render, in one statement."""
        missing = [n for n in names if n not in self.dictionaries]
        if missing:
            found = dict(
                ColumnValues.objects.filter(site_id=self.site_id, name__in=missing).values_list("name", "values")
            )
            for name in missing:
                self.dictionaries[name] = store.Dictionary(found.get(name, ()))

    def visits(self, name):
        return self.column(name, self.days)

    def visit_counts(self):
        self._load(["visitor"], self.days)
        return np.array([len(self._day_columns[(d, "visitor")][0]) for d in self.days], dtype=np.int64)

    def visit_day(self):
        """Each visit's day, as an index into self.days."""
        if "visit_day" not in self._global:
            self._global["visit_day"] = np.repeat(np.arange(len(self.days), dtype=np.int16), self.visit_counts())
        return self._global["visit_day"]

    def day_array(self, day, name):
        self._load([name], [day])
        return self._day_columns[(day, name)][0]

    def slices(self, wanted):
        """{day: (pv_vday, pv_visit, pv_path)} of the given runs {day: (starts, lengths, codes)} of stored days, in one
        statement that reads only those byte ranges of the arrays (uncompressed out-of-line bytea)."""
        out = dict.fromkeys(wanted)
        ranges = [
            (day, i, int(s), int(n))
            for day, (starts, lens, _) in wanted.items()
            for i, (s, n) in enumerate(zip(starts, lens, strict=True))
        ]
        if ranges:
            sql = (
                "SELECT c.day, c.name, c.dtype, string_agg(substring(c.data FROM r.s * w.w + 1 FOR r.l * w.w), "
                "''::bytea ORDER BY r.i) FROM tracking_visitcolumns c "
                "JOIN unnest(%s::date[], %s::int[], %s::int[], %s::int[]) AS r(day, i, s, l) ON r.day = c.day "
                "CROSS JOIN LATERAL (SELECT CASE c.dtype WHEN '<u1' THEN 1 WHEN '<u2' THEN 2 WHEN '<u4' THEN 4 "
                "ELSE 8 END AS w) AS w WHERE c.site_id = %s AND c.name IN ('pv_vday', 'pv_visit') "
                "GROUP BY c.day, c.name, c.dtype"
            )
            params = [[r[0] for r in ranges], [r[1] for r in ranges], [r[2] for r in ranges], [r[3] for r in ranges]]
            got = {
                (day, name): store.unpack(dtype, data)
                for day, name, dtype, data in _binary_sql(sql, [*params, self.site_id])
            }
        else:
            got = {}
        empty = np.zeros(0, dtype=np.int64)
        for day, (_, lens, codes) in wanted.items():
            out[day] = (
                got.get((day, "pv_vday"), empty).astype(np.int64),
                got.get((day, "pv_visit"), empty).astype(np.int64),
                np.repeat(codes, lens),
            )
        return out

    def visit_index(self, day_numbers, vday, position):
        """Indices into the visit arrays of rows of these days (positions in self.days) whose visits started `vday`
        days before, at `position` in that day's arrays."""
        vday = vday.astype(np.int64)
        start_day = day_numbers - vday
        if ((vday == store.UNKNOWN_DAY) | (start_day < 0)).any():
            raise _UnknownVisit
        if "offsets" not in self._global:
            self._global["offsets"] = np.concatenate([[0], np.cumsum(self.visit_counts())])
        return self._global["offsets"][start_day] + position

    def shared(self, key, compute):
        """What the runs of one page render with the same filters share (the visit set, the matching rows)."""
        if key not in self._global:
            self._global[key] = compute()
        return self._global[key]

    # the days after the store, from raw rows, in the store's shapes
    def _load_tail(self, names):
        if not self._tail_loaded:
            self._tail_base()
        fields = sorted(
            {n[2:] for n in names if n.startswith("f:")} - {n[2:] for n in self._tail_loaded if n.startswith("f:")}
        )
        if fields:
            self._tail_fields(fields)

    def _tail_base(self):
        if self.snapshot is not None:
            self._dictionaries(store.text_columns())  # the visits left out are read with every field
            return self._tail_from_snapshot()
        self._dictionaries([*(store.field_column(f) for f in self.tail_fields), "pv_path", "ev_name", "ev_path"])
        start, end = day_bounds(self.tz, self.tail[0])[0], day_bounds(self.tz, self.tail[-1])[1]
        local_day = LocalDate("timestamp", tzinfo=self.tz)
        # Page views and events first: every visit they name has been written by then, so the visits read next hold
        # them all (a visit written in between just has no rows here, as if it came a moment later).
        timed = {}
        for prefix, model, value_columns in (("pv", PageView, ("pathname",)), ("ev", Event, ("name", "pathname"))):
            rows = _rows(
                model.objects.filter(site_id=self.site_id, timestamp__gte=start, timestamp__lt=end)
                .filter(self.tail_q[prefix])
                .annotate(local_day=local_day)
                .values_list("local_day", "visit_id", *value_columns)
            )
            timed[prefix] = (value_columns, _transposed(rows, 2 + len(value_columns)))
        fields = list(self.tail_fields)  # the usual ones now, in one read; any other when first asked (_tail_fields)
        visits = _transposed(
            _rows(
                Visit.objects.filter(site_id=self.site_id, started_at__gte=start, started_at__lt=end)
                .annotate(local_day=LocalDate("started_at", tzinfo=self.tz))
                .order_by("id")
                .values_list("local_day", "id", "visitor_id", "is_bounce", "duration", "pageviews", *fields)
            ),
            6 + len(fields),
        )
        visit_day = self._tail_day_numbers(visits[0])
        numbers = {
            "visit_id": np.array(visits[1], dtype=np.int64),
            "visitor": np.array(visits[2], dtype=np.int64),
            "bounce": np.array(visits[3], dtype=bool).astype(np.int64),
            "duration": np.array(visits[4], dtype=np.int64),
            "pageviews": np.array(visits[5], dtype=np.int64),
        }
        texts = {
            store.field_column(f): (self.dictionary(store.field_column(f)).code(visits[6 + i]), None)
            for i, f in enumerate(fields)
        }
        self._tail_ids = {}
        for number, day in enumerate(self.tail):
            chosen = visit_day == number
            for name, array in numbers.items():
                self._day_columns[(day, name)] = (array[chosen], None)
            for name, (codes, values) in texts.items():
                self._day_columns[(day, name)] = (codes[chosen], values)
            self._tail_ids[day] = numbers["visit_id"][chosen]
        self._tail_loaded.update(texts)
        # The stored days whose visits the tail's rows may belong to (a visit's rows lie within two days of its start).
        self._load(
            ["visit_id"], [d for d in self.days if d not in self.tail and d >= self.tail[0] - timedelta(days=SPAN_DAYS)]
        )
        for prefix, (value_columns, columns) in timed.items():
            row_day = self._tail_day_numbers(columns[0])
            row_visit = np.array(columns[1], dtype=np.int64)
            names = [f"{prefix}_{'path' if name == 'pathname' else name}" for name in value_columns]
            coded = [(self.dictionary(names[i]).code(columns[2 + i]), None) for i in range(len(value_columns))]
            for number, day in enumerate(self.tail):
                chosen = row_day == number
                earlier = [self._ids(day - timedelta(days=back)) for back in range(SPAN_DAYS + 1)]
                vday, position = store.visit_refs(row_visit[chosen], earlier)
                self._day_columns[(day, f"{prefix}_vday")] = (vday, None)
                self._day_columns[(day, f"{prefix}_visit")] = (position, None)
                for name, (codes, values) in zip(value_columns, coded, strict=True):
                    column = f"{prefix}_{'path' if name == 'pathname' else name}"
                    self._day_columns[(day, column)] = (codes[chosen], values)
        self._tail_loaded.add("base")

    def _tail_from_snapshot(self):
        cutoff, open_ids = self.snapshot
        part = {}
        rows = ProvisionalColumns.objects.filter(site_id=self.site_id, day__in=self.tail).values_list(
            "day", "name", "dtype", "data"
        )
        for day, name, dtype, data in _binary_rows(rows):
            part[(day, name)] = (store.unpack(dtype, data).astype(np.int64), None)
        # The visits the snapshot left out (open at its cutoff, or started since), then their page views and events.
        fresh_ids, visits = self._fresh_visits(cutoff, open_ids)
        timed = {}
        for prefix, model, value_columns in (("pv", PageView, ("pathname",)), ("ev", Event, ("name", "pathname"))):
            timed[prefix] = (
                value_columns,
                _rows(
                    among(model.objects.filter(site_id=self.site_id), "visit_id", fresh_ids)
                    .filter(self.tail_q[prefix])
                    .annotate(local_day=LocalDate("timestamp", tzinfo=self.tz))
                    .filter(local_day__gte=self.tail[0], local_day__lte=self.tail[-1])
                    .values_list("local_day", "visit_id", *value_columns)
                ),
            )
        where = {}  # fresh visit id -> (day, position among that day's visits, after the snapshot's)
        by_day = {day: [] for day in self.tail}
        for visit_id in sorted(visits):
            row = visits[visit_id]
            if row[0] not in by_day:
                raise _UnknownVisit  # open at the cutoff, yet started before the days after the store
            by_day[row[0]].append(row)
        self._tail_ids = {}
        for day, rows in by_day.items():
            settled = len(part.get((day, "visit_id"), (np.zeros(0),))[0])
            for position, row in enumerate(rows):
                where[row[1]] = (day, settled + position)
            numbers = {
                "visit_id": [r[1] for r in rows], "visitor": [r[2] for r in rows],
                "bounce": [1 if r[3] else 0 for r in rows], "duration": [r[4] for r in rows],
                "pageviews": [r[5] for r in rows],
            }  # fmt: skip
            for name, fresh in numbers.items():
                self._day_columns[(day, name)] = _joined(part.get((day, name)), fresh)
            for offset, field in enumerate(store.VISIT_TEXT, start=6):
                name = store.field_column(field)
                fresh = self.dictionary(name).code([r[offset] for r in rows])
                self._day_columns[(day, name)] = _joined(part.get((day, name)), fresh)
            self._tail_ids[day] = None  # not sorted: rows of these days find their visits through `where`
        for prefix, (value_columns, rows) in timed.items():
            grouped = {day: [] for day in self.tail}
            for row in rows:
                grouped[row[0]].append(row)
            for day, day_rows in grouped.items():
                refs = [where[r[1]] for r in day_rows]
                vday = [(day - visit_day).days for visit_day, _ in refs]
                self._day_columns[(day, f"{prefix}_vday")] = _joined(part.get((day, f"{prefix}_vday")), vday)
                self._day_columns[(day, f"{prefix}_visit")] = _joined(
                    part.get((day, f"{prefix}_visit")), [position for _, position in refs]
                )
                for offset, name in enumerate(value_columns, start=2):
                    column = f"{prefix}_{'path' if name == 'pathname' else name}"
                    fresh = self.dictionary(column).code([r[offset] for r in day_rows])
                    self._day_columns[(day, column)] = _joined(part.get((day, column)), fresh)
        self._tail_loaded.update(["base", *(store.field_column(f) for f in store.VISIT_TEXT)])

    def _fresh_visits(self, cutoff, open_ids):
        """(ids, {id: row}) of the visits the snapshot left out (open at its cutoff, or started since), read once per
        render for all its frames. Their page views and events are read after their ids, so every one names a visit
        read here (a visit started after that just has no rows yet, as if it came a moment later)."""
        key = ("columns_fresh", self.site_id, cutoff)
        if key not in self.memo:
            started = Visit.objects.filter(site_id=self.site_id, started_at__gte=cutoff).values_list("id")
            fresh_ids = sorted({*open_ids, *(row[0] for row in _rows(started))})
            local_day = LocalDate("started_at", tzinfo=self.tz)
            columns = ("visitor_id", "is_bounce", "duration", "pageviews", *store.VISIT_TEXT)
            rows = among(Visit.objects.filter(site_id=self.site_id), "id", fresh_ids)
            visits = {
                row[1]: row
                for row in _rows(rows.annotate(local_day=local_day).values_list("local_day", "id", *columns))
            }
            self.memo[key] = (fresh_ids, visits)
        return self.memo[key]

    def _tail_day_numbers(self, days):
        """Each row's tail day as its position in self.tail (-1: none of them)."""
        number = {day: i for i, day in enumerate(self.tail)}
        return np.fromiter((number.get(d, -1) for d in days), dtype=np.int64, count=len(days))

    def _ids(self, day):
        if day in self.tail:
            return self._tail_ids[day]
        found = self._day_columns.get((day, "visit_id"))
        return found[0] if found is not None else None

    def _tail_fields(self, fields):
        start, end = day_bounds(self.tz, self.tail[0])[0], day_bounds(self.tz, self.tail[-1])[1]
        rows = _rows(
            Visit.objects.filter(site_id=self.site_id, started_at__gte=start, started_at__lt=end).values_list(
                "id", *fields
            )
        )
        found = {row[0]: row for row in rows}
        for day in self.tail:
            day_rows = [found.get(int(i)) for i in self._tail_ids[day]]
            for offset, field in enumerate(fields, start=1):
                name = store.field_column(field)
                codes = self.dictionary(name).code([(r[offset] if r is not None else "") for r in day_rows])
                self._day_columns[(day, name)] = (codes, None)
                self._tail_loaded.add(name)


def _joined(stored, fresh):
    """A snapshot's array with the fresh rows' values after it."""
    head = stored[0] if stored is not None else np.zeros(0, dtype=np.int64)
    return np.concatenate([head.astype(np.int64), np.array(fresh, dtype=np.int64)]), None


def _is_text(name):
    return name.startswith("f:") or name in ("pv_path", "ev_path", "ev_name")


def _transposed(rows, width):
    """Rows as columns (tuples), `width` of them even when there are no rows."""
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _rows(queryset):
    return rollup_reader._fetch(queryset)


def _narrow(parts):
    """The parts in the stored days' common type, when the others' values (read raw as int64) fit it: a range's arrays
    stay 1-2 bytes a value instead of 8."""
    stored = [p.dtype for p in parts if p.dtype != np.int64]
    if not stored or len(stored) == len(parts):
        return parts
    target = np.result_type(*stored)
    top = max((int(p.max()) for p in parts if p.dtype == np.int64 and len(p)), default=0)
    if top > np.iinfo(target).max:
        return parts
    return [p.astype(target, copy=False) for p in parts]


def _binary_sql(sql, params):
    import psycopg

    connection.ensure_connection()
    # Django's cursors bind on the client, which psycopg allows for text results only.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        return cursor.fetchall()


def _binary_rows(queryset):
    """Rows with bytea columns fetched in binary on PostgreSQL (text would be hex: twice the bytes, and parsed)."""
    if connection.vendor != "postgresql":
        return list(queryset)
    sql, params = queryset.query.sql_with_params()
    return _binary_sql(sql, params)


# --- the engine's semantics over the arrays ----------------------------------------------------
class _Answer:
    def __init__(self, run, frame):
        self.run, self.frame, self.query = run, frame, run.query
        self.filters_key = (repr(self.query.filters), tuple(g.pk for g in run.goals))

    def _shared(self, name, compute):
        return self.frame.shared((name, *self.filters_key), compute)

    @property
    def base(self):
        """engine: base_visits, the range's visits matching the visit filters (indices into the visit arrays)."""
        return self._shared(
            "base", lambda: np.flatnonzero(self._visit_ok() & (self.frame.visit_day() >= self.frame.range_from))
        )

    @property
    def visits(self):
        """engine: visits; with event filters, those having a matching page view or event in the range (its IN over a
        UNION)."""

        def compute():
            if not self.query.event_filters:
                return self.base
            matched = np.zeros(len(self.frame.visit_day()), dtype=bool)
            for prefix in ("pv", "ev"):
                matched[self._event_rows(prefix)[1]] = True
            return self.base[matched[self.base]]

        return self._shared("visits", compute)

    @property
    def pv(self):
        """engine: _pageviews(), as (row indices, their visits)."""
        return self._shared("pv", lambda: self._matching_rows("pv"))

    @property
    def ev(self):
        return self._shared("ev", lambda: self._matching_rows("ev"))

    def _visit_ok(self):
        def compute():
            ok = np.ones(len(self.frame.visit_day()), dtype=bool)
            for item in self.query.visit_filters:
                ok &= self._visit_mask(item)
            return ok

        return self._shared("visit_ok", compute)

    # masks
    def _visit_mask(self, item):
        if isinstance(item, Logical):
            masks = [self._visit_mask(child) for child in item.children]
            return _combine(item.operator, masks)
        codes, values = self.frame.visits(store.field_column(VISIT_DIMENSIONS[item.dimension]))
        return _lookup(values, codes, lambda v: python_match(v, item.operator, item.values))

    def _table(self, column, key, test):
        """A boolean per code of a text column: `test` asked once per distinct text (in this answer)."""
        cache = self._shared("tables", dict)
        if (column, key) not in cache:
            values = self.frame.dictionary(column).values
            cache[(column, key)] = np.array([bool(test(v)) for v in values] or [False], dtype=bool)
        return cache[(column, key)]

    def _row_mask(self, item, prefix, chunk):
        """The rows of `chunk` ({column: codes} of page views or events) that match an event filter."""
        if isinstance(item, Logical):
            return _combine(item.operator, [self._row_mask(child, prefix, chunk) for child in item.children])
        test = lambda v: python_match(v, item.operator, item.values)  # noqa: E731 - one line, read next to its use
        if item.dimension == "event:page":
            column = f"{prefix}_path"
            return self._table(column, repr(item), test)[chunk[column]]
        if item.dimension == "event:name":
            if prefix == "pv":
                return np.full(len(chunk["pv_path"]), python_match("pageview", item.operator, item.values))
            return self._table("ev_name", repr(item), test)[chunk["ev_name"]]
        # event:goal: the goals whose names match; a page view matches a page goal's path, an event a goal's name
        chosen = [g for g in self.run.goals if python_match(g.name, item.operator.removesuffix("_not"), item.values)]
        mask = self._goal_mask(chosen, prefix, chunk)
        return ~mask if item.operator.endswith("_not") else mask

    def _goal_mask(self, goals, prefix, chunk):
        key = tuple(g.pk for g in goals)
        if prefix == "pv":
            pages = [_page_matcher(g.page_path) for g in goals if g.kind == "page"]
            table = self._table("pv_path", ("goals", key), lambda v: any(match(v) for match in pages))
            return table[chunk["pv_path"]]
        names = {g.event_name for g in goals if g.kind != "page"}
        return self._table("ev_name", ("goals", key), lambda v: v in names)[chunk["ev_name"]]

    def _event_rows(self, prefix):
        """(day numbers, visits, {column: codes}) of the range's rows matching every event filter (engine: pv_q /
        ev_q, without the visit filters), picked day by day: a range has millions of page views, arrays of all of
        them would cost more than the picking."""

        def compute():
            frame = self.frame
            columns = ["pv_path"] if prefix == "pv" else ["ev_name", "ev_path"]
            days = frame.days[frame.range_from :]
            sliced = self._sliced_runs(days) if prefix == "pv" else {}
            whole = [d for d in days if d not in sliced]
            frame._load([*columns, f"{prefix}_vday", f"{prefix}_visit"], whole)
            numbers, vdays, positions, codes = [], [], [], {c: [] for c in columns}
            for number, day in enumerate(days, start=frame.range_from):
                if day in sliced:
                    vday, position, path = sliced[day]
                    numbers.append(np.full(len(vday), number, dtype=np.int64))
                    vdays.append(vday)
                    positions.append(position)
                    codes["pv_path"].append(path)
                    continue
                chunk = {c: frame.day_array(day, c) for c in columns}
                if self.query.event_filters:
                    mask = np.ones(len(chunk[columns[0]]), dtype=bool)
                    for item in self.query.event_filters:
                        mask &= self._row_mask(item, prefix, chunk)
                    picked = np.flatnonzero(mask)
                else:
                    picked = slice(None)
                vday = frame.day_array(day, f"{prefix}_vday")[picked]
                numbers.append(np.full(len(vday), number, dtype=np.int64))
                vdays.append(vday)
                positions.append(frame.day_array(day, f"{prefix}_visit")[picked])
                for c in columns:
                    codes[c].append(chunk[c][picked])
            number = np.concatenate(numbers) if numbers else np.zeros(0, np.int64)
            vday = np.concatenate(vdays) if vdays else np.zeros(0, np.int64)
            position = np.concatenate(positions).astype(np.int64) if positions else np.zeros(0, np.int64)
            joined = {c: (np.concatenate(v).astype(np.int64) if v else np.zeros(0, np.int64)) for c, v in codes.items()}
            return number, frame.visit_index(number, vday, position), joined

        return self._shared(("event_rows", prefix), compute)

    def _sliced_runs(self, days):
        """{day: (vday, position, path codes)} of the matching page views of the stored days, read as slices of their
        runs of one path (PostgreSQL reads only those parts of the arrays); a day whose matching rows are most of it is
        left out (read whole)."""
        frame = self.frame
        stored = [d for d in days if d in frame.stored]
        if connection.vendor != "postgresql" or not self.query.event_filters or not stored:
            return {}
        frame._load(["pv_run_code", "pv_run_len"], stored)
        wanted = {}
        for day in stored:
            run_code, run_len = frame.day_array(day, "pv_run_code"), frame.day_array(day, "pv_run_len")
            mask = np.ones(len(run_code), dtype=bool)
            for item in self.query.event_filters:
                mask &= self._row_mask(item, "pv", {"pv_path": run_code})
            if int(run_len[mask].sum()) > WHOLE_ABOVE * int(run_len.sum()):
                continue  # much of the day: read it whole
            starts = np.concatenate([[0], np.cumsum(run_len)[:-1]]).astype(np.int64) if len(run_len) else run_len
            wanted[day] = (starts[mask], run_len[mask].astype(np.int64), run_code[mask].astype(np.int64))
        return frame.slices(wanted)

    def _matching_rows(self, prefix):
        """(indices into _event_rows, visits) of the range's page views (or events) matching the event filters, of
        visits matching the visit filters (engine: _rows restricted by pv_q / ev_q)."""
        _, visit_of, _ = self._event_rows(prefix)
        if not self.query.visit_filters:
            return np.arange(len(visit_of)), visit_of
        keep = np.flatnonzero(self._visit_ok()[visit_of])
        return keep, visit_of[keep]

    # keys
    def _parts(self, dims, kind, index, event_part=None, visit_of=None):
        """[(codes, labels)] for each dimension of a group: visit rows (kind "visit": `index` are visits) or page view
        or event rows (`index` are rows, `visit_of` their visits)."""
        frame, parts = self.frame, []
        visit_of = index if kind == "visit" else visit_of
        for dim in dims:
            if dim in VISIT_DIMENSIONS:
                codes, values = frame.visits(store.field_column(VISIT_DIMENSIONS[dim]))
                parts.append((codes[visit_of], values))
            elif dim in TIME_DIMENSIONS:
                day = frame.visit_day()[index] if kind == "visit" else self._event_rows(kind)[0][index]
                buckets = [rollup_reader._bucket(d, dim) for d in frame.days]
                labels = sorted(set(buckets))
                position = {b: i for i, b in enumerate(labels)}
                table = np.array([position[b] for b in buckets], dtype=np.int64)
                parts.append((table[day], labels))
            else:
                parts.append(event_part)
        return parts

    def _group(self, parts, n, count=None, sums=None, distinct=None):
        """{key tuple: {name: value}} over n rows keyed by parts (codes, labels), like engine._group."""
        sums, distinct = sums or {}, distinct or {}
        if not parts:
            row = {name: int(values.sum()) for name, values in sums.items()}
            row.update({name: _distinct(ids) for name, ids in distinct.items()})
            if count:
                row[count] = int(n)
            return {(): row}
        keys, space = np.zeros(n, dtype=np.int64), 1
        for codes, labels in parts:
            keys, space = keys * max(len(labels), 1) + codes, space * max(len(labels), 1)
        if space <= 4 * n + 65536:  # few possible keys: numbered by counting, not by sorting
            present = np.flatnonzero(np.bincount(keys, minlength=space))
            number = np.zeros(space, dtype=np.int64)
            number[present] = np.arange(len(present))
            groups, inverse = present, number[keys]
        else:
            groups, inverse = _numbered(keys)
        columns = {}
        if count:
            columns[count] = np.bincount(inverse, minlength=len(groups))
        for name, values in sums.items():
            columns[name] = np.bincount(inverse, weights=values, minlength=len(groups))
        for name, ids in distinct.items():
            order = np.lexsort((ids, inverse))
            g, i = inverse[order], ids[order]
            new = np.ones(len(g), dtype=bool)
            new[1:] = (g[1:] != g[:-1]) | (i[1:] != i[:-1])
            columns[name] = np.bincount(g[new], minlength=len(groups))
        out = {}
        for position, key in enumerate(groups.tolist()):
            labels = []
            for _codes, part_labels in reversed(parts):
                size = max(len(part_labels), 1)
                key, code = divmod(key, size)
                labels.append(part_labels[code])
            out[tuple(reversed(labels))] = {name: round(float(c[position])) for name, c in columns.items()}
        return out

    def visit_metrics(self, index, dims=None, visitors_only=False):
        dims = self.query.dimensions if dims is None else dims
        frame = self.frame
        if visitors_only:  # a conversion rate's denominators
            parts = self._parts(dims, "visit", index)
            return self._group(parts, len(index), distinct={"visitors": frame.visits("visitor")[0][index]})
        return self._group(
            self._parts(dims, "visit", index), len(index), count="visits",
            sums={name: frame.visits(name)[0][index] for name in ("bounce", "duration", "pageviews")},
            distinct={"visitors": frame.visits("visitor")[0][index]},
        )  # fmt: skip

    def _count(self, prefix, rows, dims=None):
        dims = self.query.dimensions if dims is None else dims
        index, visit_of = rows
        parts = self._parts(dims, prefix, index, visit_of=visit_of)
        return {key: row["n"] for key, row in self._group(parts, len(index), "n").items()}

    # the engine's run, family by family
    def families(self):
        from collections import defaultdict

        from dashboard.engine import has_only_goal_filter

        metrics, run = self.query.metrics, self.run
        families = defaultdict(dict)
        if run.event_dim == "event:page":
            self._pages(families)
        elif run.event_dim == "event:goal":
            self._goals(families)
        else:
            for key, row in self.visit_metrics(self.visits).items():
                families[key].update(
                    visitors=row["visitors"], visits=row["visits"], bounces=row["bounce"], duration=row["duration"],
                    pageviews=row["pageviews"],
                )  # fmt: skip
            counted_pageviews = None
            goal_events = "events" in metrics and has_only_goal_filter(self.query)
            if run.event_filtered and ({"pageviews", "views_per_visit"} & set(metrics) or goal_events):
                counted_pageviews = self._count("pv", self.pv)
                for key in set(families) | set(counted_pageviews):
                    families[key]["pageviews"] = counted_pageviews.get(key, 0)
            if "events" in metrics:
                counted_events = self._count("ev", self.ev)
                if run.event_filtered and goal_events:
                    for key, n in counted_pageviews.items():
                        counted_events[key] = counted_events.get(key, 0) + n
                for key in set(families) | set(counted_events):
                    families[key]["events"] = counted_events.get(key, 0)
            if "conversion_rate" in metrics:
                totals = self.visit_metrics(self.base, visitors_only=True)
                for key, values in families.items():
                    total = (totals.get(key) or {}).get("visitors") or 0
                    values["conversion_rate"] = pct(values.get("visitors", 0), total)
                from dashboard.buckets import display

                run.meta["all_visitors"] = {
                    tuple(display(v) for v in key): row["visitors"] or 0 for key, row in totals.items()
                }
        return families

    def _pages(self, families):
        metrics, frame = self.query.metrics, self.frame
        codes, values = self._event_rows("pv")[2]["pv_path"], frame.dictionary("pv_path").values
        pv, visit_of = self.pv
        grouped = self._group(
            self._parts(self.query.dimensions, "pv", pv, (codes[pv], values), visit_of), len(pv), count="pageviews",
            distinct={"visitors": frame.visits("visitor")[0][visit_of], "visits": visit_of},
        )  # fmt: skip
        for key, row in grouped.items():
            families[key].update(visitors=row["visitors"], visits=row["visits"], pageviews=row["pageviews"])
        if {"bounce_rate", "visit_duration", "views_per_visit"} & set(metrics):
            entry_codes, entry_values = frame.visits(store.field_column("entry_page"))
            entered = self._group(
                self._parts(self.query.dimensions, "visit", self.visits, (entry_codes[self.visits], entry_values)),
                len(self.visits), count="entries",
                sums={name: frame.visits(name)[0][self.visits] for name in ("bounce", "duration", "pageviews")},
            )  # fmt: skip
            for key, values_ in families.items():
                row = entered.get(key) or {}
                values_["bounce_entries"] = row.get("entries") or 0
                values_["bounces"] = row.get("bounce") or 0
                values_["duration"] = row.get("duration") or 0
                values_["entry_pageviews"] = row.get("pageviews") or 0
        if "events" in metrics:
            ev_codes, ev_values = self._event_rows("ev")[2]["ev_path"], frame.dictionary("ev_path").values
            ev, ev_visits = self.ev
            parts = self._parts(self.query.dimensions, "ev", ev, (ev_codes[ev], ev_values), ev_visits)
            for key, row in self._group(parts, len(ev), "n").items():
                families[key]["events"] = row["n"]

    def _goals(self, families):
        query, frame = self.query, self.frame
        other_dims = [d for d in query.dimensions if d != "event:goal"]
        totals = self.visit_metrics(self.base, dims=other_dims, visitors_only=True)
        slot = query.dimensions.index("event:goal")
        for prefix, kind in (("pv", "page"), ("ev", "event")):
            chosen = [g for g in self.run.goals if (g.kind == "page") == (kind == "page")]
            if not chosen:
                continue
            rows, visit_of = self.pv if prefix == "pv" else self.ev
            visitors = frame.visits("visitor")[0][visit_of]
            per_goal = []
            for goal in chosen:
                hit = self._goal_mask([goal], prefix, self._event_rows(prefix)[2])[rows]
                index = rows[hit]
                per_goal.append(
                    self._group(
                        self._parts(other_dims, prefix, index, visit_of=visit_of[hit]), len(index), count="events",
                        distinct={"visitors": visitors[hit], "visits": visit_of[hit]},
                    )
                )  # fmt: skip
            for goal, grouped in zip(chosen, per_goal, strict=True):
                for total_key, row in grouped.items():
                    if not row["events"]:
                        continue
                    key = (*total_key[:slot], goal.name, *total_key[slot:])
                    total = (totals.get(total_key) or {}).get("visitors") or 0
                    families[key].update(
                        visitors=row["visitors"], visits=row["visits"], events=row["events"],
                        conversion_rate=pct(row["visitors"], total),
                    )  # fmt: skip


def _distinct(ids):
    """How many different values (sorting: numpy's hashing unique is several times slower on 64-bit ids)."""
    if not len(ids):
        return 0
    ordered = np.sort(ids)
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))


def _numbered(keys):
    """(the distinct keys in order, each key's number among them), by sorting."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse


def _combine(operator, masks):
    if operator == "not":
        return ~masks[0]
    combined = masks[0].copy()
    for mask in masks[1:]:
        combined = combined & mask if operator == "and" else combined | mask
    return combined


def _lookup(values, codes, test):
    """A boolean per row: `test` asked once per distinct value."""
    table = np.array([bool(test(v)) for v in values] or [False], dtype=bool)
    return table[codes] if len(codes) else np.zeros(0, dtype=bool)


def _page_matcher(path):
    if "*" in path:
        pattern = re.compile(wildcard_regex(path))
        return lambda value: pattern.search(value) is not None
    return lambda value: value == path

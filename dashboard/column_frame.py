"""The column store's days of one site as numpy arrays, for dashboard.column_reader: the stored days from
VisitColumns, the days after them from the ProvisionalColumns snapshot plus the raw rows of the visits it left out
(or, without a usable snapshot, from raw rows), all in the store's shapes and codes.
"""

import time
from datetime import timedelta

import numpy as np
from django.db import connection

from dashboard.rollup_tail import changed_visits, render_shared
from tracking import columns as store
from tracking.models import ColumnValues, ProvisionalColumns, Visit, VisitColumns
from tracking.rollup_segments import among
from tracking.rollups import LocalDate, day_bounds, fetch_rows

SPAN_DAYS = 2  # a visit's page views lie within two days of its start (engine._VISIT_SPAN)
# With the query's own, the tail's visit fields read at once: the dashboard's cards and default panels ask for these.
TAIL_FIELDS = ("source", "country", "browser")


class UnknownVisit(Exception):
    """A page view or event whose visit started more than two days before it: only the raw path counts it."""


class Frame:
    """The days [first, last] of one site as arrays: visits by their start day (every day, so page views in the
    range find their visit's dimensions), page views and events by their own day (the range's days only)."""

    def __init__(self, site_id, tz, first, last, state, tail_q, tail_fields, memo):
        self.site_id, self.tz, self.tail_q, self.tail_fields = site_id, tz, tail_q, tail_fields
        # What a render's frames share (the texts of the codes, the visits changed since the snapshot), in a dict of the
        # memo's own: the frame keeps no reference to the memo, which holds it, so its arrays go when the render ends
        # rather than at the next cyclic collection (fresh memory for every render costs page faults on this scale).
        self.render = render_shared(memo, site_id)
        self.dictionaries = self.render.setdefault("column_values", {})
        self.days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.range_from = SPAN_DAYS  # the index of the range's first day
        self.stored = [d for d in self.days if state.columns_from <= d <= state.columns_until]
        self.columns_from, self.next_visitor = state.columns_from, state.columns_visitors
        self.tail = [d for d in self.days if d > state.columns_until]
        self._day_columns = {}  # (day, name) -> (array, values or None)
        # The days after the store: from the provisional snapshot of columns (everything stored when it was taken) with
        # the visits changed since read again, when it holds them all; else from raw rows.
        self.snapshot = None
        if (
            self.tail
            and state.provisional_columns_after is not None
            and state.provisional_columns_after == state.columns_until
            and state.provisional_until is not None
            and state.provisional_until >= self.tail[-1]
            and state.provisional_at is not None
        ):
            self.snapshot = state
        self._global = {}
        self._tail_loaded = set()

    # per-day columns
    def load(self, names, days):
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
            self.load([name], days)
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
        self.load(["vnum"], self.days)
        return np.array([len(self._day_columns[(d, "vnum")][0]) for d in self.days], dtype=np.int64)

    def visitor_numbers(self):
        """(each visit's visitor number less the frame's lowest, how many numbers that spans): distinct numbers are
        distinct visitors (tracking.columns.number_visitors), dense enough for a bitmap."""
        if "visitor_numbers" not in self._global:
            numbers = self.visits("vnum")[0].astype(np.int64)
            low = int(numbers.min()) if len(numbers) else 0
            self._global["visitor_numbers"] = (numbers - low, int(numbers.max()) - low + 1 if len(numbers) else 0)
        return self._global["visitor_numbers"]

    def visit_day(self):
        """Each visit's day, as an index into self.days."""
        if "visit_day" not in self._global:
            self._global["visit_day"] = np.repeat(np.arange(len(self.days), dtype=np.int16), self.visit_counts())
        return self._global["visit_day"]

    def day_array(self, day, name):
        found = self._day_columns.get((day, name))
        if found is None:
            self.load([name], [day])
            found = self._day_columns[(day, name)]
        return found[0]

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
            raise UnknownVisit
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
        rows_columns = [store.row_column(p, n) for p, names in store.ROW_KINDS for n in names]
        self._dictionaries([*(store.field_column(f) for f in self.tail_fields), *rows_columns])
        start, end = day_bounds(self.tz, self.tail[0])[0], day_bounds(self.tz, self.tail[-1])[1]
        local_day = LocalDate("timestamp", tzinfo=self.tz)
        # Page views and events first: every visit they name has been written by then, so the visits read next hold
        # them all (a visit written in between just has no rows here, as if it came a moment later).
        timed = {}
        for prefix, model, value_columns in store.row_tables():
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
        visitors = np.array(visits[2], dtype=np.int64)
        known_visitors, known_numbers = self._known_before_tail()
        numbers = {
            "visit_id": np.array(visits[1], dtype=np.int64),
            "visitor": visitors,
            "vnum": store.number_visitors(visitors, known_visitors, known_numbers, self.next_visitor)[0],
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
        self.load(
            ["visit_id"], [d for d in self.days if d not in self.tail and d >= self.tail[0] - timedelta(days=SPAN_DAYS)]
        )
        for prefix, (value_columns, columns) in timed.items():
            row_day = self._tail_day_numbers(columns[0])
            row_visit = np.array(columns[1], dtype=np.int64)
            names = [store.row_column(prefix, name) for name in value_columns]
            coded = [(self.dictionary(names[i]).code(columns[2 + i]), None) for i in range(len(value_columns))]
            for number, day in enumerate(self.tail):
                chosen = row_day == number
                earlier = [self._ids(day - timedelta(days=back)) for back in range(SPAN_DAYS + 1)]
                vday, position = store.visit_refs(row_visit[chosen], earlier)
                self._day_columns[(day, f"{prefix}_vday")] = (vday, None)
                self._day_columns[(day, f"{prefix}_visit")] = (position, None)
                for column, (codes, values) in zip(names, coded, strict=True):
                    self._day_columns[(day, column)] = (codes[chosen], values)
        self._tail_loaded.add("base")

    def _tail_from_snapshot(self):
        """The tail days as the snapshot stored them, with every visit changed since as it is now: in its place when
        the snapshot has it, after the snapshot's visits of its day when new; the snapshot's page views and events of
        the changed visits are replaced by their current ones (rollup_tail.changed_visits: every other row is as
        stored)."""
        part = {}
        rows = ProvisionalColumns.objects.filter(site_id=self.site_id, day__in=self.tail).values_list(
            "day", "name", "dtype", "data"
        )
        for day, name, dtype, data in _binary_rows(rows):
            part[(day, name)] = store.unpack(dtype, data).astype(np.int64)
        fresh_ids, visits = self._changed(self.snapshot)
        timed = {}
        for prefix, model, value_columns in store.row_tables():
            rows = []
            if fresh_ids:
                rows = _rows(
                    among(model.objects.filter(site_id=self.site_id), "visit_id", fresh_ids)
                    .filter(self.tail_q[prefix])
                    .annotate(local_day=LocalDate("timestamp", tzinfo=self.tz))
                    .filter(local_day__gte=self.tail[0], local_day__lte=self.tail[-1])
                    .values_list("local_day", "visit_id", *value_columns)
                )
            timed[prefix] = (value_columns, rows)
        by_day = {day: [] for day in self.tail}
        for visit_id in sorted(visits):
            row = visits[visit_id]
            if row[0] > self.tail[-1]:
                continue  # started after the frame's days (the range ends before today): none of its rows is in them
            if row[0] not in by_day:
                raise UnknownVisit  # changed since the snapshot, yet started before the days after the store
            by_day[row[0]].append(row)
        where, replaced = self._put_changed_visits(part, by_day)
        self._put_changed_rows(part, timed, where, replaced)
        self._tail_loaded.update(["base", *(store.field_column(f) for f in store.VISIT_TEXT)])

    def _put_changed_visits(self, part, by_day):
        """The tail days' visit arrays: the snapshot's (`part`), each changed visit (`by_day`: {day: rows}) in its place
        when the snapshot has it, after the day's visits when new. Returns ({visit id: (day, position)}, {day: a boolean
        per position, True for a visit whose rows are read again})."""
        empty = np.zeros(0, dtype=np.int64)
        # New visitors' numbers: those their ids had on the two days before the tail or in the snapshot, else new ones
        # after every number the snapshot gave.
        known = [self._known_before_tail()]
        known += [(part.get((d, "visitor"), empty), part.get((d, "vnum"), empty)) for d in self.tail]
        known_visitors = np.concatenate([k[0] for k in known])
        known_numbers = np.concatenate([k[1] for k in known])
        next_number = max(self.next_visitor, int(known_numbers.max()) + 1 if len(known_numbers) else 0)
        where, replaced = {}, {}
        self._tail_ids = {}
        for day, rows in by_day.items():
            ids = part.get((day, "visit_id"), empty)  # sorted, as the snapshot wrote them
            fresh = np.array([r[1] for r in rows], dtype=np.int64)
            at = np.searchsorted(ids, fresh)
            inside = at < len(ids)
            kept = np.zeros(len(fresh), dtype=bool)
            kept[inside] = ids[at[inside]] == fresh[inside]
            position = at.copy()
            position[~kept] = len(ids) + np.arange(np.count_nonzero(~kept))
            for visit_id, spot in zip(fresh.tolist(), position.tolist(), strict=True):
                where[visit_id] = (day, spot)
            replaced[day] = np.zeros(len(ids) + len(fresh) - np.count_nonzero(kept), dtype=bool)
            replaced[day][position[kept]] = True
            visitors = np.array([r[2] for r in rows], dtype=np.int64)
            numbers, next_number = store.number_visitors(visitors[~kept], known_visitors, known_numbers, next_number)
            known_visitors = np.concatenate([known_visitors, visitors[~kept]])  # the same id on a later day: one number
            known_numbers = np.concatenate([known_numbers, numbers])
            values = {
                "visit_id": fresh, "visitor": visitors, "bounce": [1 if r[3] else 0 for r in rows],
                "duration": [r[4] for r in rows], "pageviews": [r[5] for r in rows],
            }  # fmt: skip
            for offset, field in enumerate(store.VISIT_TEXT, start=6):
                name = store.field_column(field)
                values[name] = self.dictionary(name).code([r[offset] for r in rows])
            size = len(replaced[day])
            for name in ("vnum", *values):
                array = np.zeros(size, dtype=np.int64)
                array[: len(ids)] = part.get((day, name), np.zeros(len(ids), dtype=np.int64))
                if name == "vnum":  # a visit in the snapshot keeps its visitor's number
                    array[position[~kept]] = numbers
                else:
                    array[position] = values[name]
                self._day_columns[(day, name)] = (array, None)
            self._tail_ids[day] = None  # not sorted: rows of these days find their visits through `where`
        return where, replaced

    def _put_changed_rows(self, part, timed, where, replaced):
        """The tail days' page view and event arrays: the snapshot's less those of the visits read again, then those
        visits' current rows (`timed`: {prefix: (raw columns, rows)}), which find their visits through `where`."""
        empty = np.zeros(0, dtype=np.int64)
        for prefix, (value_columns, rows) in timed.items():
            grouped = {day: [] for day in self.tail}
            for row in rows:
                grouped[row[0]].append(row)
            names = [store.row_column(prefix, name) for name in value_columns]
            for number, (day, day_rows) in enumerate(grouped.items()):
                vday = part.get((day, f"{prefix}_vday"), empty)
                spot = part.get((day, f"{prefix}_visit"), empty)
                keep = np.ones(len(vday), dtype=bool)
                for back in range(min(number, SPAN_DAYS) + 1):  # the snapshot's rows of visits read again go
                    mask = replaced[self.tail[number - back]]
                    of_day = np.flatnonzero(vday == back)
                    keep[of_day[mask[spot[of_day]]]] = False
                refs = [where[r[1]] for r in day_rows]
                columns = {
                    f"{prefix}_vday": [(day - visit_day).days for visit_day, _ in refs],
                    f"{prefix}_visit": [position for _, position in refs],
                }
                for offset, name in enumerate(names, start=2):
                    columns[name] = self.dictionary(name).code([r[offset] for r in day_rows])
                for name, fresh in columns.items():
                    head = part.get((day, name), empty)[keep]
                    self._day_columns[(day, name)] = (np.concatenate([head, np.array(fresh, dtype=np.int64)]), None)

    def _changed(self, state):
        """(ids, {id: row}) of the visits changed since the snapshot, read once per render for all its frames. Their
        page views and events are read after them, so every one names a visit read here (a visit started after that
        just has no rows yet, as if it came a moment later)."""
        key = ("columns_changed", self.site_id, state.provisional_at)
        if key not in self.render:
            fresh_ids = sorted(changed_visits(self.site_id, self.tz, state, self.render))
            visits = {}
            if fresh_ids:
                local_day = LocalDate("started_at", tzinfo=self.tz)
                columns = ("visitor_id", "is_bounce", "duration", "pageviews", *store.VISIT_TEXT)
                rows = among(Visit.objects.filter(site_id=self.site_id), "id", fresh_ids)
                visits = {
                    row[1]: row
                    for row in _rows(rows.annotate(local_day=local_day).values_list("local_day", "id", *columns))
                }
            self.render[key] = (sorted(visits), visits)
        return self.render[key]

    def _known_before_tail(self):
        """(visitor ids, visitor numbers) of the visits of the two stored days before the tail, in one statement."""
        before = [self.tail[0] - timedelta(days=back) for back in (2, 1)]
        before = [d for d in before if self.columns_from <= d]
        found = {}
        if before:
            rows = VisitColumns.objects.filter(
                site_id=self.site_id, day__in=before, name__in=["visitor", "vnum"]
            ).values_list("day", "name", "dtype", "data")
            found = {(day, name): store.unpack(dtype, data) for day, name, dtype, data in _binary_rows(rows)}
        empty = np.zeros(0, dtype=np.int64)
        return tuple(
            np.concatenate([empty, *(found.get((d, name), empty).astype(np.int64) for d in before)])
            for name in ("visitor", "vnum")
        )

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


_TEXT_COLUMNS = frozenset(store.text_columns())


def _is_text(name):
    return name in _TEXT_COLUMNS


def _transposed(rows, width):
    """Rows as columns (tuples), `width` of them even when there are no rows."""
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _rows(queryset):
    return fetch_rows(queryset)


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
    started = time.monotonic()
    # Django's cursors bind on the client, which psycopg allows for text results only.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        rows = cursor.fetchall()
    if connection.queries_logged:  # as Django's own cursors log (DEBUG, CaptureQueriesContext, the bench's counts)
        connection.queries_log.append({"sql": f"{sql} -- {params!r}", "time": f"{time.monotonic() - started:.3f}"})
    return rows


def _binary_rows(queryset):
    """Rows with bytea columns fetched in binary on PostgreSQL (text would be hex: twice the bytes, and parsed)."""
    if connection.vendor != "postgresql":
        return list(queryset)
    sql, params = queryset.query.sql_with_params()
    return _binary_sql(sql, params)


# --- the engine's semantics over the arrays ----------------------------------------------------

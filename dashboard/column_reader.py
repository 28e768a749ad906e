"""Queries no rollup answers (two filters, event filters, `is_not`…), from the column store (tracking.columns).

The raw SQL path (dashboard.engine) joins the range's visits with their page views in every statement: at 10 M page
views, ~2 s each, because a visit row is ~330 bytes wide. Here the same rows come as arrays, a few bytes a visit
(dashboard.column_frame: the complete days from VisitColumns, today from its snapshot and the raw rows of the visits
the snapshot left out). A page render loads a range once (a Frame, in the run's memo) and every panel is a few numpy
passes over it.

Exact like the rest, and the same semantics as engine._Run (the tests compare the two on every kind of query): the
visit set is the range's visits matching the visit filters (and, with event filters, having a matching page view or
event in the range); page views and events count on their own day, keyed by their visit's dimensions; visitors are
distinct visitor ids. `families(run)` answers None (the raw path then) for what it does not cover: hourly buckets,
event:name and property breakdowns, property filters, metrics from other apps, or days it cannot see.
"""

from datetime import timedelta

import numpy as np
from django.db import connection

from dashboard import providers, rollup_reader
from dashboard.buckets import pct
from dashboard.column_frame import SPAN_DAYS, TAIL_FIELDS, Frame, UnknownVisit
from dashboard.filters import python_match
from dashboard.query import TIME_DIMENSIONS, VISIT_DIMENSIONS, Logical
from tracking import columns as store
from tracking.rollups import goal_matchers

EVENT_FILTER_DIMS = ("event:page", "event:name", "event:goal")
WHOLE_ABOVE = 1 / 3  # a stored day's page views are read whole when a page filter keeps more than this share of them
MAX_TAIL_DAYS = 3  # days after the store read raw; more (a store far behind) and the raw path answers


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
    except UnknownVisit:
        return None  # a page view whose visit started more than two days before it: the raw path counts it


def _served(run):
    query = run.query
    if providers.provided_metrics(query) or "time:hour" in query.dimensions:
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
    key = ("columns_frame", run.site.pk, first, last, state.columns_from, state.columns_until, _event_key(run))
    if key not in run.memo:
        # The tail's visit fields read at once: the filters', the query's and the dashboard's usual ones.
        fields = {VISIT_DIMENSIONS[d] for d in run.query.dimensions if d in VISIT_DIMENSIONS}
        fields |= {VISIT_DIMENSIONS[d] for item in run.query.visit_filters for d in _leaves(item)}
        fields |= set(TAIL_FIELDS)
        tail_q = {"pv": run.pv_q, "ev": run.ev_q}
        run.memo[key] = Frame(run.site.pk, run.tz, first, last, state, tail_q, sorted(fields), run.memo)
    return run.memo[key]


def _event_key(run):
    """What the rows matching a query's event filters depend on: the filters, and the goals when they name one."""
    goals = any("event:goal" in _leaves(item) for item in run.query.event_filters)
    return repr(run.query.event_filters), tuple(g.pk for g in run.goals) if goals else ()


# --- the arrays -------------------------------------------------------------------------------


class _Answer:
    def __init__(self, run, frame):
        self.run, self.frame, self.query = run, frame, run.query
        self.filters_key = (repr(self.query.filters), tuple(g.pk for g in run.goals))
        # The rows matching the event filters do not depend on the visit filters: the dashboard's panels that add one
        # (a campaign panel leaves out visits without a campaign) share them with the rest of the page.
        self.event_key = _event_key(run)

    def _shared(self, name, compute, key=None):
        return self.frame.shared((name, *(self.filters_key if key is None else key)), compute)

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
        column = store.field_column(VISIT_DIMENSIONS[item.dimension])
        codes, _ = self.frame.visits(column)
        return self._table(column, repr(item), lambda v: python_match(v, item.operator, item.values))[codes]

    def _table(self, column, key, test):
        """A boolean per code of a text column: `test` asked once per distinct text (in this answer)."""
        cache = self.frame.shared(("tables",), dict)  # keyed by column and test: one for the render's answers
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
        pages, names = goal_matchers(goals)  # the rollups' own reading of a goal
        if prefix == "pv":
            table = self._table("pv_path", ("goals", key), lambda v: any(match(v) for _, match in pages))
            return table[chunk["pv_path"]]
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
            frame.load([*columns, f"{prefix}_vday", f"{prefix}_visit"], whole)
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

        return self._shared(("event_rows", prefix), compute, key=self.event_key)

    def _sliced_runs(self, days):
        """{day: (vday, position, path codes)} of the matching page views of the stored days, read as slices of their
        runs of one path (PostgreSQL reads only those parts of the arrays); a day whose matching rows are most of it is
        left out (read whole)."""
        frame = self.frame
        stored = [d for d in days if d in frame.stored]
        if connection.vendor != "postgresql" or not self.query.event_filters or not stored:
            return {}
        frame.load(["pv_run_code", "pv_run_len"], stored)
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
            columns[name] = _distinct_by_group(ids, inverse, len(groups))
        out = {}
        for position, key in enumerate(groups.tolist()):
            labels = []
            for _codes, part_labels in reversed(parts):
                size = max(len(part_labels), 1)
                key, code = divmod(key, size)
                labels.append(part_labels[code])
            out[tuple(reversed(labels))] = {name: round(float(c[position])) for name, c in columns.items()}
        return out

    def visit_metrics(self, which, dims=None, visitors_only=False):
        """engine.visit_metrics over the visit set ("visits") or the visits before the event filters ("base")."""
        dims = self.query.dimensions if dims is None else dims
        frame, index = self.frame, getattr(self, which)
        visitors = self._shared(("visitors", which), lambda: _visitors(frame, index))
        if visitors_only:  # a conversion rate's denominators
            return self._group(self._parts(dims, "visit", index), len(index), distinct={"visitors": visitors})
        return self._group(
            self._parts(dims, "visit", index), len(index), count="visits",
            sums={name: frame.visits(name)[0][index] for name in ("bounce", "duration", "pageviews")},
            distinct={"visitors": visitors},
        )  # fmt: skip

    def _count(self, prefix, rows, dims=None):
        dims = self.query.dimensions if dims is None else dims
        index, visit_of = rows
        parts = self._parts(dims, prefix, index, visit_of=visit_of)
        return {key: row["n"] for key, row in self._group(parts, len(index), "n").items()}

    # the engine's run, family by family
    def families(self):
        from collections import defaultdict

        from dashboard.engine import fill_event_counts  # it imports this module

        run = self.run
        families = defaultdict(dict)
        if run.event_dim == "event:page":
            self._pages(families)
        elif run.event_dim == "event:goal":
            self._goals(families)
        else:
            for key, row in self.visit_metrics("visits").items():
                families[key].update(
                    visitors=row["visitors"], visits=row["visits"], bounces=row["bounce"], duration=row["duration"],
                    pageviews=row["pageviews"],
                )  # fmt: skip
            fill_event_counts(
                families, run, count_pageviews=lambda: self._count("pv", self.pv),
                count_events=lambda: self._count("ev", self.ev),
                base_totals=lambda: self.visit_metrics("base", visitors_only=True),
            )  # fmt: skip
        return families

    def _pages(self, families):
        metrics, frame = self.query.metrics, self.frame
        codes, values = self._event_rows("pv")[2]["pv_path"], frame.dictionary("pv_path").values
        pv, visit_of = self.pv
        grouped = self._group(
            self._parts(self.query.dimensions, "pv", pv, (codes[pv], values), visit_of), len(pv), count="pageviews",
            distinct={"visitors": _visitors(frame, visit_of), "visits": _Dense(visit_of, len(frame.visit_day()))},
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
        totals = self.visit_metrics("base", dims=other_dims, visitors_only=True)
        slot = query.dimensions.index("event:goal")
        for prefix, kind in (("pv", "page"), ("ev", "event")):
            chosen = [g for g in self.run.goals if (g.kind == "page") == (kind == "page")]
            if not chosen:
                continue
            rows, visit_of = self.pv if prefix == "pv" else self.ev
            visitors = _visitors(frame, visit_of)
            per_goal = []
            for goal in chosen:
                hit = self._goal_mask([goal], prefix, self._event_rows(prefix)[2])[rows]
                index = rows[hit]
                per_goal.append(
                    self._group(
                        self._parts(other_dims, prefix, index, visit_of=visit_of[hit]), len(index), count="events",
                        distinct={"visitors": visitors[hit], "visits": _Dense(visit_of[hit], len(frame.visit_day()))},
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


class _Dense:
    """Values to count distinct: integers 0 ≤ value < size (visitor numbers less the frame's lowest, visit indices)."""

    def __init__(self, values, size):
        self.values, self.size = values, size
        self._once = None

    def __getitem__(self, picked):
        return _Dense(self.values[picked], self.size)

    def once(self):
        """A boolean per value: whether it occurs only once here (computed once; the panels of a render share it)."""
        if self._once is None:
            self._once = np.bincount(self.values, minlength=self.size)[self.values] == 1
        return self._once


def _distinct_by_group(ids, inverse, groups):
    """How many distinct values of `ids` each group has. A value that occurs once counts once in its group, without
    a sort (most visitors have one visit in a set); the distinct (value, group) pairs of the others, one integer each,
    are counted by one sort. Their numbers mostly come in order (visitors numbered as their visits were stored), so
    the pairs are nearly sorted: timsort's best case."""
    once = ids.once()
    counts = np.bincount(inverse[once], minlength=groups)
    repeated = ~once
    if repeated.any():
        pairs = np.sort(ids.values[repeated] * groups + inverse[repeated], kind="stable")
        new = np.ones(len(pairs), dtype=bool)
        new[1:] = pairs[1:] != pairs[:-1]
        counts += np.bincount(pairs[new] % groups, minlength=groups)
    return counts


def _visitors(frame, index):
    """The visitor numbers of these visits, to count distinct."""
    numbers, span = frame.visitor_numbers()
    return _Dense(numbers[index], span)


def _distinct(dense):
    """How many different values: a bitmap over their span (no sort)."""
    seen = np.zeros(dense.size, dtype=bool)
    seen[dense.values] = True
    return int(np.count_nonzero(seen))


def _numbered(keys):
    """(the distinct keys in order, each key's number among them), by sorting: numpy's hashing unique is several
    times slower on 64-bit ids."""
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

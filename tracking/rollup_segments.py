"""Segment rollups: each complete day summed per dimension value under one common visit filter.

`source is Google` is a segment (segment_dim "source", segment_value "Google"); a dashboard with that one
filter reads the segment's rows instead of every Google visit. A segment's rows are summed by the same
function as the daily rollups (`tracking.rollups.aggregate`) over the segment's visits and their page
views and events, so every path counts alike.

Unique visitors stay exact: each row carries `carry_in`, the visitor ids seen with its segment and value
on its day and on the day before (from the raw rows of the day before, which are kept), so over a run
of days the visitors are the daily sum minus every carry_in after the first day. The same computation
answers a day that is not complete yet at read time (`day_rows` with `only`), for the one segment asked.

Filled idempotently after the daily rollups: a day's rows are deleted and inserted in one transaction
that also moves RollupState.segments_until, so a crashed fill redoes that day.
"""

from collections import defaultdict
from datetime import timedelta
from operator import itemgetter
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import BooleanField, ExpressionWrapper, F, Lookup, Q

from tracking.models import Event, PageView, RollupState, SegmentRollup, Visit
from tracking.rollups import GOAL, PAGE, TOTAL, LocalDate, _first_day, _site_goals, aggregate, day_bounds, goal_matchers

# The filters served from segments: visit-level, few values, the ones a dashboard user clicks most.
SEGMENT_DIMS = ("source", "channel", "country", "device")
# What a segment is broken down by: the dashboard's panels (other breakdowns under a filter read raw rows).
# (Regions, cities and exit pages are left out: many values, rarely looked at under a filter, costly to fill.)
SEGMENT_VISIT_DIMS = (TOTAL, "source", "channel", "utm_campaign", "entry_page", "country", "browser", "os", "device")
SEGMENT_BREAKDOWNS = (*SEGMENT_VISIT_DIMS, PAGE, GOAL)
_VISIT_SPAN = timedelta(days=2)  # a row's visit started at most this long before it (as in the engine)
_FIELDS = tuple(sorted({*SEGMENT_DIMS, *(d for d in SEGMENT_VISIT_DIMS if d)}))


class _Rows:
    """One day's raw rows with each row's segment values: visits, and page views and events by their visit."""

    def __init__(self, site_id, tz, day, goals, only=None, dims=SEGMENT_BREAKDOWNS, before=None):
        """With `before`, as a provisional snapshot sees the day: the visits that ended before it, and the page views
        and events before it."""
        lo, hi = day_bounds(tz, day)
        where = {only[0]: only[1]} if only else {}
        visits = Visit.objects.filter(site_id=site_id, started_at__gte=lo, started_at__lt=hi, **where)
        if before is not None:
            visits = visits.filter(last_seen_at__lt=before)
            hi = min(hi, before)
        self.visits = list(visits.values_list("visitor_id", "is_bounce", "duration", "pageviews", *_FIELDS))
        self.pageviews, self.events = [], []
        owners = {f"visit__{k}": v for k, v in where.items()}
        bounded = {"visit__started_at__gte": lo - _VISIT_SPAN, "visit__started_at__lt": hi, **owners}
        segment_columns = [f"visit__{dim}" for dim in SEGMENT_DIMS]
        if PAGE in dims or (GOAL in dims and any(g.kind == "page" for g in goals)):
            rows = PageView.objects.filter(site_id=site_id, timestamp__gte=lo, timestamp__lt=hi, **bounded)
            self.pageviews = list(rows.values_list("visitor_id", "visit_id", "pathname", *segment_columns))
        if GOAL in dims and any(g.kind != "page" for g in goals):
            rows = Event.objects.filter(site_id=site_id, timestamp__gte=lo, timestamp__lt=hi, **bounded)
            self.events = list(rows.values_list("visitor_id", "visit_id", "name", *segment_columns))
        self.visitors = {row[0] for row in self.visits} | {row[0] for row in self.pageviews}
        self.visitors |= {row[0] for row in self.events}

    @classmethod
    def of_segment(cls, site_id, tz, day, only, with_events=True, cache=None):
        """(this day's rows, the day before's rows) of one segment: its visits of the two days and, with_events,
        the page views and events of its visits (started up to two days earlier) in the two days.

        `cache` (a dict) keeps what was read for the next call of the same render, which may want the events."""
        cache = {} if cache is None else cache
        hi = day_bounds(tz, day)[1]
        before_lo = day_bounds(tz, day - timedelta(days=1))[0]
        where = {"site_id": site_id, only[0]: only[1]}
        lo = day_bounds(tz, day)[0]
        if "visits" not in cache:
            rows = (
                Visit.objects.filter(started_at__gte=before_lo, started_at__lt=hi, **where)
                .annotate(local_day=LocalDate("started_at", tzinfo=tz), goes_on=_since(lo, "last_seen_at"))
                .values_list("id", "local_day", "goes_on", "visitor_id", "is_bounce", "duration", "pageviews", *_FIELDS)
            )
            split, owners = ([], []), ({}, {})  # visits, and {visit id: visitor} of the page views of each day
            for visit_id, local_day, goes_on, *rest in rows:
                position = 0 if local_day == day else 1
                split[position].append(rest)
                owners[position][visit_id] = rest[0]
                if position == 1 and goes_on:
                    owners[0][visit_id] = rest[0]  # a visit across midnight: page views on both days
            cache["visits"], cache["owners"] = split, owners
        if with_events and "events" not in cache:
            # Visits started before the two days that still went on in them (rare: visits are short).
            older = (
                Visit.objects.filter(
                    started_at__gte=before_lo - _VISIT_SPAN, started_at__lt=before_lo, last_seen_at__gte=before_lo,
                    **where,
                )
                .annotate(goes_on=_since(lo, "last_seen_at"))
                .values_list("id", "visitor_id", "goes_on")
            )  # fmt: skip
            owners = [dict(part) for part in cache["owners"]]
            for visit_id, visitor, goes_on in older:
                owners[1][visit_id] = visitor
                if goes_on:
                    owners[0][visit_id] = visitor
            events = ([], []), ([], [])  # (page views, events) of (this day, the day before)
            models = ((PageView, "pathname"), (Event, "name"))
            for index, (model, column) in enumerate(models):
                found = model.objects.filter(site_id=site_id, timestamp__gte=lo, timestamp__lt=hi)
                events[index][0].extend(among(found, "visit_id", list(owners[0])).values_list(
                    "visitor_id", "visit_id", column
                ))  # fmt: skip
            # The day before: only what may carry (visitors of this day too) is needed of its rows.
            today_visitors = {row[0] for row in cache["visits"][0]}
            today_visitors.update(row[0] for part in events for row in part[0])
            carried = [visit_id for visit_id, visitor in owners[1].items() if visitor in today_visitors]
            for index, (model, column) in enumerate(models):
                found = model.objects.filter(site_id=site_id, timestamp__gte=before_lo, timestamp__lt=lo)
                if carried:
                    events[index][1].extend(among(found, "visit_id", carried).values_list(
                        "visitor_id", "visit_id", column
                    ))  # fmt: skip
            cache["events"] = events
        pairs = []
        for position in (0, 1):
            rows = cls.__new__(cls)
            rows.only_value = only[1]
            rows.visits = cache["visits"][position]
            rows.pageviews, rows.events = (
                (cache["events"][0][position], cache["events"][1][position]) if ("events" in cache) else ([], [])
            )
            rows.visitors = {row[0] for row in rows.visits} | {row[0] for row in rows.pageviews}
            rows.visitors |= {row[0] for row in rows.events}
            pairs.append(rows)
        return tuple(pairs)

    def by_segment(self, segment_dim, visitors=None):
        """{segment value: (visits, page views, events)} in aggregate()'s row shapes."""
        if getattr(self, "only_value", None) is not None:  # one segment's rows (of_segment), events as 3-tuples
            if visitors is None:
                return {self.only_value: (self.visits, self.pageviews, self.events)}
            chosen = [
                [row for row in rows if row[0] in visitors] for rows in (self.visits, self.pageviews, self.events)
            ]
            return {self.only_value: tuple(chosen)}
        v_index, e_index = 4 + _FIELDS.index(segment_dim), 3 + SEGMENT_DIMS.index(segment_dim)
        out = defaultdict(lambda: ([], [], []))
        for row in self.visits:
            if visitors is None or row[0] in visitors:
                out[row[v_index] or ""][0].append(row)
        for position, rows in ((1, self.pageviews), (2, self.events)):
            for row in rows:
                if visitors is None or row[0] in visitors:
                    out[row[e_index] or ""][position].append(row[:3])
        return out


def _since(moment, column):
    return ExpressionWrapper(Q(**{f"{column}__gte": moment}), output_field=BooleanField())


class _AnyOf(Lookup):
    """`column = ANY(%s)` with one array parameter (PostgreSQL). An expression, so inside a sub-select it names the
    sub-select's own alias of the table (the raw `.extra(where=…)` it replaces named the outer query's)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, params = compiler.compile(self.lhs)
        values = list(self.rhs)
        if all(type(v) is int for v in values):
            # Ids (thousands of them): the array's text written here, ~8× faster than the driver's list adapter.
            return f"{lhs} = ANY(%s::bigint[])", [*params, "{" + ",".join(map(str, values)) + "}"]
        return f"{lhs} = ANY(%s)", [*params, values]


def among(rows, column, values):
    """rows whose column is one of many values: one array parameter on PostgreSQL (hashed), IN elsewhere."""
    if connection.vendor == "postgresql":
        return rows.filter(_AnyOf(F(column), values))
    return rows.filter(**{f"{column}__in": values})


def segment_stats(today, before, dims, goals, segments=SEGMENT_DIMS):
    """{(segment_dim, segment_value): {dimension: {value: Stats}}} of a day (`today`, a _Rows), with Stats.carry
    holding carry_in: the visitor ids with that segment and value on this day and the day before (`before`)."""
    matchers = goal_matchers(goals)
    visit_dims = [d for d in dims if d not in (PAGE, GOAL)]
    result = {}
    both = today.visitors & before.visitors if before is not None else set()
    for segment_dim in segments:
        dims_here = [d for d in dims if d != segment_dim]  # by its own dimension: the daily rollup's rows
        fields = [d for d in visit_dims if d and d != segment_dim]
        shape = itemgetter(0, 1, 2, 3, *(4 + _FIELDS.index(f) for f in fields))  # aggregate()'s visit rows
        for value, (visits, pageviews, events) in today.by_segment(segment_dim).items():
            rows = [shape(row) for row in visits]
            stats, _ = aggregate(dims_here, fields, rows, pageviews, events, matchers, with_pairs=False)
            result[(segment_dim, value)] = stats
        if not both:
            continue
        pairs = {}
        for rows_of, key in ((today, 0), (before, 1)):
            for value, (visits, pageviews, events) in rows_of.by_segment(segment_dim, both).items():
                rows = [shape(row) for row in visits]
                pairs[(key, value)] = aggregate(dims_here, fields, rows, pageviews, events, matchers)[1]
        for (key, value), today_pairs in pairs.items():
            if key != 0 or (1, value) not in pairs or (segment_dim, value) not in result:
                continue
            before_pairs, stats = pairs[(1, value)], result[(segment_dim, value)]
            for dim, seen in today_pairs.items():
                for _visitor, dim_value in seen & before_pairs.get(dim, set()):
                    entry = stats[dim].get(dim_value)
                    if entry is not None:
                        entry.carry += 1
    return result


def day_rows(site_id, tz, day, *, goals=(), only=None, dims=SEGMENT_BREAKDOWNS, rows=None):
    """[(segment_dim, segment_value, dimension, value, Stats with carry_in as .carry)] of one day: every segment,
    or with `only` ((segment_dim, value)) that one. `rows` may pass (today, before) _Rows already fetched."""
    if rows is not None:
        today, before = rows
    elif only:
        today, before = _Rows.of_segment(site_id, tz, day, only, with_events=PAGE in dims or GOAL in dims)
    else:
        today, before = _Rows(site_id, tz, day, goals, dims=dims), _Rows(site_id, tz, day - timedelta(days=1), goals)
    segments = (only[0],) if only else SEGMENT_DIMS
    return [
        (segment_dim, segment_value, dim, value, stats)
        for (segment_dim, segment_value), by_dim in segment_stats(today, before, dims, goals, segments).items()
        for dim, values in by_dim.items()
        for value, stats in values.items()
    ]


def provisional_days(site_id, tz, complete_until, last, goals, cutoff):
    """{day: rows like day_rows'} of the days after complete_until up to `last`, as seen at the cutoff (the days
    of RollupState's provisional snapshot), every segment; carry_in against the complete day before, then each
    snapshot day against the one before it as the snapshot saw it."""
    before = _Rows(site_id, tz, complete_until, goals)
    days, day = {}, complete_until + timedelta(days=1)
    while day <= last:
        today = _Rows(site_id, tz, day, goals, before=cutoff)
        days[day] = day_rows(site_id, tz, day, goals=goals, rows=(today, before))
        before, day = today, day + timedelta(days=1)
    return days


def segments_fill(site, *, max_days=None):
    """Fill the segment rows of every complete day not filled yet. Returns the number of days filled."""
    state = RollupState.objects.filter(site=site).first()
    if state is None or state.complete_until is None or state.timezone != site.timezone:
        return 0
    tz, goals = ZoneInfo(site.timezone), _site_goals(site)
    goal_ids = sorted(g.pk for g in goals)
    if state.segments_until is not None and goal_ids != sorted(state.segment_goals):
        segments_reset(site)  # a goal was added or removed: every day's goal rows change (rare)
        state.segments_until = None
    day = state.segments_until + timedelta(days=1) if state.segments_until else _first_day(site, tz)
    filled, before = 0, None
    while day is not None and day <= state.complete_until and (max_days is None or filled < max_days):
        before = before or _Rows(site.pk, tz, day - timedelta(days=1), goals)
        today = _Rows(site.pk, tz, day, goals)
        rows = day_rows(site.pk, tz, day, goals=goals, rows=(today, before))
        with transaction.atomic():
            locked = RollupState.objects.select_for_update().get(pk=state.pk)
            if locked.segments_until is not None and locked.segments_until >= day:
                break  # another filler got here first
            SegmentRollup.objects.filter(site=site, day=day).delete()
            store(site, day, rows)
            RollupState.objects.filter(pk=state.pk).update(segments_until=day, segment_goals=goal_ids)
        filled, before, day = filled + 1, today, day + timedelta(days=1)
    return filled


_STORED = ("site_id", "day", "segment_dim", "segment_value", "dimension", "value", "visitors", "visits", "bounces",
           "duration", "pageviews", "carry_in")  # fmt: skip


def store(site, day, rows, model=SegmentRollup):
    """Insert a day's rows (of SegmentRollup or SegmentProvisional): with COPY on PostgreSQL (a day is ~100 k rows),
    bulk_create elsewhere."""
    values = (
        (site.pk, day, sd, sv[:2000], dim, value[:2000], s.visitors, s.visits, s.bounces, s.duration, s.pageviews,
         s.carry)
        for sd, sv, dim, value, s in rows
    )  # fmt: skip
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            copy = f"COPY {model._meta.db_table} ({', '.join(_STORED)}) FROM STDIN"
            with cursor.cursor.copy(copy) as writer:
                for row in values:
                    writer.write_row(row)
        return
    model.objects.bulk_create([model(**dict(zip(_STORED, row, strict=True))) for row in values], batch_size=2000)


def segments_reset(site):
    SegmentRollup.objects.filter(site=site).delete()
    RollupState.objects.filter(site=site).update(segments_until=None, segment_goals=[])

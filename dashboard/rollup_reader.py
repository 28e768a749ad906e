"""Answering unfiltered queries from daily rollups, the tail (days not complete yet) from the provisional
snapshot corrected with the raw rows of the visitors active since its cutoff (or from raw rows when
there is no usable snapshot).

Unique visitors over a run of days = the sum of each day's visitors minus, for each pair of adjacent
days inside the run, the visitor ids seen on both (the rollups' `carry`). Visitor ids change every
day, so an id lives about one day and touches at most a couple of adjacent local days: the result is
exact, the same number a COUNT(DISTINCT) over the raw rows gives.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import BigIntegerField, BooleanField, Case, ExpressionWrapper, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Cast

from dashboard import segment_reader
from dashboard.query import TIME_DIMENSIONS, VISIT_DIMENSIONS
from tracking import rollups
from tracking.models import DailyRollup, Event, PageView, ProvisionalRollup, RollupState, Visit, WeeklyRollup
from tracking.rollup_segments import among
from tracking.rollups import LocalDate

ROLLUP_METRICS = {"visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"}
GOAL_METRICS = {"visitors", "visits", "events", "conversion_rate"}


def _dimension_code(run):
    """The rollup dimension a query needs, or None when rollups cannot answer it."""
    query = run.query
    from dashboard.engine import provided_metrics

    provided = provided_metrics(query)
    if not set(query.metrics) - provided <= ROLLUP_METRICS:
        return None
    if "time:hour" in query.dimensions:
        return None  # hours are cheap from raw rows: a day at most
    others = [d for d in query.dimensions if d not in TIME_DIMENSIONS]
    if len(others) > 1:
        return None
    if not others:
        return rollups.TOTAL
    if others[0] == "event:page":
        # Page rows count a visit once per day it viewed the page; a visit across midnight would count twice,
        # so distinct visits per page come from raw rows.
        return None if {"events", "visits"} & set(query.metrics) else rollups.PAGE
    return VISIT_DIMENSIONS.get(others[0])


def families(run):
    """{key: metric sums} like the raw engine's, or None to fall back to raw rows."""
    planned = segment_reader.plan(run.query)
    code = _dimension_code(run) if planned is not None else None
    if code is None:
        return None
    state = _state(run)
    if state is None:
        return None
    segment, predicates = planned
    as_total = _as_segment_total(run, segment, predicates)
    if as_total is not None:  # "source is Google" by source: the Google segment's total, one row
        out = _families_segment(run, as_total, rollups.TOTAL, [rollups.TOTAL], state)
        if out is None:
            return None
        rows = list(out.values())
        return {(as_total[1],): rows[0]} if rows else {}
    entry_metrics = {"bounce_rate", "visit_duration", "views_per_visit"} & set(run.query.metrics)
    codes = [code, "entry_page"] if code == rollups.PAGE and entry_metrics else [code]
    if segment is None:
        out = _families_1d(run, code, codes, state)
    else:
        out = _families_segment(run, segment, code, codes, state)
    if out is None or not predicates:
        return out
    return {key: values for key, values in out.items() if segment_reader.keep_row(key, run.query, predicates)}


def _as_segment_total(run, segment, predicates):
    """(field, value) when the only filter is `is` one value of the breakdown's own segment dimension."""
    if segment is not None or run.time_dim is not None or len(predicates) != 1:
        return None
    item = predicates[0]
    field = VISIT_DIMENSIONS.get(item.dimension)
    if item.operator != "is" or len(item.values) != 1 or field not in segment_reader.SEGMENT_DIMS:
        return None
    return field, item.values[0]


def _families_segment(run, segment, code, codes, state):
    entries = segment_reader.daily(run, segment, codes, state)
    if entries is None:
        return None
    out = defaultdict(dict)
    for dim in codes:
        sums = segment_reader.totals(run, entries[dim], lambda day, value: _key(run, run.time_dim, day, value, code))
        for key, (visitors, visits, bounces, duration, pageviews) in sums.items():
            if dim == code:
                out[key].update(
                    visitors=visitors, visits=visits, bounces=bounces, duration=duration, pageviews=pageviews
                )
            else:
                out[key].update(bounce_entries=visits, bounces=bounces, duration=duration, entry_pageviews=pageviews)
    if code == rollups.PAGE:
        out = {key: values for key, values in out.items() if "visitors" in values}
    return out


def _families_1d(run, code, codes, state):
    date_range = run.query.date_range
    daily = _daily(run, codes, state)
    time_dim = run.time_dim
    out = defaultdict(dict)
    end, plain = date_range.end, bool(run.query.dimensions)
    for dim in codes:
        buckets = {}  # key -> [visitors, visits, bounces, duration, pageviews], carries inside the key taken off
        for (day, value), stats in daily[dim].items():
            if time_dim is None:  # one bucket: every day's carry into the next day of the range comes off
                key = (value,) if plain else ()
                carried = stats.carry if day < end else 0
            else:
                key = _key(run, time_dim, day, value, code)
                nxt = day + timedelta(days=1)
                carried = stats.carry if nxt <= end and _key(run, time_dim, nxt, value, code) == key else 0
            sums = buckets.get(key)
            if sums is None:
                sums = buckets[key] = [0, 0, 0, 0, 0]
            sums[0] += stats.visitors - carried
            sums[1] += stats.visits
            sums[2] += stats.bounces
            sums[3] += stats.duration
            sums[4] += stats.pageviews
        for key, (visitors, visits, bounces, duration, pageviews) in buckets.items():
            if dim == code:
                out[key].update(
                    visitors=visitors, visits=visits, bounces=bounces, duration=duration, pageviews=pageviews
                )
            else:  # a page's bounce rate and duration come from the visits that entered on it
                out[key].update(
                    bounce_entries=visits, bounces=bounces, duration=duration, entry_pageviews=pageviews
                )  # fmt: skip
    if code == rollups.PAGE:
        out = {key: values for key, values in out.items() if "visitors" in values}
    return out


def _state(run):
    key = ("rollup_state", run.site.pk)
    if key not in run.memo:  # one read per page render, not one per engine run
        run.memo[key] = RollupState.objects.filter(site_id=run.site.pk).first()
    state = run.memo[key]
    if state is None or state.timezone != run.site.timezone or state.complete_until is None:
        return None
    return state


def goal_families(run, families):
    """Fill `families` for an unfiltered breakdown by goal from the goal rollups; False to fall back to raw rows."""
    query = run.query
    if list(query.dimensions) != ["event:goal"] or not set(query.metrics) <= GOAL_METRICS:
        return False
    planned = segment_reader.plan(query)
    if planned is None or planned[1]:
        return False
    if "visits" in query.metrics:
        return False  # converted visits per day would count a visit across midnight twice: raw rows
    state = _state(run)
    if state is None:
        return False
    goals = run.goals  # loaded by the run for any event:goal query
    if not {g.pk for g in goals} <= set(state.goals_filled):
        return False  # a goal not backfilled yet: raw rows
    segment = planned[0]
    if segment is None:
        daily = _daily(run, [rollups.GOAL, rollups.TOTAL], state, goals)
        sums = {dim: _sum(entries, query.date_range.end) for dim, entries in daily.items()}
    else:
        daily = segment_reader.daily(run, segment, [rollups.GOAL, rollups.TOTAL], state, goals)
        if daily is None:
            return False
        sums = {
            dim: {
                key[0]: [values[0], values[1], values[4]]
                for key, values in segment_reader.totals(run, entries, lambda day, value: (value,)).items()
            }
            for dim, entries in daily.items()
        }
    total = sums[rollups.TOTAL].get("", [0, 0, 0])[0]
    for goal in goals:
        visitors, visits, events = sums[rollups.GOAL].get(str(goal.pk), [0, 0, 0])
        if events:
            rate = round(100.0 * visitors / total, 2) if total else 0.0
            families[(goal.name,)].update(visitors=visitors, visits=visits, events=events, conversion_rate=rate)
    return True


def _sum(entries, end):
    """{value: [visitors, visits, pageviews]} over the whole range (carries between adjacent days taken off)."""
    out = defaultdict(lambda: [0, 0, 0])
    for (day, value), stats in entries.items():
        sums = out[value]
        sums[0] += stats.visitors - (stats.carry if day + timedelta(days=1) <= end else 0)
        sums[1] += stats.visits
        sums[2] += stats.pageviews
    return out


def _key(run, time_dim, day, value, code):
    parts = []
    for dim in run.query.dimensions:
        if dim in TIME_DIMENSIONS:
            parts.append(_bucket(day, time_dim))
        else:
            parts.append(value)
    return tuple(parts)


def _bucket(day, time_dim):
    moment = datetime(day.year, day.month, day.day)
    if time_dim == "time:week":
        return moment - timedelta(days=moment.weekday())
    if time_dim == "time:month":
        return moment.replace(day=1)
    return moment


def _daily(run, codes, state, goals=()):
    """{dimension: {(day, value): Stats}} over the query's days, with carries for adjacent days."""
    date_range = run.query.date_range
    complete_until = state.complete_until
    result = {dim: {} for dim in codes}
    stored_end = min(date_range.end, complete_until)
    if date_range.start <= stored_end and run.time_dim is None:
        # No time buckets: every stored day summed in SQL under the first day, with the carries between them (the
        # last stored day's carry is into the tail, which sets it: _carry_entry, or out of the range). Complete
        # weeks inside the range come from WeeklyRollup, a row a week instead of seven.
        for dim, value, *numbers in _stored_sums(run, codes, state, stored_end):
            entry = result[dim].get((date_range.start, value))
            if entry is None:
                result[dim][(date_range.start, value)] = rollups.Stats(*numbers)
            else:
                entry.add_change(rollups.Stats(*numbers), rollups.Stats())
                entry.carry += numbers[5]
    elif date_range.start <= stored_end:
        rows = DailyRollup.objects.filter(
            site_id=run.site.pk, dimension__in=codes, day__gte=date_range.start, day__lte=stored_end
        ).values_list("dimension", "day", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry")
        for dim, day, value, *numbers in _fetch(rows):
            result[dim][(day, value)] = rollups.Stats(*numbers)
    tail_start = max(date_range.start, complete_until + timedelta(days=1))
    if tail_start > date_range.end:
        return result
    if snapshot_covers(state, date_range.end, goals):
        _tail_from_snapshot(run, state, codes, result, tail_start, goals)
    else:
        _tail_from_raw(run, codes, result, tail_start, goals)
    return result


def snapshot_covers(state, day, goals):
    """Whether the provisional snapshot holds `day` (and every day between the last complete one and it), counting
    these goals."""
    return (
        state.provisional_cutoff is not None
        and state.provisional_from == state.complete_until + timedelta(days=1)
        and state.provisional_until >= day
        and {g.pk for g in goals} <= set(state.provisional_goals)
    )


def _stored_sums(run, codes, state, stored_end):
    """[(dimension, value, visitors, visits, bounces, duration, pageviews, carries inside the range)] of the stored
    days of the range: its complete weeks from WeeklyRollup, the days around them from DailyRollup (a value may come
    twice, once from each)."""
    start, site_id = run.query.date_range.start, run.site.pk
    first_monday = start + timedelta(days=-start.weekday() % 7)
    last_sunday = stored_end - timedelta(days=(stored_end.weekday() + 1) % 7)
    if state.weeks_until is not None:
        last_sunday = min(last_sunday, state.weeks_until)
    parts = []
    days = DailyRollup.objects.filter(site_id=site_id, dimension__in=codes, day__gte=start, day__lte=stored_end)
    if first_monday < last_sunday and state.weeks_until is not None:
        weeks = WeeklyRollup.objects.filter(
            site_id=site_id, dimension__in=codes, day__gte=first_monday, day__lte=last_sunday - timedelta(days=6)
        )
        # A week's carry is its Sunday's: inside the range when the Monday after is a stored day too.
        parts.append((weeks, Case(When(day__lt=stored_end - timedelta(days=6), then="carry"), default=Value(0))))
        days = days.exclude(day__gte=first_monday, day__lte=last_sunday)
    parts.append((days, Case(When(day__lt=stored_end, then="carry"), default=Value(0))))
    summed = []
    for rollup_rows, carry in parts:
        summed.append(
            rollup_rows.values_list("dimension", "value")
            .annotate(
                s_visitors=Sum("visitors"), s_visits=Sum("visits"), s_bounces=Sum("bounces"),
                s_duration=Cast(Sum("duration"), BigIntegerField()),  # a bigint's SUM is numeric: a Decimal
                s_pageviews=Sum("pageviews"), s_carry=Sum(carry, output_field=IntegerField()),
            )
            .order_by()
        )  # fmt: skip
    # One statement (UNION ALL of the weeks' and the days' sums). Not .iterator(): PostgreSQL plans a server-side
    # cursor for its first rows (a sort, not a hash).
    return _fetch(summed[0].union(*summed[1:], all=True) if len(summed) > 1 else summed[0])


def apply_change(codes, full, seen, entry, *, before=None, carry_entry=None):
    """Add to a snapshot what one day's rows of the active visitors change: `full` and `seen` are aggregate()'s
    answers for those rows in full and as the snapshot saw them; `entry(dim, value)` is the Stats to add to. With
    `before` (the day before's full and seen answers), the change in the carries between the two days goes to
    `carry_entry(dim, value)` (None: nothing to carry into)."""
    for dim in codes:
        then = seen[0][dim]
        for value, stats in full[0][dim].items():
            entry(dim, value).add_change(stats, then.get(value) or rollups.Stats())
    if before is None:
        return
    now_carried, then_carried = rollups.carries(before[0][1], full[1]), rollups.carries(before[1][1], seen[1])
    for dim in codes:
        for value, count in now_carried[dim].items():
            target = carry_entry(dim, value)
            if target is not None:
                target.carry += count - then_carried[dim].get(value, 0)


def _carry_entry(run, result, dim, day, value):
    """The entry that holds `day`'s carry into the next day (None when `day` is before the range). Without time
    buckets the stored days are one summed entry: the last stored day's carry gets an entry of its own."""
    if day < run.query.date_range.start:
        return None
    return result[dim].setdefault((day, value), rollups.Stats())


def _tail_from_raw(run, codes, result, tail_start, goals):
    """The unfilled tail (today, maybe yesterday): the same computation on raw rows, with live carries."""
    date_range = run.query.date_range
    previous_pairs = None
    if tail_start - timedelta(days=1) >= date_range.start:
        previous_pairs = rollups.day_stats(run.site.pk, run.tz, tail_start - timedelta(days=1), codes, goals)[1]
    day = tail_start
    while day <= date_range.end:
        stats, pairs = rollups.day_stats(run.site.pk, run.tz, day, codes, goals)
        if previous_pairs is not None:
            for dim, counts in rollups.carries(previous_pairs, pairs).items():
                for value, count in counts.items():
                    entry = _carry_entry(run, result, dim, day - timedelta(days=1), value)
                    if entry is not None:
                        entry.carry = count
        for dim in codes:
            for value, entry in stats[dim].items():
                result[dim][(day, value)] = entry
        previous_pairs = pairs
        day += timedelta(days=1)


def _tail_from_snapshot(run, state, codes, result, tail_start, goals):
    """The snapshot of the tail days, corrected for the visitors active since its cutoff.

    Rows the snapshot left out (visits that had not ended by the cutoff, page views and events after it) all
    belong to visitors with a visit seen after the cutoff. For those visitors only, their rows of the tail
    days (and of the day before, for carries) are summed twice: as the snapshot saw them and in full; the
    difference is added to the snapshot. Every other visitor is counted in the snapshot already.
    """
    date_range, site_id, tz, cutoff = run.query.date_range, run.site.pk, run.tz, state.provisional_cutoff
    rows = ProvisionalRollup.objects.filter(
        site_id=site_id, dimension__in=codes, day__gte=tail_start, day__lte=date_range.end
    ).values_list("dimension", "day", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry_in")
    carry_in = []
    for dim, day, value, *numbers, carried in _fetch(rows):
        result[dim][(day, value)] = rollups.Stats(*numbers)
        if carried:
            carry_in.append((dim, day - timedelta(days=1), value, carried))
    for dim, day, value, carried in carry_in:
        entry = _carry_entry(run, result, dim, day, value)
        if entry is not None:
            entry.carry = carried
    first = tail_start - timedelta(days=1)  # the day before, for carries into the tail
    start, end = rollups.day_bounds(tz, first)[0], rollups.day_bounds(tz, date_range.end)[1]
    timed = []  # (model, value column) of the event rows the dimensions need
    if rollups.PAGE in codes or (rollups.GOAL in codes and any(g.kind == "page" for g in goals)):
        timed.append((PageView, "pathname"))
    if rollups.GOAL in codes and any(g.kind != "page" for g in goals):
        timed.append((Event, "name"))
    fields = [dim for dim in codes if dim not in (rollups.TOTAL, rollups.PAGE, rollups.GOAL)]
    raw = _active_rows(run, site_id, tz, cutoff, start, end, [model for model, _ in timed], fields)
    if raw is None:
        return
    matchers = rollups.goal_matchers(goals)

    def summed(dims, day, snapshot, with_goals=False):
        # Rows are (local day, settled by the cutoff, …): split once per render (see _active_rows).
        dim_fields = [dim for dim in dims if dim not in (rollups.TOTAL, rollups.PAGE, rollups.GOAL)]
        picked = [4 + raw["field_index"][f] for f in dim_fields]
        visit_rows = raw["visits"].get((day, snapshot), ()) if set(dims) - {rollups.PAGE, rollups.GOAL} else ()
        day_visits = [(*row[:4], *(row[i] for i in picked)) for row in visit_rows]
        timed_rows = {model: raw[model].get((day, snapshot), ()) for model, _ in timed}
        return rollups.aggregate(
            dims, dim_fields, day_visits, timed_rows.get(PageView, ()), timed_rows.get(Event, ()),
            matchers if with_goals else ((), {}), pairs_of=_carried(raw),
        )  # fmt: skip

    def shared(family, dims, day, snapshot):
        # The dashboard's usual dimensions summed once per render for all its queries, not once per query.
        key = ("tail_sums", family, site_id, cutoff, start, end, day, snapshot)
        if key not in run.memo:
            run.memo[key] = summed(dims, day, snapshot)
        return run.memo[key]

    def sums(day, snapshot):
        stats, pairs, rest = {}, {}, []
        visit_codes = [code for code in codes if code not in (rollups.PAGE, rollups.GOAL)]
        parts = []
        if run.memo_shared and visit_codes and set(visit_codes) <= set(_SHARED_VISIT_DIMS):
            parts.append((visit_codes, shared("visits", _SHARED_VISIT_DIMS, day, snapshot)))
        else:
            rest += visit_codes
        if rollups.PAGE in codes:
            parts.append(([rollups.PAGE], shared("pages", (rollups.PAGE,), day, snapshot)))
        if rollups.GOAL in codes:
            rest.append(rollups.GOAL)
        if rest:
            parts.append((rest, summed(rest, day, snapshot, with_goals=True)))
        for dims, (part_stats, part_pairs) in parts:
            for dim in dims:
                stats[dim], pairs[dim] = part_stats[dim], part_pairs[dim]
        return stats, pairs

    # The day before is summed only for its carries into the tail, which only visitors seen on both days make.
    full = {first: sums(first, False)} if first >= date_range.start and _carried(raw) else {}
    seen = dict(full)
    day = tail_start
    while day <= date_range.end:
        full[day], seen[day] = sums(day, False), sums(day, True)
        previous = day - timedelta(days=1)
        apply_change(
            codes, full[day], seen[day], lambda dim, value, d=day: result[dim].setdefault((d, value), rollups.Stats()),
            before=(full[previous], seen[previous]) if previous in full else None,
            carry_entry=lambda dim, value, p=previous: _carry_entry(run, result, dim, p, value),
        )  # fmt: skip
        day += timedelta(days=1)


_SHARED_VISIT_DIMS = segment_reader.SHARED_VISIT_DIMS


def _active_rows(run, site_id, tz, cutoff, start, end, models, fields):
    """The raw rows of the visitors active since the snapshot's cutoff, fetched once per page render.

    {"visits": {(local day, snapshot): [(visitor_id, is_bounce, duration, pageviews, *VISIT_FIELDS)]}, "by_id": those
    rows by visit id,
    PageView: {(local day, snapshot): [(visitor_id, visit_id, pathname)]}, Event: likewise with names}: a row
    is under (day, False) always and under (day, True) too when the snapshot counted it (its visit had ended,
    or it happened, before the cutoff). None when nobody was active.
    """
    key = ("active_rows", site_id, cutoff, start, end)
    first_day, last_day = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    found = run.memo.get(key)
    # A visit active after the cutoff started less than two days before it (as everywhere in the engine).
    earliest = max(start - timedelta(days=1), cutoff - timedelta(days=2))
    shared = [dim for dim in _SHARED_VISIT_DIMS if dim]
    if found is not None and not set(fields) <= set(found["field_index"]):
        found = None  # a rarer dimension: read the visits again, with every field
    if found is None:
        columns = shared if set(fields) <= set(shared) else rollups.VISIT_FIELDS  # fewer columns, less decoding
        state = run.memo[("rollup_state", site_id)]
        open_ids = state.provisional_open
        if open_ids is None:  # a snapshot from before open visits were kept: find them (a scan of two days)
            active = Visit.objects.filter(
                site_id=site_id, last_seen_at__gte=cutoff, started_at__gte=earliest, started_at__lt=end
            ).values("visitor_id")
        else:  # open at the snapshot (their visitors kept with it), or started since its cutoff: no scan
            if state.provisional_open_visitors is not None:
                active = set(state.provisional_open_visitors)
            else:
                active = set(
                    among(Visit.objects.filter(site_id=site_id), "id", open_ids).values_list("visitor_id", flat=True)
                )
            active.update(
                Visit.objects.filter(site_id=site_id, started_at__gte=cutoff, started_at__lt=end).values_list(
                    "visitor_id", flat=True
                )
            )
            active = list(active)
        # The local day and "settled" come from SQL: decoding thousands of timestamptz values costs more. The days
        # are kept by the local day, not by a started_at range, so PostgreSQL finds these few visitors by the
        # (site, visitor_id) index instead of filtering two days of visits.
        local_day = LocalDate("started_at", tzinfo=tz)
        if open_ids is None:
            visits_of = Visit.objects.filter(
                site_id=site_id, started_at__gte=start - timedelta(days=1), started_at__lt=end, visitor_id__in=active
            )
        else:
            visits_of = among(Visit.objects.filter(site_id=site_id), "visitor_id", active)
        rows = (
            visits_of.annotate(local_day=local_day, settled=_before(cutoff, "last_seen_at"))
            .filter(local_day__gte=first_day - timedelta(days=1), local_day__lte=last_day)
            .values_list("id", "local_day", "settled", "visitor_id", "is_bounce", "duration", "pageviews", *columns)
        )
        visits, by_id = defaultdict(list), {}
        for visit_id, day, settled, *rest in _fetch(rows):
            visits[(day, False)].append(rest)
            if settled:
                visits[(day, True)].append(rest)
            by_id[visit_id] = rest
        found = {**run.memo.get(key, {}), "visits": visits, "ids": set(by_id), "by_id": by_id}
        found["field_index"] = {name: index for index, name in enumerate(columns)}
        run.memo[key] = found
    if not found["ids"]:
        return None
    for model in models:
        if model not in found:
            column = "pathname" if model is PageView else "name"
            # By their visits' ids (the visit index: a few thousand lookups), kept to the range by the local day — a
            # timestamp range would let PostgreSQL scan two days of page views and filter them by the ids instead.
            rows = (
                among(model.objects.filter(site_id=site_id), "visit_id", list(found["ids"]))
                .annotate(local_day=LocalDate("timestamp", tzinfo=tz), settled=_before(cutoff, "timestamp"))
                .filter(local_day__gte=first_day, local_day__lte=last_day)
                .values_list("local_day", "settled", "visitor_id", "visit_id", column)
            )
            split = defaultdict(list)
            for day, settled, visitor, visit_id, value in _fetch(rows):
                split[(day, False)].append((visitor, visit_id, value))
                if settled:
                    split[(day, True)].append((visitor, visit_id, value))
            found[model] = split
    return found


def _carried(raw):
    """The active visitors seen on two adjacent days: the only ones whose (visitor, value) pairs make carries."""
    key = ("carried", *(model in raw for model in (PageView, Event)))  # page views or events may come later
    if key not in raw:
        by_day = defaultdict(set)
        for part in (raw["visits"], *(raw[model] for model in (PageView, Event) if model in raw)):
            for (day, snapshot), rows in part.items():
                if not snapshot:
                    by_day[day].update(row[0] for row in rows)
        carried = set()
        for day, visitors in by_day.items():
            carried |= visitors & by_day.get(day + timedelta(days=1), set())
        raw[key] = carried
    return raw[key]


def _fetch(rows):
    """A values_list queryset's rows, fetched in one go. On PostgreSQL straight from the cursor: Django's per-row
    iteration (and the converters of integer sums, which PostgreSQL answers as ints already) cost more than the
    statement for the thousands of rows read here. Elsewhere (SQLite's dates are text) through the ORM."""
    if connection.vendor != "postgresql":
        return list(rows)
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _before(moment, column):
    return ExpressionWrapper(Q(**{f"{column}__lt": moment}), output_field=BooleanField())

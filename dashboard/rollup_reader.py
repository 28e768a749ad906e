"""Answering unfiltered queries from daily rollups, the tail (days not complete yet) from the provisional
snapshot corrected with the raw rows of the visitors whose rows changed since it was taken (or from raw
rows when there is no usable snapshot).

Unique visitors over a run of days = the sum of each day's visitors minus, for each pair of adjacent
days inside the run, the visitor ids seen on both (the rollups' `carry`). Visitor ids change every
day, so an id lives about one day and touches at most a couple of adjacent local days: the result is
exact, the same number a COUNT(DISTINCT) over the raw rows gives.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import BigIntegerField, Case, IntegerField, Sum, Value, When
from django.db.models.functions import Cast

from dashboard import providers, rollup_tail, segment_reader
from dashboard.query import TIME_DIMENSIONS, VISIT_DIMENSIONS
from tracking import rollups
from tracking.models import DailyRollup, MonthlyRollup, RollupState, WeeklyRollup
from tracking.rollups import fetch_rows

ROLLUP_METRICS = {"visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"}
GOAL_METRICS = {"visitors", "visits", "events", "conversion_rate"}


def _dimension_code(run):
    """The rollup dimension a query needs, or None when rollups cannot answer it."""
    query = run.query
    provided = providers.provided_metrics(query)
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
        # months and weeks inside the range come from MonthlyRollup and WeeklyRollup, a row a block.
        for dim, value, visitors, visits, bounces, duration, pageviews, carry in _stored_sums(
            run, codes, state, stored_end
        ):
            entry = result[dim].get((date_range.start, value))
            if entry is None:
                result[dim][(date_range.start, value)] = rollups.Stats(
                    visitors, visits, bounces, duration, pageviews, carry
                )
            else:  # the same value in another kind of block (months, weeks, days)
                entry.visitors += visitors
                entry.visits += visits
                entry.bounces += bounces
                entry.duration += duration
                entry.pageviews += pageviews
                entry.carry += carry
    elif date_range.start <= stored_end:
        rows = DailyRollup.objects.filter(
            site_id=run.site.pk, dimension__in=codes, day__gte=date_range.start, day__lte=stored_end
        ).values_list("dimension", "day", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry")
        for dim, day, value, *numbers in fetch_rows(rows):
            result[dim][(day, value)] = rollups.Stats(*numbers)
    tail_start = max(date_range.start, complete_until + timedelta(days=1))
    if tail_start > date_range.end:
        return result
    if rollup_tail.stored_snapshot_covers(state, date_range.end, goals):
        rollup_tail.from_snapshot(run, state, codes, result, tail_start, goals)
    else:
        rollup_tail.from_raw(run, codes, result, tail_start, goals)
    return result


def _stored_sums(run, codes, state, stored_end):
    """[(dimension, value, visitors, visits, bounces, duration, pageviews, carries inside the range)] of the stored
    days of the range: its complete months from MonthlyRollup, its other complete weeks from WeeklyRollup, the days
    around them from DailyRollup (a value may come once from each)."""
    months, weeks, days = _blocks(run.query.date_range.start, stored_end, state)
    parts = []
    blocks = ((MonthlyRollup, months, rollups.next_month), (WeeklyRollup, weeks, rollups.next_week),
              (DailyRollup, days, rollups.next_day))  # fmt: skip
    for model, starts, after in blocks:
        if not starts:
            continue
        # A block's carry is its last day's, into the day after: inside the range when that day is a stored day too.
        inside = [day for day in starts if after(day) <= stored_end]
        carry = Case(When(day__in=inside, then="carry"), default=Value(0)) if inside else Value(0)
        rows = model.objects.filter(site_id=run.site.pk, dimension__in=codes, day__in=starts)
        parts.append(
            rows.values_list("dimension", "value")
            .annotate(
                s_visitors=Sum("visitors"), s_visits=Sum("visits"), s_bounces=Sum("bounces"),
                s_duration=Cast(Sum("duration"), BigIntegerField()),  # a bigint's SUM is numeric: a Decimal
                s_pageviews=Sum("pageviews"), s_carry=Sum(carry, output_field=IntegerField()),
            )
            .order_by()
        )  # fmt: skip
    # One statement (UNION ALL of the blocks' sums). Not .iterator(): PostgreSQL plans a server-side cursor for its
    # first rows (a sort, not a hash).
    return fetch_rows(parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0])


def _blocks(start, end, state):
    """([month starts], [week starts], [days]) covering the stored days start..end exactly: the complete months
    summed (up to months_until), then the complete weeks summed (up to weeks_until) in what is left, then days."""
    months = []
    if state.months_until is not None:
        month = start if start.day == 1 else rollups.next_month(start.replace(day=1))
        while rollups.next_month(month) - timedelta(days=1) <= min(end, state.months_until):
            months.append(month)
            month = rollups.next_month(month)
    pieces = [(start, end)]
    if months:
        pieces = [(start, months[0] - timedelta(days=1)), (rollups.next_month(months[-1]), end)]
    weeks, days = [], []
    weeks_until = state.weeks_until or start - timedelta(days=1)  # None: no week summed yet
    for first, last in pieces:
        day = first
        while day <= last:
            if day.weekday() == 0 and day + timedelta(days=6) <= min(last, weeks_until):
                weeks.append(day)
                day += timedelta(days=7)
            else:
                days.append(day)
                day += timedelta(days=1)
    return months, weeks, days

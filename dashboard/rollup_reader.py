"""Answering unfiltered queries from daily rollups, with the unfilled tail computed from raw rows.

Unique visitors over a run of days = the sum of each day's visitors minus, for each pair of adjacent
days inside the run, the visitor ids seen on both (the rollups' `carry`). Visitor ids change every
day, so an id lives about one day and touches at most a couple of adjacent local days: the result is
exact, the same number a COUNT(DISTINCT) over the raw rows gives.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from dashboard.query import TIME_DIMENSIONS, VISIT_DIMENSIONS
from tracking import rollups
from tracking.models import DailyRollup, RollupState

ROLLUP_METRICS = {"visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events"}


def _dimension_code(run):
    """The rollup dimension a query needs, or None when rollups cannot answer it."""
    query = run.query
    from dashboard.engine import provided_metrics

    provided = provided_metrics(query)
    if query.filters or not set(query.metrics) - provided <= ROLLUP_METRICS:
        return None
    if "time:hour" in query.dimensions:
        return None  # hours are cheap from raw rows: a day at most
    others = [d for d in query.dimensions if d not in TIME_DIMENSIONS]
    if len(others) > 1:
        return None
    if not others:
        return rollups.TOTAL
    if others[0] == "event:page":
        return None if "events" in query.metrics else rollups.PAGE
    return VISIT_DIMENSIONS.get(others[0])


def families(run):
    """{key: metric sums} like the raw engine's, or None to fall back to raw rows."""
    code = _dimension_code(run)
    if code is None:
        return None
    state = RollupState.objects.filter(site_id=run.site.pk).first()
    if state is None or state.timezone != run.site.timezone or state.complete_until is None:
        return None
    date_range = run.query.date_range
    codes = [code, "entry_page"] if code == rollups.PAGE else [code]
    daily = _daily(run, codes, state.complete_until)
    time_dim = run.time_dim
    out = defaultdict(dict)
    for dim in codes:
        buckets = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0, 0]))  # key -> day -> sums
        carries = defaultdict(int)
        for (day, value), stats in daily[dim].items():
            key = _key(run, time_dim, day, value, code)
            sums = buckets[key][day]
            sums[0] += stats.visitors
            sums[1] += stats.visits
            sums[2] += stats.bounces
            sums[3] += stats.duration
            sums[4] += stats.pageviews
            nxt = day + timedelta(days=1)
            if nxt <= date_range.end and _key(run, time_dim, nxt, value, code) == key:
                carries[key] += stats.carry
        for key, by_day in buckets.items():
            visitors = sum(s[0] for s in by_day.values()) - carries[key]
            visits, bounces, duration, pageviews = (sum(s[i] for s in by_day.values()) for i in range(1, 5))
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


def _daily(run, codes, complete_until):
    """{dimension: {(day, value): Stats}} over the query's days, with carries for adjacent days."""
    date_range = run.query.date_range
    result = {dim: {} for dim in codes}
    stored_end = min(date_range.end, complete_until)
    if date_range.start <= stored_end:
        rows = DailyRollup.objects.filter(
            site_id=run.site.pk, dimension__in=codes, day__gte=date_range.start, day__lte=stored_end
        ).values_list("dimension", "day", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry")
        for dim, day, value, *numbers in rows.iterator(chunk_size=5000):
            result[dim][(day, value)] = rollups.Stats(*numbers)
    tail_start = max(date_range.start, complete_until + timedelta(days=1))
    if tail_start > date_range.end:
        return result
    # The unfilled tail (today, maybe yesterday): the same computation on raw rows, with live carries.
    previous_pairs = None
    if tail_start - timedelta(days=1) >= date_range.start:
        previous_pairs = rollups.day_stats(run.site.pk, run.tz, tail_start - timedelta(days=1), codes)[1]
    day = tail_start
    while day <= date_range.end:
        stats, pairs = rollups.day_stats(run.site.pk, run.tz, day, codes)
        if previous_pairs is not None:
            for dim, counts in rollups.carries(previous_pairs, pairs).items():
                for value, count in counts.items():
                    entry = result[dim].get((day - timedelta(days=1), value))
                    if entry is not None:
                        entry.carry = count
        for dim in codes:
            for value, entry in stats[dim].items():
                result[dim][(day, value)] = entry
        previous_pairs = pairs
        day += timedelta(days=1)
    return result

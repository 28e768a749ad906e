"""Which filtered queries the rollups answer, and answering those with one common filter from segment rollups.

A query's filters are served from summaries when every filter is a plain condition and
- a filter on the breakdown's own dimension (`is_not utm_campaign ""`, a search `contains …`) only keeps or
  drops whole rows: each visit has one value, and a page's row depends only on its own page views;
- at most one other filter remains, `is` one value of a segment dimension (source, channel, country, device):
  the segment's rollups (tracking.rollup_segments) hold that slice of every day.
Anything else (two segment filters, `is_not`, several values, event filters) reads raw rows.

Unique visitors over several days: the daily sum minus each day's carry_in (the visitor ids with that segment and
value on that day and the day before) for every day whose previous day is in the same bucket — exact. Days after
the last filled one are computed from raw rows at read time with the same function as the fill.
"""

from collections import defaultdict
from datetime import timedelta

from django.db.models import Case, IntegerField, Sum, Value, When

from dashboard.filters import python_match
from dashboard.query import TIME_DIMENSIONS, VISIT_DIMENSIONS, Condition
from tracking import rollup_segments, rollups
from tracking.models import Event, PageView, SegmentProvisional, SegmentRollup

SEGMENT_DIMS = rollup_segments.SEGMENT_DIMS
ROW_OPERATORS = ("is", "is_not", "contains", "contains_not")  # as the raw engine's SQL reads them
MAX_TAIL_DAYS = 3  # segment rollups further behind than this: raw rows
SHARED_VISIT_DIMS = (rollups.TOTAL, "source", "country", "browser")  # the cards and the default panels (both readers)


def plan(query):
    """(segment or None, row predicates) for a query the rollups can answer despite its filters, else None.

    segment is (visit field, value); predicates are Conditions on the breakdown's dimension."""
    others = [d for d in query.dimensions if d not in TIME_DIMENSIONS]
    breakdown = others[0] if len(others) == 1 else None
    predicates, rest = [], []
    for item in query.filters:
        if not isinstance(item, Condition):
            return None
        own = item.dimension == breakdown and (breakdown in VISIT_DIMENSIONS or breakdown == "event:page")
        if own and item.operator in ROW_OPERATORS:
            predicates.append(item)
        else:
            rest.append(item)
    if not rest:
        return None, predicates
    if len(rest) > 1:
        return None
    item = rest[0]
    field = VISIT_DIMENSIONS.get(item.dimension)
    if field not in rollup_segments.SEGMENT_DIMS or item.operator != "is" or len(item.values) != 1:
        return None
    if breakdown is not None and breakdown != "event:goal":
        code = "page" if breakdown == "event:page" else VISIT_DIMENSIONS.get(breakdown)
        if code not in rollup_segments.SEGMENT_BREAKDOWNS:
            return None
    return (field, item.values[0]), predicates


def keep_row(key, query, predicates):
    """Whether a result row (its key, by query.dimensions) passes the predicates on the breakdown's dimension."""
    for item in predicates:
        value = key[query.dimensions.index(item.dimension)]
        if not python_match(str(value), item.operator, item.values):
            return False
    return True


def daily(run, segment, codes, state, goals=()):
    """{dimension: {(day, value): Stats}} of a segment over the query's days, Stats.carry being carry_in; days
    before `first_single` are summed into one entry under the first day (carry = the carry_ins inside them).

    None when the segment rollups cannot answer (not filled, or too far behind)."""
    date_range, until = run.query.date_range, state.segments_until
    if until is None or (date_range.end - until).days > MAX_TAIL_DAYS:
        return None
    if goals and {g.pk for g in goals} - set(state.segment_goals):
        return None
    result = {dim: {} for dim in codes}
    rows = SegmentRollup.objects.filter(
        site_id=run.site.pk, segment_dim=segment[0], segment_value=segment[1], dimension__in=codes,
        day__gte=date_range.start, day__lte=min(date_range.end, until),
    )  # fmt: skip
    if run.time_dim is None:
        inner = Case(When(day__gt=date_range.start, then="carry_in"), default=Value(0), output_field=IntegerField())
        sums = {f"s_{name}": Sum(name) for name in ("visitors", "visits", "bounces", "duration", "pageviews")}
        summed = rows.values_list("dimension", "value").annotate(**sums, s_carry=Sum(inner)).order_by()
        # Not .iterator(): PostgreSQL plans a server-side cursor for its first rows (a sort, not a hash).
        for dim, value, *numbers in summed:
            result[dim][(date_range.start, value)] = rollups.Stats(*(n or 0 for n in numbers))
    else:
        columns = ("dimension", "day", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry_in")
        for dim, day, value, *numbers in rows.values_list(*columns):
            result[dim][(day, value)] = rollups.Stats(*numbers)
    day = max(date_range.start, until + timedelta(days=1))
    while day <= date_range.end:
        if _snapshot_covers(state, day, goals):
            tail = _snapshot_day(run, segment, day, codes, goals, state)
        else:  # not in the snapshot (segments behind the daily rollups, or no snapshot yet): raw rows
            tail = _tail_day(run, segment, day, codes, goals)
        for dim, value, stats in tail:
            if dim in result:
                if day == date_range.start:
                    stats = rollups.Stats(**{**stats.__dict__, "carry": 0})  # its previous day is outside
                result[dim][(day, value)] = stats
        day += timedelta(days=1)
    return result


def _snapshot_covers(state, day, goals):
    """The unfiltered snapshot's test (rollup_tail.snapshot_covers), for a day after the last complete one (a day
    the segment rollups lack but the daily ones have is read raw), with the segments summed into it."""
    from dashboard import rollup_tail  # it imports this module

    after_complete = state.complete_until is not None and day > state.complete_until
    return state.provisional_segments and after_complete and rollup_tail.snapshot_covers(state, day, goals)


def _snapshot_day(run, segment, day, codes, goals, state):
    """[(dimension, value, Stats with carry_in)] of a day of the provisional snapshot: the segment's snapshot rows,
    corrected for the visitors active since its cutoff, as the unfiltered snapshot is (dashboard.rollup_tail):
    their rows in the segment are summed as the snapshot saw them and in full, and the difference is added.

    The snapshot's rows are read once per page render, every dimension."""
    from dashboard import rollup_tail  # it imports this module

    key = ("segment_snapshot", run.site.pk, segment, day)
    if key not in run.memo:
        rows = SegmentProvisional.objects.filter(
            site_id=run.site.pk, segment_dim=segment[0], segment_value=segment[1], day=day
        ).values_list("dimension", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry_in")
        run.memo[key] = [(dim, value, numbers) for dim, value, *numbers in rows]
    out = {(dim, value): rollups.Stats(*numbers) for dim, value, numbers in run.memo[key] if dim in codes}
    page_goals = any(g.kind == "page" for g in goals)
    models = [PageView] if rollups.PAGE in codes or (rollups.GOAL in codes and page_goals) else []
    if rollups.GOAL in codes and any(g.kind != "page" for g in goals):
        models.append(Event)
    fields = sorted({*(c for c in codes if c not in (rollups.TOTAL, rollups.PAGE, rollups.GOAL)), segment[0]})
    start, end = rollups.day_bounds(run.tz, day - timedelta(days=1))[0], rollups.day_bounds(run.tz, day)[1]
    raw = rollup_tail.active_rows(run, run.site.pk, run.tz, state.provisional_cutoff, start, end, models, fields)
    if raw is not None:
        _correct(out, raw, segment, day, codes, goals, state)
    return [(dim, value, stats) for (dim, value), stats in out.items()]


def _correct(out, raw, segment, day, codes, goals, state):
    from dashboard import rollup_tail  # it imports this module

    index = 4 + raw["field_index"][segment[0]]
    ids = {visit_id for visit_id, row in raw["by_id"].items() if (row[index] or "") == segment[1]}
    dim_fields = [c for c in codes if c not in (rollups.TOTAL, rollups.PAGE, rollups.GOAL)]
    picked = [4 + raw["field_index"][f] for f in dim_fields]
    matchers, carried = rollups.goal_matchers(goals), rollup_tail.carried_visitors(raw)

    def sums(on, snapshot):
        visits = [
            (*r[:4], *(r[i] for i in picked))
            for r in raw["visits"].get((on, snapshot), ())
            if (r[index] or "") == segment[1]
        ]
        timed = [[r for r in raw.get(m, {}).get((on, snapshot), ()) if r[1] in ids] for m in (PageView, Event)]
        return rollups.aggregate(codes, dim_fields, visits, *timed, matchers, pairs_of=carried)

    full, seen = sums(day, False), sums(day, True)
    before = None
    if carried:  # carry_in is made only by visitors seen on this day and the one before
        previous = day - timedelta(days=1)
        full_before = sums(previous, False)
        before = (full_before, full_before if previous <= state.complete_until else sums(previous, True))
    # carry_in lives on this day's rows (a day's carry on the day before's, in the unfiltered rollups).
    rollup_tail.apply_change(
        codes, full, seen, lambda dim, value: out.setdefault((dim, value), rollups.Stats()),
        before=before, carry_entry=lambda dim, value: out.get((dim, value)),
    )  # fmt: skip


def _tail_day(run, segment, day, codes, goals):
    """[(dimension, value, Stats with carry_in)] of a day not filled yet, from raw rows read once per page render."""
    visit_codes = [code for code in codes if code not in (rollups.PAGE, rollups.GOAL)]
    parts = [code for code in codes if code in (rollups.PAGE, rollups.GOAL)]
    families = [tuple(parts)] if parts else []
    if visit_codes:
        # In a page render, the visit dimensions of all panels are summed at once (the cards, the time series and
        # the goals all want the total; countries and browsers come along): one pass over the rows, not five.
        shared = run.memo_shared and set(visit_codes) <= set(SHARED_VISIT_DIMS)
        families.append(SHARED_VISIT_DIMS if shared else tuple(visit_codes))
    found = []
    for dims in families:
        key = ("segment_tail_sums", run.site.pk, segment, day, dims, tuple(g.pk for g in goals))
        if key not in run.memo:
            cache = run.memo.setdefault(("segment_tail_rows", run.site.pk, segment, day), {})
            with_events = bool({rollups.PAGE, rollups.GOAL} & set(dims))
            rows = rollup_segments._Rows.of_segment(run.site.pk, run.tz, day, segment, with_events, cache)
            rows = rollup_segments.day_rows(run.site.pk, run.tz, day, goals=goals, only=segment, dims=dims, rows=rows)
            run.memo[key] = [(dim, value, stats) for _sd, _sv, dim, value, stats in rows]
        found += [row for row in run.memo[key] if row[0] in codes]
    return found


def totals(run, entries, key_of):
    """{key: [visitors, visits, bounces, duration, pageviews]} with the carry_ins inside each key taken off."""
    out = defaultdict(lambda: [0, 0, 0, 0, 0])
    start = run.query.date_range.start
    for (day, value), stats in entries.items():
        key = key_of(day, value)
        sums = out[key]
        sums[0] += stats.visitors
        # carry_in of a day whose previous day is in the range and in the same bucket (a summed block's carry
        # is the carry_ins inside it, previous days included by construction).
        if stats.carry and (run.time_dim is None or (day > start and key_of(day - timedelta(days=1), value) == key)):
            sums[0] -= stats.carry
        sums[1] += stats.visits
        sums[2] += stats.bounces
        sums[3] += stats.duration
        sums[4] += stats.pageviews
    return out

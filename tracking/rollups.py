"""Daily rollups: each complete day of a site, in the site's timezone, summed per dimension value.

Filled idempotently (zulip-style): a day is deleted and recomputed inside one transaction, and
RollupState.complete_until moves only after it committed, so a crashed fill redoes that day. A day is
complete two hours after its midnight (visits started before midnight may still be going on). The days
after it (today, maybe yesterday) get a provisional snapshot, refreshed every few minutes, of everything
stored when it was taken (`provisional_at`), with the state then of the visits that could still change;
the dashboard corrects it for the few visitors whose rows changed since, from raw rows
(`tracking.rollup_provisional`, `dashboard.rollup_tail`). Every path sums with the same functions
(`aggregate`), so every path counts exactly alike.

Goals are one more dimension, "goal", valued by the goal's id: converted visitors, visits and
conversions (page views or events matching the goal, in the `pageviews` column). A goal created later
is backfilled over every complete day (`goals_backfill`); until then the dashboard reads it raw.
"""

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Case, IntegerField, Min, Sum, Value, When
from django.db.models.expressions import BaseExpression
from django.db.models.functions import TruncDate
from django.utils import timezone as dj_timezone

from tracking.models import (
    DailyRollup,
    Event,
    MonthlyRollup,
    PageView,
    ProvisionalRollup,
    ProvisionalVisit,
    RollupState,
    SegmentProvisional,
    SegmentRollup,
    Visit,
    WeeklyRollup,
)

TOTAL = ""
PAGE = "page"
GOAL = "goal"
VISIT_FIELDS = (
    "source", "channel", "referrer", "referrer_host", "utm_source", "utm_medium", "utm_campaign", "utm_content",
    "utm_term", "entry_page", "exit_page", "hostname", "country", "region", "city", "browser", "browser_version",
    "os", "os_version", "device", "screen_class",
)  # fmt: skip
DIMENSIONS = (TOTAL, *VISIT_FIELDS, PAGE, GOAL)
COMPLETE_AFTER = timedelta(hours=2)
# A visit idle for 30 minutes is over (tracking.sessions.VISIT_IDLE); 10 more for a late record to reopen it.
SETTLED_AFTER = timedelta(minutes=40)
# A record is stored within this of its timestamp, its arrival: the ingest buffer's flusher stores within seconds and
# retries a failed batch within 30 s. One stored later than this is missing from the provisional tail until the next
# refresh (tracking.fill_rollups, every 5 minutes), which counts everything stored by then.
STORED_WITHIN = timedelta(minutes=2)
# What the provisional snapshot keeps of a visit that may still change (ProvisionalVisit): all a visit counts with
# besides the dimensions it starts with (tracking.sessions.MUTABLE, its local day for started_at).
SEEN_VISIT = ("local_day", "is_bounce", "duration", "pageviews", "entry_page", "exit_page", "events")


@dataclass
class Stats:
    visitors: int = 0
    visits: int = 0
    bounces: int = 0
    duration: int = 0
    pageviews: int = 0
    carry: int = 0

    def add_change(self, now, then):
        """Add what changed between two sums of the same rows (a snapshot's and the full one), carry apart."""
        self.visitors += now.visitors - then.visitors
        self.visits += now.visits - then.visits
        self.bounces += now.bounces - then.bounces
        self.duration += now.duration - then.duration
        self.pageviews += now.pageviews - then.pageviews


class LocalDate(TruncDate):
    """TruncDate without its per-row Python conversion: the database already answers a date (a backend converter
    still parses SQLite's text). Reading thousands of rows, the converter cost more than the query."""

    convert_value = staticmethod(BaseExpression._convert_value_noop)


def fetch_rows(rows):
    """A values_list queryset's rows, fetched in one go. On PostgreSQL straight from the cursor: Django's per-row
    iteration (and the converters of integer sums, which PostgreSQL answers as ints already) cost more than the
    statement for the thousands of rows read here. Elsewhere (SQLite's dates are text) through the ORM."""
    if connection.vendor != "postgresql":
        return list(rows)
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def day_bounds(tz, day):
    return datetime.combine(day, time.min, tzinfo=tz), datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def goal_matchers(goals):
    """(page goals [(id, match(path) -> bool)], event goals {name: [ids]}) for aggregate().

    Each matcher remembers its answers: a day has a few thousand paths and a hundred thousand page views."""
    from dashboard.filters import wildcard_regex  # the engine's own reading of a goal path

    pages, events = [], defaultdict(list)
    for goal in goals:
        if goal.kind == "page":
            if "*" in goal.page_path:
                pattern = re.compile(wildcard_regex(goal.page_path))
                match = lru_cache(maxsize=65536)(lambda path, p=pattern: p.search(path) is not None)
                pages.append((str(goal.pk), match))
            else:
                pages.append((str(goal.pk), lambda path, p=goal.page_path: path == p))
        else:
            events[goal.event_name].append(str(goal.pk))
    return pages, events


def visit_rows(site_id, start, end, fields, before=None):
    """(visitor_id, is_bounce, duration, pageviews, *fields) of the visits that started in [start, end)."""
    rows = Visit.objects.filter(site_id=site_id, started_at__gte=start, started_at__lt=end)
    if before is not None:
        rows = rows.filter(last_seen_at__lt=before)
    return rows.values_list("visitor_id", "is_bounce", "duration", "pageviews", *fields).iterator(chunk_size=5000)


def _timed_rows(model, column, site_id, start, end, before=None):
    rows = model.objects.filter(site_id=site_id, timestamp__gte=start, timestamp__lt=end)
    if before is not None:
        rows = rows.filter(timestamp__lt=before)
    return rows.values_list("visitor_id", "visit_id", column).iterator(chunk_size=5000)


def day_stats(site_id, tz, day, dimensions, goals=(), before=None):
    """{dimension: {value: Stats}} for one day, and {dimension: set((visitor_id, value))} for carries.

    With `before`, only the visits that ended before it and the page views and events before it.
    """
    start, end = day_bounds(tz, day)
    fields = [dim for dim in dimensions if dim not in (TOTAL, PAGE, GOAL)]
    visits = visit_rows(site_id, start, end, fields, before) if set(dimensions) - {PAGE, GOAL} else ()
    wants_pages = PAGE in dimensions or (GOAL in dimensions and any(g.kind == "page" for g in goals))
    pageviews = _timed_rows(PageView, "pathname", site_id, start, end, before) if wants_pages else ()
    wants_events = GOAL in dimensions and any(g.kind != "page" for g in goals)
    events = _timed_rows(Event, "name", site_id, start, end, before) if wants_events else ()
    return aggregate(dimensions, fields, visits, pageviews, events, goal_matchers(goals))


def aggregate(dimensions, fields, visits, pageviews, events, matchers=((), {}), with_pairs=True, pairs_of=None):
    """Sum rows of one day: visits (visitor, bounce, duration, pageviews, *fields), page views and events
    (visitor, visit, pathname/name). Returns ({dimension: {value: Stats}}, {dimension: set((visitor, value))})."""
    stats = {dim: defaultdict(Stats) for dim in dimensions}
    pairs = {dim: set() for dim in dimensions}
    visit_dims = [dim for dim in dimensions if dim not in (PAGE, GOAL)]
    seen = {dim: defaultdict(set) for dim in dimensions}
    visit_sets = {dim: defaultdict(set) for dim in (PAGE, GOAL)}
    # Where each visit dimension's value sits in a row (None: the total, always ""); no visit dimension, no loop.
    positions = [(dim, None if dim == TOTAL else 4 + fields.index(dim)) for dim in visit_dims]
    for row in visits if positions else ():
        visitor, bounce, duration, pageviews_ = row[:4]
        for dim, position in positions:
            value = "" if position is None else (row[position] or "")
            entry = stats[dim][value]
            entry.visits += 1
            entry.bounces += bounce
            entry.duration += duration
            entry.pageviews += pageviews_
            seen[dim][value].add(visitor)
    page_goals, event_goals = matchers
    want_page, want_goal = PAGE in dimensions, GOAL in dimensions
    for visitor, visit, path in pageviews:
        if want_page:
            stats[PAGE][path].pageviews += 1
            seen[PAGE][path].add(visitor)
            visit_sets[PAGE][path].add(visit)
        if want_goal:
            for goal_id, match in page_goals:
                if match(path):
                    stats[GOAL][goal_id].pageviews += 1
                    seen[GOAL][goal_id].add(visitor)
                    visit_sets[GOAL][goal_id].add(visit)
    for visitor, visit, name in events:
        for goal_id in event_goals.get(name, ()) if want_goal else ():
            stats[GOAL][goal_id].pageviews += 1
            seen[GOAL][goal_id].add(visitor)
            visit_sets[GOAL][goal_id].add(visit)
    for dim in dimensions:
        for value, visitors in seen[dim].items():
            stats[dim][value].visitors = len(visitors)
            if with_pairs:  # (visitor, value) pairs only for carries: of the visitors in pairs_of, when given
                carried = visitors if pairs_of is None else visitors & pairs_of
                pairs[dim].update((visitor, value) for visitor in carried)
        if dim in visit_sets:
            for value, ids in visit_sets[dim].items():
                stats[dim][value].visits = len(ids)
    return stats, pairs


def carries(pairs_today, pairs_next):
    """{dimension: {value: how many visitor ids appear with that value on both days}}."""
    result = {}
    for dim, today in pairs_today.items():
        counts = defaultdict(int)
        for _visitor, value in today & pairs_next.get(dim, set()):
            counts[value] += 1
        result[dim] = counts
    return result


def last_complete_day(site_timezone, now=None):
    tz = ZoneInfo(site_timezone)
    local = (now or dj_timezone.now()).astimezone(tz) - COMPLETE_AFTER
    return local.date() - timedelta(days=1)


def _site_goals(site):
    from sites.models import Goal

    return list(Goal.objects.filter(site=site).order_by("pk"))


def rollups_fill(site, *, now=None, max_days=None):
    """Fill every complete day not filled yet, backfill new goals, refresh the provisional tail.

    Returns the number of complete days filled.
    """
    state, _ = RollupState.objects.get_or_create(site=site, defaults={"timezone": site.timezone})
    if state.timezone != site.timezone:  # days are cut differently now: start over
        rollups_reset(site)
        state = RollupState.objects.create(site=site, timezone=site.timezone)
    tz = ZoneInfo(site.timezone)
    last = last_complete_day(site.timezone, now)
    if state.complete_until is not None:
        first = state.complete_until + timedelta(days=1)
    else:
        first = _first_day(site, tz)
        if first is None:
            return 0
    goals = _site_goals(site)
    filled, previous_pairs = 0, None
    day = first
    while day <= last and (max_days is None or filled < max_days):
        previous_pairs = _fill_day(site, tz, day, state, previous_pairs, goals)
        filled += 1
        day += timedelta(days=1)
    if max_days is None:
        from tracking.columns import columns_fill
        from tracking.rollup_provisional import provisional_refresh  # they build on this module
        from tracking.rollup_segments import segments_fill

        goals_backfill(site)
        weeks_fill(site)
        months_fill(site)
        columns_fill(site, now=now)  # before the snapshot: it holds the days after the store
        provisional_refresh(site, now=now)
        segments_fill(site)
    return filled


def _first_day(site, tz):
    earliest = Visit.objects.filter(site=site).aggregate(first=Min("started_at"))["first"]
    return None if earliest is None else earliest.astimezone(tz).date()


def _fill_day(site, tz, day, state, previous_pairs, goals):
    stats, pairs = day_stats(site.pk, tz, day, DIMENSIONS, goals)
    with transaction.atomic():
        # One filler per site at a time; a second one that raced us finds the day done and stops.
        locked = RollupState.objects.select_for_update().get(pk=state.pk)
        if locked.complete_until is not None and locked.complete_until >= day:
            return pairs
        RollupState.objects.filter(pk=state.pk).update(filling=day)
        DailyRollup.objects.filter(site=site, day=day).delete()
        _store_day(site, day, stats)
        # Now that this day exists, the day before knows how many of its visitors came back today.
        yesterday = day - timedelta(days=1)
        if previous_pairs is None and state.complete_until == yesterday:
            previous_pairs = day_stats(site.pk, tz, yesterday, DIMENSIONS, goals)[1]
        if previous_pairs is not None:
            _store_carries(site, yesterday, previous_pairs, pairs)
        state.complete_until, state.filling = day, None
        RollupState.objects.filter(pk=state.pk).update(complete_until=day, filling=None)
    return pairs


def _store_day(site, day, stats):
    DailyRollup.objects.bulk_create(
        [
            DailyRollup(
                site=site, day=day, dimension=dim, value=value[:2000], visitors=s.visitors, visits=s.visits,
                bounces=s.bounces, duration=s.duration, pageviews=s.pageviews,
            )
            for dim, values in stats.items()
            for value, s in values.items()
        ],
        batch_size=2000,
    )  # fmt: skip


def _store_carries(site, day, pairs, next_pairs):
    dims = list(pairs)
    rows = {(r.dimension, r.value): r for r in DailyRollup.objects.filter(site=site, day=day, dimension__in=dims)}
    changed = []
    for dim, counts in carries(pairs, next_pairs).items():
        for value, count in counts.items():
            row = rows.get((dim, value[:2000]))
            if row is not None and row.carry != count:
                row.carry = count
                changed.append(row)
    DailyRollup.objects.bulk_update(changed, ["carry"], batch_size=2000)


def weeks_fill(site):
    """Sum every complete week (Monday to Sunday, local) not summed yet into WeeklyRollup. A week is summed once the
    Monday after it is complete: its Sunday's carry into that Monday is final then. Idempotent: a week's rows are
    replaced in one transaction that moves RollupState.weeks_until. Returns the number of weeks summed."""
    return _blocks_fill(site, WeeklyRollup, "weeks_until", week_start, next_week)


def months_fill(site):
    """Sum every complete local month not summed yet into MonthlyRollup, like weeks_fill (once the 1st after it is
    complete). Returns the number of months summed."""
    return _blocks_fill(site, MonthlyRollup, "months_until", month_start, next_month)


def week_start(day):
    return day - timedelta(days=day.weekday())


def month_start(day):
    return day.replace(day=1)


def next_month(first):
    """The 1st of the month after the one `first` is in (the day after a month's block)."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def next_week(monday):
    return monday + timedelta(days=7)


def next_day(day):
    return day + timedelta(days=1)


def _blocks_fill(site, model, until_field, start_of, after):
    """Sum the DailyRollup rows of every complete block (a week, a month: from `start_of(day)` to the day before
    `after(start)`) not summed yet into `model`, moving RollupState.<until_field> to each block's last day."""
    state = RollupState.objects.filter(site=site).first()
    if state is None or state.complete_until is None:
        return 0
    until = getattr(state, until_field)
    if until is not None:
        start = until + timedelta(days=1)
    else:
        first = _first_day(site, ZoneInfo(site.timezone))
        if first is None:
            return 0
        start = start_of(first)
    done = 0
    while after(start) <= state.complete_until:
        last_day = after(start) - timedelta(days=1)
        inner = Case(When(day__lt=last_day, then="carry"), default=Value(0), output_field=IntegerField())
        last = Case(When(day=last_day, then="carry"), default=Value(0), output_field=IntegerField())
        sums = (
            DailyRollup.objects.filter(site=site, day__gte=start, day__lte=last_day)
            .values_list("dimension", "value")
            .annotate(
                Sum("visitors"),
                Sum("visits"),
                Sum("bounces"),
                Sum("duration"),
                Sum("pageviews"),
                inner=Sum(inner),
                last=Sum(last),
            )
            .order_by()
        )
        rows = [
            model(
                site=site, day=start, dimension=dim, value=value, visitors=visitors - inner_carry, visits=visits,
                bounces=bounces, duration=duration, pageviews=pageviews, carry=last_carry,
            )
            for dim, value, visitors, visits, bounces, duration, pageviews, inner_carry, last_carry in sums
        ]  # fmt: skip
        with transaction.atomic():
            locked = RollupState.objects.select_for_update().get(pk=state.pk)
            filled = getattr(locked, until_field)
            if filled is not None and filled >= last_day:
                break  # another filler got here first
            model.objects.filter(site=site, day=start).delete()
            model.objects.bulk_create(rows, batch_size=2000)
            RollupState.objects.filter(pk=state.pk).update(**{until_field: last_day})
        done, start = done + 1, after(start)
    return done


def blocks_reset(site):
    """Forget the weekly and monthly sums (the days under them changed: a goal backfilled); the next fill sums them
    again."""
    with transaction.atomic():
        WeeklyRollup.objects.filter(site=site).delete()
        MonthlyRollup.objects.filter(site=site).delete()
        RollupState.objects.filter(site=site).update(weeks_until=None, months_until=None)


def goals_backfill(site, goals=None):
    """Fill the "goal" rows of goals not filled yet (created after the days they count) over every complete day.

    Idempotent: each day's rows of these goals are replaced; the goals count as filled only once all days are.
    """
    state = RollupState.objects.filter(site=site).first()
    if state is None or state.complete_until is None:
        return 0
    goals = [g for g in (goals if goals is not None else _site_goals(site)) if g.pk not in state.goals_filled]
    if not goals:
        return 0
    tz, ids = ZoneInfo(site.timezone), [str(g.pk) for g in goals]
    day, last, previous, done = _first_day(site, tz), state.complete_until, None, 0
    while day is not None and day <= last:
        stats, pairs = day_stats(site.pk, tz, day, (GOAL,), goals)
        with transaction.atomic():
            DailyRollup.objects.filter(site=site, day=day, dimension=GOAL, value__in=ids).delete()
            _store_day(site, day, stats)
            if previous is not None:
                _store_carries(site, day - timedelta(days=1), previous, pairs)
        previous, done, day = pairs, done + 1, day + timedelta(days=1)
    with transaction.atomic():
        locked = RollupState.objects.select_for_update().get(pk=state.pk)
        if locked.timezone == site.timezone and locked.complete_until is not None:
            # Days completed meanwhile were filled with every goal of their time, these included.
            locked.goals_filled = sorted({*locked.goals_filled, *(g.pk for g in goals)})
            RollupState.objects.filter(pk=state.pk).update(goals_filled=locked.goals_filled)
    if done:
        blocks_reset(site)  # their goal rows changed
    return done


def rollups_reset(site):
    """Forget a site's rollups (its timezone changed, or data was imported into the past)."""
    DailyRollup.objects.filter(site=site).delete()
    ProvisionalRollup.objects.filter(site=site).delete()
    ProvisionalVisit.objects.filter(site=site).delete()
    SegmentRollup.objects.filter(site=site).delete()
    SegmentProvisional.objects.filter(site=site).delete()
    WeeklyRollup.objects.filter(site=site).delete()
    MonthlyRollup.objects.filter(site=site).delete()
    from tracking.columns import columns_reset

    columns_reset(site)
    RollupState.objects.filter(site=site).delete()

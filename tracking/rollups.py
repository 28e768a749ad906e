"""Daily rollups: each complete day of a site, in the site's timezone, summed per dimension value.

Filled idempotently (zulip-style): a day is deleted and recomputed inside one transaction, and
RollupState.complete_until moves only after it committed, so a crashed fill redoes that day. A day is
complete two hours after its midnight (visits started before midnight may still be going on). The
dashboard reads rollups for complete days and computes the unfilled tail from raw rows with the same
functions (`day_stats`), so both paths count exactly alike.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Min
from django.utils import timezone as dj_timezone

from tracking.models import DailyRollup, PageView, RollupState, Visit

TOTAL = ""
PAGE = "page"
VISIT_FIELDS = (
    "source", "channel", "referrer", "referrer_host", "utm_source", "utm_medium", "utm_campaign", "utm_content",
    "utm_term", "entry_page", "exit_page", "hostname", "country", "region", "city", "browser", "browser_version",
    "os", "os_version", "device", "screen_class",
)  # fmt: skip
DIMENSIONS = (TOTAL, *VISIT_FIELDS, PAGE)
COMPLETE_AFTER = timedelta(hours=2)


@dataclass
class Stats:
    visitors: int = 0
    visits: int = 0
    bounces: int = 0
    duration: int = 0
    pageviews: int = 0
    carry: int = 0


def day_bounds(tz, day):
    return datetime.combine(day, time.min, tzinfo=tz), datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def day_stats(site_id, tz, day, dimensions):
    """{dimension: {value: Stats}} for one day, and {dimension: set((visitor_id, value))} for carries."""
    start, end = day_bounds(tz, day)
    stats = {dim: defaultdict(Stats) for dim in dimensions}
    pairs = {dim: set() for dim in dimensions}
    visit_dims = [dim for dim in dimensions if dim != PAGE]
    if visit_dims:
        fields = [dim for dim in visit_dims if dim != TOTAL]
        rows = Visit.objects.filter(site_id=site_id, started_at__gte=start, started_at__lt=end).values_list(
            "visitor_id", "is_bounce", "duration", "pageviews", *fields
        )
        seen = {dim: defaultdict(set) for dim in visit_dims}
        for row in rows.iterator(chunk_size=5000):
            visitor, bounce, duration, pageviews = row[:4]
            values = dict(zip(fields, row[4:], strict=True))
            values[TOTAL] = ""
            for dim in visit_dims:
                value = values[dim] or ""
                entry = stats[dim][value]
                entry.visits += 1
                entry.bounces += bounce
                entry.duration += duration
                entry.pageviews += pageviews
                seen[dim][value].add(visitor)
        for dim in visit_dims:
            for value, visitors in seen[dim].items():
                stats[dim][value].visitors = len(visitors)
                pairs[dim].update((visitor, value) for visitor in visitors)
    if PAGE in dimensions:
        rows = PageView.objects.filter(site_id=site_id, timestamp__gte=start, timestamp__lt=end).values_list(
            "visitor_id", "visit_id", "pathname"
        )
        visitors, visits = defaultdict(set), defaultdict(set)
        for visitor, visit, path in rows.iterator(chunk_size=5000):
            stats[PAGE][path].pageviews += 1
            visitors[path].add(visitor)
            visits[path].add(visit)
        for path, ids in visitors.items():
            stats[PAGE][path].visitors = len(ids)
            stats[PAGE][path].visits = len(visits[path])
            pairs[PAGE].update((visitor, path) for visitor in ids)
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


def rollups_fill(site, *, now=None, max_days=None):
    """Fill every complete day not filled yet. Returns the number of days filled."""
    state, _ = RollupState.objects.get_or_create(site=site, defaults={"timezone": site.timezone})
    if state.timezone != site.timezone:  # days are cut differently now: start over
        DailyRollup.objects.filter(site=site).delete()
        state.timezone, state.complete_until, state.filling = site.timezone, None, None
        state.save()
    tz = ZoneInfo(site.timezone)
    last = last_complete_day(site.timezone, now)
    if state.complete_until is not None:
        first = state.complete_until + timedelta(days=1)
    else:
        earliest = Visit.objects.filter(site=site).aggregate(first=Min("started_at"))["first"]
        if earliest is None:
            return 0
        first = earliest.astimezone(tz).date()
    filled, previous_pairs = 0, None
    day = first
    while day <= last and (max_days is None or filled < max_days):
        previous_pairs = _fill_day(site, tz, day, state, previous_pairs)
        filled += 1
        day += timedelta(days=1)
    return filled


def _fill_day(site, tz, day, state, previous_pairs):
    stats, pairs = day_stats(site.pk, tz, day, DIMENSIONS)
    with transaction.atomic():
        # One filler per site at a time; a second one that raced us finds the day done and stops.
        locked = RollupState.objects.select_for_update().get(pk=state.pk)
        if locked.complete_until is not None and locked.complete_until >= day:
            return pairs
        RollupState.objects.filter(pk=state.pk).update(filling=day)
        DailyRollup.objects.filter(site=site, day=day).delete()
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
        # Now that this day exists, the day before knows how many of its visitors came back today.
        yesterday = day - timedelta(days=1)
        if previous_pairs is None and state.complete_until == yesterday:
            previous_pairs = day_stats(site.pk, tz, yesterday, DIMENSIONS)[1]
        if previous_pairs is not None:
            rows = {(r.dimension, r.value): r for r in DailyRollup.objects.filter(site=site, day=yesterday)}
            changed = []
            for dim, counts in carries(previous_pairs, pairs).items():
                for value, count in counts.items():
                    row = rows.get((dim, value[:2000]))
                    if row is not None and row.carry != count:
                        row.carry = count
                        changed.append(row)
            DailyRollup.objects.bulk_update(changed, ["carry"], batch_size=2000)
        state.complete_until, state.filling = day, None
        RollupState.objects.filter(pk=state.pk).update(complete_until=day, filling=None)
    return pairs


def rollups_reset(site):
    """Forget a site's rollups (its timezone changed, or data was imported into the past)."""
    DailyRollup.objects.filter(site=site).delete()
    RollupState.objects.filter(site=site).delete()

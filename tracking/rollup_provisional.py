"""The provisional snapshot of the days after the last complete one (today, maybe yesterday), refreshed every few
minutes by the beat task: ProvisionalRollup and ProvisionalColumns hold everything stored when it was taken
(`RollupState.provisional_at`), with the state then of the visits that could still change (ProvisionalVisit), so
the dashboard corrects it for the few visits changed since (`dashboard.rollup_tail`, `dashboard.column_frame`). The
segment snapshot of the same refresh holds what had settled by an earlier cutoff (visits ended before it can no
longer change).
"""

from contextlib import contextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone as dj_timezone

from tracking.models import (
    Event,
    PageView,
    ProvisionalColumns,
    ProvisionalRollup,
    ProvisionalVisit,
    RollupState,
    SegmentProvisional,
    Visit,
)
from tracking.rollups import (
    DIMENSIONS,
    SEEN_VISIT,
    SETTLED_AFTER,
    STORED_WITHIN,
    LocalDate,
    _site_goals,
    carries,
    day_stats,
)


def provisional_refresh(site, *, now=None):
    """Snapshot the days after the last complete one: ProvisionalRollup and ProvisionalColumns as everything stored
    by `now`, the segment snapshot up to a cutoff where visits have settled.

    With it goes what the dashboard needs to correct it later for the visitors whose rows changed since: the state
    then of every visit that could still change (not settled by the cutoff: ProvisionalVisit), and which of the page
    views and events of the last STORED_WITHIN were stored by then (RollupState.provisional_seen: a record of those
    minutes may arrive after the snapshot). Returns the number of days in the snapshot.
    """
    now = now or dj_timezone.now()
    state = RollupState.objects.filter(site=site).first()
    if state is None or state.complete_until is None or state.timezone != site.timezone:
        return 0
    tz, goals = ZoneInfo(site.timezone), _site_goals(site)
    first, last = state.complete_until + timedelta(days=1), now.astimezone(tz).date()
    cutoff = now - SETTLED_AFTER
    from tracking.columns import SNAPSHOT_MAX_DAYS, day_rows, snapshot
    from tracking.rollup_segments import provisional_days, store

    with _one_snapshot():  # every read below sees the same rows, as stored at one moment
        previous = day_stats(site.pk, tz, state.complete_until, DIMENSIONS, goals)[1]
        rows, day = [], first
        while day <= last:
            stats, pairs = day_stats(site.pk, tz, day, DIMENSIONS, goals)
            carried = carries(previous, pairs)
            rows += [
                ProvisionalRollup(
                    site=site, day=day, dimension=dim, value=value[:2000], visitors=s.visitors, visits=s.visits,
                    bounces=s.bounces, duration=s.duration, pageviews=s.pageviews,
                    carry_in=carried[dim].get(value, 0),
                )
                for dim, values in stats.items()
                for value, s in values.items()
            ]  # fmt: skip
            previous, day = pairs, day + timedelta(days=1)
        # Every segment's view of the same days (dashboards with one common filter): tracking.rollup_segments.
        segment_days = provisional_days(site.pk, tz, state.complete_until, last, goals, cutoff)
        # Visits open at the cutoff (a visit lasts less than two days): the only ones that can still change.
        still_open = Visit.objects.filter(
            site=site, last_seen_at__gte=cutoff, started_at__gte=cutoff - timedelta(days=2)
        ).annotate(local_day=LocalDate("started_at", tzinfo=tz))
        open_rows = list(still_open.values_list("id", "visitor_id", *SEEN_VISIT))
        recent = now - STORED_WITHIN
        seen = {
            "pageviews": list(PageView.objects.filter(site=site, timestamp__gte=recent).values_list("id", flat=True)),
            "events": list(Event.objects.filter(site=site, timestamp__gte=recent).values_list("id", flat=True)),
        }  # fmt: skip
        # The column store's days after it (filtered dashboards), as stored now too: coded under the lock below.
        column_days = {}
        if state.columns_until is not None and (last - state.columns_until).days <= SNAPSHOT_MAX_DAYS:
            day = state.columns_until + timedelta(days=1)
            while day <= last:
                column_days[day], day = day_rows(site.pk, tz, day), day + timedelta(days=1)
    as_seen = [
        ProvisionalVisit(site=site, visit_id=pk, visitor_id=visitor, **dict(zip(SEEN_VISIT, rest, strict=True)))
        for pk, visitor, *rest in open_rows
    ]
    with transaction.atomic():
        locked = RollupState.objects.select_for_update().get(pk=state.pk)
        if locked.complete_until != state.complete_until or locked.timezone != site.timezone:
            return 0  # a fill moved on meanwhile: the next refresh starts from there
        # The column store's view of the days after it: tracking.columns. Under the lock: it may code new texts into
        # the store's dictionaries. Not when the store moved on since the rows were read (the next refresh will).
        after, column_rows = locked.columns_until, None
        if after is not None and after == state.columns_until:
            column_rows = snapshot(site, tz, column_days, after, locked.columns_visitors)
        ProvisionalRollup.objects.filter(site=site).delete()
        ProvisionalRollup.objects.bulk_create(rows, batch_size=2000)
        ProvisionalVisit.objects.filter(site=site).delete()
        ProvisionalVisit.objects.bulk_create(as_seen, batch_size=2000)
        SegmentProvisional.objects.filter(site=site).delete()
        for day, segment_rows in segment_days.items():
            store(site, day, segment_rows, model=SegmentProvisional)
        ProvisionalColumns.objects.filter(site=site).delete()
        if column_rows is not None:
            ProvisionalColumns.objects.bulk_create(column_rows, batch_size=100)
        else:
            after = None
        RollupState.objects.filter(pk=state.pk).update(
            provisional_from=first, provisional_until=last, provisional_cutoff=cutoff, provisional_at=now,
            provisional_seen=seen, provisional_goals=[g.pk for g in goals], provisional_segments=True,
            provisional_columns_after=after,
        )  # fmt: skip
    return (last - first).days + 1


@contextmanager
def _one_snapshot():
    """A read-only stretch in which every statement sees the database as it was at its first one: REPEATABLE READ on
    PostgreSQL (inside a caller's transaction, that transaction's view). SQLite's transactions see one state anyway."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield

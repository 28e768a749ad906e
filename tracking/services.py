"""Writes of the tracking app: storing batches of enriched events, and the daily salts.

`events_store` is the one place events become rows, whether they come from the Redis buffer (the
flusher) or straight from the view (no Redis, or Redis down). It is idempotent: a batch stored twice —
a flusher that crashed after commit and before acknowledging — changes nothing the second time,
because page views and events already present are skipped before visits are touched.
"""

import secrets
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from sites.models import Site
from tracking import rows, sessions
from tracking.models import DroppedEvents, Event, PageView, Salt

_ADVISORY_LOCK = 7_303_001  # serialises writers so visits are never split by a race


# --- salts --------------------------------------------------------------------------------------
_salt_cache = {}  # day -> secret, or -> monotonic time until which it is known to be missing
MISSING_SALT_SECONDS = 60.0


def salt_for_day(day: date, *, create=True):
    """The secret of a UTC day, created on first use. Cached per process (salts never change).

    A missing salt read with create=False (yesterday's, on a site's first day) is remembered as missing
    for a minute: otherwise every event would pay a query (and a connection health check) for it.
    """
    cached = _salt_cache.get(day)
    if cached is not None:
        if isinstance(cached, bytes):
            return cached
        if not create and cached > time.monotonic():
            return None
    row = Salt.objects.filter(day=day).first()
    if row is None and create:
        try:
            with transaction.atomic():
                row = Salt.objects.create(day=day, secret=secrets.token_bytes(32))
        except IntegrityError:  # another worker created it first
            row = Salt.objects.get(day=day)
    if len(_salt_cache) > 8:
        _salt_cache.clear()
    if row is None:
        _salt_cache[day] = time.monotonic() + MISSING_SALT_SECONDS
        return None
    secret = bytes(row.secret)
    _salt_cache[day] = secret
    return secret


def salts_rotate(*, now=None):
    """Create today's salt and delete those older than 48 hours. Run by Celery beat."""
    now = now or datetime.now(UTC)
    today = now.date()
    salt_for_day(today)
    # Only today's and yesterday's salts are used (yesterday's so visits span midnight); any older one
    # was created more than 48 hours ago.
    cutoff = today - timedelta(days=1)
    deleted, _ = Salt.objects.filter(day__lt=cutoff).delete()
    for day in [day for day in _salt_cache if day < cutoff]:
        _salt_cache.pop(day, None)
    return deleted


def salts_forget_cache():
    _salt_cache.clear()


# --- storing events ----------------------------------------------------------------------------
def _dt(ts):
    return datetime.fromtimestamp(ts, UTC)


def events_store(records):
    """Store a batch of enriched records (see tracking.ingest). Returns counts of what was written."""
    if not records:
        return {"pageviews": 0, "events": 0, "engagements": 0, "dropped": 0, "visits": 0}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        return _store(records)


def _store(records):
    drops = defaultdict(int)
    pageviews, custom, engagements = {}, {}, []
    for record in records:
        kind = record["kind"]
        if kind == "pageview":
            pageviews.setdefault((record["site"], record["view_id"]), record)
        elif kind == "event":
            custom.setdefault((record["site"], record["view_id"], record["name"]), record)
        elif kind == "engagement":
            engagements.append(record)
        elif kind == "drop":
            drops[(record["site"], record["day"], record["reason"])] += 1

    _drop_existing(PageView, pageviews)
    _drop_existing(Event, custom, "name")

    stored = [*pageviews.values(), *custom.values()]
    for record in stored:
        record["dt"] = _dt(record["ts"])
    stored.sort(key=lambda r: r["ts"])
    new_visits, touched = sessions.sessionize(stored, _open_visits(stored)) if stored else ({}, {})
    rows.visits_insert(new_visits.values())
    rows.visits_update(touched.values())
    rows.pageviews_insert(list(pageviews.values()))
    rows.events_insert(list(custom.values()))

    engaged = _store_engagements(engagements)
    _store_drops(drops)
    if stored:
        sites = {r["site"] for r in stored}
        Site.objects.filter(pk__in=sites, first_event_at__isnull=True).update(first_event_at=stored[0]["dt"])
    return {
        "pageviews": len(pageviews),
        "events": len(custom),
        "engagements": engaged,
        "dropped": sum(drops.values()),
        "visits": len(new_visits),
    }


def _drop_existing(model, pending, *fields):
    """Remove from `pending` ({(site_id, view_id, *rest): record}) what `model` already stores (keyed alike)."""
    for site_id, view_ids in rows.by_site(pending).items():
        for row in rows.existing_keys(model, site_id, view_ids, *fields):
            pending.pop((site_id, *row), None)


def _open_visits(records):
    """{(site id, visitor id): the latest visit that may still be open} for the visitors of these records."""
    earliest = min(r["dt"] for r in records) - sessions.VISIT_IDLE
    visitors = defaultdict(set)
    for record in records:
        visitors[record["site"]].add(record["visitor"])
        if record.get("prev_visitor") is not None:
            visitors[record["site"]].add(record["prev_visitor"])
    found = {}
    for site_id, ids in visitors.items():
        for visit in rows.open_visits(site_id, ids, earliest):
            found[(site_id, visit.visitor_id)] = visit  # oldest first: the latest wins
    return found


def _store_engagements(engagements):
    """Engagement raises a page view's engaged time and scroll depth (never lowers: safe to repeat)."""
    if not engagements:
        return 0
    wanted = sessions.wanted_engagement(engagements)
    changed, ends, seen = [], {}, 0
    for site_id, view_ids in rows.by_site(wanted).items():
        for pk, view_id, engaged_ms, scroll_depth, visit_id, at in rows.pageviews_for_engagement(site_id, view_ids):
            seen += 1
            engaged, depth = wanted[(site_id, view_id)]
            engaged = max(engaged_ms, engaged)
            depth = max(scroll_depth or 0, depth) if depth is not None else scroll_depth
            if (engaged, depth) != (engaged_ms, scroll_depth):
                changed.append((pk, engaged, depth))
            # The visit lasted at least until the end of the engaged time on this page.
            end = at + timedelta(milliseconds=engaged)
            ends[visit_id] = max(end, ends.get(visit_id, end))
    rows.pageviews_engage(changed)
    longer = {}
    for visit_id, (started, last_seen) in rows.visit_spans(list(ends)).items():
        if ends[visit_id] > last_seen:
            longer[visit_id] = (ends[visit_id], int((ends[visit_id] - started).total_seconds()))
    rows.visits_extend(longer)
    return seen


def _store_drops(drops):
    for (site_id, day, reason), count in drops.items():
        updated = DroppedEvents.objects.filter(site_id=site_id, day=day, reason=reason).update(count=F("count") + count)
        if not updated:
            DroppedEvents.objects.create(site_id=site_id, day=day, reason=reason, count=count)

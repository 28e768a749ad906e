"""Writes of the tracking app: storing batches of enriched events, and the daily salts.

`events_store` is the one place events become rows, whether they come from the Redis buffer (the
flusher) or straight from the view (no Redis, or Redis down). It is idempotent: a batch stored twice —
a flusher that crashed after commit and before acknowledging — changes nothing the second time,
because page views and events already present are skipped before visits are touched.
"""

import random
import secrets
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from sites.models import Site
from tracking.models import DroppedEvents, Event, PageView, Salt, Visit

VISIT_IDLE = timedelta(minutes=30)
_ADVISORY_LOCK = 7_303_001  # serialises writers so visits are never split by a race

_VISIT_DIMENSIONS = (
    "hostname", "referrer", "referrer_host", "source", "channel", "utm_source", "utm_medium", "utm_campaign",
    "utm_content", "utm_term", "click_id", "country", "region", "city", "browser", "browser_version", "os",
    "os_version", "device", "screen_class",
)  # fmt: skip
_VISIT_UPDATE_FIELDS = [
    "started_at",
    "entry_page",
    "last_seen_at",
    "duration",
    "pageviews",
    "events",
    "is_bounce",
    "exit_page",
]
# What extending an open visit reads and writes; the dimensions are set once, when the visit starts.
_VISIT_OPEN_FIELDS = ["id", "site_id", "visitor_id", *_VISIT_UPDATE_FIELDS]

_rng = random.SystemRandom()


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

    new_visits, touched = _sessionize(sorted([*pageviews.values(), *custom.values()], key=lambda r: r["ts"]))
    Visit.objects.bulk_create(new_visits.values(), batch_size=500)
    if touched:
        _bulk_update(Visit, touched.values(), _VISIT_UPDATE_FIELDS)

    PageView.objects.bulk_create(
        [
            PageView(
                site_id=r["site"], view_id=r["view_id"], visit_id=r["visit_id"], visitor_id=r["visitor"],
                timestamp=_dt(r["ts"]), hostname=r["hostname"], pathname=r["pathname"], props=r["props"],
                checkout_session_id=r["checkout_session_id"],
            )
            for r in pageviews.values()
        ],
        batch_size=500,
        ignore_conflicts=True,
    )  # fmt: skip
    Event.objects.bulk_create(
        [
            Event(
                site_id=r["site"], view_id=r["view_id"], visit_id=r["visit_id"], visitor_id=r["visitor"],
                name=r["name"], timestamp=_dt(r["ts"]), pathname=r["pathname"], props=r["props"],
                interactive=r["interactive"],
                revenue_amount=Decimal(r["revenue_amount"]) if r["revenue_amount"] is not None else None,
                revenue_currency=r["revenue_currency"],
            )
            for r in custom.values()
        ],
        batch_size=500,
        ignore_conflicts=True,
    )  # fmt: skip

    engaged = _store_engagements(engagements)
    _store_drops(drops)
    sites = {r["site"] for r in [*pageviews.values(), *custom.values()]}
    if sites:
        first = min(r["ts"] for r in [*pageviews.values(), *custom.values()])
        Site.objects.filter(pk__in=sites, first_event_at__isnull=True).update(first_event_at=_dt(first))
    return {
        "pageviews": len(pageviews),
        "events": len(custom),
        "engagements": engaged,
        "dropped": sum(drops.values()),
        "visits": len(new_visits),
    }


def _drop_existing(model, pending, *fields):
    """Remove from `pending` ({(site_id, view_id, *rest): record}) what `model` already stores (keyed alike)."""
    by_site = defaultdict(list)
    for site_id, view_id, *_rest in pending:
        by_site[site_id].append(view_id)
    for site_id, view_ids in by_site.items():
        for row in model.objects.filter(site_id=site_id, view_id__in=view_ids).values_list("view_id", *fields):
            pending.pop((site_id, *row), None)


def _sessionize(records):
    """Attach every record to a visit: an open one of the same visitor (≤ 30 minutes idle) or a new one.

    A visitor is matched by today's hash and by yesterday's (records carry both), so a visit that
    crosses midnight UTC, when the salt rotates, stays one visit.
    """
    new_visits, touched = {}, {}
    if not records:
        return new_visits, touched
    open_visits = _open_visits(records)
    for record in records:
        ts = _dt(record["ts"])
        visit = None
        for visitor in (record["visitor"], record.get("prev_visitor")):
            if visitor is None:
                continue
            candidate = open_visits.get((record["site"], visitor))
            # Out of order by a little (an event queued before the script loaded, stored first) joins too.
            if candidate is not None and candidate.started_at - VISIT_IDLE <= ts <= candidate.last_seen_at + VISIT_IDLE:
                visit = candidate
                break
        if visit is None:
            visit = Visit(
                id=_rng.getrandbits(63) or 1, site_id=record["site"], visitor_id=record["visitor"], started_at=ts,
                last_seen_at=ts, entry_page=record["pathname"], exit_page=record["pathname"], pageviews=0, events=0,
                is_bounce=True, **{name: record[name] for name in _VISIT_DIMENSIONS},
            )  # fmt: skip
            new_visits[visit.id] = visit
        elif visit.id not in new_visits:
            touched[visit.id] = visit
        _extend(visit, record, ts)
        open_visits[(record["site"], record["visitor"])] = visit
        record["visit_id"] = visit.id
    return new_visits, touched


def _extend(visit, record, ts):
    if ts < visit.started_at:  # a record that happened before the visit's first stored one
        visit.started_at = ts
        if record["kind"] == "pageview":
            visit.entry_page = record["pathname"]
    if ts > visit.last_seen_at:
        visit.last_seen_at = ts
    visit.duration = int((visit.last_seen_at - visit.started_at).total_seconds())
    if record["kind"] == "pageview":
        visit.pageviews += 1
        if ts >= visit.last_seen_at:
            visit.exit_page = record["pathname"]
        if visit.pageviews > 1:
            visit.is_bounce = False
    else:
        visit.events += 1
        if record["interactive"]:
            visit.is_bounce = False


def _open_visits(records):
    earliest = _dt(min(r["ts"] for r in records)) - VISIT_IDLE
    by_site = defaultdict(set)
    for record in records:
        by_site[record["site"]].add(record["visitor"])
        if record.get("prev_visitor") is not None:
            by_site[record["site"]].add(record["prev_visitor"])
    found = {}
    for site_id, visitors in by_site.items():
        candidates = Visit.objects.filter(site_id=site_id, visitor_id__in=visitors, last_seen_at__gte=earliest).only(
            *_VISIT_OPEN_FIELDS
        )
        for visit in candidates.order_by("last_seen_at"):
            found[(site_id, visit.visitor_id)] = visit  # the latest wins
    return found


def _store_engagements(engagements):
    """Engagement raises a page view's engaged time and scroll depth (never lowers: safe to repeat)."""
    if not engagements:
        return 0
    wanted = {}
    for record in engagements:
        key = (record["site"], record["view_id"])
        engaged, depth = wanted.get(key, (0, None))
        if record["scroll_depth"] is not None:
            depth = max(depth or 0, record["scroll_depth"])
        wanted[key] = (max(engaged, record["engaged_ms"] or 0), depth)
    by_site = defaultdict(list)
    for site_id, view_id in wanted:
        by_site[site_id].append(view_id)
    views = []
    for site_id, view_ids in by_site.items():
        views += PageView.objects.filter(site_id=site_id, view_id__in=view_ids).only(
            "id", "site_id", "view_id", "engaged_ms", "scroll_depth", "visit_id", "timestamp"
        )
    ends = {}
    for view in views:
        engaged, depth = wanted[(view.site_id, view.view_id)]
        view.engaged_ms = max(view.engaged_ms, engaged)
        if depth is not None:
            view.scroll_depth = max(view.scroll_depth or 0, depth)
        # The visit lasted at least until the end of the engaged time on this page.
        end = view.timestamp + timedelta(milliseconds=view.engaged_ms)
        ends[view.visit_id] = max(end, ends.get(view.visit_id, end))
    _bulk_update(PageView, views, ["engaged_ms", "scroll_depth"])
    visits = list(Visit.objects.filter(pk__in=ends).only("id", "started_at", "last_seen_at", "duration"))
    longer = []
    for visit in visits:
        if ends[visit.id] > visit.last_seen_at:
            visit.last_seen_at = ends[visit.id]
            visit.duration = int((visit.last_seen_at - visit.started_at).total_seconds())
            longer.append(visit)
    _bulk_update(Visit, longer, ["last_seen_at", "duration"])
    return len(views)


def _bulk_update(model, objects, field_names, batch_size=1000):
    """One `UPDATE … FROM (VALUES …)` per batch on PostgreSQL.

    Django's bulk_update builds a CASE WHEN per object and field: ~1 ms of Python per visit, which was
    most of the flusher's time. Elsewhere (SQLite, the embedded default) the ORM's is fine.
    """
    objects = list(objects)
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_update(objects, field_names, batch_size=batch_size)
        return
    meta = model._meta
    fields = [meta.pk, *(meta.get_field(name) for name in field_names)]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in fields[1:])
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in fields) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(objects), batch_size):
            chunk = objects[start : start + batch_size]
            params = [
                field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in chunk for field in fields
            ]
            # Only quoted model metadata is interpolated; every value is a parameter.
            sql = (
                f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v({columns}) "
                f"WHERE t.{quote(meta.pk.column)} = v.{quote(meta.pk.column)}"
            )
            cursor.execute(sql, params)


def _store_drops(drops):
    for (site_id, day, reason), count in drops.items():
        updated = DroppedEvents.objects.filter(site_id=site_id, day=day, reason=reason).update(count=F("count") + count)
        if not updated:
            DroppedEvents.objects.create(site_id=site_id, day=day, reason=reason, count=count)

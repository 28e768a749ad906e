"""Sessionisation: which visit each record of a batch belongs to. Pure logic, no Django.

A visit is one visitor's activity with at most 30 minutes idle. A visitor is matched by today's hash and
by yesterday's (records carry both), so a visit that crosses midnight UTC, when the salt rotates, stays
one visit. Records a little out of order (an event queued before the script loaded, stored first) join
the visit they belong to.
"""

import random
from datetime import timedelta

VISIT_IDLE = timedelta(minutes=30)

DIMENSIONS = (
    "hostname", "referrer", "referrer_host", "source", "channel", "utm_source", "utm_medium", "utm_campaign",
    "utm_content", "utm_term", "click_id", "country", "region", "city", "browser", "browser_version", "os",
    "os_version", "device", "screen_class",
)  # fmt: skip
# What extending a visit changes; the dimensions are set once, when the visit starts.
MUTABLE = ("started_at", "entry_page", "last_seen_at", "duration", "pageviews", "events", "is_bounce", "exit_page")
LOADED = ("id", "site_id", "visitor_id", *MUTABLE)  # what a stored open visit is read with

_rng = random.SystemRandom()


class OpenVisit:
    """A visit being extended by a batch: one loaded from the database, or a new one (`dimensions` set)."""

    __slots__ = (*LOADED, "dimensions")

    def __init__(self, **fields):
        self.dimensions = None
        for name, value in fields.items():
            setattr(self, name, value)


def new_visit(record, ts):
    return OpenVisit(
        id=_rng.getrandbits(63) or 1, site_id=record["site"], visitor_id=record["visitor"], started_at=ts,
        last_seen_at=ts, entry_page=record["pathname"], exit_page=record["pathname"], duration=0, pageviews=0,
        events=0, is_bounce=True, dimensions={name: record[name] for name in DIMENSIONS},
    )  # fmt: skip


def sessionize(records, open_visits):
    """Attach every record (sorted by "dt", an aware datetime) to a visit; sets record["visit_id"].

    `open_visits` maps (site id, visitor id) to the latest stored visit that may still be open; it is
    updated in place. Returns (new visits, touched stored visits), each {visit id: OpenVisit}.
    """
    new, touched = {}, {}
    for record in records:
        ts = record["dt"]
        visit = None
        for visitor in (record["visitor"], record.get("prev_visitor")):
            if visitor is None:
                continue
            candidate = open_visits.get((record["site"], visitor))
            if candidate is not None and candidate.started_at - VISIT_IDLE <= ts <= candidate.last_seen_at + VISIT_IDLE:
                visit = candidate
                break
        if visit is None:
            visit = new_visit(record, ts)
            new[visit.id] = visit
        elif visit.id not in new:
            touched[visit.id] = visit
        extend(visit, record, ts)
        open_visits[(record["site"], record["visitor"])] = visit
        record["visit_id"] = visit.id
    return new, touched


def extend(visit, record, ts):
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


def wanted_engagement(engagements):
    """{(site id, view id): (engaged ms, scroll depth or None)}: the most of each, over the batch."""
    wanted = {}
    for record in engagements:
        key = (record["site"], record["view_id"])
        engaged, depth = wanted.get(key, (0, None))
        if record["scroll_depth"] is not None:
            depth = max(depth or 0, record["scroll_depth"])
        wanted[key] = (max(engaged, record["engaged_ms"] or 0), depth)
    return wanted

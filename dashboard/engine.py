"""The one query engine: metrics × dimensions × filters × date range, in the site's timezone.

Everything that reports on traffic — dashboard pages, the Stats API, CSV export, split-test results —
calls `run(site, query)`. Read-only.

Semantics (Plausible's, where it has one):
- The visit set is the visits that started in the range and match the visit: filters. Event filters
  (event:page, event:name, event:goal, event:props:…) keep the visits with at least one matching page
  view or custom event (all event filters hold on the same row), and restrict pageviews/events counts to
  the matching rows.
- visitors = distinct visitor ids. Visitor ids come from a salt that changes every day, so the same
  person on two days counts twice — over any range, the count is exact for the data kept.
- Broken down by event:page, a page's visitors/visits/pageviews come from its page views; its bounce
  rate and visit duration from the visits that entered on it.
- conversion_rate = visitors who converted / all visitors of the visit set, in percent.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Sum
from django.db.models.functions import Trunc

from dashboard import column_reader, providers, rollup_reader
from dashboard.buckets import advance as _advance
from dashboard.buckets import display as _display
from dashboard.buckets import pct as _pct
from dashboard.buckets import sort_key as _sort_key
from dashboard.buckets import truncate as _truncate
from dashboard.filters import ALWAYS, event_qs, goal_qs, visit_q
from dashboard.query import PROPS_PREFIX, TIME_DIMENSIONS, VISIT_DIMENSIONS, Condition, has_goal
from sites.models import Goal
from tracking.models import Event, PageView, Visit
from tracking.rollup_segments import among

# Longer than any visit: ingestion joins a visitor's records across one daily salt rotation, not two.
_VISIT_SPAN = timedelta(days=2)
MATCHED_IDS_MAX = 250_000
_TIME_KIND = {"time:hour": "hour", "time:day": "day", "time:week": "week", "time:month": "month"}


@dataclass
class Result:
    rows: list  # [{"dimensions": [...], "metrics": [...]}]
    total_rows: int
    meta: dict = field(default_factory=dict)


def earliest_day(site):
    """Where "all time" starts for a site, in its timezone: its first event (imports may predate the site)."""
    from django.utils import timezone

    first = site.first_event_at or site.created_at
    return timezone.localdate(first, timezone=ZoneInfo(site.timezone)) if first else None


def utc_bounds(site, date_range):
    tz = ZoneInfo(site.timezone)
    start = datetime.combine(date_range.start, time.min, tzinfo=tz)
    end = datetime.combine(date_range.end + timedelta(days=1), time.min, tzinfo=tz)
    return tz, start, end


# --- the run -------------------------------------------------------------------------------------
class _Run:
    def __init__(self, site, query, memo=None):
        self.site, self.query = site, query
        self.memo, self.memo_shared = ({}, False) if memo is None else (memo, True)  # one page render's runs
        self.tz, self.start, self.end = utc_bounds(site, query.date_range)
        self.goals = list(Goal.objects.filter(site=site)) if self._needs_goals() else []
        visits = Visit.objects.filter(site_id=site.pk, started_at__gte=self.start, started_at__lt=self.end)
        for item in query.visit_filters:
            visits = visits.filter(visit_q(item))
        self.base_visits = visits
        self.pv_q, self.ev_q = ALWAYS, ALWAYS
        for item in query.event_filters:
            pv, ev = event_qs(item, self.goals)
            self.pv_q, self.ev_q = self.pv_q & pv, self.ev_q & ev
        self.event_filtered = bool(query.event_filters)
        self._visits, self._visits_by_ids = visits, False
        if self.event_filtered:
            # One IN over a UNION, not `IN (page views) OR IN (events)`: PostgreSQL plans an OR of sub-selects as a
            # SubPlan per visit (hashed only while it fits in work_mem), one IN as a hash semi-join. The visit
            # filters are already on `visits`, so the matched rows need only the range and the event filters.
            matched_pv = self._in_range(PageView).filter(self.pv_q).values("visit_id")
            matched_ev = self._in_range(Event).filter(self.ev_q).values("visit_id")
            self._visits = visits.filter(id__in=matched_pv.union(matched_ev))
            self._visits_by_ids = self.memo_shared  # read by the ids found once per page render, when first asked
        self.time_dim = next((d for d in query.dimensions if d in TIME_DIMENSIONS), None)
        self.event_dim = next((d for d in query.dimensions if d.startswith("event:")), None)
        self.visit_dims = [d for d in query.dimensions if d in VISIT_DIMENSIONS]
        self.meta = {}  # from metric providers (revenue), merged into Result.meta

    @property
    def visits(self):
        """The visit set: the range's visits matching the visit filters (and, with event filters, having a matching
        page view or event)."""
        if self._visits_by_ids:
            self._visits, self._visits_by_ids = self._matched_once(self._visits), False
        return self._visits

    def _matched_once(self, matched):
        """In a page render, the visits matching event filters found once for all its panels (the same range and
        filters), then read by their ids: each panel would otherwise join the range's visits with its page views
        again (~2 s at 10 M page views). Above MATCHED_IDS_MAX visits, an id list costs more than it saves."""
        key = ("matched_visits", self.site.pk, self.start, self.end, repr(self.query.filters))
        if key not in self.memo:
            ids = list(matched.values_list("id", flat=True)[: MATCHED_IDS_MAX + 1])
            self.memo[key] = ids if len(ids) <= MATCHED_IDS_MAX else None
        if self.memo[key] is None:
            return matched
        # Kept to the range too: by the ids alone PostgreSQL may scan the whole visit table rather than probe its key.
        in_range = Visit.objects.filter(site_id=self.site.pk, started_at__gte=self.start, started_at__lt=self.end)
        return among(in_range, "id", self.memo[key])

    def _needs_goals(self):
        return has_goal(self.query)

    def _rows(self, model):
        """Page views or events that happened in the range, of visits matching the visit filters.

        A row counts on the day it happened, whenever its visit started, as the daily rollups count it.
        """
        rows = self._in_range(model)
        if self.query.visit_filters:
            # A row lies within its visit (started_at ≤ timestamp ≤ last_seen_at), so only visits that overlap the
            # range can own rows in it; bounding them keeps the hash side proportional to the range, not to the
            # retention. The started_at lower bound lets the (site, started_at) index serve: a visit lasts less
            # than two days (its visitor id is matched across one salt rotation only).
            matching = Visit.objects.filter(
                site_id=self.site.pk, started_at__gte=self.start - _VISIT_SPAN, started_at__lt=self.end,
                last_seen_at__gte=self.start,
            )  # fmt: skip
            for item in self.query.visit_filters:
                matching = matching.filter(visit_q(item))
            rows = rows.filter(visit__in=matching)
        return rows

    def _in_range(self, model):
        return model.objects.filter(site_id=self.site.pk, timestamp__gte=self.start, timestamp__lt=self.end)

    def _pageviews(self, restrict=True):
        rows = self._rows(PageView)
        return rows.filter(self.pv_q) if restrict else rows

    def _events(self, restrict=True):
        rows = self._rows(Event)
        return rows.filter(self.ev_q) if restrict else rows

    # Each family returns {key tuple: {metric: value}} where the key follows query.dimensions.
    def _keys(self, prefix, time_field, fields_for_event_dim=None, dims=None):
        """The annotations that make a row's key (one per dimension), and their names in order."""
        annotations = {}
        for dim in self.query.dimensions if dims is None else dims:
            name = f"d_{len(annotations)}"
            if dim in VISIT_DIMENSIONS:
                annotations[name] = F(prefix + VISIT_DIMENSIONS[dim])
            elif dim in TIME_DIMENSIONS:
                annotations[name] = Trunc(time_field, _TIME_KIND[dim], tzinfo=self.tz)
            else:
                annotations[name] = fields_for_event_dim
        return annotations, list(annotations)

    def _group(self, queryset, prefix, time_field, fields_for_event_dim=None, dims=None, **aggregates):
        annotations, names = self._keys(prefix, time_field, fields_for_event_dim, dims)
        if names:
            rows = queryset.annotate(**annotations).values(*names).annotate(**aggregates).order_by()
        else:
            rows = [queryset.aggregate(**aggregates)]
        return {tuple(self._key_value(row[name]) for name in names): row for row in rows}

    def _key_value(self, value):
        if isinstance(value, datetime):
            return value.astimezone(self.tz).replace(tzinfo=None)
        return "" if value is None else value

    def _count(self, rows):
        return {key: row["n"] for key, row in self._group(rows, "visit__", "timestamp", n=Count("id")).items()}

    def visit_metrics(self, visits, dims=None):
        time_field = "started_at"
        return self._group(
            visits, "", time_field, dims=dims,
            visitors=Count("visitor_id", distinct=True), visits=Count("id"), bounces=Sum("is_bounce_int"),
            duration=Sum("duration"), pageviews=Sum("pageviews"),
        )  # fmt: skip

    def run(self):
        families = defaultdict(dict)
        if not self._from_stores(families):
            self._from_raw(families)
        self._extra_metrics(families)
        return self._finish(families)

    def _from_raw(self, families):
        """Fill `families` from raw rows (SQL over the range's visits, page views and events)."""
        if self.event_dim is not None:
            self._event_dimension(families)
            return
        visits = self.visits.annotate(is_bounce_int=_bounce_int())
        for key, row in self.visit_metrics(visits).items():
            families[key].update(
                visitors=row["visitors"] or 0, visits=row["visits"] or 0, bounces=row["bounces"] or 0,
                duration=row["duration"] or 0, pageviews=row["pageviews"] or 0,
            )  # fmt: skip
        fill_event_counts(
            families, self,
            count_pageviews=lambda: self._count(self._pageviews()),
            count_events=lambda: self._count(self._events()),
            base_totals=lambda: self._group(
                self.base_visits, "", "started_at", visitors=Count("visitor_id", distinct=True)
            ),
        )  # fmt: skip

    def _from_stores(self, families):
        """Fill `families` from the rollups or the column store, in that order; True when one answered (False: raw
        rows). With event filters the column store is asked first: the rest of the page render reads the same
        arrays, and a segment rollup that could answer (a page filter on the pages panel) would read its own rows."""
        readers = [self._from_rollups, self._from_goal_rollups, self._from_columns]
        if self.event_filtered:
            readers = [self._from_columns, *readers[:2]]
        return any(reader(families) for reader in readers)

    def _from_rollups(self, families):
        found = rollup_reader.families(self) if self.event_dim in (None, "event:page") else None
        if found is None:
            return False
        families.update(found)
        if "events" in self.query.metrics:
            for key, n in self._count(self._events()).items():
                if self.event_dim is None:
                    families[key]["events"] = n
        return True

    def _from_goal_rollups(self, families):
        return self.event_dim == "event:goal" and rollup_reader.goal_families(self, families)

    def _from_columns(self, families):
        found = column_reader.families(self)
        if found is not None:
            families.update(found)
        return found is not None

    def _event_dimension(self, families):
        dim = self.event_dim
        metrics = self.query.metrics
        if dim == "event:page":
            for key, row in self._group(
                self._pageviews(), "visit__", "timestamp", F("pathname"),
                visitors=Count("visitor_id", distinct=True), visits=Count("visit_id", distinct=True),
                pageviews=Count("id"),
            ).items():  # fmt: skip
                families[key].update(visitors=row["visitors"], visits=row["visits"], pageviews=row["pageviews"])
            if {"bounce_rate", "visit_duration", "views_per_visit"} & set(metrics):
                entered = self._group(
                    self.visits.annotate(is_bounce_int=_bounce_int()), "", "started_at", F("entry_page"),
                    entries=Count("id"), bounces=Sum("is_bounce_int"), duration=Sum("duration"),
                    entry_pageviews=Sum("pageviews"),
                )  # fmt: skip
                for key, values in families.items():
                    row = entered.get(key) or {}
                    values["bounce_entries"] = row.get("entries") or 0
                    values["bounces"] = row.get("bounces") or 0
                    values["duration"] = row.get("duration") or 0
                    values["entry_pageviews"] = row.get("entry_pageviews") or 0
            if "events" in metrics:
                for key, row in self._group(
                    self._events(), "visit__", "timestamp", F("pathname"), n=Count("id")
                ).items():
                    families[key]["events"] = row["n"]
            return
        if dim == "event:name":
            for key, row in self._group(
                self._events(), "visit__", "timestamp", F("name"),
                visitors=Count("visitor_id", distinct=True), visits=Count("visit_id", distinct=True),
                events=Count("id"),
            ).items():  # fmt: skip
                families[key].update(visitors=row["visitors"], visits=row["visits"], events=row["events"])
            # No page views in the range: no row.
            for key, row in self._group(
                self._pageviews(), "visit__", "timestamp", _const("pageview"),
                visitors=Count("visitor_id", distinct=True), visits=Count("visit_id", distinct=True),
                events=Count("id"),
            ).items():  # fmt: skip
                families[key].update(
                    visitors=row["visitors"], visits=row["visits"], events=row["events"], pageviews=row["events"]
                )
            return
        if dim == "event:goal":
            other_dims = [d for d in self.query.dimensions if d != "event:goal"]
            totals = self.visit_metrics(self.base_visits.annotate(is_bounce_int=_bounce_int()), dims=other_dims)
            goals = self.goals  # loaded in __init__ for any event:goal query
            slot = self.query.dimensions.index("event:goal")
            for kind in (Goal.Kind.PAGE, Goal.Kind.EVENT):
                # One scan per table for all its goals (conditional counts), not one query per goal.
                chosen = [g for g in goals if (g.kind == Goal.Kind.PAGE) == (kind == Goal.Kind.PAGE)]
                if not chosen:
                    continue
                qs = [goal_qs([g])[0 if kind == Goal.Kind.PAGE else 1] for g in chosen]
                either = goal_qs(chosen)[0 if kind == Goal.Kind.PAGE else 1]
                matched = (self._pageviews() if kind == Goal.Kind.PAGE else self._events()).filter(either)
                counts = {}
                for i, q in enumerate(qs):
                    counts[f"visitors_{i}"] = Count("visitor_id", distinct=True, filter=q)
                    counts[f"visits_{i}"] = Count("visit_id", distinct=True, filter=q)
                    counts[f"events_{i}"] = Count("id", filter=q)
                rows = self._group(matched, "visit__", "timestamp", dims=other_dims, **counts)
                for total_key, row in rows.items():
                    for i, goal in enumerate(chosen):
                        if not row[f"events_{i}"]:
                            continue
                        key = (*total_key[:slot], goal.name, *total_key[slot:])
                        total = (totals.get(total_key) or {}).get("visitors") or 0
                        families[key].update(
                            visitors=row[f"visitors_{i}"], visits=row[f"visits_{i}"], events=row[f"events_{i}"],
                            conversion_rate=_pct(row[f"visitors_{i}"], total),
                        )  # fmt: skip
            return
        # event:props:<key>: page views and custom events both carry props; a visitor (or visit) seen in both
        # counts once, so distinct ids are gathered across the two tables before counting.
        prop = dim[len(PROPS_PREFIX) :]
        visitors, visits, counts = defaultdict(set), defaultdict(set), defaultdict(int)
        for source in (self._events(), self._pageviews()):
            annotations, names = self._keys("visit__", "timestamp", F(f"props__{prop}"))
            rows = (
                source.filter(**{"props__has_key": prop})
                .annotate(**annotations)
                .values_list(*names, "visitor_id", "visit_id")
            )
            for *key, visitor, visit in rows.iterator(chunk_size=5000):
                key = tuple(self._key_value(value) for value in key)
                visitors[key].add(visitor)
                visits[key].add(visit)
                counts[key] += 1
        for key, n in counts.items():
            families[key].update(visitors=len(visitors[key]), visits=len(visits[key]), events=n)

    def _extra_metrics(self, families):
        if not providers.extra_metrics(self.query):
            return
        context = providers.Context(
            site=self.site, query=self.query, tz=self.tz, start=self.start, end=self.end, goals=self.goals,
            key_value=self._key_value, computed=dict(families),
        )  # fmt: skip
        providers.add_metrics(context, families)
        self.meta.update(context.meta)

    def _finish(self, families):
        metrics = self.query.metrics
        provided = set(providers.extra_metrics(self.query))
        rows = []
        # Only the metrics asked, computed per row (a page breakdown has thousands of rows).
        compute = [(lambda values, m=m: values.get(m, 0)) if m in provided else _METRICS[m] for m in metrics]
        for key, values in families.items():
            row_metrics = [metric(values) for metric in compute]
            if self.query.dimensions and not any(row_metrics) and not self.time_dim:
                continue
            rows.append({"metrics": row_metrics, "_key": key})
        if self.time_dim:
            rows = self._fill_time(rows)
        rows = self._order(rows)
        total = len(rows)
        if self.query.dimensions:
            rows = rows[self.query.offset : self.query.offset + self.query.limit]
        elif not rows:
            rows = [{"metrics": [0 for _ in metrics], "_key": ()}]
        # Labels for the rows shown only (of a page breakdown's thousands, a panel shows nine).
        rows = [{"dimensions": [_display(v) for v in row["_key"]], "metrics": row["metrics"]} for row in rows]
        meta = {"time_labels": self._time_labels() if self.time_dim else None, **self.meta}
        return Result(rows=rows, total_rows=total, meta=meta)

    def _time_labels(self):
        return [_display(b) for b in self._buckets()]

    def _buckets(self):
        kind = _TIME_KIND[self.time_dim]
        start = self.start.astimezone(self.tz).replace(tzinfo=None)
        end = self.end.astimezone(self.tz).replace(tzinfo=None)
        buckets, current = [], _truncate(start, kind)
        while current < end:
            buckets.append(current)
            current = _advance(current, kind)
        return buckets

    def _fill_time(self, rows):
        index = self.query.dimensions.index(self.time_dim)
        if len(self.query.dimensions) > 1:
            return rows  # breakdowns by time and something else: only the buckets that have data
        present = {row["_key"][index] for row in rows}
        zero = [0 if m != "views_per_visit" else 0.0 for m in self.query.metrics]
        for bucket in self._buckets():
            if bucket not in present:
                rows.append({"metrics": list(zero), "_key": (bucket,)})
        return rows

    def _order(self, rows):
        dims, metrics = self.query.dimensions, self.query.metrics
        order = list(self.query.order_by)
        if not order:
            order = [(self.time_dim, "asc")] if self.time_dim else [(metrics[0], "desc")]
        for name, direction in reversed([*order, *((d, "asc") for d in dims)]):
            if name in metrics:
                index = metrics.index(name)
                rows.sort(key=lambda r, i=index: r["metrics"][i], reverse=direction == "desc")
            else:
                index = dims.index(name)
                rows.sort(key=lambda r, i=index: _sort_key(r["_key"][i]), reverse=direction == "desc")
        return rows


def _entries(values):
    """The visits a row's bounce rate, duration and views per visit are of: for a page, the visits entering on it."""
    return values.get("bounce_entries", values.get("visits", 0))


def _views_per_visit(values):
    entries = _entries(values)
    return round(values.get("entry_pageviews", values.get("pageviews", 0)) / entries, 2) if entries else 0.0


def _visit_duration(values):
    entries = _entries(values)
    return round(values.get("duration", 0) / entries) if entries else 0


# The engine's own metrics from a row's sums (_finish).
_METRICS = {
    "visitors": lambda values: values.get("visitors", 0),
    "visits": lambda values: values.get("visits", 0),
    "pageviews": lambda values: values.get("pageviews", 0),
    "views_per_visit": _views_per_visit,
    "bounce_rate": lambda values: _pct(values.get("bounces", 0), _entries(values), digits=0),
    "visit_duration": _visit_duration,
    "events": lambda values: values.get("events", 0),
    "conversion_rate": lambda values: values.get("conversion_rate", 0.0),
}


def fill_event_counts(families, run, *, count_pageviews, count_events, base_totals):
    """The visit families' counts beyond the visit sums, for both paths (raw SQL, the column store), from their
    counters ({key: n}; base_totals: {key: {"visitors": n}} of the visits before the event filters): with event filters,
    pageviews count only the matching page views (counted only when asked); events; conversion rates."""
    metrics = run.query.metrics
    counted_pageviews = None
    goal_events = "events" in metrics and has_only_goal_filter(run.query)
    if run.event_filtered and ({"pageviews", "views_per_visit"} & set(metrics) or goal_events):
        counted_pageviews = count_pageviews()
        for key in set(families) | set(counted_pageviews):
            families[key]["pageviews"] = counted_pageviews.get(key, 0)
    if "events" in metrics:
        counted_events = count_events()
        if run.event_filtered and goal_events:
            # For goals, "events" are conversions: matching page views and custom events together.
            for key, n in counted_pageviews.items():
                counted_events[key] = counted_events.get(key, 0) + n
        for key in set(families) | set(counted_events):
            families[key]["events"] = counted_events.get(key, 0)
    if "conversion_rate" in metrics:
        totals = base_totals()
        for key, values in families.items():
            total = (totals.get(key) or {}).get("visitors") or 0
            values["conversion_rate"] = _pct(values.get("visitors", 0), total)
        # Each row's visitors before the event filters: the denominator, for tables beside conversions.
        run.meta["all_visitors"] = {
            tuple(_display(v) for v in key): row["visitors"] or 0 for key, row in totals.items()
        }


def has_only_goal_filter(query):
    return all(isinstance(f, Condition) and f.dimension == "event:goal" for f in query.event_filters)


def _bounce_int():
    from django.db.models import Case, IntegerField, Value, When

    return Case(When(is_bounce=True, then=Value(1)), default=Value(0), output_field=IntegerField())


def _const(text):
    from django.db.models import CharField, Value

    return Value(text, output_field=CharField())


def run(site, query, *, memo=None):
    """Answer a query. Runs that pass one `memo` dict (one page render) share the rollup state and tail rows."""
    return _Run(site, query, memo).run()


def realtime_visitors(site, *, now=None, minutes=5):
    """Distinct visitors with a page view or event in the last few minutes."""
    from django.utils import timezone

    since = (now or timezone.now()) - timedelta(minutes=minutes)
    viewers = set(
        PageView.objects.filter(site_id=site.pk, timestamp__gte=since).values_list("visitor_id", flat=True).distinct()
    )
    viewers |= set(
        Event.objects.filter(site_id=site.pk, timestamp__gte=since).values_list("visitor_id", flat=True).distinct()
    )
    return len(viewers)

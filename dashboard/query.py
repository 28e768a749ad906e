"""What can be asked: metrics, dimensions, filters and date ranges, and the checks on a query.

Pure: no Django imports. The Stats API, the dashboard pages, CSV export and split-test results all
build a `Query` here and hand it to `dashboard.engine.run`; every mistake is a `QueryError` whose
message names the problem, for a 400.
"""

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

# Visit-level dimensions: one value per visit, stored on the visit.
VISIT_DIMENSIONS = {
    "visit:source": "source",
    "visit:channel": "channel",
    "visit:referrer": "referrer",
    "visit:referrer_host": "referrer_host",
    "visit:utm_source": "utm_source",
    "visit:utm_medium": "utm_medium",
    "visit:utm_campaign": "utm_campaign",
    "visit:utm_content": "utm_content",
    "visit:utm_term": "utm_term",
    "visit:entry_page": "entry_page",
    "visit:exit_page": "exit_page",
    "visit:hostname": "hostname",
    "visit:country": "country",
    "visit:region": "region",
    "visit:city": "city",
    "visit:browser": "browser",
    "visit:browser_version": "browser_version",
    "visit:os": "os",
    "visit:os_version": "os_version",
    "visit:device": "device",
    "visit:screen": "screen_class",
}
# Event-level dimensions: one value per page view or custom event.
EVENT_DIMENSIONS = ("event:page", "event:name", "event:goal")
PROPS_PREFIX = "event:props:"
TIME_DIMENSIONS = ("time:hour", "time:day", "time:week", "time:month")

BASE_METRICS = (
    "visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration", "events",
    "conversion_rate",
)  # fmt: skip
# Other apps (revenue) add metrics through dashboard.providers.register_metric; the names are known here.
EXTRA_METRICS = set()
# Revenue: registered metrics beside which conversion_rate needs no goal (it is then paying visitors / visitors).
GOALLESS_CONVERSION_METRICS = set()

FILTER_OPERATORS = ("is", "is_not", "contains", "contains_not", "matches", "matches_not")
LOGICAL = ("and", "or", "not")
MAX_FILTER_VALUES = 100
MAX_FILTER_DEPTH = 5
MAX_LIMIT = 10_000
PERIODS = ("day", "today", "yesterday", "7d", "28d", "30d", "91d", "month", "last_month", "6mo", "12mo", "year", "all")


class QueryError(ValueError):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Condition:
    operator: str
    dimension: str
    values: tuple

    @property
    def level(self):
        return "visit" if self.dimension in VISIT_DIMENSIONS else "event"


@dataclass(frozen=True)
class Logical:
    operator: str  # and / or / not
    children: tuple

    @property
    def level(self):
        levels = {child.level for child in self.children}
        return levels.pop() if len(levels) == 1 else "mixed"


@dataclass(frozen=True)
class DateRange:
    start: date  # inclusive, in the site's timezone
    end: date  # inclusive

    @property
    def days(self):
        return (self.end - self.start).days + 1

    def previous(self):
        """The period of the same length just before, for comparisons."""
        length = timedelta(days=self.days)
        return DateRange(self.start - length, self.end - length)


@dataclass(frozen=True)
class Query:
    metrics: tuple
    date_range: DateRange
    dimensions: tuple = ()
    filters: tuple = ()  # Conditions / Logicals, all ANDed
    order_by: tuple = ()  # (name, "asc"|"desc")
    limit: int = 100
    offset: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def event_filters(self):
        return tuple(f for f in self.filters if f.level == "event")

    @property
    def visit_filters(self):
        return tuple(f for f in self.filters if f.level == "visit")


def is_dimension(name):
    return (
        name in VISIT_DIMENSIONS
        or name in EVENT_DIMENSIONS
        or name in TIME_DIMENSIONS
        or (name.startswith(PROPS_PREFIX) and 0 < len(name) - len(PROPS_PREFIX) <= 300)
    )


def known_metrics():
    return (*BASE_METRICS, *sorted(EXTRA_METRICS))


def parse_metrics(raw):
    if not isinstance(raw, (list, tuple)) or not raw:
        raise QueryError('metrics: give a non-empty list, like ["visitors", "pageviews"]')
    metrics = []
    for name in raw:
        if not isinstance(name, str) or name not in known_metrics():
            raise QueryError(f"metrics: unknown metric {str(name)[:50]!r}; known: {', '.join(known_metrics())}")
        if name in metrics:
            raise QueryError(f"metrics: {name!r} is listed twice")
        metrics.append(name)
    return tuple(metrics)


def parse_dimensions(raw):
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise QueryError('dimensions: give a list, like ["visit:source"]')
    dims = []
    for name in raw:
        if not isinstance(name, str) or not is_dimension(name):
            raise QueryError(f"dimensions: unknown dimension {str(name)[:60]!r}")
        if name in dims:
            raise QueryError(f"dimensions: {name!r} is listed twice")
        dims.append(name)
    if sum(1 for d in dims if d in TIME_DIMENSIONS) > 1:
        raise QueryError("dimensions: at most one time dimension")
    if sum(1 for d in dims if not d.startswith("visit:") and d not in TIME_DIMENSIONS) > 1:
        raise QueryError("dimensions: at most one event dimension (event:page, event:name, event:goal, event:props:…)")
    return tuple(dims)


def parse_filters(raw):
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise QueryError('filters: give a list of filters, like [["is", "visit:country", ["DE"]]]')
    filters = tuple(_parse_filter(item, depth=1) for item in raw)
    for item in filters:
        if item.level == "mixed":
            raise QueryError("filters: or/not cannot mix visit: and event: dimensions; combine them with and")
    return filters


def _parse_filter(item, depth):
    if depth > MAX_FILTER_DEPTH:
        raise QueryError(f"filters: nested deeper than {MAX_FILTER_DEPTH} levels")
    if not isinstance(item, (list, tuple)) or not item or not isinstance(item[0], str):
        raise QueryError('filters: each filter is a list like ["is", "visit:source", ["Google"]]')
    operator = item[0]
    if operator in ("and", "or"):
        if len(item) != 2 or not isinstance(item[1], (list, tuple)) or not item[1]:
            raise QueryError(f"filters: {operator} takes a non-empty list of filters")
        return Logical(operator, tuple(_parse_filter(child, depth + 1) for child in item[1]))
    if operator == "not":
        if len(item) != 2:
            raise QueryError("filters: not takes exactly one filter")
        return Logical("not", (_parse_filter(item[1], depth + 1),))
    if operator not in FILTER_OPERATORS:
        raise QueryError(
            f"filters: unknown operator {operator[:30]!r}; use one of {', '.join(FILTER_OPERATORS + LOGICAL)}"
        )
    if len(item) != 3:
        raise QueryError(f"filters: {operator} takes a dimension and a list of values")
    _, dimension, values = item
    if not isinstance(dimension, str) or not is_dimension(dimension) or dimension in TIME_DIMENSIONS:
        raise QueryError(f"filters: cannot filter on {str(dimension)[:60]!r}")
    if not isinstance(values, (list, tuple)) or not values:
        raise QueryError(f"filters: {dimension} needs a non-empty list of values")
    if len(values) > MAX_FILTER_VALUES:
        raise QueryError(f"filters: at most {MAX_FILTER_VALUES} values per filter")
    if not all(isinstance(v, str) and len(v) <= 2000 for v in values):
        raise QueryError(f"filters: values for {dimension} must be strings of at most 2000 characters")
    if operator.startswith("matches"):
        for value in values:
            try:
                re.compile(value)
            except re.error:
                raise QueryError(f"filters: {value[:60]!r} is not a valid regular expression") from None
    return Condition(operator, dimension, tuple(values))


def parse_date_range(raw, *, today, earliest=None):
    """A named period or [from, to] (ISO dates, inclusive) → DateRange in the site's calendar."""
    if isinstance(raw, (list, tuple)):
        if len(raw) != 2 or not all(isinstance(v, str) for v in raw):
            raise QueryError('date_range: give ["YYYY-MM-DD", "YYYY-MM-DD"]')
        try:
            start, end = date.fromisoformat(raw[0][:10]), date.fromisoformat(raw[1][:10])
        except ValueError:
            raise QueryError("date_range: dates must look like 2026-01-31") from None
        if end < start:
            raise QueryError("date_range: the end is before the start")
        if (end - start).days > 366 * 5:
            raise QueryError("date_range: at most five years at once")
        return DateRange(start, end)
    if not isinstance(raw, str) or raw not in PERIODS:
        raise QueryError(f"date_range: use one of {', '.join(PERIODS)} or [from, to]")
    if raw in ("day", "today"):
        return DateRange(today, today)
    if raw == "yesterday":
        return DateRange(today - timedelta(days=1), today - timedelta(days=1))
    if raw.endswith("d"):
        days = int(raw[:-1])
        return DateRange(today - timedelta(days=days - 1), today)
    if raw == "month":
        return DateRange(today.replace(day=1), today)
    if raw == "last_month":
        end = today.replace(day=1) - timedelta(days=1)
        return DateRange(end.replace(day=1), end)
    if raw in ("6mo", "12mo"):
        months = int(raw[:-2])
        year, month = today.year, today.month - months + 1
        while month <= 0:
            month += 12
            year -= 1
        return DateRange(date(year, month, 1), today)
    if raw == "year":
        return DateRange(today.replace(month=1, day=1), today)
    start = earliest or today  # all
    return DateRange(min(start, today), today)


def parse_order_by(raw, *, metrics, dimensions):
    if raw is None:
        return ()
    if not isinstance(raw, (list, tuple)):
        raise QueryError('order_by: give a list like [["visitors", "desc"]]')
    order = []
    for item in raw:
        if not isinstance(item, (list, tuple)) or len(item) != 2 or item[1] not in ("asc", "desc"):
            raise QueryError('order_by: each item is [metric or dimension, "asc" or "desc"]')
        if item[0] not in metrics and item[0] not in dimensions:
            raise QueryError(f"order_by: {str(item[0])[:60]!r} is not among the query's metrics or dimensions")
        order.append((item[0], item[1]))
    return tuple(order)


def parse_pagination(raw):
    if raw is None:
        return 100, 0
    if not isinstance(raw, dict):
        raise QueryError('pagination: give {"limit": 100, "offset": 0}')
    limit, offset = raw.get("limit", 100), raw.get("offset", 0)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"pagination: limit must be a whole number from 1 to {MAX_LIMIT}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise QueryError("pagination: offset must be a whole number of 0 or more")
    return limit, offset


def build(payload, *, today, earliest=None):
    """A Query from a Plausible-style body (the Stats API's and the dashboard's shared shape)."""
    if not isinstance(payload, dict):
        raise QueryError("body: must be a JSON object")
    metrics = parse_metrics(payload.get("metrics"))
    dimensions = parse_dimensions(payload.get("dimensions"))
    filters = parse_filters(payload.get("filters"))
    if "date_range" not in payload:
        raise QueryError('date_range: required, like "30d" or ["2026-01-01", "2026-01-31"]')
    date_range = parse_date_range(payload["date_range"], today=today, earliest=earliest)
    order_by = parse_order_by(payload.get("order_by"), metrics=metrics, dimensions=dimensions)
    limit, offset = parse_pagination(payload.get("pagination"))
    query = Query(metrics, date_range, dimensions, filters, order_by, limit, offset)
    validate(query)
    return query


def has_goal(query):
    def mentions(item):
        if isinstance(item, Logical):
            return any(mentions(child) for child in item.children)
        return item.dimension == "event:goal"

    return "event:goal" in query.dimensions or any(mentions(f) for f in query.filters)


def validate(query):
    goalless = GOALLESS_CONVERSION_METRICS & set(query.metrics)  # revenue: conversion = paying visitors / visitors
    if "conversion_rate" in query.metrics and not has_goal(query) and not goalless:
        also = ", or a revenue metric beside it (for paying visitors / visitors)" if GOALLESS_CONVERSION_METRICS else ""
        raise QueryError(f"metrics: conversion_rate needs an event:goal filter or dimension{also}")
    event_dims = [d for d in query.dimensions if d.startswith("event:")]
    visit_only = {"bounce_rate", "visit_duration", "views_per_visit"}
    if event_dims and event_dims[0] != "event:page" and visit_only & set(query.metrics):
        bad = ", ".join(sorted(visit_only & set(query.metrics)))
        raise QueryError(f"metrics: {bad} cannot be broken down by {event_dims[0]}")

"""The dashboard's numbers, asked of the query engine: top cards, the time series and breakdown tables.

Every figure comes from `dashboard.engine.run`; nothing here touches Visit or PageView. A `Report` is
one view of one site (a State: period and filters) and hands templates plain dicts and lists.
"""

from dataclasses import dataclass, field

from dashboard import engine
from dashboard.formatting import (
    CARDS,
    GOAL_CARDS,
    GOAL_LABELS,
    METRICS,
    cards_for,
    delta,
    extra_columns_for,
    flag,
    format_value,
)
from dashboard.presenters import bucket_label, interval_for, range_label, resolve_range
from dashboard.query import MAX_LIMIT, QueryError, build

PANEL_ROWS = 9
PAGE_SIZE = 100
GOAL_COLUMNS = {"visitors": "Uniques", "events": "Total"}
TIME_SERIES_METRICS = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]


@dataclass
class Table:
    dimension: str
    columns: list  # metric names, in order ("conversions" is ours: the goal's converted visitors)
    rows: list  # [{"label", "display", "values": [(name, text, raw)], "bar", "filter_url"}]
    total_rows: int
    sortable: list = field(default_factory=list)
    note: str = ""

    @property
    def headers(self):
        names = GOAL_COLUMNS if self.dimension == "event:goal" else {}
        return [(name, names.get(name) or METRICS[name].column) for name in self.columns]


def detail_columns(dimension, extra=()):
    if dimension == "event:goal":
        return ["visitors", "events", "conversion_rate"]
    if dimension == "event:page":
        return ["visitors", "pageviews", "bounce_rate", "visit_duration", *extra]
    if dimension.startswith("visit:"):
        return ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", *extra]
    return ["visitors", "events"]


class Report:
    def __init__(self, site, state, *, today, earliest=None):
        self.site, self.state, self.today, self.earliest = site, state, today, earliest
        self.date_range = resolve_range(state, today=today, earliest=earliest)
        self.comparable = state.period != "all"
        self.label = range_label(self.date_range)
        self.memo = {}  # the engine's per-render cache: rollup state and tail rows are read once

    def ask(self, metrics, *, dimensions=(), filters=None, date_range=None, order_by=None, limit=PAGE_SIZE, offset=0):
        payload = {
            "metrics": list(metrics),
            "date_range": self.state.date_range if date_range is None else date_range,
            "dimensions": list(dimensions),
            "filters": self.state.engine_filters() if filters is None else filters,
            "pagination": {"limit": limit, "offset": offset},
        }
        if order_by:
            payload["order_by"] = order_by
        return engine.run(self.site, build(payload, today=self.today, earliest=self.earliest), memo=self.memo)

    # --- top cards
    def cards(self):
        names = GOAL_CARDS if self.state.goal else cards_for(self.site, CARDS)
        current = self.ask(names).rows[0]["metrics"]
        previous = None
        if self.comparable:
            before = self.date_range.previous()
            previous = self.ask(names, date_range=[before.start.isoformat(), before.end.isoformat()]).rows[0]["metrics"]
        cards = []
        for index, name in enumerate(names):
            label = GOAL_LABELS[name] if self.state.goal else METRICS[name].label
            money = METRICS[name].kind == "money"
            card = {
                "name": name, "label": label, "value": format_value(name, current[index]), "raw": current[index],
                "unit": self.site.currency if money else "",
            }  # fmt: skip
            if previous is not None:
                card["delta"] = delta(name, current[index], previous[index])
            cards.append(card)
        return cards

    # --- time series
    def time_series(self, metrics=("visitors", "pageviews")):
        interval = interval_for(self.date_range)
        result = self.ask(metrics, dimensions=[interval], limit=MAX_LIMIT)
        keys = [row["dimensions"][0] for row in result.rows]
        return {
            "interval": interval,
            "keys": keys,
            "labels": [bucket_label(key, interval) for key in keys],
            "series": [(METRICS[m].column, [row["metrics"][i] for row in result.rows]) for i, m in enumerate(metrics)],
        }

    # --- breakdowns
    def goal_mode(self, dimension):
        # With a goal selected, visit-level rows show its conversions. Page rows cannot: the engine's goal
        # filter narrows page views to the goal's own pages, so a page breakdown would show only those.
        return bool(self.state.goal) and dimension.startswith("visit:")

    def columns(self, dimension, *, details=False):
        """(shown columns, metrics asked of the engine, sortable column names) of a breakdown table."""
        if self.goal_mode(dimension):
            return ["visitors", "conversions", "conversion_rate"], ["visitors", "conversion_rate"], [
                "name", "conversions", "conversion_rate",
            ]  # fmt: skip
        extra = extra_columns_for(self.site)
        if details or dimension == "event:goal":
            columns = detail_columns(dimension, extra)
        else:  # a dashboard panel: visitors, and revenue where the site has it
            columns = ["visitors", *(extra[:1] if dimension.startswith("visit:") or dimension == "event:page" else [])]
        return columns, columns, ["name", *columns]

    def table(self, dimension, *, details=False, limit=PAGE_SIZE, offset=0, sort=None, search="", skip_empty=False):
        goal_mode = self.goal_mode(dimension)
        # The goals table lists every goal (clicking one switches the selection); pages see note in goal_mode.
        drop_goal = bool(self.state.goal) and dimension in ("event:page", "event:goal")
        filters = self.state.engine_filters(without_goal=drop_goal)
        if search:
            filters.append(["contains", dimension, [search]])
        if skip_empty:
            filters.append(["is_not", dimension, [""]])
        columns, asked, sortable = self.columns(dimension, details=details)
        order_by = None
        if sort:
            name, direction = sort
            if name not in sortable:
                raise QueryError(f"sort: cannot sort this table by {name[:40]!r}; use one of {', '.join(sortable)}")
            engine_name = {"name": dimension, "conversions": "visitors"}.get(name, name)
            order_by = [[engine_name, direction]]
        result = self.ask(asked, dimensions=[dimension], filters=filters, order_by=order_by, limit=limit, offset=offset)
        raw_rows = [(row["dimensions"][0], dict(zip(asked, row["metrics"], strict=True))) for row in result.rows]
        if goal_mode:
            raw_rows = [
                (label, {"conversions": v["visitors"], "conversion_rate": v["conversion_rate"]})
                for label, v in raw_rows
            ]
            # The conversion rate's own denominator: the row's visitors without the goal.
            totals = result.meta.get("all_visitors", {})
            for label, values in raw_rows:
                values["visitors"] = totals.get((label,), 0)
        bar_metric = "conversions" if goal_mode else "visitors"
        top = max((values[bar_metric] for _, values in raw_rows), default=0) or 1
        rows = [
            {
                "label": label,
                "display": _display(dimension, label),
                "values": [(name, format_value(name, values[name]), values[name]) for name in columns],
                "bar": round(100 * values[bar_metric] / top, 1),
                "filter_url": self.state.with_filter(dimension, str(label)) if _filterable(dimension) else None,
            }
            for label, values in raw_rows
        ]
        note = (
            "Conversions are not broken down by page; showing all page views."
            if dimension == "event:page" and drop_goal
            else ""
        )
        return Table(dimension, columns, rows, result.total_rows, sortable, note)


def _filterable(dimension):
    return dimension.startswith("visit:") or dimension in ("event:page", "event:goal", "event:name")


def _display(dimension, label):
    if label == "":
        return "(none)"
    if dimension == "visit:country":
        return f"{flag(label)} {label}".strip()
    return str(label)

"""The dashboard's URL language: period, filters and panel tabs in the query string, and back to links.

Pure (no Django): `parse_state` turns request parameters into a `State`, or raises the engine's
QueryError with a message for the 400 page; `State` builds engine payloads and the links that change
one thing (a period, a filter, a tab) while keeping the rest, so a bookmarked URL reproduces the view.

    ?period=30d                              named periods (PERIODS)
    ?period=custom&from=2026-03-01&to=…      inclusive dates in the site's timezone
    ?f=is,visit:source,Google                repeatable: operator,dimension,value (value may hold commas)
    ?sources=channels                        the active tab of a panel (PANELS)
"""

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from dashboard.query import TIME_DIMENSIONS, QueryError, is_dimension, parse_date_range

PERIODS = (
    ("day", "Today"),
    ("yesterday", "Yesterday"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("month", "Month to date"),
    ("last_month", "Last month"),
    ("12mo", "Last 12 months"),
    ("all", "All time"),
    ("custom", "Custom range"),
)
PERIOD_LABELS = dict(PERIODS)
DEFAULT_PERIOD = "30d"
FILTER_OPERATORS = {"is": "is", "is_not": "is not", "contains": "contains"}
MAX_FILTERS = 20


@dataclass(frozen=True)
class Tab:
    key: str
    label: str  # the tab's name
    dimension: str
    column: str  # the name of one value, as a column header and in filter chips
    skip_empty: bool = False  # hide the "no value" row (most visits have no campaign)


@dataclass(frozen=True)
class Panel:
    key: str
    tabs: tuple

    def tab(self, key):
        return next((t for t in self.tabs if t.key == key), self.tabs[0])


PANELS = (
    Panel("sources", (
        Tab("sources", "Sources", "visit:source", "Source"),
        Tab("channels", "Channels", "visit:channel", "Channel"),
        Tab("campaigns", "Campaigns", "visit:utm_campaign", "Campaign", skip_empty=True),
    )),
    Panel("pages", (
        Tab("pages", "Pages", "event:page", "Page"),
        Tab("entry", "Entry pages", "visit:entry_page", "Entry page"),
        Tab("exit", "Exit pages", "visit:exit_page", "Exit page"),
    )),
    Panel("locations", (
        Tab("countries", "Countries", "visit:country", "Country"),
        Tab("regions", "Regions", "visit:region", "Region", skip_empty=True),
        Tab("cities", "Cities", "visit:city", "City", skip_empty=True),
    )),
    Panel("devices", (
        Tab("browsers", "Browsers", "visit:browser", "Browser"),
        Tab("os", "OS", "visit:os", "Operating system"),
        Tab("devices", "Devices", "visit:device", "Device"),
    )),
    Panel("goals", (Tab("goals", "Goals", "event:goal", "Goal"),)),
)  # fmt: skip
TABS_BY_DIMENSION = {tab.dimension: tab for panel in PANELS for tab in panel.tabs}
# Further breakdowns the details page and CSV export offer (no panel of their own).
EXTRA_DIMENSIONS = {
    "visit:referrer": "Referrer",
    "visit:utm_source": "UTM source",
    "visit:utm_medium": "UTM medium",
    "visit:utm_content": "UTM content",
    "visit:utm_term": "UTM term",
    "visit:browser_version": "Browser version",
    "visit:os_version": "OS version",
    "visit:screen": "Screen size",
    "event:name": "Event",
}
DIMENSION_LABELS = {**{d: t.column for d, t in TABS_BY_DIMENSION.items()}, **EXTRA_DIMENSIONS}


def dimension_label(dimension):
    if dimension in DIMENSION_LABELS:
        return DIMENSION_LABELS[dimension]
    if dimension.startswith("event:props:"):
        return f"Property {dimension.removeprefix('event:props:')}"
    return dimension


def parse_breakdown(raw):
    """A dimension the details page and the CSV export break down by."""
    if raw in DIMENSION_LABELS:
        return raw
    raise QueryError(f"breakdown: unknown breakdown {str(raw)[:60]!r}; use one of {', '.join(DIMENSION_LABELS)}")


@dataclass(frozen=True)
class Filter:
    operator: str
    dimension: str
    value: str

    @property
    def param(self):
        return f"{self.operator},{self.dimension},{self.value}"

    @property
    def label(self):
        return f"{dimension_label(self.dimension)} {FILTER_OPERATORS[self.operator]} {self.value or '(none)'}"

    def engine(self):
        return [self.operator, self.dimension, [self.value]]


def parse_filter(raw):
    parts = raw.split(",", 2)
    if len(parts) != 3:
        raise QueryError(
            f"f: write a filter as operator,dimension,value, like is,visit:source,Google (got {raw[:60]!r})"
        )
    operator, dimension, value = parts
    if operator not in FILTER_OPERATORS:
        raise QueryError(f"f: unknown operator {operator[:30]!r}; use one of {', '.join(FILTER_OPERATORS)}")
    if not is_dimension(dimension) or dimension in TIME_DIMENSIONS:
        raise QueryError(f"f: cannot filter on {dimension[:60]!r}")
    if len(value) > 2000:
        raise QueryError("f: a filter value has at most 2000 characters")
    return Filter(operator, dimension, value)


@dataclass(frozen=True)
class State:
    period: str
    date_from: str = ""  # custom periods only
    date_to: str = ""
    filters: tuple = ()
    tabs: tuple = ()  # (panel key, tab key) chosen in the URL

    # --- what to ask the engine
    @property
    def date_range(self):
        return [self.date_from, self.date_to] if self.period == "custom" else self.period

    @property
    def goal(self):
        """The goal selected by an `is` filter, whose conversions the panels show."""
        return next((f.value for f in self.filters if f.dimension == "event:goal" and f.operator == "is"), None)

    def engine_filters(self, *, without_goal=False):
        return [f.engine() for f in self.filters if not (without_goal and f.dimension == "event:goal")]

    def panel_tab(self, panel):
        return panel.tab(dict(self.tabs).get(panel.key))

    # --- links; each returns a query string starting with "?"
    def _pairs(self, *, period=None, filters=None, tabs=None):
        period = period or self.period
        pairs = [("period", period)]
        if period == "custom":
            pairs += [("from", self.date_from), ("to", self.date_to)]
        pairs += [("f", f.param) for f in (self.filters if filters is None else filters)]
        pairs += list(self.tabs if tabs is None else tabs)
        return pairs

    def query_string(self, *extra, with_tabs=True):
        return "?" + urlencode(self._pairs(tabs=None if with_tabs else ()) + list(extra))

    def with_period(self, period):
        return "?" + urlencode(self._pairs(period=period))

    def with_filter(self, dimension, value, operator="is"):
        # Clicking a second value of the same dimension replaces the first: "is A and is B" is empty.
        kept = [f for f in self.filters if not (f.dimension == dimension and f.operator == "is")]
        return "?" + urlencode(self._pairs(filters=[*kept, Filter(operator, dimension, value)]))

    def without_filter(self, index):
        kept = [f for i, f in enumerate(self.filters) if i != index]
        return "?" + urlencode(self._pairs(filters=kept))

    def with_tab(self, panel_key, tab_key):
        default = next(p.tabs[0].key for p in PANELS if p.key == panel_key)
        tabs = [(p, t) for p, t in self.tabs if p != panel_key] + ([(panel_key, tab_key)] if tab_key != default else [])
        return "?" + urlencode(self._pairs(tabs=tabs))

    @property
    def without_filters(self):
        return "?" + urlencode(self._pairs(filters=[]))

    @property
    def form_fields(self):
        """(name, value) pairs a GET form keeps besides the period: filters and tabs (the custom-range form)."""
        return [(k, v) for k, v in self._pairs() if k not in ("period", "from", "to")]

    def hidden_fields(self):
        """Everything that makes the view, for a GET form that adds to it (the search box)."""
        return self._pairs()


def parse_state(params, *, today, earliest=None):
    """State from request parameters (a QueryDict or anything with get/getlist). Raises QueryError."""
    period = params.get("period") or DEFAULT_PERIOD
    if period not in PERIOD_LABELS:
        raise QueryError(f"period: unknown period {period[:30]!r}; use one of {', '.join(PERIOD_LABELS)}")
    date_from = date_to = ""
    if period == "custom":
        date_from, date_to = (params.get("from") or "").strip(), (params.get("to") or "").strip()
        if not date_from or not date_to:
            raise QueryError("period: a custom range needs from and to, like from=2026-03-01&to=2026-03-31")
        parse_date_range([date_from, date_to], today=today, earliest=earliest)  # the engine's checks and messages
    raw_filters = params.getlist("f")
    if len(raw_filters) > MAX_FILTERS:
        raise QueryError(f"f: at most {MAX_FILTERS} filters")
    filters = tuple(parse_filter(raw) for raw in raw_filters)
    tabs = []
    for panel in PANELS:
        chosen = params.get(panel.key)
        if chosen and chosen != panel.tabs[0].key and any(t.key == chosen for t in panel.tabs):
            tabs.append((panel.key, chosen))
    return State(period, date_from, date_to, filters, tuple(tabs))


def resolve_range(state, *, today, earliest=None):
    return parse_date_range(state.date_range, today=today, earliest=earliest)


def interval_for(date_range):
    """The time series' bucket: hours for one day, days up to ~3 months, weeks to ~6 months, then months."""
    if date_range.days <= 1:
        return "time:hour"
    if date_range.days <= 92:
        return "time:day"
    if date_range.days <= 190:
        return "time:week"
    return "time:month"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def bucket_label(text, interval):
    """'2026-03-10' / '2026-03-10 14:00:00' (the engine's bucket keys) → what the chart shows."""
    day = date.fromisoformat(text[:10])
    if interval == "time:hour":
        return text[11:16] if len(text) > 10 else "00:00"
    if interval == "time:month":
        return f"{_MONTHS[day.month - 1]} {day.year}"
    prefix = "Week of " if interval == "time:week" else ""
    return f"{prefix}{day.day} {_MONTHS[day.month - 1]}"


def range_label(date_range):
    start, end = date_range.start, date_range.end
    if start == end:
        return f"{start.day} {_MONTHS[start.month - 1]} {start.year}"
    head = f"{start.day} {_MONTHS[start.month - 1]}" + (f" {start.year}" if start.year != end.year else "")
    return f"{head} – {end.day} {_MONTHS[end.month - 1]} {end.year}"

"""How metrics look on the dashboard: labels, formats, the top cards and period-over-period deltas.

Pure. The top cards are built from `CARDS`, a list of metric names; another app adds one with
`register_card("revenue", "Revenue", format=...)` after registering the metric with the engine.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    label: str  # card title
    column: str  # short table header
    kind: str = "count"  # count | number | percent | duration
    lower_is_better: bool = False
    format: object = None  # optional callable(value) -> str, for kinds of its own (money)


METRICS = {
    "visitors": MetricInfo("Unique visitors", "Visitors"),
    "visits": MetricInfo("Total visits", "Visits"),
    "pageviews": MetricInfo("Total pageviews", "Pageviews"),
    "views_per_visit": MetricInfo("Views per visit", "Views per visit", "number"),
    "bounce_rate": MetricInfo("Bounce rate", "Bounce rate", "percent", lower_is_better=True),
    "visit_duration": MetricInfo("Visit duration", "Visit duration", "duration"),
    "events": MetricInfo("Total conversions", "Events"),
    "conversion_rate": MetricInfo("Conversion rate", "CR", "percent"),
    # Not an engine metric: a breakdown row's converted visitors, shown beside all its visitors.
    "conversions": MetricInfo("Conversions", "Conversions"),
}
CARDS = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]
# With a goal selected, the cards describe its conversions (as Plausible does).
GOAL_CARDS = ["visitors", "events", "conversion_rate"]
GOAL_LABELS = {"visitors": "Unique conversions", "events": "Total conversions", "conversion_rate": "Conversion rate"}


# Cards and breakdown columns another app shows only for some sites (revenue: sites with Stripe data).
CARD_CONDITIONS = {}
EXTRA_COLUMNS = []  # (metric, when(site) -> bool)


def register_card(name, label, *, column=None, kind="count", lower_is_better=False, format=None, when=None):
    METRICS[name] = MetricInfo(label, column or label, kind, lower_is_better, format)
    if name not in CARDS:
        CARDS.append(name)
    if when is not None:
        CARD_CONDITIONS[name] = when


def register_column(name, *, when):
    """Add a metric column to visit and page breakdowns (sortable, in CSV) for the sites `when` accepts."""
    if all(existing != name for existing, _ in EXTRA_COLUMNS):
        EXTRA_COLUMNS.append((name, when))


def cards_for(site, names):
    return [name for name in names if CARD_CONDITIONS.get(name, _always)(site)]


def extra_columns_for(site):
    return [name for name, when in EXTRA_COLUMNS if when(site)]


def _always(site):
    return True


def format_duration(seconds):
    seconds = round(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _number(value):
    value = float(value or 0)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}".rstrip("0").rstrip(".")


def format_value(name, value, currency=None):
    info = METRICS.get(name) or MetricInfo(name, name)
    if info.kind == "money":
        text = info.format(value) if info.format else _number(value)
        return f"{text} {currency}" if currency else text
    if info.format:
        return info.format(value)
    if info.kind == "duration":
        return format_duration(value)
    if info.kind == "percent":
        return f"{_number(value)}%"
    if info.kind == "number":
        return _number(value)
    return f"{int(value or 0):,}"


@dataclass(frozen=True)
class Delta:
    text: str  # "▲ 25%", "▼ 3 pp", "0%"
    direction: str  # up | down | flat
    tone: str  # good | bad | neutral
    title: str  # spelled out for screen readers and tooltips


def delta(name, current, previous):
    """The change from the previous period. Rates change in percentage points; for bounce rate, down is good."""
    info = METRICS.get(name) or MetricInfo(name, name)
    current, previous = float(current or 0), float(previous or 0)
    if info.kind == "percent":
        change = round(current - previous, 1)
        amount, unit = _number(abs(change)), " pp"
    elif previous == 0:
        change = 100.0 if current else 0.0
        amount, unit = _number(change), "%"
    else:
        change = round((current - previous) / previous * 100)
        amount, unit = _number(abs(change)), "%"
    if change == 0:
        return Delta("0%" if unit == "%" else "0 pp", "flat", "neutral", "No change from the previous period")
    direction = "up" if change > 0 else "down"
    good = (direction == "up") != info.lower_is_better
    arrow = "▲" if direction == "up" else "▼"
    title = (
        f"{'Up' if direction == 'up' else 'Down'} {amount}{unit} from {format_value(name, previous)} the period before"
    )
    return Delta(f"{arrow} {amount}{unit}", direction, "good" if good else "bad", title)


def csv_safe(value):
    """A cell a spreadsheet will not run: text starting with = + - @ (or tab / CR) gets a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def flag(country_code):
    """🇩🇪 for DE: regional indicator symbols; nothing for an unknown code."""
    code = (country_code or "").upper()
    if len(code) != 2 or not code.isalpha() or not code.isascii():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code)

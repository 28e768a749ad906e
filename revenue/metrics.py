"""Revenue in the query engine: Stripe payments as metrics beside visitors, by the same dimensions and filters.

Registered with `dashboard.providers.register_metric` (and the top cards with `dashboard.formatting.register_card`)
when the app is ready, so the dashboard, the Stats API and CSV export get them like any metric.

Metrics (money in the site's reporting currency, a plain number rounded to its decimals: 12.3, 1500 for JPY;
a JSON client and a spreadsheet both read it, and `meta.revenue.currency` names the currency):
- revenue: gross; net_revenue: gross − refunds − lost disputes; refunds: refunds + lost disputes;
- attributed_revenue: the gross of attributed payments only, so totals can say "X of Y attributed";
- payments: how many; paying_visitors: distinct visitor ids of attributed payments;
- revenue_per_visitor = revenue / visitors of the same row; average_order_value = revenue / payments that
  have a reporting-currency amount (unconverted payments would otherwise pull the average down);
- conversion_rate, beside any revenue metric and without a goal: paying visitors / visitors of the row, in
  percent. With a goal, conversion_rate keeps its goal meaning. Every zero denominator gives 0.

Which payments count:
- the site's own, in the site's mode: livemode must match its Stripe connection's mode (live when there is no
  connection), so test and live payments never mix;
- created in the query's range (`created_at`), bucketed by `created_at` in the site's timezone;
- a payment needs a visit only if the query does: totals and plain time series count every payment, attributed
  or not; any visit:/event:page dimension or any filter counts only attributed payments, in the row of their
  visit (source, channel, utm_*, entry page, country, browser…) or, for event:page, of the page view whose view
  id the payment carried. Visit filters apply through the payment's visit, event filters (page, goal, props)
  through its page view. Revenue cannot be broken down by event:name, event:goal or event:props (a 400).
- A payment without a reporting-currency amount (`net` is None: no conversion available, or converted into a
  currency the site no longer reports in) counts in payments, paying_visitors and attribution, never in a sum;
  `meta.revenue.unconverted_payments` says how many the query met.

A fully refunded payment still counts as a payment and its visitor as paying (revenue is gross; net shows it).
"""

from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Trunc

from dashboard import formatting, providers
from dashboard.filters import event_qs, visit_q
from dashboard.query import TIME_DIMENSIONS, VISIT_DIMENSIONS, QueryError
from humblytics.currencies import stripe_exponent
from revenue.models import Payment, StripeConnection

ATTRIBUTED = Payment.Attribution.ATTRIBUTED
_TIME_KIND = {"time:hour": "hour", "time:day": "day", "time:week": "week", "time:month": "month"}
_SCRATCH_KEY = "revenue"


# --- which payments ------------------------------------------------------------------------------
def site_livemode(site):
    """True when the site's payments are live ones: its connection's mode, or live without a connection."""
    mode = StripeConnection.objects.filter(site_id=site.pk).values_list("mode", flat=True).first()
    return mode != StripeConnection.Mode.TEST


def prefixed(q, prefix):
    """The same Q with every lookup reached through a relation: visit_q(...) on Visit → on Payment via visit__."""
    children = [
        prefixed(child, prefix) if isinstance(child, Q) else (prefix + child[0], child[1]) for child in q.children
    ]
    return Q(*children, _connector=q.connector, _negated=q.negated)


def payments(context, *, livemode):
    """The payments a query counts (before grouping). Raises QueryError for dimensions revenue has no value for."""
    query, site = context.query, context.site
    for dim in query.dimensions:
        if dim.startswith("event:") and dim != "event:page":
            raise QueryError(
                f"metrics: revenue cannot be broken down by {dim}; use visit: dimensions, event:page or time:"
            )
    rows = Payment.objects.filter(
        site_id=site.pk, livemode=livemode, created_at__gte=context.start, created_at__lt=context.end
    )
    needs_visit = bool(query.filters) or any(d not in TIME_DIMENSIONS for d in query.dimensions)
    if needs_visit:
        # Q(pk__isnull=…) (the filters' ALWAYS/NEVER) reached through a relation tests the relation instead; with
        # the relation required here, the two mean true and false again.
        rows = rows.filter(attribution=ATTRIBUTED, visit__isnull=False, visit__site_id=site.pk)
    for item in query.visit_filters:
        rows = rows.filter(prefixed(visit_q(item), "visit__"))
    if query.event_filters or "event:page" in query.dimensions:
        rows = rows.filter(pageview__isnull=False)
    for item in query.event_filters:
        pageview_q, _ = event_qs(item, context.goals)
        rows = rows.filter(prefixed(pageview_q, "pageview__"))
    return rows


def _group_expression(dim, tz):
    if dim in VISIT_DIMENSIONS:
        return F("visit__" + VISIT_DIMENSIONS[dim])
    if dim in TIME_DIMENSIONS:
        return Trunc("created_at", _TIME_KIND[dim], tzinfo=tz)
    return F("pageview__pathname")  # event:page; payments() refused the other event: dimensions


def figures(context):
    """{row key: sums and counts} for the query, computed once per engine run and shared by the metrics."""
    if _SCRATCH_KEY in context.scratch:
        return context.scratch[_SCRATCH_KEY]
    site = context.site
    converted = Q(net__isnull=False, reporting_currency=site.currency)
    aggregates = {  # named apart from the model's fields, which an aggregate may not shadow
        "sum_gross": Sum("gross", filter=converted),
        "sum_net": Sum("net", filter=converted),
        "sum_refunds": Sum("refunds", filter=converted),
        "sum_attributed": Sum("gross", filter=converted & Q(attribution=ATTRIBUTED)),
        "payments": Count("id"),
        "converted": Count("id", filter=converted),
        "paying_visitors": Count("visitor_id", distinct=True, filter=Q(attribution=ATTRIBUTED)),
    }
    livemode = site_livemode(site)
    rows = payments(context, livemode=livemode)
    dims = context.query.dimensions
    names = [f"d_{i}" for i in range(len(dims))]
    if dims:
        annotations = {name: _group_expression(dim, context.tz) for name, dim in zip(names, dims, strict=True)}
        grouped = rows.annotate(**annotations).values(*names).annotate(**aggregates).order_by()
    else:
        grouped = [rows.aggregate(**aggregates)]
    result = {}
    for row in grouped:
        if not row["payments"]:
            continue
        key = tuple(context.key_value(row[name]) for name in names)
        result[key] = row
    counted = sum(row["payments"] for row in result.values())
    context.meta["revenue"] = {
        "currency": site.currency,
        "livemode": livemode,
        "payments": counted,
        "unconverted_payments": counted - sum(row["converted"] for row in result.values()),
    }
    context.scratch[_SCRATCH_KEY] = result
    return result


# --- the metrics ---------------------------------------------------------------------------------
def money(amount, currency):
    """A Decimal sum → a number rounded to the currency's decimals (an int for zero-decimal currencies)."""
    exponent = stripe_exponent(currency)
    value = Decimal(amount or 0).quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_EVEN)
    return int(value) if exponent == 0 else float(value)


def _ratio(part, whole, currency):
    return money(Decimal(part or 0) / whole, currency) if whole else money(0, currency)


_NO_PAYMENTS = {
    "sum_gross": None, "sum_net": None, "sum_refunds": None, "sum_attributed": None, "payments": 0, "converted": 0,
    "paying_visitors": 0,
}  # fmt: skip


def _rows(context):
    """(key, figures) for every row: the payments' and the engine's own (zeros), so money is always a money number."""
    found = figures(context)
    keys = set(found) | set(context.computed) | (set() if context.query.dimensions else {()})
    return [(key, found.get(key, _NO_PAYMENTS)) for key in keys]


def _visitors(context, key):
    return (context.computed.get(key) or {}).get("visitors") or 0


def _money_metric(field):
    def provider(context):
        currency = context.site.currency
        return {key: money(row[field], currency) for key, row in _rows(context)}

    return provider


def _count_metric(field):
    def provider(context):
        return {key: row[field] for key, row in _rows(context)}

    return provider


def revenue_per_visitor(context):
    currency = context.site.currency
    return {key: _ratio(row["sum_gross"], _visitors(context, key), currency) for key, row in _rows(context)}


def average_order_value(context):
    currency = context.site.currency
    return {key: _ratio(row["sum_gross"], row["converted"], currency) for key, row in _rows(context)}


def conversion_rate(context):
    """Paying visitors / visitors of the row, in percent with two decimals (the engine's goal rates' format)."""
    rates = {}
    for key, row in _rows(context):
        visitors = _visitors(context, key)
        rates[key] = round(100.0 * row["paying_visitors"] / visitors, 2) if visitors else 0.0
    return rates


PROVIDERS = {
    "revenue": _money_metric("sum_gross"),
    "net_revenue": _money_metric("sum_net"),
    "refunds": _money_metric("sum_refunds"),
    "attributed_revenue": _money_metric("sum_attributed"),
    "payments": _count_metric("payments"),
    "paying_visitors": _count_metric("paying_visitors"),
    "revenue_per_visitor": revenue_per_visitor,
    "average_order_value": average_order_value,
}


# --- the dashboard cards -------------------------------------------------------------------------
def format_money(value):
    """1234.5 → "1,234.50"; 1500 (a zero-decimal currency) → "1,500". The card cannot name the currency (see below)."""
    if isinstance(value, int):
        return f"{value:,}"
    value = float(value or 0)
    digits = 2 if round(value, 2) == value else 3
    return f"{value:,.{digits}f}"


def register():
    for name, provider in PROVIDERS.items():
        providers.register_metric(name, provider, conversion_rate=conversion_rate)
    from revenue.selectors import site_has_revenue

    # Revenue cards and columns appear for sites with a Stripe connection (or synced payments) only.
    money = {"kind": "money", "format": format_money, "when": site_has_revenue}
    formatting.register_card("revenue", "Revenue", **money)
    formatting.register_card("net_revenue", "Net revenue", column="Net", **money)
    formatting.register_card("refunds", "Refunds", lower_is_better=True, **money)
    formatting.register_card("payments", "Payments", when=site_has_revenue)
    formatting.register_card("paying_visitors", "Paying visitors", when=site_has_revenue)
    # Same label, column and kind as the engine's own conversion_rate: paying visitors / visitors here.
    formatting.register_card("conversion_rate", "Conversion rate", column="CR", kind="percent", when=site_has_revenue)
    formatting.register_card("revenue_per_visitor", "Revenue per visitor", column="RPV", **money)
    formatting.register_card("average_order_value", "Average order value", column="AOV", **money)
    formatting.METRICS["attributed_revenue"] = formatting.MetricInfo(
        "Attributed revenue", "Attributed", "money", format=format_money
    )
    for column in ("revenue", "payments", "conversion_rate", "revenue_per_visitor"):
        formatting.register_column(column, when=site_has_revenue)


register()

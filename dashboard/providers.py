"""Metrics other apps add to the query engine (revenue): registered once at start-up, computed per run.

A provider is `provider(context) -> {dimension key tuple: value}`; dashboard.engine calls `add_metrics` after its own
figures, with a Context of the run.
"""

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from dashboard.query import has_goal

_METRIC_PROVIDERS = {}
# Revenue: providers of conversion_rate for queries without a goal that ask for their metric (see register_metric).
_CONVERSION_PROVIDERS = {}


def provided_metrics(query):
    """The metrics of a query that registered providers compute (not the engine's own tables)."""
    provided = {m for m in query.metrics if m in _METRIC_PROVIDERS}
    if provided & set(_CONVERSION_PROVIDERS) and "conversion_rate" in query.metrics and not has_goal(query):
        provided.add("conversion_rate")
    return provided


def register_metric(name, provider, *, conversion_rate=None):
    """Let another app add a metric (revenue). `provider(context) -> {dimension key tuple: value}`.

    With `conversion_rate` (a provider of the same shape), a query that asks for `name` and has no goal may ask for
    conversion_rate too, and gets that provider's rates (revenue: paying visitors / visitors), 0 on other rows.
    """
    from dashboard import query as query_module

    query_module.EXTRA_METRICS.add(name)
    _METRIC_PROVIDERS[name] = provider
    if conversion_rate is not None:
        query_module.GOALLESS_CONVERSION_METRICS.add(name)
        _CONVERSION_PROVIDERS[name] = conversion_rate


@dataclass
class Context:
    """What a metric provider needs: the site, the query, the range in UTC and the visit set."""

    site: object
    query: object
    tz: ZoneInfo
    start: datetime
    end: datetime
    goals: list
    # Added for revenue: how the engine writes a key part (local naive datetimes for time buckets, "" for None),
    # the engine's own figures so far ({key: {"visitors": …}}, read-only), meta merged into Result.meta, and a
    # scratch dict shared by the providers of one run (so related metrics share one query).
    key_value: object = None
    computed: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    scratch: dict = field(default_factory=dict)


def extra_metrics(query):
    """The registered metrics a query asks for."""
    return [m for m in query.metrics if m in _METRIC_PROVIDERS]


def add_metrics(context, families):
    """Fill `families` ({key: {metric: value}}) with the registered metrics the query asks for."""
    query = context.query
    extra = extra_metrics(query)
    for metric in extra:
        for key, value in _METRIC_PROVIDERS[metric](context).items():
            families[key][metric] = value
    conversion = next((_CONVERSION_PROVIDERS[m] for m in extra if m in _CONVERSION_PROVIDERS), None)
    if conversion is not None and "conversion_rate" in query.metrics and not has_goal(query):
        # Goal-less conversion_rate (query.validate allows it only beside such a metric): the provider's rates.
        rates = conversion(context)
        for key in set(families) | set(rates):
            families[key]["conversion_rate"] = rates.get(key, 0.0)

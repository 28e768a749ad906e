"""How the rollup tests read: the engine's answers to a grid of queries, with the rollups or from raw rows."""

from dashboard import engine
from dashboard.query import build
from tests.dashboard.test_engine import TODAY
from tracking.models import RollupState


def answers(site, queries, ranges, filter_sets=(None,)):
    """engine.run rows for every filter set × query × date range, in that order."""
    return [
        engine.run(
            site, build({**query, "date_range": dates, **({"filters": f} if f is not None else {})}, today=TODAY)
        ).rows
        for f in filter_sets
        for query in queries
        for dates in ranges
    ]


def raw_answers(site, queries, ranges, filter_sets=(None,)):
    """The same answers with the site's rollup state hidden (so from raw rows), then the state put back."""
    state = list(RollupState.objects.filter(site=site).values())
    RollupState.objects.filter(site=site).delete()
    try:
        return answers(site, queries, ranges, filter_sets)
    finally:
        for row in state:
            RollupState.objects.create(**row)

"""Reads for split tests: the tests of a site, what the tracker delivers, pinned assignments, and the results."""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Min
from django.http import Http404
from django.utils import timezone

from dashboard.filters import wildcard_regex
from revenue.metrics import site_livemode
from revenue.models import Payment
from splittests import delivery, report
from splittests.models import Exposure, SplitTest, Variant
from tracking.models import Event, PageView, Visit
from tracking.sessions import VISIT_IDLE  # tracking's visit rule: ≤ 30 minutes idle


def splittest_list(*, site):
    return list(
        SplitTest.objects.filter(site=site)
        .annotate(exposure_count=Count("exposures"))
        .prefetch_related("variants")
        .order_by("-created_at")
    )


def splittest_get(*, site, test_id):
    test = SplitTest.objects.filter(site=site, pk=test_id).select_related("site", "winner").first()
    if test is None:
        raise Http404("No such split test")
    return test


def running_tests_of(*, domain):
    """delivery.SiteTests for the domain's running tests, or None when no site has that domain."""
    from sites.models import Site

    row = Site.objects.filter(domain=domain).values_list("id", "respect_gpc").first()
    if row is None:
        return None
    site_id, respect_gpc = row
    tests = SplitTest.objects.filter(site_id=site_id, status=SplitTest.Status.RUNNING).order_by("created_at")
    variants = {}
    for v in Variant.objects.filter(test__in=tests).order_by("position"):
        variants.setdefault(v.test_id, []).append(
            delivery.VariantInfo(v.id, v.kind, v.weight, v.redirect_url, tuple(v.changes))
        )
    return delivery.SiteTests(
        site_id=site_id,
        respect_gpc=respect_gpc,
        tests=tuple(
            delivery.TestInfo(t.id, t.page_path, t.randomization, t.traffic_percent, tuple(variants.get(t.id, ())))
            for t in tests
            # A test left without weights (edited by hand) would fail every draw: it is not delivered.
            if len(variants.get(t.id, ())) >= 2 and sum(v.weight for v in variants[t.id]) > 0
        ),
    )


def session_state(*, site_id, test_id, visitor_id, now=None):
    """Session-level tests: (the variant this visit already saw, when the visit started), each None when unknown.

    A visit is the tracker's: the visitor's page views with at most 30 minutes idle. Its first exposure pins the
    variant for the rest of the visit; before that, the visit's start keys the draw, so page loads agree.
    """
    now = now or timezone.now()
    visit_start = (
        Visit.objects.filter(site_id=site_id, visitor_id=visitor_id, last_seen_at__gte=now - VISIT_IDLE)
        .order_by("-last_seen_at")
        .values_list("started_at", flat=True)
        .first()
    )
    since = visit_start - report.EXPOSURE_SLACK if visit_start else now - VISIT_IDLE
    pinned = (
        Exposure.objects.filter(test_id=test_id, visitor_id=visitor_id, created_at__gte=since)
        .order_by("created_at")
        .values_list("variant_id", flat=True)
        .first()
    )
    return pinned, visit_start


def exposed_visitors_per_variant(*, test):
    rows = Exposure.objects.filter(test=test).values("variant_id").annotate(n=Count("visitor_id", distinct=True))
    return {row["variant_id"]: row["n"] for row in rows}


def _goal_hits(test, exposed, since):
    if test.goal_kind == SplitTest.GoalKind.PAGE:
        pattern = test.goal_path
        rows = PageView.objects.filter(site=test.site, visitor_id__in=exposed, timestamp__gte=since)
        match = {"pathname__regex": wildcard_regex(pattern)} if "*" in pattern else {"pathname": pattern}
        rows = rows.filter(**match)
    else:
        rows = Event.objects.filter(site=test.site, visitor_id__in=exposed, timestamp__gte=since, name=test.goal_event)
    hits = {}
    for visitor_id, at in rows.order_by("timestamp").values_list("visitor_id", "timestamp"):
        hits.setdefault(visitor_id, []).append(at)
    return hits


def _site_payments(test):
    """The site's payments in its mode, as the Revenue tab counts them: test-mode payments never mix with live ones."""
    return Payment.objects.filter(site=test.site, livemode=site_livemode(test.site))


def _payments(test, exposed, since):
    """Attributed payments of exposed visitors: the sync resolved each one's view id to a page view, and so to the
    visitor whose exposures we hold."""
    rows = (
        _site_payments(test)
        .filter(
            attribution=Payment.Attribution.ATTRIBUTED,
            visitor_id__in=exposed,
            net__isnull=False,
            created_at__gte=since - timedelta(days=1),
        )
        .values_list("visitor_id", "created_at", "net")
        .order_by("created_at")
    )
    return [report.Payment(visitor_id=v, at=paid, net=net) for v, paid, net in rows]


def unconverted_payments(*, test):
    exposed = Exposure.objects.filter(test=test).values("visitor_id")
    return (
        _site_payments(test)
        .filter(attribution=Payment.Attribution.ATTRIBUTED, visitor_id__in=exposed, net__isnull=True)
        .count()
    )


def splittest_results(*, test, now=None, mode=None):
    """The report.Report of a test (mode: None for the default, "sequential" or "fixed-horizon")."""
    now = now or timezone.now()
    variants = [
        report.VariantSpec(id=v.id, name=v.name, weight=v.weight, is_control=v.is_control)
        for v in test.variants.order_by("position")
    ]
    exposures = list(
        Exposure.objects.filter(test=test)
        .values("variant_id", "visitor_id")
        .annotate(first=Min("created_at"))
        .values_list("variant_id", "visitor_id", "first")
    )
    exposed = Exposure.objects.filter(test=test).values("visitor_id")
    since = (test.started_at or test.created_at) - report.EXPOSURE_SLACK
    goal_hits = None if test.is_revenue_goal else _goal_hits(test, exposed, since)
    threshold = test.goal_amount if test.goal_kind == SplitTest.GoalKind.REVENUE_TARGET else Decimal(0)
    result = report.build(
        variants=variants,
        exposures=exposures,
        goal_hits=goal_hits,
        payments=_payments(test, exposed, since),
        revenue_threshold=threshold,
        planned_visitors_per_variant=test.planned_visitors_per_variant,
        timezone=test.site.timezone,
        today=min(now, test.stopped_at or now).astimezone(ZoneInfo(test.site.timezone)).date(),
        requested_mode=mode,
    )
    missing = unconverted_payments(test=test)
    if missing:
        result.warnings.append(
            f"{missing} payment{'s' if missing != 1 else ''} of exposed visitors could not be converted to "
            f"{test.site.currency} and {'are' if missing != 1 else 'is'} left out of revenue."
        )
    return result

"""Split-test results through the Stats API, with the same site API keys, rate limits and error bodies as
POST /api/v2/query (dashboard/api.py):

    GET /api/v2/splittests?site_id=example.com                       the site's tests
    GET /api/v2/splittests/<id>/results?site_id=example.com          one test's results (results=sequential |
                                                                     fixed-horizon to choose; default as the page)

A key reads only its own site: another site_id is a 403, a test of another site (or none) a 404.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound, ParseError, PermissionDenied
from rest_framework.response import Response

from dashboard.api import ErrorSerializer, KeyedAPIView
from sites.domains import DomainError, normalize_domain
from splittests import presenters, selectors
from splittests.models import SplitTest
from splittests.report import FIXED, SEQUENTIAL

KNOWN_PARAMS = {"site_id", "results"}


class _Base(KeyedAPIView):
    def site(self, request):
        unknown = sorted(set(request.query_params) - KNOWN_PARAMS)
        if unknown:
            raise ParseError(f"{unknown[0]}: unknown parameter; known: {', '.join(sorted(KNOWN_PARAMS))}")
        site = request.auth.site
        raw = request.query_params.get("site_id")
        if raw is not None:
            try:
                domain = normalize_domain(raw)
            except DomainError as error:
                raise ParseError(f"site_id: {error}") from None
            if domain != site.domain:
                raise PermissionDenied(f"This API key cannot read {domain}")
        return site


PARAMS = [
    OpenApiParameter("site_id", str, description="The site's domain; must be the key's site."),
]


class TestListView(_Base):
    @extend_schema(
        operation_id="splittests_list",
        summary="A site's split tests",
        parameters=PARAMS,
        responses={200: None, **dict.fromkeys((400, 401, 403, 429), ErrorSerializer)},
    )
    def get(self, request):
        site = self.site(request)
        tests = SplitTest.objects.filter(site=site).order_by("-created_at")
        return Response(
            {
                "results": [
                    {
                        "id": t.id,
                        "name": t.name,
                        "status": t.status,
                        "page": t.page_path,
                        "goal": t.goal_label,
                        "started_at": t.started_at.isoformat() if t.started_at else None,
                    }
                    for t in tests
                ]
            }
        )


class TestResultsView(_Base):
    @extend_schema(
        operation_id="splittests_results",
        summary="A split test's results",
        parameters=[*PARAMS, OpenApiParameter("results", str, enum=[SEQUENTIAL, FIXED])],
        responses={200: None, **dict.fromkeys((400, 401, 403, 404, 429), ErrorSerializer)},
    )
    def get(self, request, test_id):
        site = self.site(request)
        mode = request.query_params.get("results") or None
        if mode not in (None, SEQUENTIAL, FIXED):
            raise ParseError(f"results: {mode!r} is not one of {SEQUENTIAL}, {FIXED}")
        test = SplitTest.objects.filter(site=site, pk=test_id).select_related("site", "winner").first()
        if test is None:
            raise NotFound(f"No split test {test_id} on {site.domain}")
        report = selectors.splittest_results(test=test, mode=mode)
        if mode == FIXED and not report.planned_reached:
            raise ParseError(
                "results: fixed-horizon results are available once every variant has the planned sample"
                + (f" ({test.planned_visitors_per_variant:,} visitors)" if test.planned_visitors_per_variant else
                   "; this test has no plan")
            )  # fmt: skip
        return Response(presenters.api_json(report, test=test, currency=site.currency))

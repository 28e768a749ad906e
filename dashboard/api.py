"""The Stats API: POST /api/v2/query, shaped like Plausible's Stats API v2.

An interface, as the style guide means it: read the body, check the key may read the site, build a
`Query` (dashboard.query), run it (dashboard.engine), render. Every mistake is a 4xx with
`{"error": "..."}` naming the problem; a 500 here is a bug.
"""

import json
from dataclasses import replace
from zoneinfo import ZoneInfo

from django.db import DataError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException, PermissionDenied, Throttled, UnsupportedMediaType
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from dashboard import engine
from dashboard.authentication import ApiKeyAuthentication, HasApiKey
from dashboard.query import MAX_LIMIT, TIME_DIMENSIONS, Logical, QueryError, build, known_metrics
from dashboard.throttling import ApiKeyRateThrottle
from sites.domains import DomainError, normalize_domain

MAX_BODY_BYTES = 64 * 1024
MAX_NESTING = 32  # JSON depth; the deepest sensible body (nested filters) is about 10
FIELDS = ("site_id", "metrics", "date_range", "dimensions", "filters", "order_by", "pagination", "include")
COMPARISON_MODES = ("previous_period",)
# The engine turns dates into datetimes and steps a period back; far-off years would overflow.
MIN_DATE, MAX_DATE = "1970-01-01", "2999-12-31"


class BodyTooLarge(APIException):
    status_code = 413
    default_detail = f"body: larger than {MAX_BODY_BYTES // 1024} KB"


class RateLimited(Throttled):
    def __init__(self, wait, description):
        APIException.__init__(self, f"rate limit exceeded ({description} per API key); retry in {wait} seconds")
        self.wait = wait


def api_exception_handler(exc, context):
    """DRF's handler (status, WWW-Authenticate, Retry-After), with every body as {"error": "..."}."""
    if isinstance(exc, QueryError):
        return Response({"error": exc.message}, status=400)
    response = exception_handler(exc, context)
    if response is not None:
        detail = response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
        response.data = {"error": str(detail)}
    return response


# --- reading the body ---------------------------------------------------------------------------
def read_body(request):
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:  # refused before reading a byte
        raise BodyTooLarge()
    raw = request.body
    if len(raw) > MAX_BODY_BYTES:
        raise BodyTooLarge()
    if not raw.strip():
        raise QueryError("body: empty; send a JSON object with site_id, metrics and date_range")
    if request.content_type.split(";")[0].strip().lower() != "application/json":
        raise UnsupportedMediaType(request.content_type, "body: send JSON with Content-Type: application/json")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise QueryError("body: not valid JSON") from None
    _check_values(body)
    if not isinstance(body, dict):
        raise QueryError("body: must be a JSON object")
    return body


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _check_values(body):
    """Refuse what the database would choke on later: deep nesting, NUL characters, lone surrogates."""
    stack = [(body, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise QueryError(f"body: nested deeper than {MAX_NESTING} levels")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for pair in value.items() for item in pair)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if "\x00" in value:
                raise QueryError("body: text cannot contain NUL characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise QueryError("body: text contains an unpaired surrogate (invalid Unicode)") from None


def check_site(body, site):
    """The key's site must be the body's site_id. Any other domain, existing or not, gets the same 403."""
    site_id = body.get("site_id")
    if site_id is None:
        raise QueryError('site_id: required, the site\'s domain like "example.com"')
    if not isinstance(site_id, str) or not site_id.strip():
        raise QueryError('site_id: give the site\'s domain as text, like "example.com"')
    try:
        domain = normalize_domain(site_id)
    except DomainError:
        domain = None
    if domain != site.domain:
        raise PermissionDenied(f"This API key cannot read {site_id.strip()[:253]}")


def check_fields(body):
    unknown = sorted(str(name) for name in body if name not in FIELDS)
    if unknown:
        raise QueryError(f"body: unknown field {unknown[0][:60]!r}; fields are {', '.join(FIELDS)}")


def parse_include(raw):
    """{"comparisons": {"mode": "previous_period"}} → "previous_period", or None."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise QueryError('include: give an object, like {"comparisons": {"mode": "previous_period"}}')
    for name in raw:
        if name != "comparisons":
            raise QueryError(f"include: unknown option {name[:60]!r}; supported: comparisons")
    comparisons = raw.get("comparisons")
    if comparisons is None:
        return None
    if not isinstance(comparisons, dict) or comparisons.get("mode") not in COMPARISON_MODES or len(comparisons) != 1:
        raise QueryError(f'include: comparisons takes {{"mode": one of {", ".join(COMPARISON_MODES)}}}')
    return comparisons["mode"]


def site_today(site):
    """Today in the site's timezone: named periods ("7d", "month") count back from it."""
    return timezone.localdate(timezone=ZoneInfo(site.timezone))


def check_dates(query):
    start, end = query.date_range.start.isoformat(), query.date_range.end.isoformat()
    if start < MIN_DATE or end > MAX_DATE:
        raise QueryError(f"date_range: dates must lie between {MIN_DATE} and {MAX_DATE}")


def run(site, query):
    try:
        with transaction.atomic():  # a savepoint, so a refused query leaves the connection usable
            return engine.run(site, query)
    except DataError:
        # Filters pass Python's regular-expression check but PostgreSQL's dialect differs (e.g. (?P<name>…)).
        raise QueryError(
            "filters: the database cannot apply a matches pattern; use POSIX regular expressions"
        ) from None


# --- comparisons --------------------------------------------------------------------------------
def add_comparisons(site, query, result):
    """Each row gets the previous period's row with the same dimensions (time buckets by position)."""
    previous_query = replace(query, date_range=query.date_range.previous(), limit=MAX_LIMIT, offset=0)
    previous = run(site, previous_query)
    time_index = next((i for i, d in enumerate(query.dimensions) if d in TIME_DIMENSIONS), None)
    labels = result.meta.get("time_labels") or []
    previous_labels = previous.meta.get("time_labels") or []

    def key(row, row_labels):
        dims = list(row["dimensions"])
        if time_index is not None:
            dims[time_index] = row_labels.index(dims[time_index]) if dims[time_index] in row_labels else None
        return json.dumps(dims)

    by_key = {key(row, previous_labels): row for row in previous.rows}
    zero = [0] * len(query.metrics)
    for row in result.rows:
        match = by_key.get(key(row, labels))
        if match is None:
            dims = list(row["dimensions"])
            if time_index is not None:
                position = labels.index(dims[time_index]) if dims[time_index] in labels else None
                in_range = position is not None and position < len(previous_labels)
                dims[time_index] = previous_labels[position] if in_range else None
            match = {"dimensions": dims, "metrics": zero}
        row["comparison"] = {
            "dimensions": match["dimensions"],
            "metrics": match["metrics"],
            "change": [
                percent_change(now, before) for now, before in zip(row["metrics"], match["metrics"], strict=True)
            ],
        }
    return previous_query.date_range


def percent_change(now, before):
    if not before:
        return None
    return round(100.0 * (now - before) / before, 1)


# --- echoing the query --------------------------------------------------------------------------
def filter_json(item):
    if isinstance(item, Logical):
        if item.operator == "not":
            return ["not", filter_json(item.children[0])]
        return [item.operator, [filter_json(child) for child in item.children]]
    return [item.operator, item.dimension, list(item.values)]


def query_json(site, query, comparison):
    echoed = {
        "site_id": site.domain,
        "metrics": list(query.metrics),
        "date_range": [query.date_range.start.isoformat(), query.date_range.end.isoformat()],
        "dimensions": list(query.dimensions),
        "filters": [filter_json(item) for item in query.filters],
        "order_by": [list(item) for item in query.order_by],
        "pagination": {"limit": query.limit, "offset": query.offset},
    }
    if comparison:
        echoed["include"] = {"comparisons": {"mode": comparison}}
    return echoed


# --- the schema's description of the body (documentation only: the view validates with dashboard.query)
class PaginationSerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=100)
    offset = serializers.IntegerField(min_value=0, default=0)


class ComparisonsSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=COMPARISON_MODES)


class IncludeSerializer(serializers.Serializer):
    comparisons = ComparisonsSerializer(required=False)


class QueryRequestSerializer(serializers.Serializer):
    site_id = serializers.CharField(help_text="The site's domain, e.g. example.com; the API key must belong to it.")
    metrics = serializers.ListField(
        child=serializers.CharField(),
        help_text=f"One or more of: {', '.join(known_metrics())} (conversion_rate needs an event:goal filter or "
        "dimension).",
    )
    date_range = serializers.JSONField(
        help_text='A period ("day", "7d", "28d", "30d", "91d", "month", "last_month", "6mo", "12mo", "year", '
        '"all", …) or ["YYYY-MM-DD", "YYYY-MM-DD"], inclusive, in the site\'s timezone.'
    )
    dimensions = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="visit:source, visit:channel, visit:referrer, visit:utm_*, visit:entry_page, visit:exit_page, "
        "visit:country, visit:region, visit:city, visit:browser, visit:os, visit:device, visit:screen, event:page, "
        "event:name, event:goal, event:props:<key>, time:hour, time:day, time:week, time:month.",
    )
    filters = serializers.JSONField(
        required=False,
        help_text="A list of [operator, dimension, [values]] with operator is, is_not, contains, contains_not, "
        'matches or matches_not; combine with ["and", [...]], ["or", [...]], ["not", filter].',
    )
    order_by = serializers.JSONField(required=False, help_text='Like [["visitors", "desc"]].')
    pagination = PaginationSerializer(required=False)
    include = IncludeSerializer(required=False)


class ComparisonSerializer(serializers.Serializer):
    dimensions = serializers.ListField(child=serializers.JSONField())
    metrics = serializers.ListField(child=serializers.FloatField())
    change = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="Percent change per metric; null when it was 0."
    )


class ResultRowSerializer(serializers.Serializer):
    dimensions = serializers.ListField(child=serializers.JSONField(), help_text="In the order of query.dimensions.")
    metrics = serializers.ListField(child=serializers.FloatField(), help_text="In the order of query.metrics.")
    comparison = ComparisonSerializer(required=False, help_text="With include.comparisons only.")


class MetaSerializer(serializers.Serializer):
    total_rows = serializers.IntegerField(help_text="Rows before pagination.")
    time_labels = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Every bucket of the range, with a time dimension."
    )
    comparison_date_range = serializers.ListField(child=serializers.DateField(), required=False)


class EchoSerializer(serializers.Serializer):
    site_id = serializers.CharField()
    metrics = serializers.ListField(child=serializers.CharField())
    date_range = serializers.ListField(child=serializers.DateField(), help_text="The resolved [from, to].")
    dimensions = serializers.ListField(child=serializers.CharField())
    filters = serializers.JSONField()
    order_by = serializers.JSONField()
    pagination = PaginationSerializer()


class QueryResponseSerializer(serializers.Serializer):
    results = ResultRowSerializer(many=True)
    meta = MetaSerializer()
    query = EchoSerializer()


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()


# --- the views ----------------------------------------------------------------------------------
class KeyedAPIView(APIView):
    """A Stats API view: a site API key (Bearer), its rate limit (429 with Retry-After), {"error": …} bodies."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyRateThrottle]
    renderer_classes = [JSONRenderer]

    def get_exception_handler(self):
        return api_exception_handler

    def check_throttles(self, request):
        for throttle in self.get_throttles():
            if not throttle.allow_request(request, self):
                raise RateLimited(throttle.wait(), throttle.exceeded)


class QueryView(KeyedAPIView):
    parser_classes = [JSONParser]  # for the schema; read_body reads the body itself, with its own checks

    @extend_schema(
        operation_id="query",
        summary="Query a site's stats",
        description="Metrics over a date range, optionally broken down by dimensions and filtered. Rate limited per "
        "API key (429 with Retry-After).",
        request=QueryRequestSerializer,
        responses={
            200: QueryResponseSerializer,
            **dict.fromkeys((400, 401, 403, 405, 413, 415, 429), ErrorSerializer),
        },
        examples=[
            OpenApiExample(
                "Visitors by source, last 30 days",
                value={
                    "site_id": "example.com",
                    "metrics": ["visitors", "pageviews", "bounce_rate"],
                    "date_range": "30d",
                    "dimensions": ["visit:source"],
                    "filters": [["is", "visit:country", ["DE"]]],
                    "include": {"comparisons": {"mode": "previous_period"}},
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        body = read_body(request)
        site = request.auth.site
        check_site(body, site)
        check_fields(body)
        comparison = parse_include(body.get("include"))
        query = build(body, today=site_today(site), earliest=engine.earliest_day(site))
        check_dates(query)
        result = run(site, query)
        meta = {"total_rows": result.total_rows}
        if result.meta.get("time_labels") is not None:
            meta["time_labels"] = result.meta["time_labels"]
        if "revenue" in result.meta:  # revenue metrics (revenue/metrics.py): currency, unconverted payments
            meta["revenue"] = result.meta["revenue"]
        if comparison:
            previous_range = add_comparisons(site, query, result)
            meta["comparison_date_range"] = [previous_range.start.isoformat(), previous_range.end.isoformat()]
        return Response({"results": result.rows, "meta": meta, "query": query_json(site, query, comparison)})

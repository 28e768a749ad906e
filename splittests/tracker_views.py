"""What the tracker talks to: the per-site script (/js/script.js?site=DOMAIN) and POST /api/exposure.

Both are on the visitor's path, so they stay plain: no DRF, no session, no cookie, one cached lookup of the
site's running tests, and for an exposure one INSERT. Bad input is a 4xx naming the field, never a 500. The IP
address and User-Agent are used only to compute the cookie-free visitor id (tracking.privacy) and are not kept.
"""

import gzip
import hashlib
import json
import logging
from datetime import UTC

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt

from splittests import delivery, services
from splittests.exposure import ExposureError, parse
from splittests.selectors import session_state
from tracking import devices, endpoint, privacy
from tracking.ingest import is_local_host
from tracking.services import salt_for_day

logger = logging.getLogger(__name__)
SITE_SCRIPT_CACHE_CONTROL = "private, max-age=60"


def _visitor_id(meta, site_id, now):
    salt = salt_for_day(now.astimezone(UTC).date())
    ip = privacy.client_ip(meta, settings.TRUSTED_PROXY_COUNT)
    return privacy.visitor_id(salt=salt, site_id=site_id, ip=ip, user_agent=meta.get("HTTP_USER_AGENT", ""))


def _domain(value):
    value = value.strip().lower()
    return value[4:] if value.startswith("www.") and value.count(".") >= 2 else value


def _excluded(meta, tests):
    """Why this visitor never enters a test: a bot, or Global Privacy Control on a site that honours it."""
    if devices.parse_user_agent(meta.get("HTTP_USER_AGENT", "")).bot_reason:
        return "bot"
    if tests.respect_gpc and meta.get("HTTP_SEC_GPC") == "1":
        return "opted-out"
    return None


def site_script_body(request, core: bytes, *, now=None) -> bytes:
    """The core alone, or the split-test runtime with this visitor's assignments followed by the core.

    Whatever goes wrong with the tests (the database away, a test edited by hand into a broken state), the site
    still gets its tracker: the core, with the error logged.
    """
    try:
        return _site_script_body(request, core, now=now)
    except Exception:
        logger.exception("split tests left out of the site script for %r", request.GET.get("site", "")[:253])
        return core


def _site_script_body(request, core, *, now):
    tests = delivery.running_tests(_domain(request.GET.get("site", ""))[:253])
    if not tests or not tests.tests or _excluded(request.META, tests):
        return core
    now = now or timezone.now()
    visitor_id = _visitor_id(request.META, tests.site_id, now)
    choices = {}
    for test in tests.tests:
        pinned = visit_start = None
        if test.randomization == "session":
            pinned, visit_start = session_state(site_id=tests.site_id, test_id=test.id, visitor_id=visitor_id, now=now)
        visit_key = visit_start.isoformat() if visit_start else None
        choices[test.id] = delivery.choose(test, visitor_id=visitor_id, pinned=pinned, visit_key=visit_key)
    return delivery.script_body(delivery.config(tests, choices=choices), core)


def serve_site_script(request, *, core: bytes):
    """Called by tracking.script_view for /js/script.js?site=…; headers as the core's, but private and short."""
    from tracking.script_view import _accepts_gzip, _not_modified

    body = site_script_body(request, core)
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:20]}"'
    if _not_modified(request.headers.get("If-None-Match"), etag):
        response = HttpResponse(status=304)
    else:
        use_gzip = _accepts_gzip(request.headers.get("Accept-Encoding", ""))
        payload = gzip.compress(body, compresslevel=6, mtime=0) if use_gzip else body
        response = HttpResponse(b"" if request.method == "HEAD" else payload)
        response["Content-Type"] = "application/javascript; charset=utf-8"
        response["Content-Length"] = str(len(payload))
        if use_gzip:
            response["Content-Encoding"] = "gzip"
    response["ETag"] = etag
    # Per visitor (the assignment is in it): the browser may keep it a minute, a shared cache never.
    response["Cache-Control"] = SITE_SCRIPT_CACHE_CONTROL
    response["Access-Control-Allow-Origin"] = "*"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


def _response(status, body=b"ok", content_type="text/plain; charset=utf-8", **headers):
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in (*endpoint.CORS_HEADERS, *((k.replace("_", "-"), v) for k, v in headers.items())):
        response[name] = value
    return response


def _error(status, message, **headers):
    return _response(status, json.dumps({"error": message}), "application/json", **headers)


@csrf_exempt
def exposure(request):
    body, refusal = endpoint.envelope(
        request.method, request.META.get("CONTENT_TYPE", ""), request.META.get("CONTENT_LENGTH"), request.read
    )
    if refusal is not None:
        return endpoint.http_response(refusal)
    try:
        incoming = parse(body)
    except ExposureError as error:
        return _error(400, error.message)

    tests = delivery.running_tests(incoming.domain)
    if tests is None:
        return _response(202, X_Humblytics_Dropped="unknown-domain")
    reason = _excluded(request.META, tests)
    if reason:
        return _response(202, X_Humblytics_Dropped=reason)
    if is_local_host(incoming.hostname):
        return _response(202, X_Humblytics_Dropped="localhost")
    test = next((t for t in tests.tests if t.id == incoming.test_id), None)
    if test is None:  # stopped, paused, another site's, or never existed: a stale script may still send it
        return _response(202, X_Humblytics_Dropped="test-not-running")
    if not any(v.id == incoming.variant_id for v in test.variants):
        return _error(400, f"x: {incoming.variant_id} is not a variant of test {incoming.test_id}")
    now = timezone.now()
    created = services.exposure_record(
        site_id=tests.site_id,
        test_id=test.id,
        variant_id=incoming.variant_id,
        view_id=incoming.view_id,
        visitor_id=_visitor_id(request.META, tests.site_id, now),
        now=now,
    )
    return _response(202) if created else _response(202, X_Humblytics_Dropped="duplicate")

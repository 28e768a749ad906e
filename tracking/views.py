"""The Events API: POST /api/event. The hot path — validate, enrich, hand off, 202.

No ORM write per request (records go to the Redis buffer), no cookies (no session, no CSRF token),
no DRF. Every rejection is a 4xx JSON body naming the field; nothing here may raise a 500 for input.
"""

import json
import logging

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from tracking import buffer, ingest
from tracking.payload import MAX_BODY_BYTES, PayloadError, parse
from tracking.services import events_store

log = logging.getLogger(__name__)

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
    "Access-Control-Expose-Headers": "X-Humblytics-Dropped",
    "Access-Control-Max-Age": "86400",
}
_ACCEPTED_TYPES = ("text/plain", "application/json", "")


def _response(status, body=b"", content_type="text/plain; charset=utf-8", **headers):
    response = HttpResponse(body, status=status, content_type=content_type)
    for name, value in _CORS.items():
        response[name] = value
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _error(status, message):
    return _response(status, json.dumps({"error": message}), content_type="application/json")


def _store(records):
    if not buffer.push(records):
        events_store(records)


@csrf_exempt
def event(request):
    if request.method == "OPTIONS":
        return _response(204)
    if request.method != "POST":
        return _response(405, json.dumps({"error": "method: use POST"}), "application/json", Allow="POST, OPTIONS")
    content_type = request.META.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
    if content_type not in _ACCEPTED_TYPES:
        return _error(415, "content-type: send text/plain or application/json")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _error(400, "content-length: not a number")
    if declared > MAX_BODY_BYTES:
        return _error(413, f"body: larger than {MAX_BODY_BYTES} bytes")
    body = request.read(MAX_BODY_BYTES + 1)  # a lying or absent Content-Length cannot make us read more
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"body: larger than {MAX_BODY_BYTES} bytes")
    try:
        incoming = parse(body)
    except PayloadError as error:
        return _error(400, error.message)
    try:
        records = ingest.build_records(incoming, request.META)
    except ingest.Dropped as dropped:
        if dropped.site_ids:
            _store(ingest.drop_records(dropped))
        return _response(202, b"ok", X_Humblytics_Dropped=dropped.reason)
    _store(records)
    return _response(202, b"ok")

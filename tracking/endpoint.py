"""The Events API's answer to one request, independent of how the request arrived.

`answer()` is the whole of POST /api/event: validate, enrich, hand off, answer. Two doors lead here and
answer alike: `tracking.fastpath` (the production WSGI application sends /api/event straight here,
before Django's middleware and URL resolver, which cost more than everything below) and the Django
view `tracking.views.event` (runserver's and the test client's path). Every rejection is a 4xx JSON
body naming the field; nothing here may raise a 500 for input.

The hand-off is in two steps so the production door can answer before Redis has replied: `answer()`
sends the records (one XADD) and returns them with the answer as `pending`; `settle(pending)` reads
Redis's reply and, if Redis refused or is gone, stores the records directly. The records are in hand
until `settle()` has run, so a refusal loses nothing.
"""

import json
from dataclasses import dataclass

from django.http import HttpResponse

from tracking import buffer, ingest
from tracking.payload import MAX_BODY_BYTES, PayloadError, parse
from tracking.services import events_store

CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "POST, OPTIONS"),
    ("Access-Control-Allow-Headers", "Content-Type"),
    ("Access-Control-Expose-Headers", "X-Humblytics-Dropped"),
    ("Access-Control-Max-Age", "86400"),
)
_ACCEPTED_TYPES = ("text/plain", "application/json", "")
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"


@dataclass
class Answer:
    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: tuple = ()  # extra (name, value) pairs; CORS_HEADERS are always added by the door
    pending: object = None  # records sent to Redis whose reply settle() still has to read


def _error(status, message, *headers):
    return Answer(status, json.dumps({"error": message}).encode(), JSON, headers)


def envelope(method, content_type, content_length, read):
    """(body, None) for a beacon POST within the limits, or (None, the Answer that refuses it).

    The checks every beacon endpoint makes before its payload (this one and splittests' /api/exposure):
    OPTIONS (CORS preflight), the method, the content type and the size, declared and read.
    """
    if method == "OPTIONS":
        return None, Answer(204)
    if method != "POST":
        return None, _error(405, "method: use POST", ("Allow", "POST, OPTIONS"))
    if content_type.split(";", 1)[0].strip().lower() not in _ACCEPTED_TYPES:
        return None, _error(415, "content-type: send text/plain or application/json")
    try:
        declared = int(content_length or 0)
    except ValueError:
        return None, _error(400, "content-length: not a number")
    if declared > MAX_BODY_BYTES:
        return None, _error(413, f"body: larger than {MAX_BODY_BYTES} bytes")
    body = read(MAX_BODY_BYTES + 1)  # a lying or absent Content-Length cannot make us read more
    if len(body) > MAX_BODY_BYTES:
        return None, _error(413, f"body: larger than {MAX_BODY_BYTES} bytes")
    return body, None


def http_response(answer):
    """An Answer as a Django response (the doors that are Django views)."""
    response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
    for name, value in (*CORS_HEADERS, *answer.headers):
        response[name] = value
    return response


def answer(method, content_type, content_length, read, meta):
    """The answer to one request. `read(n)` reads at most n bytes of the body; `meta` is the WSGI environ."""
    body, refusal = envelope(method, content_type, content_length, read)
    if refusal is not None:
        return refusal
    try:
        incoming = parse(body)
    except PayloadError as error:
        return _error(400, error.message)
    try:
        records = ingest.build_records(incoming, meta)
    except ingest.Dropped as dropped:
        pending = _send(ingest.drop_records(dropped)) if dropped.site_ids else None
        return Answer(202, b"ok", headers=(("X-Humblytics-Dropped", dropped.reason),), pending=pending)
    return Answer(202, b"ok", pending=_send(records))


def _send(records):
    sent = buffer.send(records)
    if sent is None:  # no Redis, or its breaker is open: store now, before answering
        events_store(records)
        return None
    return sent


def settle(pending):
    """Finish the hand-off of `answer()`: read Redis's reply, or store directly if it refused."""
    if pending is not None and not buffer.confirm(pending):
        events_store(pending.records)

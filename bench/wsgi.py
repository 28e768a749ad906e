"""The WSGI application `make bench-ingest` serves: the app's own (humblytics.wsgi), plus a second ceiling.

/bench/raw-ceiling is the cheapest thing a Python web worker can do with an event: read the body, json.loads
it, answer 202, with no framework at all. /api/event is answered before Django's stack too (tracking.fastpath),
so "ours / raw ceiling" says how close it comes to a framework-free worker; "ours / ceiling" (the Django view of
bench/ceiling.py, the issue's measure) stays the headline. Every other path is the app's, unchanged.
"""

import json

from humblytics.wsgi import application as app_application

_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "2")]


def application(environ, start_response):
    if environ.get("PATH_INFO") != "/bench/raw-ceiling":
        return app_application(environ, start_response)
    try:
        json.loads(environ["wsgi.input"].read(8 * 1024 + 1))
    except ValueError:
        start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "8")])
        return [b"bad json"]
    start_response("202 Accepted", _HEADERS)
    return [b"ok"]

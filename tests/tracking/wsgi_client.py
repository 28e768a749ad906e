"""A test client for the production door: humblytics.wsgi's application, not Django's test handler.

Django's test Client sends requests through its own handler, which skips tracking.fastpath. This client
builds the same environ (cookies, headers, bodies, multipart forms) and calls the application that
gunicorn serves, so tests written against `client` run unchanged through both doors.
"""

import json

from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpResponse
from django.test import Client

from tracking import fastpath


def _no_recycling():
    pass


class FastPathClient(Client):
    def __init__(self, application=None, **defaults):
        super().__init__(**defaults)
        self.application = application or fastpath.wrap(WSGIHandler())
        self.closed = 0

    def request(self, **request):
        environ = self._base_environ(**request)
        started = {}

        def start_response(status, headers, exc_info=None):
            started["status"], started["headers"] = status, headers

        # As Django's test handler does with the request signals: recycling connections would close the
        # test's transaction, so it is switched off for the call.
        recycle, fastpath.close_old_connections = fastpath.close_old_connections, _no_recycling
        try:
            result = self.application(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
                    self.closed += 1
        finally:
            fastpath.close_old_connections = recycle
        response = HttpResponse(body, status=int(started["status"].split(" ", 1)[0]))
        del response.headers["Content-Type"]
        for name, value in started["headers"]:
            if name.lower() == "set-cookie":
                response.cookies.load(value)
            else:
                response.headers[name] = value
        response.status_line = started["status"]
        response.header_list = started["headers"]
        response.json = lambda: json.loads(body)
        return response

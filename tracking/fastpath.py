"""The production door to POST /api/event: a WSGI wrapper that answers it before Django's stack.

Django's request object, middleware stack (sessions, CSRF, auth, messages …) and URL resolver cost
more CPU per request than validating, enriching and queueing the event itself, and none of them has
anything to do on a cookie-free beacon endpoint. `wrap(application)` returns a WSGI application that
answers /api/event with tracking.endpoint.answer — the very function behind the Django view — and
hands every other path to Django unchanged.

What the middleware would have done is done here, for this path only:
- the Host header is checked against ALLOWED_HOSTS (400 otherwise), as Django's get_host() would;
- the security headers SecurityMiddleware and XFrameOptionsMiddleware add (nosniff, Referrer-Policy,
  Cross-Origin-Opener-Policy, X-Frame-Options; HSTS on HTTPS) are added (SECURE_REDIRECT_EXEMPT
  already exempts /api/event from the HTTPS redirect);
- database connections are recycled as Django's request_started / request_finished receivers do
  (close_old_connections), at most once a second and after every error: this path rarely touches the
  database (cache misses, and direct writes when Redis is down), and the signals cost ~45 µs a request;
- an unexpected error is logged and answered 500, like Django's handler would.
The reply to the Redis XADD is read after the answer is written (in the response's close()), so the
round trip to Redis overlaps the socket write; if Redis refused, the records are stored directly then.
"""

import logging
import time

from django.conf import settings
from django.db import close_old_connections
from django.http.request import split_domain_port, validate_host

from tracking import endpoint

log = logging.getLogger(__name__)

PATH = "/api/event"
_allowed_hosts = {}  # Host header -> allowed?; bounded: the header is the client's to choose
RECYCLE_SECONDS = 1.0
_recycle_at = 0.0


def _recycle_connections(force=False):
    global _recycle_at
    now = time.monotonic()
    if force or now >= _recycle_at:
        _recycle_at = now + RECYCLE_SECONDS
        close_old_connections()


class _Body:
    """The answer's body as a WSGI iterable whose close() settles the Redis hand-off."""

    __slots__ = ("chunk", "pending")

    def __init__(self, chunk, pending):
        self.chunk = chunk
        self.pending = pending

    def __iter__(self):
        yield self.chunk

    def close(self):
        try:
            endpoint.settle(self.pending)
        except Exception:
            log.exception("storing an event directly after the buffer refused it failed")
            _recycle_connections(force=True)


def _host_allowed(environ):
    if settings.USE_X_FORWARDED_HOST and "HTTP_X_FORWARDED_HOST" in environ:
        host = environ["HTTP_X_FORWARDED_HOST"]
    elif "HTTP_HOST" in environ:
        host = environ["HTTP_HOST"]
    else:
        host = environ.get("SERVER_NAME", "")
    allowed = _allowed_hosts.get(host)
    if allowed is None:
        hosts = settings.ALLOWED_HOSTS
        if settings.DEBUG and not hosts:
            hosts = [".localhost", "127.0.0.1", "[::1]"]
        domain, _port = split_domain_port(host)
        allowed = bool(domain) and validate_host(domain, hosts)
        if len(_allowed_hosts) > 1000:
            _allowed_hosts.clear()
        _allowed_hosts[host] = allowed
    return allowed


def _is_secure(environ):
    header = settings.SECURE_PROXY_SSL_HEADER
    if header:
        name, value = header
        if name in environ:
            return environ[name].split(",", 1)[0].strip() == value
    return environ.get("wsgi.url_scheme") == "https"


def _security_headers(secure):
    headers = []
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers.append(("Referrer-Policy", policy if isinstance(policy, str) else ",".join(policy)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    headers.append(("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper()))
    if secure and settings.SECURE_HSTS_SECONDS:
        hsts = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            hsts += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            hsts += "; preload"
        headers.append(("Strict-Transport-Security", hsts))
    return tuple(headers)


class EventsFastPath:
    def __init__(self, application):
        self.application = application
        self._security = {}

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != PATH:
            return self.application(environ, start_response)
        _recycle_connections()
        try:
            answer = self._answer(environ)
        except Exception:
            log.exception("POST %s failed", PATH)
            _recycle_connections(force=True)
            answer = endpoint.Answer(500, b'{"error": "server error: the event was not stored"}', endpoint.JSON)
        secure = _is_secure(environ)
        security = self._security.get(secure)
        if security is None:
            security = self._security[secure] = _security_headers(secure)
        headers = [
            ("Content-Type", answer.content_type),
            ("Content-Length", str(len(answer.body))),
            *endpoint.CORS_HEADERS,
            *answer.headers,
            *security,
        ]
        start_response(f"{answer.status} {_REASONS.get(answer.status, '')}".rstrip(), headers)
        return _Body(answer.body, answer.pending)

    @staticmethod
    def _answer(environ):
        if not _host_allowed(environ):
            return endpoint.Answer(400, b'{"error": "host: not in ALLOWED_HOSTS"}', endpoint.JSON)
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if environ.get("wsgi.input_terminated"):
            read = stream.read
        else:  # as Django's LimitedStream: never read past the declared length (the server may not stop us)
            try:
                limit = max(int(length or 0), 0)
            except ValueError:
                limit = 0

            def read(size):
                return stream.read(min(size, limit)) if limit else b""

        return endpoint.answer(
            environ.get("REQUEST_METHOD", ""), environ.get("CONTENT_TYPE", ""), length, read, environ
        )


_REASONS = {
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}


def wrap(application):
    return EventsFastPath(application)

"""The production door to /api/event (tracking.fastpath): what it does instead of Django's middleware.

The documented answers of /api/event are tested through both doors in test_views.py; these tests cover
what only this door does: dispatching, the Host check, security headers, errors, bounded reads, and
reading Redis's reply after the answer (real Redis).
"""

import io
import json
import logging
import sys
import uuid

import pytest
import redis
from django.conf import settings as django_settings

from tracking import buffer, fastpath, ingest
from tracking.models import PageView

from .test_views import CHROME, VIEW, _direct_writes, pageview, post  # noqa: F401 - _direct_writes: autouse, shared
from .wsgi_client import FastPathClient


def never_django(environ, start_response):
    raise AssertionError(f"{environ['PATH_INFO']} reached Django")


def test_the_production_application_is_the_fast_path_in_front_of_django():
    from humblytics import wsgi

    assert isinstance(wsgi.application, fastpath.EventsFastPath)
    assert wsgi.application.application is wsgi.django_application


def test_it_answers_api_event_without_calling_django(site):
    client = FastPathClient(application=fastpath.wrap(never_django))
    assert post(client, pageview()).status_code == 202
    assert PageView.objects.get().view_id == VIEW


def test_it_hands_every_other_path_to_django(db):
    calls = []

    def django(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"django"]

    client = FastPathClient(application=fastpath.wrap(django))
    for path in ("/js/script.js", "/api/event/", "/api/events", "/sites/"):
        assert client.get(path).content == b"django"
    assert calls == ["/js/script.js", "/api/event/", "/api/events", "/sites/"]


def test_it_rejects_a_host_outside_allowed_hosts_with_a_message(site):
    response = post(FastPathClient(), pageview(), HTTP_HOST="attacker.example")
    assert response.status_code == 400
    assert response.json()["error"].startswith("host:")
    assert PageView.objects.count() == 0


def test_it_sends_the_security_headers_the_middleware_would(site, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    plain = post(FastPathClient(), pageview())
    assert plain["X-Content-Type-Options"] == "nosniff"
    assert plain["X-Frame-Options"] == "DENY"
    assert plain["Referrer-Policy"] == django_settings.SECURE_REFERRER_POLICY
    assert "Strict-Transport-Security" not in plain  # HSTS only over HTTPS, as SecurityMiddleware does
    secure = post(FastPathClient(), pageview(v="secure-view-0000000001"), HTTP_X_FORWARDED_PROTO="https")
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert not secure.cookies and not plain.cookies


def test_an_unexpected_error_is_a_500_with_a_message_and_a_log_line(site, monkeypatch, caplog):
    def broken(incoming, meta):
        raise RuntimeError("enrichment bug")

    monkeypatch.setattr(ingest, "build_records", broken)
    with caplog.at_level(logging.ERROR, logger="tracking.fastpath"):
        response = post(FastPathClient(), pageview())
    assert response.status_code == 500
    assert "not stored" in response.json()["error"]
    assert "enrichment bug" in caplog.text
    assert "81.169.145.1" not in caplog.text  # the client's address is never logged


def _raw_call(application, body, declared):
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/event", "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "HTTP_HOST": "testserver", "CONTENT_TYPE": "text/plain", "CONTENT_LENGTH": declared,
        "HTTP_USER_AGENT": CHROME, "REMOTE_ADDR": "81.169.145.1", "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
    }  # fmt: skip
    started = []
    result = application(environ, lambda status, headers, exc_info=None: started.append(status))
    body = b"".join(result)
    result.close()
    return started[0], body, environ["wsgi.input"].tell()


def test_it_never_reads_past_the_declared_length(site, monkeypatch):
    monkeypatch.setattr(fastpath, "close_old_connections", lambda: None)  # keeps the test's transaction
    application = fastpath.wrap(never_django)
    event = json.dumps(pageview()).encode()
    status, _body, read = _raw_call(application, event + b"trailing bytes of the next request", str(len(event)))
    assert (status, read) == ("202 Accepted", len(event))
    status, body, read = _raw_call(application, event, "10")  # a lying, short length: a truncated body
    assert status == "400 Bad Request" and read == 10 and json.loads(body)["error"].startswith("body:")
    status, body, _read = _raw_call(application, event, "")  # no length: no body, as Django reads it
    assert status == "400 Bad Request"
    assert PageView.objects.count() == 1


# --- the Redis hand-off: the reply is read after the answer --------------------------------------
needs_redis = pytest.mark.skipif(not django_settings.REDIS_URL, reason="needs REDIS_URL")


@pytest.fixture
def stream(settings):
    settings.REDIS_URL = django_settings.REDIS_URL or "redis://127.0.0.1:6379/0"
    name = settings.EVENT_BUFFER_STREAM = f"hly:test:{uuid.uuid4().hex}"
    real = redis.Redis.from_url(settings.REDIS_URL)
    buffer.reset()
    yield real, name
    real.delete(name)
    buffer.reset()


@needs_redis
def test_the_event_is_buffered_and_its_reply_read_when_the_answer_is_closed(site, stream):
    real, name = stream
    client = FastPathClient()
    assert post(client, pageview()).status_code == 202
    assert client.closed == 1
    assert getattr(buffer._push, "unread", None) is None  # the reply was read in close()
    assert real.xlen(name) == 1
    assert PageView.objects.count() == 0  # buffered, not written directly
    assert buffer.Flusher().drain() == 1
    assert PageView.objects.get().view_id == VIEW


@needs_redis
def test_an_xadd_redis_refuses_after_the_answer_is_stored_directly(site, stream):
    real, name = stream
    real.set(name, "not a stream")  # every XADD to it now gets an error reply (WRONGTYPE)
    response = post(FastPathClient(), pageview())
    assert response.status_code == 202
    assert PageView.objects.get().view_id == VIEW  # stored when the refusal was read, after the answer


@needs_redis
def test_a_reply_a_door_left_unread_is_read_before_the_next_send(site, stream):
    from tests.tracking.factories import record

    real, name = stream
    first = buffer.send([record(site, path="/first")])
    assert first is not None and not first.settled
    second = buffer.send([record(site, path="/second")])  # reads the first reply before writing
    assert first.settled and buffer.confirm(second)
    assert real.xlen(name) == 2
    assert PageView.objects.count() == 0
    buffer.Flusher().drain()
    assert sorted(PageView.objects.values_list("pathname", flat=True)) == ["/first", "/second"]

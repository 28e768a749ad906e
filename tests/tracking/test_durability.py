"""No accepted event is lost when Redis dies mid-load or the flusher is killed mid-batch.

Real processes: a private redis-server (append-only file, so a restart keeps the stream, as a production
Redis must be configured) and a real `manage.py flush_events` killed with SIGKILL.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from tests.tracking.factories import record
from tracking import buffer, ingest, services
from tracking.models import PageView, Visit

ROOT = Path(__file__).resolve().parents[2]
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
pytestmark = pytest.mark.redis


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


class PrivateRedis:
    def __init__(self, directory):
        self.port = _free_port()
        self.directory = directory
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                str(self.directory), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url)
        assert _wait(lambda: _pings(client)), "private redis-server did not start"

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def _pings(client):
    try:
        return client.ping()
    except redis.RedisError:
        return False


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.kill()


def test_no_event_is_lost_when_redis_dies_mid_load(client, site, settings, private_redis, monkeypatch):
    settings.REDIS_URL = private_redis.url
    settings.EVENT_BUFFER_STREAM = f"hly:durability:{uuid.uuid4().hex}"
    settings.TRUSTED_PROXY_COUNT = 0
    buffer.reset()
    ingest.site_cache_clear()
    services.salts_forget_cache()
    monkeypatch.setattr(buffer, "BREAKER_SECONDS", 0.2)
    sent = []

    def send(i):
        view = f"view-durable-{i:08d}"
        payload = {"n": "pageview", "u": f"https://example.com/p{i}", "d": "example.com", "v": view}
        response = client.post(
            "/api/event",
            json.dumps(payload),
            content_type="text/plain",
            HTTP_USER_AGENT=CHROME,
            REMOTE_ADDR=f"203.0.113.{i % 200}",
        )
        assert response.status_code == 202 and "X-Humblytics-Dropped" not in response
        sent.append(view)

    for i in range(150):
        send(i)
    private_redis.kill()  # Redis dies with 150 events buffered and none flushed
    for i in range(150, 300):
        send(i)  # answered 202 all the same: written directly
    assert PageView.objects.count() == 150
    private_redis.start()  # back, with its append-only file
    time.sleep(0.3)  # let the breaker close again
    for i in range(300, 400):
        send(i)
    assert buffer.Flusher().drain() > 0
    assert sorted(PageView.objects.values_list("view_id", flat=True)) == sorted(sent)
    assert sum(Visit.objects.values_list("pageviews", flat=True)) == 400


@pytest.mark.django_db(transaction=True)
def test_no_event_is_lost_or_doubled_when_the_flusher_is_killed_mid_batch(site, monkeypatch):
    if not settings.REDIS_URL or connection.vendor != "postgresql":
        pytest.skip("needs Redis and PostgreSQL (a second process must see the test database)")
    stream = f"hly:durability:{uuid.uuid4().hex}"
    monkeypatch.setattr(settings, "EVENT_BUFFER_STREAM", stream)
    buffer.reset()
    total = 4000
    pipe = buffer.client().pipeline()
    for start in range(0, total, 10):
        batch = [
            record(site, view=f"kill-{i:08d}", visitor=i % 300, ts=1_773_000_000 + i) for i in range(start, start + 10)
        ]
        pipe.xadd(stream, {"r": json.dumps(batch)})
    pipe.execute()

    db = connection.settings_dict
    env = {
        **os.environ, "DEBUG": "true", "REDIS_URL": settings.REDIS_URL, "EVENT_BUFFER_STREAM": stream,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
    }  # fmt: skip
    flusher = subprocess.Popen(
        [sys.executable, "manage.py", "flush_events", "--batch-size", "20"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert _wait(lambda: PageView.objects.count() >= 400, timeout=60), "the flusher stored nothing"
        flusher.send_signal(signal.SIGKILL)  # mid-run: some batch is claimed and half-done
        flusher.wait(10)
    finally:
        if flusher.poll() is None:
            flusher.kill()
    landed_at_kill = PageView.objects.count()
    assert landed_at_kill < total
    monkeypatch.setattr(buffer, "CLAIM_IDLE_MS", 0)  # don't wait 30 s for the dead flusher's claim to age
    buffer.Flusher(consumer="after-the-crash").drain()
    assert PageView.objects.count() == total
    assert sum(Visit.objects.values_list("pageviews", flat=True)) == total
    assert buffer.client().xlen(stream) == 0
    buffer.client().delete(stream)

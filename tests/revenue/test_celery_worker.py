"""A real Celery worker (a `celery -A humblytics worker` subprocess) on real Redis and PostgreSQL: what beat
enqueues (`revenue.sync_all`) reaches Stripe (localstripe) and ends as an attributed Payment.

The worker reads a queue of its own (`CELERY_TASK_DEFAULT_QUEUE` in its environment and `-Q`; the same default
queue in this process while the test runs), so parallel runs and other workers on the same Redis never take each
other's tasks. Every wait is bounded, and the worker is stopped (SIGTERM, then SIGKILL) however the test ends.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection as db

from humblytics.celery import app
from revenue import tasks
from revenue.models import Payment, StripeConnection
from tests.revenue.conftest import make_client
from tests.tracking.factories import record
from tracking import services as tracking_services

pytestmark = [pytest.mark.celery_worker, pytest.mark.localstripe, pytest.mark.redis, pytest.mark.postgres]
KEY = "sk_test_humblytics"
VIEW = "view-paid-000000000001"
ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30  # seconds for the worker to say it is ready
SYNC_TIMEOUT = 60  # seconds from enqueueing to the attributed payment
STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL
SUCCEEDED = re.compile(r"Task revenue\.sync_site\[[^\]]+\] succeeded")


def _database_url():
    conf = db.settings_dict  # the test database, which the worker must use too
    credentials = quote(conf["USER"] or "", safe="")
    if conf["PASSWORD"]:
        credentials += ":" + quote(conf["PASSWORD"], safe="")
    host = f"{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}"
    return f"postgres://{credentials}@{host}/{quote(conf['NAME'], safe='')}"


class Worker:
    def __init__(self, *, queue, stripe_url):
        self.queue, self.stripe_url = queue, stripe_url
        self.log = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = None

    def start(self):
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DEBUG": "true",
            "STRIPE_API_BASE": self.stripe_url,
            "STRIPE_MAX_REQUESTS_PER_SECOND": "50",
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "DB_CONN_MAX_AGE": "0",  # no connection outlives a task: nothing holds the test database open
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "humblytics", "worker", "--pool", "solo", "--concurrency", "1",
            "-Q", self.queue, "-n", f"{self.queue}@%h", "--loglevel", "INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.wait_for(lambda: " ready." in self.output(), STARTUP_TIMEOUT, "the worker to start")

    def output(self):
        return Path(self.log.name).read_text(errors="replace")

    def wait_for(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                pytest.fail(f"The worker exited ({self.process.returncode}) while waiting for {what}:\n{self.output()}")
            time.sleep(0.2)
        pytest.fail(f"Timed out after {timeout} s waiting for {what}. Worker log:\n{self.output()[-20_000:]}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.log.close()

    def remove_log(self):
        Path(self.log.name).unlink(missing_ok=True)


@pytest.fixture
def queue(transactional_db):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the worker's broker is Redis")
    if db.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the worker, a second process, must see the test database")
    name = f"test-worker-{uuid.uuid4().hex[:12]}"
    previous = (app.conf.task_default_queue, app.conf.task_always_eager)
    app.conf.task_default_queue, app.conf.task_always_eager = name, False  # .delay() here goes to the worker's queue
    yield name
    app.conf.task_default_queue, app.conf.task_always_eager = previous
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    client.delete(name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")  # nothing left in Redis
    client.close()


@pytest.fixture
def worker(queue, localstripe_clean):
    worker = Worker(queue=queue, stripe_url=localstripe_clean)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()  # before the database is flushed: no connection of the worker is left
        print(f"--- worker log ---\n{worker.output()[-20_000:]}")  # pytest shows it only when the test failed
        worker.remove_log()


def test_what_beat_enqueues_syncs_and_attributes_a_payment_in_a_real_worker(
    site, charlies_site, localstripe_clean, worker
):
    tracking_services.events_store([record(site, view=VIEW, path="/pricing", source="Google")])
    stripe = make_client(localstripe_clean, KEY)
    intent = stripe.v1.payment_intents.create(
        params={
            "amount": 1999, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
            "metadata": {"humblytics_view_id": VIEW},
        }
    )  # fmt: skip
    # Stored directly (connection_connect would enqueue a sync of its own): the only task sent is beat's.
    connection = StripeConnection.objects.create(site=site, secret_key=KEY, key_hint="sk_test_…tics", mode="test")
    charlies = StripeConnection.objects.create(
        site=charlies_site, secret_key="", key_hint="sk_test_…abcd", mode="test", status="disconnected"
    )

    tasks.sync_all.delay()

    worker.wait_for(
        lambda: Payment.objects.filter(attribution="attributed").exists(), SYNC_TIMEOUT, "an attributed payment"
    )
    payment = Payment.objects.select_related("visit").get()
    assert (payment.site, payment.stripe_id, payment.amount, payment.view_id, payment.view_source) == (
        site, intent.id, 1999, VIEW, "payment_intent",
    )  # fmt: skip
    assert payment.visit.source == "Google"
    worker.wait_for(lambda: SUCCEEDED.search(worker.output()), 10, "sync_site's success in the worker log")
    connection.refresh_from_db()
    assert (connection.status, connection.sync_started_at, connection.last_error) == ("active", None, "")
    assert connection.last_success_at is not None and connection.api_calls >= 1
    charlies.refresh_from_db()
    assert charlies.last_attempt_at is None  # a disconnected site is never synced
    assert re.search(r"Task revenue\.sync_all\[[^\]]+\] succeeded in [\d.]+s: 1\b", worker.output())  # one site due

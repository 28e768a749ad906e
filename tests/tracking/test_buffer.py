"""The Redis buffer: nothing answered 202 is lost, nothing is stored twice. Real Redis, real database."""

import json
import uuid

import pytest
import redis
from django.conf import settings
from django.db import OperationalError

from tests.tracking.factories import record
from tracking import buffer, services
from tracking.models import PageView, Visit

pytestmark = [pytest.mark.redis, pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL")]


@pytest.fixture
def stream(settings):
    name = settings.EVENT_BUFFER_STREAM = f"hly:test:{uuid.uuid4().hex}"
    real = redis.Redis.from_url(settings.REDIS_URL)
    buffer.reset()
    yield name
    real.delete(name, name + ":dead")
    buffer.reset()


def test_it_stores_pushed_records_once_drained(site, stream):
    for path in ("/a", "/b", "/c"):
        assert buffer.push([record(site, path=path)]) is True
    assert PageView.objects.count() == 0
    assert buffer.Flusher().drain() == 3
    assert sorted(PageView.objects.values_list("pathname", flat=True)) == ["/a", "/b", "/c"]
    assert buffer.client().xlen(stream) == 0


def test_a_batch_whose_store_fails_stays_buffered_and_is_retried(site, stream, monkeypatch):
    buffer.push([record(site, path="/kept")])
    calls = []

    def failing_once(records):
        # Stands in for a database that is briefly down: the real store runs from the second call on.
        calls.append(len(records))
        if len(calls) <= 2:
            raise OperationalError("database went away")
        return services.events_store(records)

    monkeypatch.setattr(buffer, "events_store", failing_once)
    monkeypatch.setattr(buffer.Flusher, "_is_database_down", staticmethod(lambda: True))
    monkeypatch.setattr(buffer.time, "sleep", lambda seconds: None)
    flusher = buffer.Flusher()
    flusher.ensure_group()
    flusher.step(block=False)
    assert PageView.objects.count() == 0
    assert buffer.client().xlen(stream) == 1  # still there, pending for this flusher
    flusher.step(block=False)
    assert list(PageView.objects.values_list("pathname", flat=True)) == ["/kept"]
    assert buffer.client().xlen(stream) == 0


def test_entries_of_a_crashed_flusher_are_reclaimed_and_stored_once(site, stream, monkeypatch):
    buffer.push([record(site, path="/x")])
    buffer.push([record(site, path="/y")])
    crashed = buffer.Flusher(consumer="crashed")
    crashed.ensure_group()
    assert len(crashed._read(block=False)) == 2  # claimed, then the process died before storing
    monkeypatch.setattr(buffer, "CLAIM_IDLE_MS", 0)
    survivor = buffer.Flusher(consumer="survivor")
    assert survivor.drain() == 2
    assert sorted(PageView.objects.values_list("pathname", flat=True)) == ["/x", "/y"]
    assert Visit.objects.get().pageviews == 2


def test_a_crash_after_commit_before_ack_stores_nothing_twice(site, stream, monkeypatch):
    buffer.push([record(site, path="/once", view="v-once-00000000001")])
    flusher = buffer.Flusher(consumer="acks-lost")
    flusher.ensure_group()
    monkeypatch.setattr(buffer.Flusher, "_ack", lambda self, ids: None)  # the process dies right after commit
    flusher.step(block=False)
    monkeypatch.undo()
    monkeypatch.setattr(buffer, "CLAIM_IDLE_MS", 0)
    assert buffer.Flusher(consumer="next").drain() == 1
    assert PageView.objects.count() == 1
    assert Visit.objects.get().pageviews == 1


def test_a_poisoned_entry_is_parked_and_the_rest_stored(site, stream):
    buffer.push([record(site, path="/good")])
    buffer.client().xadd(stream, {"r": "{not json"})
    buffer.push([record(site, path="/also-good")])
    buffer.Flusher().drain()
    assert sorted(PageView.objects.values_list("pathname", flat=True)) == ["/also-good", "/good"]
    dead = buffer.client().xrange(stream + ":dead")
    assert [fields[b"r"] for _, fields in dead] == [b"{not json"]


def test_push_reports_an_unreachable_redis_so_the_caller_stores_directly(settings, stream):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    buffer.reset()
    assert buffer.push([{"kind": "drop"}]) is False
    # The breaker is open: the next call does not wait for the dead server again.
    assert buffer.push([{"kind": "drop"}]) is False


def test_records_in_the_buffer_hold_no_ip_or_user_agent(site, stream):
    buffer.push([record(site)])
    _, fields = buffer.client().xrange(stream)[0]
    stored = json.loads(fields[b"r"])[0]
    assert not {"ip", "user_agent", "ua", "remote_addr"} & set(stored)


def test_the_flusher_refuses_to_start_without_redis(settings):
    from django.core.management import CommandError, call_command

    settings.REDIS_URL = None
    with pytest.raises(CommandError, match="REDIS_URL is not set"):
        call_command("flush_events", "--once")


def test_redis_errors_do_not_kill_the_flusher_loop(settings, stream, monkeypatch):
    flusher = buffer.Flusher()
    steps = []

    def broken_step(block=True):
        steps.append(block)
        raise redis.ConnectionError("gone")

    monkeypatch.setattr(flusher, "step", broken_step)
    monkeypatch.setattr(buffer.time, "sleep", lambda seconds: None)
    flusher.run(should_stop=lambda: len(steps) >= 3)
    assert len(steps) == 3


def test_the_flusher_lingers_after_a_small_batch_so_batches_grow_under_load(site, stream, monkeypatch):
    buffer.push([record(site, path="/one")])
    slept = []
    monkeypatch.setattr(buffer.time, "sleep", slept.append)
    flusher = buffer.Flusher(batch_size=100, linger=0.4, block_ms=10)
    steps = []
    real_step = flusher.step
    monkeypatch.setattr(flusher, "step", lambda block=True: steps.append(real_step(block)) or steps[-1])
    flusher.run(should_stop=lambda: len(steps) >= 2)
    assert steps == [1, 0]  # one small batch, then an empty read
    assert slept == [0.4]  # waited once, after the small batch only
    assert PageView.objects.get().pathname == "/one"


def test_flush_events_refuses_a_bad_linger(settings):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--linger must be between 0 and 10"):
        call_command("flush_events", "--linger", "-1")


def test_flush_events_refuses_an_unknown_priority(settings):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="invalid choice: 'urgent'"):
        call_command("flush_events", "--priority", "urgent")


def test_the_flusher_reports_how_far_behind_each_batch_was(site, stream, monkeypatch):
    buffer.push([record(site, path="/late")])
    real_time = buffer.time.time
    monkeypatch.setattr(buffer.time, "time", lambda: real_time() + 7)  # the entry is now ~7 s old
    lags = []
    flusher = buffer.Flusher(linger=0, block_ms=10)
    flusher.run(should_stop=lambda: len(lags) >= 2, after_step=lags.append)
    assert 6.5 < lags[0] < 8 and lags[1] is None  # one stored batch, then an empty read

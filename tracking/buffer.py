"""The Redis buffer between the Events API and the database.

The view appends each accepted request's records to a Redis stream (one XADD). The flusher reads
them through a consumer group, stores a batch with `events_store` and only then acknowledges and
deletes the entries. Nothing is popped before it is stored:
- a batch whose store fails stays pending and is retried (with back-off);
- a flusher that crashes mid-batch leaves its entries pending; any flusher reclaims them after
  CLAIM_IDLE_MS (XAUTOCLAIM); storing twice is harmless because `events_store` is idempotent;
- an entry that keeps failing on its own goes to a dead-letter stream instead of blocking the rest.
If Redis cannot be reached, the view stores the event directly (see tracking.views).
"""

import json
import logging
import os
import socket
import threading
import time

import redis
from django.conf import settings
from django.db import close_old_connections, connection

from tracking.services import events_store

log = logging.getLogger(__name__)

GROUP = "flushers"
CLAIM_IDLE_MS = 30_000
BREAKER_SECONDS = 5.0

_client = None
# push()'s bare connection, one per thread (a redis.Connection is not thread-safe): .held = (key, connection)
_push = threading.local()
_push_generation = 0  # bumped by reset(), so every thread makes a new connection
_broken_until = 0.0


def stream_name():
    return settings.EVENT_BUFFER_STREAM


def dead_letter_name():
    return settings.EVENT_BUFFER_STREAM + ":dead"


def client():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.25, health_check_interval=30
        )
    return _client


def enabled():
    return bool(settings.REDIS_URL)


def _connection():
    """This process's own connection for send(), made from client()'s pool settings (URL, TLS, auth, db).

    One XADD per request through `Redis.xadd` costs ~40 µs of Python (pool checkout, retry wrapper,
    argument filtering, reply parser); written and read as bytes on the connection's socket, ~15 µs. One
    per thread (threaded servers run requests side by side on one process); rebuilt after a fork.
    """
    key = (os.getpid(), _push_generation)
    held = getattr(_push, "held", None)
    if held is None or held[0] != key:
        conn = client().connection_pool.make_connection()
        conn.connect()  # the handshake (AUTH, SELECT, HELLO) goes through redis-py; after it, the socket is ours
        held = _push.held = (key, conn)
    return held[1]


def _xadd(stream, payload):
    """XADD <stream> * r <payload> as RESP bytes."""
    return b"*5\r\n$4\r\nXADD\r\n$%d\r\n%s\r\n$1\r\n*\r\n$1\r\nr\r\n$%d\r\n%s\r\n" % (
        len(stream), stream, len(payload), payload,
    )  # fmt: skip


def _read_id(sock):
    """Read XADD's reply (a bulk string: the entry id) off the socket; raise RedisError for anything else."""
    data = sock.recv(256)
    while True:
        if not data:
            raise redis.ConnectionError("connection closed by the server")
        head, sep, rest = data.partition(b"\r\n")
        if sep:
            if head[:1] != b"$":  # an error (-ERR …, !…) or a reply this command never gets
                raise redis.ResponseError(head[1:].decode("utf-8", "replace"))
            if len(rest) >= int(head[1:]) + 2:
                return rest[: int(head[1:])]
        more = sock.recv(256)
        if not more:
            raise redis.ConnectionError("connection closed by the server")
        data += more


def _age_seconds(entry_id):
    """An entry's age from its id ("<milliseconds>-<seq>", Redis's clock; this machine's is close enough)."""
    try:
        millis = int((entry_id.decode() if isinstance(entry_id, bytes) else entry_id).split("-", 1)[0])
    except (ValueError, AttributeError):
        return None
    return max(0.0, time.time() - millis / 1000)


class Pending:
    """Records sent with XADD whose reply has not been read yet (see confirm)."""

    __slots__ = ("conn", "records", "settled")

    def __init__(self, records, conn):
        self.records = records
        self.conn = conn
        self.settled = False


def push(records):
    """Queue one request's records. Returns False (and the caller stores directly) if Redis is down."""
    pending = send(records)
    return pending is not None and confirm(pending)


def send(records):
    """Send the XADD for one request's records without waiting for the reply: a Pending, or None.

    None means Redis is not configured, its breaker is open or the send failed: store directly. The
    reply is read by confirm(), which the production door calls after the answer is written, so the
    round trip to Redis overlaps with sending the response instead of adding to it.
    """
    if not enabled() or time.monotonic() < _broken_until:
        return None
    unread = getattr(_push, "unread", None)
    if unread is not None and not confirm(unread):  # a reply nobody read (a door that never settled)
        events_store(unread.records)
    try:
        conn = _connection()
        conn._sock.sendall(_xadd(stream_name().encode(), json.dumps(records, separators=(",", ":")).encode()))
    except (redis.RedisError, OSError, AttributeError):
        _broken()
        return None
    pending = _push.unread = Pending(records, conn)
    return pending


def confirm(pending):
    """Read the reply to send(): True if Redis has the entry, False (store directly) if it refused."""
    if pending.settled:
        return True
    pending.settled = True
    _push.unread = None
    try:
        _read_id(pending.conn._sock)
    except (redis.RedisError, OSError, AttributeError, ValueError):
        _broken()
        return False
    return True


def _broken():
    """A failed or timed-out command leaves the socket in an unknown state: never reuse it; and don't make
    every request wait for a dead Redis: go direct for a few seconds."""
    global _broken_until
    held = getattr(_push, "held", None)
    if held is not None:
        held[1].disconnect()
    _push.unread = None
    _broken_until = time.monotonic() + BREAKER_SECONDS
    log.warning("event buffer unreachable; storing events directly for %.0fs", BREAKER_SECONDS)


def reset():
    global _client, _broken_until, _push_generation
    held = getattr(_push, "held", None)
    if held is not None:
        held[1].disconnect()
        _push.held = None
    _push.unread = None
    _client = None
    _push_generation += 1
    _broken_until = 0.0


LINGER_SECONDS = 0.25
READ_CHUNK = 100


class Flusher:
    """Stores what the view buffered, batch by batch.

    After a batch smaller than half of `batch_size` it waits `linger` seconds before reading again, so
    that under steady traffic batches grow to hundreds of entries instead of the handful that arrive
    between two reads: each batch has a fixed cost (a transaction, a lock, a dozen statements, three
    Redis commands) that small batches pay per event. Events land at most `linger` seconds later.
    """

    def __init__(self, *, batch_size=1000, block_ms=1000, consumer=None, redis_client=None, linger=LINGER_SECONDS):
        self.redis = redis_client or client()
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.linger = linger
        self.lag = None  # seconds: how old the oldest entry of the last stored batch was
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.stream = stream_name()
        self._backoff = 0.0

    def ensure_group(self):
        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def _read(self, block):
        # 1. Our own pending entries: a store that failed before.
        entries = self._entries(self.redis.xreadgroup(GROUP, self.consumer, {self.stream: "0"}, count=self.batch_size))
        if entries:
            return entries
        # 2. Entries a crashed flusher claimed and never acknowledged.
        claimed = self.redis.xautoclaim(
            self.stream, GROUP, self.consumer, min_idle_time=CLAIM_IDLE_MS, start_id="0-0", count=self.batch_size
        )
        entries = [(entry_id, fields) for entry_id, fields in claimed[1] if fields]
        if entries:
            return entries
        # 3. New entries, READ_CHUNK at a time: Redis answers one command at a time, and the views' XADDs wait
        # behind a reply of a thousand entries (milliseconds, straight into the request latency).
        entries = self._entries(
            self.redis.xreadgroup(
                GROUP, self.consumer, {self.stream: ">"}, count=min(READ_CHUNK, self.batch_size),
                block=self.block_ms if block else None,
            )
        )  # fmt: skip
        while entries and len(entries) < self.batch_size and len(entries) % READ_CHUNK == 0:
            more = self._entries(
                self.redis.xreadgroup(
                    GROUP, self.consumer, {self.stream: ">"}, count=min(READ_CHUNK, self.batch_size - len(entries))
                )
            )
            if not more:
                break
            entries += more
        return entries

    @staticmethod
    def _entries(response):
        if not response:
            return []
        return [(entry_id, fields) for entry_id, fields in response[0][1] if fields]

    def step(self, block=True):
        """Read, store and acknowledge one batch. Returns the number of entries handled."""
        if not connection.in_atomic_block:  # a long-running process: drop a dead or expired connection
            close_old_connections()
        entries = self._read(block)
        if not entries:
            return 0
        try:
            events_store([record for _, fields in entries for record in json.loads(fields[b"r"])])
        except Exception:
            log.exception("storing a batch of %d buffered requests failed; it stays buffered", len(entries))
            self._store_one_by_one(entries)
            return len(entries)
        self._ack([entry_id for entry_id, _ in entries])
        self._backoff = 0.0
        self.lag = _age_seconds(entries[0][0])
        return len(entries)

    def _store_one_by_one(self, entries):
        """Find the entry that breaks the batch; park it in the dead-letter stream, keep the rest moving."""
        done = []
        for entry_id, fields in entries:
            try:
                events_store(json.loads(fields[b"r"]))
            except json.JSONDecodeError:
                self._dead(entry_id, fields)
                done.append(entry_id)
            except Exception:
                if self._is_database_down():
                    break  # not this entry's fault: retry the rest later
                self._dead(entry_id, fields)
                done.append(entry_id)
            else:
                done.append(entry_id)
        self._ack(done)
        if len(done) < len(entries):
            self._backoff = min(max(self._backoff * 2, 0.5), 30.0)
            time.sleep(self._backoff)

    @staticmethod
    def _is_database_down():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception:
            if not connection.in_atomic_block:
                connection.close()
            return True
        return False

    def _dead(self, entry_id, fields):
        log.error("parking buffered entry %s in %s", entry_id, dead_letter_name())
        self.redis.xadd(dead_letter_name(), fields)

    def _ack(self, entry_ids):
        if entry_ids:
            pipe = self.redis.pipeline()
            pipe.xack(self.stream, GROUP, *entry_ids)
            pipe.xdel(self.stream, *entry_ids)
            pipe.execute()

    def drain(self):
        """Flush until the stream is empty (for tests and `flush_events --once`)."""
        self.ensure_group()
        total = 0
        while handled := self.step(block=False):
            total += handled
        return total

    def run(self, should_stop, after_step=None):
        """Flush until should_stop(); after_step(lag) gets how old the oldest entry of each stored batch was."""
        self.ensure_group()
        while not should_stop():
            try:
                self.lag = None
                handled = self.step(block=True)
                if after_step is not None:
                    after_step(self.lag)
                if 0 < handled < self.batch_size // 2 and self.linger:
                    time.sleep(self.linger)
            except redis.RedisError:
                log.warning("event buffer unreachable; retrying in 1s")
                time.sleep(1.0)

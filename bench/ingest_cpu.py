"""CPU per event, stage by stage, in one process: `make bench-ingest-cpu`.

`make bench-ingest` measures the whole machine under load; this measures where each event's CPU goes,
with no load generator and no scheduler noise, so a change to one stage can be judged on its own:

- **view**: the WSGI application (humblytics.wsgi, whatever path it takes for /api/event) answering
  BENCH_EVENTS realistic requests (the mix of bench/ingest.lua), pushing to a private Redis stream;
- **ceiling**: the same requests to bench/ceiling.py through Django (bench.urls), for comparison;
- **flusher**: `Flusher.drain()` storing them, with the CPU of its PostgreSQL backend read from /proc.

Process CPU time (time.process_time), not wall time: the numbers hold on a busy machine. It uses its own
database (BENCH_CPU_DB, default humblytics_bench_cpu, on BENCH_PG) and Redis database (BENCH_CPU_REDIS).
"""

import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DB = os.environ.get("BENCH_CPU_DB", "humblytics_bench_cpu")
REDIS = os.environ.get("BENCH_CPU_REDIS", "redis://127.0.0.1:6379/11")
EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",  # noqa: E501
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",  # noqa: E501
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",  # noqa: E501
]
BOTS = ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.5.0"]
REFERRERS = [None, None, None, "https://www.google.com/", "https://t.co/", "https://news.ycombinator.com/", "self"]
PAGES = ["/", "/pricing", "/features", "/docs/getting-started", "/docs/api", "/about", "/signup"]
TAGS = ["?utm_source=newsletter&utm_medium=email&utm_campaign=launch", "?ref=producthunt", "?gclid=Cj0KCQiA4NWrBhD"]
NAMES = ["Signup", "Outbound Link: Click", "File Download", "Purchase", "Newsletter"]


def say(message):
    print(message, flush=True)


def setup():
    import psycopg

    with psycopg.connect(PG + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB}"')
    from bench.ingest import django_env

    os.environ.update(django_env(f"{PG}/{DB}", REDIS))
    os.environ.update(EVENT_BUFFER_STREAM="benchcpu:events", CELERY_TASK_ALWAYS_EAGER="true")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def requests(domain, count, rng):
    """(path-independent) WSGI environ parts: body bytes and headers, in bench/ingest.lua's mix."""
    visitors = [(f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                 rng.choice(BROWSERS)) for _ in range(2000)]  # fmt: skip
    views = []
    out = []
    for n in range(count):
        ip, ua = rng.choice(visitors)
        r = rng.random()
        url = f"https://{domain}{rng.choice(PAGES)}" + (rng.choice(TAGS) if rng.random() < 0.2 else "")
        if r < 0.04:
            body = {"n": "pageview", "u": url, "d": domain, "v": f"bot{n:016d}"}
            ua = rng.choice(BOTS)
        elif r < 0.29 and len(views) > 50:
            view, ip, ua, url = views.pop(0)
            body = {"n": "engagement", "u": url, "d": domain, "v": view, "sd": 50, "e": 12000, "i": False}
        elif r < 0.46:
            name = rng.choice(NAMES)
            body = {"n": name, "u": url, "d": domain, "v": f"evt{n:016d}"}
            if name == "Purchase":
                body["$"] = {"amount": "49.00", "currency": "USD"}
            elif name == "Signup":
                body["p"] = {"plan": "pro"}
        else:
            referrer = rng.choice(REFERRERS)
            referrer = f"https://{domain}/" if referrer == "self" else referrer
            view = f"view{n:016d}"
            body = {"n": "pageview", "u": url, "d": domain, "r": referrer, "w": 1440, "v": view}
            views.append((view, ip, ua, url))
        out.append((json.dumps(body, separators=(",", ":")).encode(), ua, ip))
    return out


def environ(path, body, ua, ip):
    import io

    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "CONTENT_TYPE": "text/plain;charset=UTF-8",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_USER_AGENT": ua,
        "HTTP_X_FORWARDED_FOR": ip,
        "HTTP_ACCEPT": "*/*",
        "HTTP_ORIGIN": "https://example.com",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def serve(app, path, reqs):
    statuses = {}

    def start_response(status, headers, exc_info=None):
        statuses[status] = statuses.get(status, 0) + 1

    envs = [environ(path, *req) for req in reqs]
    started = time.process_time()
    for env in envs:
        result = app(env, start_response)
        for _chunk in result:
            pass
        if hasattr(result, "close"):
            result.close()
    return time.process_time() - started, statuses


def backend_cpu(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    setup()
    import redis
    from django.db import connection

    from accounts.models import User
    from humblytics.wsgi import application
    from sites.services import site_create
    from tracking import buffer
    from tracking.models import Event, PageView

    redis.Redis.from_url(REDIS).flushdb()
    owner = User.objects.create_user(email="cpu@bench.test", password=None)
    warm = site_create(owner=owner, domain="warm.bench.test")
    site = site_create(owner=owner, domain="main.bench.test")
    rng = random.Random(1)
    serve(application, "/api/event", requests(warm.domain, 2000, rng))  # warm the caches
    serve(application, "/bench/ceiling", requests(warm.domain, 2000, rng))
    buffer.Flusher(batch_size=1000).drain()

    reqs = requests(site.domain, EVENTS, rng)
    ceiling_s, _ = serve(application, "/bench/ceiling", reqs)
    view_s, statuses = serve(application, "/api/event", reqs)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    pg_before, started = backend_cpu(pid), time.process_time()
    wall = time.perf_counter()
    stored = buffer.Flusher(batch_size=int(os.environ.get("BENCH_BATCH", "1000"))).drain()
    flusher_s, wall = time.process_time() - started, time.perf_counter() - wall
    pg_s = backend_cpu(pid) - pg_before
    rows = PageView.objects.filter(site=site).count() + Event.objects.filter(site=site).count()
    engaged = PageView.objects.filter(site=site, engaged_ms__gt=0).count()

    us = 1e6 / EVENTS
    say(f"{EVENTS:,} requests ({statuses}); {stored:,} buffered entries stored; {rows:,} rows, {engaged:,} engaged")
    say(f"ceiling view   {ceiling_s * us:7.1f} µs/request")
    say(f"our view       {view_s * us:7.1f} µs/request  (+{(view_s - ceiling_s) * us:.1f} over the ceiling)")
    say(f"flusher        {flusher_s * us:7.1f} µs/request  (wall {wall * us:.1f})")
    say(f"postgres       {pg_s * us:7.1f} µs/request  (the flusher's backend)")
    say(f"total ours     {(view_s + flusher_s + pg_s) * us:7.1f} µs/request vs ceiling {ceiling_s * us:.1f}")


if __name__ == "__main__":
    main()

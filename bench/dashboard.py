"""`make bench-dashboard`: the dashboard page and Stats-API-style queries against 10 M page views.

Uses its own database (BENCH_DASH_DB, default humblytics_benchdash, on BENCH_PG), migrated here, and
seeds it with bench/seed.py unless it already holds a seed of the asked size (`--reseed` forces a new
one); the daily rollups are then filled as the beat task would have. Timing is server-side and
in-process: Django's test client for the dashboard page (logged in as the site's owner), `engine.run`
for the API-style queries, on one warm database connection, with Django's cache cleared before every
run (the cache is local memory here: REDIS_URL is ignored so a shared Redis is never flushed).

The clock is pinned to the seed's last day, 22:00 UTC (23:00 or midnight in Berlin, the site's
timezone): that day is the tail, after the days the daily rollups hold — a dashboard looked at late in
the evening. Its provisional snapshot is taken as at 21:55 (SNAPSHOT_AGE: as old as the beat task's
refresh lets it get), so the visits started in its last minutes and since are read again from raw rows
(the seed is stored whole before it: the open visits a live site would change in those minutes are not).

Before timing, the process compiles the templates and freezes what it has loaded (gc.freeze), as humblytics/wsgi.py
does in a served worker.
Each case runs 3 times (RUNS); the table shows the median and the max, the target (unfiltered ≤ 300
ms, filtered ≤ 1 s) and PASS/FAIL, and is written into bench/README.md's Dashboard section.
`--explain` prints EXPLAIN (ANALYZE, BUFFERS) of the slowest SQL statements seen.

Settings (environment): BENCH_PG (postgres://postgres@127.0.0.1:5432), BENCH_DASH_DB (humblytics_benchdash),
BENCH_LIMIT_S (60: the statement timeout), BENCH_SET (PostgreSQL settings for the bench connection, like
"work_mem=64MB,jit=off", to measure a candidate fix).
"""

import argparse
import gc
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DB = os.environ.get("BENCH_DASH_DB", "humblytics_benchdash")
README = ROOT / "bench" / "README.md"
RUNS = 3
TARGET_UNFILTERED_MS, TARGET_FILTERED_MS = 300, 1000
# Experiments: BENCH_SET="work_mem=64MB,jit=off" changes PostgreSQL settings for the bench connection only.
SESSION_SETTINGS = [tuple(item.split("=", 1)) for item in os.environ.get("BENCH_SET", "").split(",") if "=" in item]
LIMIT_S = int(os.environ.get("BENCH_LIMIT_S", "60"))  # statement timeout; a case stops repeating after a run this long
SECTION = "## Dashboard (`make bench-dashboard`)"
BEGIN, END = "<!-- bench-dashboard:results -->", "<!-- /bench-dashboard:results -->"


def say(message):
    print(f"[bench] {message}", flush=True)


def django_setup():
    for key in [k for k in os.environ if k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))]:
        del os.environ[key]
    os.environ.update(
        DJANGO_SETTINGS_MODULE="humblytics.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),
        ENCRYPTION_KEY=secrets.token_urlsafe(32),
        API_KEY_PEPPER=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CELERY_TASK_ALWAYS_EAGER="true",
        DATABASE_URL=f"{PG}/{DB}",
        LOG_LEVEL="WARNING",
    )
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True, connect_timeout=5) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DB}"')
            say(f"created database {DB}")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)


# --- the seed -----------------------------------------------------------------------------------
def seed_ready(args):
    """(site, config): the existing seed of this size, or a fresh one."""
    from bench import seed
    from sites.models import Site
    from tracking.models import PageView

    config = seed.Config(pageviews=args.pageviews, days=args.days, seed=args.seed)
    site = Site.objects.filter(domain=seed.HOSTNAME).first()
    recorded = r"bench seed pv=(\d+) days=(\d+) end=(\S+) seed=(\d+) until=(\d+)"
    found = re.fullmatch(recorded, site.name) if site else None
    if found and not args.reseed and (int(found[1]), int(found[2]), int(found[4]), int(found[5])) == (
        config.pageviews, config.days, config.seed, config.until,
    ):  # fmt: skip
        config.end = date.fromisoformat(found[3])
        count = PageView.objects.filter(site_id=site.pk).count()
        if count == config.pageviews:
            say(f"reusing the seed ({count:,} page views, {config.start} – {config.end}); --reseed makes a new one")
            return site, config
    say(f"seeding {config.pageviews:,} page views over {config.days} days (ending {config.end})")
    site, _ = seed.seed(config, progress=lambda m: say(m))
    return site, config


def pinned_now(config):
    return config.now


# The beat task refreshes the provisional snapshot every 5 minutes (humblytics/celery.py): the pages are timed against
# one that old, the most the dashboard has to correct (the visits changed since it are read again from raw rows).
SNAPSHOT_AGE = timedelta(minutes=5)


def rollups_ready(site, now):
    from django.db import connection

    from tracking.rollups import rollups_fill

    started = time.monotonic()
    days = rollups_fill(site, now=now - SNAPSHOT_AGE)
    if days:
        say(f"filled {days} day(s) of rollups in {time.monotonic() - started:.0f} s")
    # Fresh summary tables have no statistics until autovacuum gets to them: without them the planner sorts
    # 100 k rollup rows on disk instead of hashing them. Production has autovacuum; the bench asks at once, for the
    # tables written since their last statistics only (as autovacuum would): sampling the 1.5 GB of segment rollups
    # again on every run read them through PostgreSQL's 128 MB of buffers just before the first timed page.
    tables = ("tracking_dailyrollup", "tracking_provisionalrollup", "tracking_provisionalvisit",
              "tracking_segmentrollup", "tracking_segmentprovisional", "tracking_weeklyrollup",
              "tracking_monthlyrollup", "tracking_visitcolumns", "tracking_provisionalcolumns",
              "tracking_columnvalues")  # fmt: skip
    # VACUUM too, as autovacuum soon would after a fill: a table just written has no visibility map (no index-only
    # scans) and unset hint bits, and an autovacuum of 1.6 GB of fresh segment rollups starting during the timed runs
    # took a core from them (this machine's first run after a fill: 13/16 within target, the next 16/16). Then a
    # CHECKPOINT, so the fill's dirty buffers are not written back under the timed runs either.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(%s) AND (n_mod_since_analyze > 0 "
            "OR n_ins_since_vacuum > 0 OR n_dead_tup > 0 OR (last_analyze IS NULL AND last_autoanalyze IS NULL))",
            [list(tables)],
        )
        written = [table for (table,) in cursor.fetchall()]
        started = time.monotonic()
        for table in written:
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        if written:
            cursor.execute("CHECKPOINT")
            took = time.monotonic() - started
            say(f"vacuumed {len(written)} table(s) written since their statistics in {took:.0f} s")


def live_day_hot(site, now):
    """Read the last day's raw rows once, as a live site's ingestion leaves them in PostgreSQL's buffers.

    On a live site the rows of the last hours were written (and their visits updated) minutes ago, and their heap and
    index pages are in shared buffers: a day of this site is ~60 MB beside 128 MB of buffers. Here the seed wrote them
    before the fills, which pushed them out, so the first dashboard timed read the active visitors' rows from disk
    (~110 ms of a 400 ms first run). Rollups and the column store are not read here: they stay as cold as they are."""
    from django.db import connection

    since = now - timedelta(days=1)
    with connection.cursor() as cursor:
        for table, column in (("tracking_visit", "started_at"), ("tracking_pageview", "timestamp"),
                              ("tracking_event", "timestamp")):  # fmt: skip
            sql = f"SELECT count(*) FROM (SELECT * FROM {table} WHERE site_id = %s AND {column} >= %s) AS t"  # noqa: S608
            cursor.execute(sql, [site.pk, since])  # the names are the constants above
        # The index entries ingestion touches: the visits' by visitor, the page views' and events' by visit.
        cursor.execute(
            "SELECT count(*) FROM tracking_visit WHERE site_id = %s AND visitor_id = ANY(ARRAY(SELECT visitor_id FROM "
            "tracking_visit WHERE site_id = %s AND started_at >= %s))",
            [site.pk, site.pk, since],
        )
        for table in ("tracking_pageview", "tracking_event"):
            sql = (
                f"SELECT count(*) FROM {table} WHERE visit_id = ANY(ARRAY(SELECT id FROM tracking_visit "  # noqa: S608
                "WHERE site_id = %s AND started_at >= %s))"
            )
            cursor.execute(sql, [site.pk, since])


# --- the cases ----------------------------------------------------------------------------------
ONE_FILTER = [["is", "visit:source", ["Google"]]]
TWO_FILTERS = [["is", "visit:source", ["Google"]], ["is", "event:page", ["/pricing"]]]
DASHBOARD_BREAKDOWNS = [
    ("visit:source", False), ("visit:channel", False), ("visit:utm_campaign", True), ("event:page", False),
    ("visit:entry_page", False), ("visit:country", False), ("visit:browser", False), ("visit:device", False),
    ("event:goal", False),
]  # fmt: skip
API_QUERIES = [
    ("API: sources", {"metrics": ["visitors", "visits", "bounce_rate", "visit_duration"],
                      "dimensions": ["visit:source"]}),
    ("API: pages", {"metrics": ["visitors", "pageviews", "bounce_rate", "visit_duration"],
                    "dimensions": ["event:page"]}),
    ("API: countries", {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:country"]}),
    ("API: browsers", {"metrics": ["visitors", "bounce_rate"], "dimensions": ["visit:browser"]}),
    ("API: daily time series", {"metrics": ["visitors", "visits", "pageviews", "bounce_rate"],
                                "dimensions": ["time:day"]}),
    ("API: sources in DE", {"metrics": ["visitors", "visits"], "dimensions": ["visit:source"],
                            "filters": [["is", "visit:country", ["DE"]]]}),
    ("API: goal conversions", {"metrics": ["visitors", "events", "conversion_rate"], "dimensions": ["event:goal"]}),
    ("API: entry pages", {"metrics": ["visits", "bounce_rate", "visit_duration"], "dimensions": ["visit:entry_page"]}),
    ("API: devices, 2 filters", {"metrics": ["visitors", "pageviews"], "dimensions": ["visit:device"],
                                 "filters": [["is", "visit:channel", ["Organic Search"]],
                                             ["contains", "event:page", ["/blog/"]]]}),
    ("API: 12 months by month", {"metrics": ["visitors", "pageviews"], "dimensions": ["time:month"],
                                 "date_range": "12mo"}),
]  # fmt: skip


class Case:
    def __init__(self, name, kind, filters, call):
        self.name, self.kind, self.filters, self.call = name, kind, filters, call
        self.times, self.queries, self.statements, self.error = [], 0, [], None

    @property
    def target(self):
        return TARGET_FILTERED_MS if self.filters else TARGET_UNFILTERED_MS

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def worst(self):
        return max(self.times)

    @property
    def passed(self):
        return self.error is None and self.worst <= self.target

    @property
    def verdict(self):
        if self.error:
            return f"FAIL (stopped at the {LIMIT_S} s statement timeout)"
        return "PASS" if self.passed else "FAIL"


def dashboard_url_exists():
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("dashboard:dashboard", args=["example.com"])
    except NoReverseMatch:
        return False
    return True


def page_cases(site, config, client):
    from django.urls import reverse

    start90 = config.end - timedelta(days=89)
    custom90 = {"period": "custom", "from": start90.isoformat(), "to": config.end.isoformat()}
    periods = [("30 days", {"period": "30d"}), ("90 days", custom90)]
    filters = [(0, []), (1, ["is,visit:source,Google"]), (2, ["is,visit:source,Google", "is,event:page,/pricing"])]
    url = reverse("dashboard:dashboard", args=[site.domain])
    cases = []
    for label, params in periods:
        for n, fs in filters:

            def call(params=params, fs=fs):
                response = client.get(url, {**params, "f": fs})
                if response.status_code != 200 or b"Visitors" not in response.content:
                    raise AssertionError(f"dashboard answered {response.status_code}: {response.content[:300]!r}")

            name = f"page /sites/{site.domain}/, {label}" + (f", {n} filter{'s' * (n > 1)}" if n else "")
            cases.append(Case(name, "page", n, call))
    return cases


def dashboard_query_cases(site, config):
    """The engine queries the dashboard runs, for when its view is not wired yet."""
    from dashboard import engine
    from dashboard.query import build

    today = config.end
    cards = ["visitors", "visits", "pageviews", "views_per_visit", "bounce_rate", "visit_duration"]
    cases = []
    for label, days, interval in (("30 days", 30, "time:day"), ("90 days", 90, "time:day")):
        current = [(today - timedelta(days=days - 1)).isoformat(), today.isoformat()]
        previous = [(today - timedelta(days=2 * days - 1)).isoformat(), (today - timedelta(days=days)).isoformat()]
        for n, filters in ((0, []), (1, ONE_FILTER), (2, TWO_FILTERS)):

            def call(current=current, previous=previous, filters=filters, interval=interval):
                def ask(metrics, date_range, dimensions=(), extra=(), limit=9):
                    payload = {"metrics": metrics, "date_range": date_range, "dimensions": list(dimensions),
                               "filters": [*filters, *extra], "pagination": {"limit": limit}}  # fmt: skip
                    return engine.run(site, build(payload, today=today))

                ask(cards, current)
                ask(cards, previous)
                ask(["visitors", "pageviews"], current, [interval], limit=1000)
                for dimension, skip_empty in DASHBOARD_BREAKDOWNS:
                    metrics = ["visitors", "events", "conversion_rate"] if dimension == "event:goal" else ["visitors"]
                    ask(metrics, current, [dimension], [["is_not", dimension, [""]]] if skip_empty else [])

            name = f"dashboard queries, {label}" + (f", {n} filter{'s' * (n > 1)}" if n else "")
            cases.append(Case(name, "queries", n, call))
    return cases


def api_cases(site, config):
    from dashboard import engine
    from dashboard.query import build

    cases = []
    for name, body in API_QUERIES:
        payload = {"date_range": "30d", **body}

        def call(payload=payload):
            result = engine.run(site, build(payload, today=config.end))
            if not result.rows:
                raise AssertionError(f"{payload} gave no rows")

        cases.append(
            Case(name + (" (12mo)" if body.get("date_range") else " (30d)"), "API", len(body.get("filters", [])), call)
        )
    return cases


def measure(cases, runs=RUNS):
    from django.core.cache import cache
    from django.db import DatabaseError, connection
    from django.test.utils import CaptureQueriesContext

    with connection.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = '{LIMIT_S}s'")  # a pathological plan fails its row, not the run
        for name, value in SESSION_SETTINGS:
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])
            say(f"session setting {name} = {value}")
    for case in cases:
        for _ in range(runs):
            cache.clear()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                try:
                    case.call()
                except DatabaseError as error:
                    case.error = str(error).splitlines()[0]
                case.times.append((time.perf_counter() - started) * 1000)
            case.queries = len(captured.captured_queries)
            case.statements = sorted(
                ((float(q["time"] or 0) * 1000, q["sql"]) for q in captured.captured_queries), reverse=True
            )[:3]
            if case.error or case.times[-1] > LIMIT_S * 1000:
                break  # one run that long says enough
        note = f" ({case.error})" if case.error else ""
        say(f"{case.name}: median {case.median:.0f} ms, max {case.worst:.0f} ms, {case.queries} queries{note}")


def table(cases):
    lines = [
        "| case | filters | SQL queries | median ms | max ms | target ms | result |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for case in cases:
        lines.append(
            f"| {case.name} | {case.filters} | {case.queries} | {case.median:.0f} | {case.worst:.0f} | "
            f"{case.target} | {case.verdict} |"
        )
    return "\n".join(lines)


def readme_write(text):
    current = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{text}\n{END}"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        current = head + block + rest.split(END, 1)[1]
    elif SECTION in current:
        current = current.rstrip("\n") + "\n\n" + block + "\n"
    else:
        current = current.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    README.write_text(current, encoding="utf-8")


def explain(cases, top=4):
    from django.db import DatabaseError, connection, transaction

    statements = sorted({(ms, sql) for case in cases for ms, sql in case.statements}, reverse=True)
    seen = set()
    for ms, sql in statements:
        if sql in seen or not sql.lstrip().upper().startswith("SELECT"):
            continue
        seen.add(sql)
        print(f"\n--- {ms:.0f} ms ---\n{sql}\n")
        for prefix in ("EXPLAIN (ANALYZE, BUFFERS) ", "EXPLAIN "):  # a statement that timed out: its plan only
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(prefix + sql)
                    print("\n".join(row[0] for row in cursor.fetchall()))
                break
            except DatabaseError as error:
                print(f"({prefix.strip()}: {str(error).splitlines()[0]})")
        if len(seen) >= top:
            break


def main(argv=None):
    from bench.seed import Config

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pageviews", type=int, default=Config.pageviews)
    parser.add_argument("--days", type=int, default=Config.days)
    parser.add_argument("--seed", type=int, default=Config.seed)
    parser.add_argument("--reseed", action="store_true", help="seed again even if the database holds the seed")
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--only", help="run only the cases whose name matches this regular expression")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest SQL statements")
    parser.add_argument("--no-readme", action="store_true", help="do not write the table into bench/README.md")
    parser.add_argument("--prepare-only", action="store_true", help=argparse.SUPPRESS)  # the child below
    args = parser.parse_args(argv)
    if not args.prepare_only:
        # The seed and the fills in a process of their own, as the beat task fills in a worker of its own: the timed
        # process then starts with the heap of a served worker, not the one ten minutes of filling left behind (right
        # after a fill in the same process, every case ran up to 1.3× slower than in the next run).
        child = [sys.executable, __file__, "--prepare-only", "--pageviews", str(args.pageviews), "--days",
                 str(args.days), "--seed", str(args.seed), *(["--reseed"] if args.reseed else [])]  # fmt: skip
        if subprocess.run(child, check=False).returncode:
            say("preparing the seed and the rollups failed")
            return 2
        args.reseed = False
    django_setup()

    from django.conf import settings
    from django.test import Client, override_settings

    from sites.models import Membership

    site, config = seed_ready(args)
    now = pinned_now(config)
    rollups_ready(site, now)
    if args.prepare_only:
        return 0
    live_day_hot(site, now)
    # As a served worker does at start-up (humblytics/wsgi.py): the templates are compiled, and what is loaded by now
    # lives as long as the process, so the cyclic collector's full passes over it stop landing in the timings.
    from humblytics.startup import warm_templates

    warm_templates()
    gc.collect()
    gc.freeze()
    owner = Membership.objects.filter(site=site, role="owner").first().user
    client = Client()
    client.force_login(owner)
    # Production serves collectstatic's manifest; without one, plain static URLs (the same template work).
    plain_static = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with mock.patch("dashboard.views.now", lambda: now), override_settings(STORAGES=plain_static):
        if dashboard_url_exists():
            cases = page_cases(site, config, client)
        else:
            say("dashboard:dashboard is not wired yet: timing the engine queries the page runs instead")
            cases = dashboard_query_cases(site, config)
        cases += api_cases(site, config)
        if args.only:
            cases = [case for case in cases if re.search(args.only, case.name)]
        measure(cases, runs=args.runs)
    result = table(cases)
    print("\n" + result + "\n")
    failed = [case for case in cases if not case.passed]
    summary = (
        f"{config.pageviews:,} page views, {config.days} days ending {config.end}; clock pinned at "
        f"{now:%Y-%m-%d %H:%M} UTC; {args.runs} runs per case, cache cleared before each; measured "
        f"{datetime.now(UTC):%Y-%m-%d}. {len(cases) - len(failed)}/{len(cases)} within target."
    )
    if not args.no_readme and not args.only:
        readme_write(f"{summary}\n\n{result}")
        say(f"wrote the table into {README.relative_to(ROOT)}")
    if args.explain:
        explain(sorted(cases, key=lambda c: c.worst, reverse=True))
    print(summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

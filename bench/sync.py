"""`make bench-sync`: a Stripe backfill of 5,000 payments from localstripe, timed, with API calls per payment.

Starts, on loopback only: localstripe (the tests' launcher, tests/revenue/localstripe.py, plus an index, below)
and a fresh database (`humblytics_bench_sync` on the PostgreSQL answering at BENCH_PG, else a throw-away SQLite
file). Creates a site with one page view per attributable payment, then the payments through the stripe SDK:
- 60 % one-time PaymentIntents with the view id on the PaymentIntent;
- 10 % one-time PaymentIntents of a customer whose metadata carries the id (one customer each);
- 25 % subscription invoices: BENCH_PAYMENTS/20 subscriptions carrying the id, each with its first invoice
  and four renewals (a second invoice paid, localstripe's stand-in for a renewal: it has no clock);
- 5 % one-time PaymentIntents without any id.
Then one full sync from scratch (`services.sync_run`) with STRIPE_MAX_REQUESTS_PER_SECOND set far above any
real limit: localstripe has no rate limit, so this measures our work and the emulator's, not Stripe's budget
(the projection at the real budget is printed too). Counted: every API call by endpoint (a StripeAPI subclass)
and the lookup calls per charge (a Resolver subclass recording `api.calls` around `resolve`; their sum must
equal SyncReport.lookup_calls).

Why the index: localstripe keeps every object in one dict and scans all of it for every list and for every
charge it renders (`Charge.refunds` lists refunds by scanning the whole store). With 20,000 objects one page
of 100 charges took seconds and creating the payments took minutes. The bench's child process keeps a second
dict per object kind (same insertion order, so lists come out exactly as before) and lists from that.

Settings (environment): BENCH_PAYMENTS (5000), BENCH_THREADS (4), BENCH_PG (postgres://postgres@127.0.0.1:5432),
BENCH_DB (humblytics_bench_sync), BENCH_KEEP (1: keep the database and localstripe's log), BENCH_PROFILE (a path:
cProfile stats of the sync, e.g. for `python -m pstats`).
"""

import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "5000"))
THREADS = int(os.environ.get("BENCH_THREADS", "4"))
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DB = os.environ.get("BENCH_DB", "humblytics_bench_sync")
KEEP = os.environ.get("BENCH_KEEP") == "1"
PROFILE = os.environ.get("BENCH_PROFILE")  # a path: cProfile stats of the sync (pstats format)
KEY = "sk_test_bench_sync"
RENEWALS_PER_SUBSCRIPTION = 4
REAL_BUDGETS = (4, 25)  # requests/s: our default (STRIPE_MAX_REQUESTS_PER_SECOND) and Stripe's test-mode limit
TARGET_ONE_TIME, TARGET_RENEWAL = 2, 1

# Prepended to the launcher's child code (tests/revenue/localstripe.py): see the module docstring.
_INDEX = r"""
from localstripe import resources as _r
_by_kind = {}
def _kind(key):
    return key.split(":", 1)[0] if isinstance(key, str) and ":" in key else None
def _setitem(self, key, value):
    dict.__setitem__(self, key, value)
    if _kind(key):
        _by_kind.setdefault(_kind(key), {})[key] = value
def _delitem(self, key):
    dict.__delitem__(self, key)
    _by_kind.get(_kind(key), {}).pop(key, None)
def _clear(self):
    dict.clear(self)
    _by_kind.clear()
_r.Store.__setitem__, _r.Store.__delitem__, _r.Store.clear = _setitem, _delitem, _clear
def _list_all(cls, url, limit=None, starting_after=None, **kwargs):
    if kwargs:
        raise _r.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
    li = _r.List(url, limit=limit, starting_after=starting_after)
    li._list = list(_by_kind.get(cls.object, {}).values())
    return li
_r.StripeObject._api_list_all = classmethod(_list_all)
"""


def say(message):
    print(f"[bench] {message}", flush=True)


# --- the database -------------------------------------------------------------------------------
def database_url():
    try:
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{DB}"')
        return f"{PG}/{DB}", None
    except Exception as error:  # any failure means "no PostgreSQL here": fall back to SQLite
        path = Path(tempfile.mkdtemp(prefix="bench-sync-")) / "bench.sqlite3"
        say(f"PostgreSQL at {PG} unusable ({type(error).__name__}); using SQLite at {path}")
        return f"sqlite:///{path}", path


def drop_database(sqlite_path):
    if sqlite_path is not None:
        sqlite_path.unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


def django_setup(url):
    os.environ.update(
        DJANGO_SETTINGS_MODULE="humblytics.settings", DEBUG="true", DATABASE_URL=url, LOG_LEVEL="WARNING",
        CELERY_TASK_ALWAYS_EAGER="true",
    )  # fmt: skip
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The env helper caps this at 50 (real Stripe allows 25-100 per account); localstripe has no limit.
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 1_000_000
    call_command("migrate", verbosity=0)


# --- the payments -------------------------------------------------------------------------------
class Plan:
    def __init__(self, payments):
        self.subscriptions = max(1, payments // 20)
        subscription_payments = self.subscriptions * (1 + RENEWALS_PER_SUBSCRIPTION)
        self.on_customer = payments // 10
        self.without_id = payments // 20
        self.on_pi = payments - subscription_payments - self.on_customer - self.without_id
        self.views = self.on_pi + self.on_customer + self.subscriptions


def create_payments(url, plan, views):
    """Create the plan's payments in localstripe; returns {PaymentIntent id: kind}."""
    from revenue.stripe.client import EmulatorWriter as DemoStripe

    writers = {}

    def writer():
        import threading

        ident = threading.get_ident()
        if ident not in writers:
            writers[ident] = DemoStripe(url, KEY)
        return writers[ident]

    shared_plan = DemoStripe(url, KEY).plan(2500, "usd")
    view_iter = iter(views)
    tasks = (
        [("one_time_pi", next(view_iter)) for _ in range(plan.on_pi)]
        + [("one_time_customer", next(view_iter)) for _ in range(plan.on_customer)]
        + [("subscription", next(view_iter)) for _ in range(plan.subscriptions)]
        + [("one_time_no_id", None) for _ in range(plan.without_id)]
    )

    def run(task):
        kind, view_id = task
        stripe_writer = writer()
        if kind == "one_time_pi":
            return {stripe_writer.pay(1999, "usd", view_id=view_id).id: kind}
        if kind == "one_time_customer":
            customer = stripe_writer.customer("buyer@example.org", view_id=view_id)
            return {stripe_writer.pay(4900, "usd", customer=customer.id).id: kind}
        if kind == "one_time_no_id":
            return {stripe_writer.pay(900, "usd").id: kind}
        customer = stripe_writer.customer("subscriber@example.org")
        subscription = stripe_writer.subscribe(customer, shared_plan, view_id=view_id)
        first = stripe_writer.client.v1.invoices.retrieve(subscription.latest_invoice)
        made = {first.payment_intent: "subscription_first"}
        for _ in range(RENEWALS_PER_SUBSCRIPTION):
            made[stripe_writer.renew(customer, subscription).payment_intent] = "renewal"
        return made

    kinds = {}
    with ThreadPoolExecutor(THREADS) as pool:
        for made in pool.map(run, tasks):
            kinds.update(made)
    return kinds


def store_views(site, count):
    """One page view (and visit) per attributable payment, a few seconds apart, over the last days."""
    import secrets

    from django.utils import timezone

    from tracking.services import events_store

    start = timezone.now() - timedelta(days=7)
    views = [secrets.token_urlsafe(16) for _ in range(count)]
    base = {
        "kind": "pageview", "site": site.pk, "name": "pageview", "prev_visitor": None, "hostname": site.domain,
        "pathname": "/checkout", "props": {}, "interactive": True, "revenue_amount": None, "revenue_currency": "",
        "scroll_depth": None, "engaged_ms": None, "checkout_session_id": "", "referrer": "", "referrer_host": "",
        "source": "Direct / None", "channel": "Direct", "utm_source": "", "utm_medium": "", "utm_campaign": "",
        "utm_content": "", "utm_term": "", "click_id": "", "country": "DE", "region": "DE-BE", "city": "Berlin",
        "browser": "Firefox", "browser_version": "133.0", "os": "Linux", "os_version": "", "device": "Desktop",
        "screen_class": "Desktop",
    }  # fmt: skip
    for offset in range(0, count, 1000):
        events_store([
            {**base, "ts": (start + timedelta(seconds=10 * i)).timestamp(), "view_id": views[i], "visitor": i + 1}
            for i in range(offset, min(offset + 1000, count))
        ])  # fmt: skip
    return views


# --- counting -----------------------------------------------------------------------------------
def counting_classes():
    from revenue.resolve import Resolver
    from revenue.stripe.client import StripeAPI

    class CountingAPI(StripeAPI):
        """The app's client, counting calls and seconds per endpoint."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.by_endpoint, self.seconds = Counter(), Counter()

    def counted(name):
        method = getattr(StripeAPI, name)

        def wrapper(self, *args, **kwargs):
            before, started = self.calls, time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                self.by_endpoint[name] += self.calls - before
                self.seconds[name] += time.perf_counter() - started

        return wrapper

    for name in (
        "list_charges", "retrieve_charge", "retrieve_payment_intent", "retrieve_invoice", "retrieve_subscription",
        "retrieve_customer", "invoice_payments_for", "checkout_sessions_for", "list_refunds", "list_disputes",
    ):  # fmt: skip
        setattr(CountingAPI, name, counted(name))

    class CountingResolver(Resolver):
        per_charge = {}

        def resolve(self, charge_raw):
            before = self.api.calls
            try:
                return super().resolve(charge_raw)
            finally:
                CountingResolver.per_charge[charge_raw.get("id")] = self.api.calls - before

    return CountingAPI, CountingResolver


# --- the run ------------------------------------------------------------------------------------
def bench(url):
    from django.conf import settings

    from accounts.models import User
    from revenue import services, sync
    from revenue.models import Payment
    from sites import services as site_services

    plan = Plan(PAYMENTS)
    user = User.objects.create_user(email="bench@example.org", password=None)
    site = site_services.site_create(owner=user, domain="benchsync.example", currency="USD")
    started = time.monotonic()
    views = store_views(site, plan.views)
    say(f"{len(views)} page views stored in {time.monotonic() - started:.1f} s")

    started = time.monotonic()
    kinds = create_payments(url, plan, views)
    created_s = time.monotonic() - started
    say(f"{len(kinds)} payments created in localstripe in {created_s:.1f} s ({len(kinds) / created_s:.0f}/s, "
        f"{THREADS} threads)")  # fmt: skip

    services.sync_request = lambda **_: None  # connect without its eager sync: the bench times the sync itself
    settings.STRIPE_API_BASE = url
    connection = services.connection_connect(site=site, secret_key=KEY, user=user)
    CountingAPI, CountingResolver = counting_classes()
    sync.Resolver = CountingResolver
    api = CountingAPI(KEY, api_base=url, max_requests_per_second=settings.STRIPE_MAX_REQUESTS_PER_SECOND)

    from django.utils import timezone

    sync_started_at = timezone.now()
    started = time.monotonic()
    if PROFILE:
        import cProfile

        profiler = cProfile.Profile()
        report = profiler.runcall(services.sync_run, connection_id=connection.pk, api=api)
        profiler.dump_stats(PROFILE)
    else:
        report = services.sync_run(connection_id=connection.pk, api=api)
    sync_s = time.monotonic() - started
    assert report is not None and not report.error, report

    rows = list(Payment.objects.filter(site=site).values("stripe_id", "charge_id", "attribution", "view_source",
                                                         "attributed_at"))  # fmt: skip
    per_charge = CountingResolver.per_charge
    by_kind = defaultdict(list)
    for row in rows:
        by_kind[kinds.get(row["stripe_id"], "unknown")].append(row)
    attributed_at = [r["attributed_at"] for r in rows if r["attributed_at"]]
    last_attributed_s = (max(attributed_at) - sync_started_at).total_seconds() if attributed_at else None
    return {
        "plan": plan, "created": len(kinds), "created_s": created_s, "report": report, "sync_s": sync_s,
        "rows": rows, "by_kind": by_kind, "per_charge": per_charge, "api": api,
        "last_attributed_s": last_attributed_s,
    }  # fmt: skip


LABELS = {
    "one_time_pi": "one-time, id on the PaymentIntent",
    "one_time_customer": "one-time, id on the Customer",
    "one_time_no_id": "one-time, no id anywhere",
    "subscription_first": "subscription's first invoice",
    "renewal": "renewal (subscription already known)",
}


def print_results(r):
    report, rows, per_charge, api = r["report"], r["rows"], r["per_charge"], r["api"]
    n = len(rows)
    lookups = sum(per_charge.values())
    http_s = sum(api.seconds.values())
    statuses = Counter(row["attribution"] for row in rows)
    sources = Counter(row["view_source"] for row in rows if row["view_source"])
    lines = [
        "| measure | value | target |",
        "|---|---|---|",
        f"| payments synced (created) | {n:,} ({r['created']:,}) | |",
        f"| full sync from scratch | {r['sync_s']:.1f} s | |",
        f"| payments/s | {n / r['sync_s']:,.0f} | |",
        f"| time until the last payment was attributed | {r['last_attributed_s']:.1f} s after the sync started | |",
        f"| API calls, total | {report.api_calls:,} ({report.api_calls / n:.2f} per payment) | |",
        f"| of which listing charges | {api.by_endpoint['list_charges']} pages | |",
        f"| of which lookups (SyncReport.lookup_calls) | {report.lookup_calls:,} (per-charge sum {lookups:,}) | |",
        f"| time inside Stripe calls (localstripe) | {http_s:.1f} s of {r['sync_s']:.1f} s | |",
    ]
    for budget in REAL_BUDGETS:
        lines.append(f"| the same calls at {budget} requests/s | {report.api_calls / budget / 60:.1f} min | |")
    lines += [
        "",
        "| payments | count | attributed | lookup calls per payment: mean / max | target |",
        "|---|---|---|---|---|",
    ]
    for kind, label in LABELS.items():
        kind_rows = r["by_kind"].get(kind, [])
        calls = [per_charge.get(row["charge_id"], 0) for row in kind_rows]
        attributed = sum(row["attribution"] == "attributed" for row in kind_rows)
        target = TARGET_RENEWAL if kind == "renewal" else TARGET_ONE_TIME if kind.startswith("one_time") else None
        verdict = ""
        if target is not None and calls:
            verdict = f"≤ {target} {'ok' if max(calls) <= target else 'MISSED'}"
        mean = sum(calls) / len(calls) if calls else 0
        lines.append(f"| {label} | {len(kind_rows):,} | {attributed:,} | {mean:.2f} / {max(calls, default=0)} | "
                     f"{verdict} |")  # fmt: skip
    lines += [
        "",
        "| endpoint | calls | seconds |",
        "|---|---|---|",
        *(f"| {name} | {count:,} | {api.seconds[name]:.1f} |" for name, count in api.by_endpoint.most_common()),
    ]
    print("\n".join(lines))
    unknown = len(r["by_kind"].get("unknown", []))
    say(f"statuses {dict(statuses)}; view sources {dict(sources)}; payments of no known kind {unknown}")


def main():
    url, sqlite_path = database_url()
    say(f"database {url}")
    django_setup(url)
    from tests.revenue import localstripe as launcher

    launcher._SERVE = _INDEX + launcher._SERVE  # the index, in the child only (see the module docstring)
    server = launcher.LocalStripe(python=sys.executable)
    try:
        server.start()
        say(f"localstripe on {server.url} (started in {server.startup_seconds:.1f} s)")
        print_results(bench(server.url))
    finally:
        server.stop()
        if KEEP:
            say(f"kept: database {url}, localstripe log {server.log_path}")
        else:
            server.remove_log()
            from django.db import connections

            connections.close_all()
            drop_database(sqlite_path)


if __name__ == "__main__":
    main()

"""`make demo`: the whole product on this machine, revenue included, without a Stripe account.

Starts localstripe on loopback (tests/revenue/localstripe.py: its disk dump off), creates the demo login and
a fresh demo site with a month of generated traffic (stored through tracking.services.events_store, as the
flusher would), then Stripe objects through the stripe SDK that carry the view ids of real page views of
that traffic. It connects the site with a test key, syncs, fills the rollups, prints what the sync found and
serves the app on 127.0.0.1 with localstripe kept running, until Ctrl-C stops both.

Run twice, it gives the same picture: the demo site is deleted and rebuilt each time (localstripe starts
empty, so payments synced from an earlier run would point at objects that no longer exist).

This command writes to Stripe (the emulator), which the app never does, so it uses the SDK itself rather than
revenue.stripe.client, the app's read-only client.
"""

import base64
import os
import random
import signal
import socket
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from django.utils import timezone

from accounts.models import User
from revenue import selectors, services
from revenue.models import Payment
from revenue.stripe.client import EmulatorWriter as DemoStripe
from sites import services as site_services
from sites.management.commands.demo_setup import DEMO_DOMAIN, DEMO_EMAIL, DEMO_PASSWORD
from sites.models import Site
from tracking import devices, sources
from tracking.rollups import rollups_fill
from tracking.services import events_store

STRIPE_KEY = "sk_test_humblytics_demo"
ONE_TIME_AMOUNTS = (4900, 9900, 2900, 14900, 19900, 4900)  # cents; the second is half refunded
VISITS = 360
DAYS = 30

# (referrer, query string of the landing URL, weight): what tracking.sources.classify turns into source/channel.
TRAFFIC = [
    ("https://www.google.com/", "", 30),
    ("", "", 20),
    ("https://duckduckgo.com/", "", 5),
    ("https://www.bing.com/", "", 4),
    ("https://news.ycombinator.com/", "", 7),
    ("https://www.reddit.com/r/webdev/", "", 5),
    ("https://t.co/x7Qk2", "", 4),
    ("https://www.linkedin.com/", "", 3),
    ("https://chatgpt.com/", "", 3),
    ("https://github.com/", "", 4),
    ("https://www.indiehackers.com/post/privacy-analytics", "", 3),
    ("", "?utm_source=newsletter&utm_medium=email&utm_campaign=spring-launch", 6),
    ("https://www.google.com/", "?gclid=demo", 4),
    ("https://www.producthunt.com/", "?ref=producthunt", 2),
]
# (country, region, city, weight)
PLACES = [
    ("US", "US-CA", "San Francisco", 14), ("US", "US-NY", "New York", 12), ("US", "US-TX", "Austin", 5),
    ("DE", "DE-BE", "Berlin", 10), ("GB", "GB-ENG", "London", 9), ("FR", "FR-IDF", "Paris", 6),
    ("IN", "IN-KA", "Bengaluru", 6), ("CA", "CA-ON", "Toronto", 5), ("NL", "NL-NH", "Amsterdam", 4),
    ("BR", "BR-SP", "São Paulo", 4), ("JP", "JP-13", "Tokyo", 3), ("AU", "AU-NSW", "Sydney", 3),
    ("ES", "ES-MD", "Madrid", 3), ("SE", "SE-AB", "Stockholm", 2), ("PL", "PL-14", "Warsaw", 2),
]  # fmt: skip
# (User-Agent, viewport width, weight): browser, OS and device come from tracking.devices, as on ingestion.
AGENTS = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", 1536, 26),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36", 1440, 14),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
     "Safari/605.1.15", 1440, 9),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/18.1 Mobile/15E148 Safari/604.1", 390, 16),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
     "Safari/537.36", 412, 12),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 1920, 7),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 1920, 4),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
     "Safari/537.36 Edg/131.0.0.0", 1536, 7),
    ("Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
     "Mobile/15E148 Safari/604.1", 820, 3),
    ("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", 384, 2),
]  # fmt: skip
ENTRY_PAGES = [
    ("/", 30), ("/pricing", 10), ("/features", 8), ("/blog/cookie-free-analytics", 9),
    ("/blog/stripe-revenue-attribution", 7), ("/blog/plausible-vs-humblytics", 5), ("/docs/getting-started", 6),
    ("/docs/revenue", 3), ("/compare/google-analytics", 4),
]  # fmt: skip
NEXT_PAGES = [("/pricing", 8), ("/features", 5), ("/docs/getting-started", 4), ("/signup", 3), ("/blog", 3)]


def _pick(rng, rows):
    return rng.choices(rows, weights=[row[-1] for row in rows])[0]


def _view_id(rng):
    # What the tracker makes: 16 random bytes as 22 characters of base64url.
    return base64.urlsafe_b64encode(rng.randbytes(16)).rstrip(b"=").decode()


def traffic_generate(site, *, now, rng, visits=VISITS, buyers=9):
    """Store `visits` visits over the last DAYS days; returns the buyers' checkout page views, oldest first.

    Each buyer is a visit that went on to /pricing and /checkout; its /checkout view id is the one the demo
    puts into Stripe, as a merchant's checkout would.
    """
    start = now - timedelta(days=DAYS)
    times = sorted(start + timedelta(seconds=rng.uniform(0, DAYS * 86400 - 3600)) for _ in range(visits))
    buyer_at = set(range(visits // (buyers + 1), visits, visits // (buyers + 1))[:buyers])
    records, checkouts, visitors = [], [], []
    for index, started in enumerate(times):
        referrer, query, _ = _pick(rng, TRAFFIC)
        entry = _pick(rng, ENTRY_PAGES)[0]
        source = sources.classify(page_url=f"https://{site.domain}{entry}{query}", referrer=referrer or None,
                                  site_domain=site.domain)  # fmt: skip
        country, region, city, _ = _pick(rng, PLACES)
        agent, width, _ = _pick(rng, AGENTS)
        device = devices.parse_user_agent(agent)
        # A fifth of the visits are a returning visitor of the same day (the visitor id is daily).
        same_day = [v for v, day in visitors if day == started.date()]
        visitor = rng.choice(same_day) if same_day and rng.random() < 0.2 else rng.getrandbits(63)
        visitors.append((visitor, started.date()))
        paths = [entry]
        if index in buyer_at:
            paths += [p for p in ("/pricing", "/checkout") if p != entry]
        else:
            while rng.random() < (0.55 if len(paths) == 1 else 0.4) and len(paths) < 6:
                paths.append(_pick(rng, NEXT_PAGES)[0])
        at = started
        for position, path in enumerate(paths):
            view = _view_id(rng)
            records.append({
                "kind": "pageview", "site": site.pk, "ts": at.timestamp(), "view_id": view, "name": "pageview",
                "visitor": visitor, "prev_visitor": None, "hostname": site.domain, "pathname": path, "props": {},
                "interactive": True, "revenue_amount": None, "revenue_currency": "", "scroll_depth": None,
                "engaged_ms": None, "checkout_session_id": "",
                "referrer": source.referrer if position == 0 else "", "referrer_host": source.referrer_host,
                "source": source.source, "channel": source.channel, "utm_source": source.utm_source,
                "utm_medium": source.utm_medium, "utm_campaign": source.utm_campaign,
                "utm_content": source.utm_content, "utm_term": source.utm_term, "click_id": source.click_id,
                "country": country, "region": region, "city": city, "browser": device.browser,
                "browser_version": device.browser_version, "os": device.os, "os_version": device.os_version,
                "device": device.device, "screen_class": devices.screen_class(width),
            })  # fmt: skip
            if path == "/checkout":
                checkouts.append({"view_id": view, "source": source.source, "country": country})
            at += timedelta(seconds=rng.randint(15, 240))
    events_store(records)
    return checkouts, len(records)


def stripe_objects_create(stripe_writer, checkouts, currency, rng):
    """The demo's payments, each kind of attribution once or more; returns what was made, for the printout."""
    made = []
    for number, (checkout, amount) in enumerate(zip(checkouts[:6], ONE_TIME_AMOUNTS, strict=True)):
        intent = stripe_writer.pay(amount, currency, view_id=checkout["view_id"])
        made.append(("one-time PaymentIntent with the id", checkout, intent))
        if number == 1:
            stripe_writer.refund(intent, amount // 2)
            made.append(("refund of half of it", checkout, None))

    subscriber = checkouts[6]
    customer = stripe_writer.customer("grace@example.org")
    plan = stripe_writer.plan(2500, currency)
    subscription = stripe_writer.subscribe(customer, plan, view_id=subscriber["view_id"])
    made.append(("subscription with the id (its first invoice)", subscriber, subscription))
    stripe_writer.renew(customer, subscription)
    made.append(("its renewal (a second invoice, no id of its own)", subscriber, None))

    # The id only on the customer (e.g. stored at sign-up), credited to a payment made later without one.
    loyal = checkouts[7]
    customer = stripe_writer.customer("ada@example.org", view_id=loyal["view_id"])
    stripe_writer.pay(7900, currency, customer=customer.id)
    made.append(("later payment of a customer carrying the id", loyal, None))

    # The id of a view that has not reached the database (yet): pending, then "view not found" after 48 h.
    stripe_writer.pay(4900, currency, view_id=_view_id(rng))
    made.append(("payment whose page view never arrived", None, None))
    # An integration that forgot the id.
    stripe_writer.pay(1900, currency)
    made.append(("payment without any id", None, None))
    return made


def demo_build(*, stripe_url, now=None, seed=7, stdout=None):
    """Everything but serving: returns (site, user, overview, payments by view source)."""
    now = now or timezone.now()
    rng = random.Random(seed)  # noqa: S311 - made-up traffic, repeatable by seed; nothing secret
    settings.STRIPE_API_BASE = stripe_url  # the sync (and a "Sync now" in this process) reads localstripe
    with transaction.atomic():
        user = User.objects.filter(email=DEMO_EMAIL).first()
        if user is None:
            user = User.objects.create_superuser(email=DEMO_EMAIL, password=DEMO_PASSWORD)
        Site.objects.filter(domain=DEMO_DOMAIN).delete()  # rebuilt from scratch: see the module docstring
        site = site_services.site_create(owner=user, domain=DEMO_DOMAIN, name="Demo site", currency="USD")
    checkouts, pageviews = traffic_generate(site, now=now, rng=rng)
    if stdout:
        stdout.write(f"Traffic: {pageviews} page views in {VISITS} visits over the last {DAYS} days.")
    made = stripe_objects_create(DemoStripe(stripe_url), checkouts, site.currency, rng)
    if stdout:
        stdout.write("Stripe objects (localstripe):")
        for what, checkout, _ in made:
            where = f" → view {checkout['view_id']} ({checkout['source']}, {checkout['country']})" if checkout else ""
            stdout.write(f"  - {what}{where}")
    connection = services.connection_connect(site=site, secret_key=STRIPE_KEY, user=user)
    report = services.sync_run(connection_id=connection.pk)
    if report is not None and report.error:
        raise CommandError(f"The sync failed: {report.error}")
    rollups_fill(site, now=now)
    by_source = Counter(
        Payment.objects.filter(site=site, attribution=Payment.Attribution.ATTRIBUTED).values_list(
            "view_source", flat=True
        )
    )
    return site, user, selectors.revenue_overview(site=site), dict(by_source)


def _money(value, currency):
    return f"{value or 0:,.2f} {currency}"


class Command(BaseCommand):
    help = "Demo with revenue: localstripe, a demo site with traffic and attributed Stripe payments, then runserver."

    def add_arguments(self, parser):
        parser.add_argument("--stripe-url", help="use this Stripe-compatible server instead of starting localstripe")
        parser.add_argument("--no-serve", dest="serve", action="store_false", help="build the demo, then exit")
        parser.add_argument("--port", type=int, default=8000, help="runserver's port on 127.0.0.1 (default 8000)")
        parser.add_argument("--seed", type=int, default=7, help="random seed of the generated traffic")

    def handle(self, *args, stripe_url=None, serve=True, port=8000, seed=7, **options):
        if not settings.DEBUG:
            raise CommandError("The demo rebuilds a site and a published superuser login: it runs only with DEBUG on.")
        if serve and not _port_free(port):
            raise CommandError(f"127.0.0.1:{port} is in use (is `make run` running?): stop it or pass --port.")
        server = None
        if not stripe_url:
            server = _localstripe()
            stripe_url = server.start()
            self.stdout.write(f"localstripe answers on {stripe_url} (loopback only, in memory).")
        try:
            site, user, overview, by_source = demo_build(stripe_url=stripe_url, seed=seed, stdout=self.stdout)
            self._print_summary(site, user, overview, by_source, port)
            if serve:
                self._serve(stripe_url, port)
        finally:
            if server is not None:
                server.stop()
                server.remove_log()

    def _print_summary(self, site, user, overview, by_source, port):
        connection = overview["connection"]
        currency = overview["currency"]
        sources_text = ", ".join(f"{source} {count}" for source, count in sorted(by_source.items()))
        url = f"http://127.0.0.1:{port}"
        self.stdout.write(
            f"Stripe sync: {overview['payments']} payments read with {connection.api_calls} API calls.\n"
            f"  attributed      {overview['attributed']:>3}  (by {sources_text})\n"
            f"  pending         {overview['pending']:>3}  (an id whose page view has not arrived yet)\n"
            f"  no view id      {overview['no_view_id']:>3}  (no Stripe object carried humblytics_view_id)\n"
            f"  view not found  {overview['view_not_found']:>3}\n"
            f"  gross {_money(overview['gross'], currency)}, refunds {_money(overview['refunds'], currency)}, "
            f"net {_money(overview['net'], currency)}\n"
            f"Dashboard: {url}/sites/{site.domain}/\n"
            f"Revenue:   {url}/sites/{site.domain}/settings/revenue/\n"
            f"Log in as {user.email} with the password {DEMO_PASSWORD}."
        )

    def _serve(self, stripe_url, port):
        connections.close_all()
        env = {**os.environ, "STRIPE_API_BASE": stripe_url}
        # --noreload: one process, so stopping it stops the server (the reloader would leave a child behind).
        web = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py, fixed arguments
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=Path(settings.BASE_DIR),
            env=env,
        )
        self.stdout.write("Serving; Ctrl-C stops the app and localstripe.")

        def stop(signum, frame):
            raise KeyboardInterrupt  # `kill <pid>` stops both too, like Ctrl-C

        signal.signal(signal.SIGTERM, stop)
        try:
            web.wait()
        except KeyboardInterrupt:
            pass
        finally:
            if web.poll() is None:
                web.terminate()
                try:
                    web.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    web.kill()
                    web.wait()


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _localstripe():
    try:
        from tests.revenue.localstripe import LocalStripe  # the one launcher, shared with the tests
    except ImportError:
        raise CommandError("The demo needs the checkout's test helpers: run `make demo` in the repository.") from None
    import importlib.util

    if importlib.util.find_spec("localstripe") is None:
        raise CommandError("localstripe is not installed: run `make demo` (it installs requirements-dev.txt).")
    return LocalStripe(python=sys.executable)

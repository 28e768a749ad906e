"""`make demo`'s command, run against the test database and the tests' localstripe (without serving)."""

import socket
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import User
from revenue.models import Payment, StripeConnection
from sites.management.commands.demo_setup import DEMO_DOMAIN, DEMO_EMAIL, DEMO_PASSWORD
from sites.models import Membership, Site
from tracking.models import DailyRollup, PageView, Visit

pytestmark = pytest.mark.localstripe


@pytest.fixture
def demo(localstripe_server, localstripe_clean, settings, db):
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 50
    settings.DEBUG = True  # the demo refuses to run otherwise

    def run():
        localstripe_server.reset()  # `make demo` starts a fresh localstripe every time
        out = StringIO()
        call_command("demo_revenue", stripe_url=localstripe_clean, serve=False, stdout=out, stderr=StringIO())
        return out.getvalue()

    return run


def attribution_summary(site):
    payments = Payment.objects.filter(site=site)
    return (
        Counter(payments.values_list("attribution", flat=True)),
        Counter(payments.filter(attribution="attributed").values_list("view_source", flat=True)),
    )


def test_it_builds_a_site_with_traffic_and_attributed_payments(demo):
    output = demo()
    site = Site.objects.get(domain=DEMO_DOMAIN)
    user = User.objects.get(email=DEMO_EMAIL)
    assert user.check_password(DEMO_PASSWORD) and user.is_superuser
    assert Membership.objects.get(site=site).user == user

    statuses, sources = attribution_summary(site)
    assert statuses == {"attributed": 9, "pending": 1, "no_view_id": 1}
    assert sources == {"payment_intent": 6, "subscription": 2, "customer": 1}
    assert StripeConnection.objects.get(site=site).status == "active"

    # Every credited payment points at a real checkout page view of the demo site, and its visit.
    for payment in Payment.objects.filter(site=site, attribution="attributed").select_related("pageview", "visit"):
        assert payment.pageview.view_id == payment.view_id
        assert (payment.pageview.site_id, payment.pageview.pathname) == (site.pk, "/checkout")
        assert payment.visit_id == payment.pageview.visit_id and payment.visit.source
    renewal_views = Payment.objects.filter(site=site, view_source="subscription").values_list("view_id", flat=True)
    assert len(set(renewal_views)) == 1  # the renewal is credited to the subscription's view
    refunded = Payment.objects.get(site=site, amount_refunded__gt=0)
    assert refunded.amount_refunded == refunded.amount // 2 and refunded.net == refunded.gross / 2

    # A month of varied traffic, and rollups for its complete days.
    now = timezone.now()
    visits = Visit.objects.filter(site=site)
    assert 300 <= visits.count() <= 360
    assert PageView.objects.filter(site=site).count() > visits.count()
    assert visits.filter(started_at__lt=now - timedelta(days=25)).exists()
    assert not visits.filter(started_at__lt=now - timedelta(days=30, minutes=1)).exists()
    assert len(set(visits.values_list("source", flat=True))) >= 10
    assert {"Google", "Direct / None", "Hacker News", "newsletter"} <= set(visits.values_list("source", flat=True))
    assert len(set(visits.values_list("country", flat=True))) >= 10
    assert {"Chrome", "Safari", "Firefox"} <= set(visits.values_list("browser", flat=True))
    assert DailyRollup.objects.filter(site=site).values("day").distinct().count() >= 29

    assert "attributed        9" in output and "pending           1" in output and "no view id        1" in output
    assert "gross 771.00 USD, refunds 49.50 USD, net 721.50 USD" in output
    assert f"http://127.0.0.1:8000/sites/{DEMO_DOMAIN}/" in output
    assert f"Log in as {DEMO_EMAIL} with the password {DEMO_PASSWORD}." in output


def test_running_it_twice_gives_the_same_demo(demo):
    demo()
    first = attribution_summary(Site.objects.get(domain=DEMO_DOMAIN))
    user_pk = User.objects.get(email=DEMO_EMAIL).pk
    demo()
    site = Site.objects.get(domain=DEMO_DOMAIN)
    assert attribution_summary(site) == first
    assert Payment.objects.count() == 11 and StripeConnection.objects.count() == 1
    assert User.objects.get(email=DEMO_EMAIL).pk == user_pk


def test_the_demo_dashboard_is_the_demo_logins_and_an_outsider_gets_a_404(demo, login, charlie):
    demo()
    user = User.objects.get(email=DEMO_EMAIL)
    assert login(user).get(f"/sites/{DEMO_DOMAIN}/").status_code == 200
    page = login(user).get(f"/sites/{DEMO_DOMAIN}/settings/revenue/")
    assert page.status_code == 200 and DEMO_DOMAIN in page.content.decode()
    assert "sk_test_humblytics_demo" not in page.content.decode()  # the key is never shown
    assert login(charlie).get(f"/sites/{DEMO_DOMAIN}/").status_code == 404
    assert login(charlie).get(f"/sites/{DEMO_DOMAIN}/settings/revenue/").status_code == 404


def test_it_refuses_to_run_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("demo_revenue", serve=False, stdout=StringIO())
    assert not Site.objects.filter(domain=DEMO_DOMAIN).exists()


def test_it_refuses_a_busy_port_before_touching_anything(db, settings):
    settings.DEBUG = True
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"127.0.0.1:{port} is in use"):
            call_command("demo_revenue", port=port, stdout=StringIO())
    assert not Site.objects.filter(domain=DEMO_DOMAIN).exists()

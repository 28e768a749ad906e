"""`manage.py sync_stripe`: one sync in the foreground against localstripe, its summary, its progress line and
its one-line errors."""

import io
import re
import zoneinfo
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from revenue import services, sync
from revenue.management.commands.sync_stripe import Command
from revenue.models import Payment, StripeConnection
from tests.revenue.test_sync import land_view, pay

pytestmark = pytest.mark.localstripe
VIEW = "view-paid-000000000001"


def sync_stripe(*args):
    """Run the command; (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("sync_stripe", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def today_in(site):
    return timezone.now().astimezone(zoneinfo.ZoneInfo(site.timezone)).date()


def test_it_syncs_one_site_and_prints_what_it_did(site, connection, stripe_api):
    land_view(site)
    pay(stripe_api, 1999, metadata={"humblytics_view_id": VIEW})
    pay(stripe_api, 500)
    out, err = sync_stripe("--site", "example.com")
    connection.refresh_from_db()
    calls = connection.api_calls
    assert calls >= 1
    lookups = re.search(r"\((\d+) to find view ids\)", out)
    assert lookups and int(lookups.group(1)) < calls
    assert out == (
        "example.com: 2 charges read: 2 new payments, 0 updated; 0 refunds, 0 disputes, 0 re-checked.\n"
        "  Payments on file: 2 (1 attributed, 0 pending, 1 no view id, 0 view not found).\n"
        f"  Stripe API calls: {calls} ({lookups.group(1)} to find view ids).\n"
    )
    assert err == "example.com: charges: 2 read\n"
    assert sorted(Payment.objects.values_list("amount", "attribution")) == [(500, "no_view_id"), (1999, "attributed")]
    assert (connection.sync_started_at, connection.last_error) == (None, "")
    assert connection.last_success_at is not None


def test_it_counts_every_page_on_the_progress_line(site, connection, stripe_api):
    for i in range(130):
        pay(stripe_api, 100 + i)
    out, err = sync_stripe("--site", "example.com")
    assert err == "example.com: charges: 100 read\nexample.com: charges: 130 read\n"
    assert out.startswith("example.com: 130 charges read: 130 new payments, 0 updated;")
    assert Payment.objects.count() == 130


def test_since_reads_the_same_charges_again_without_adding_them_twice(site, connection, stripe_api):
    intent = pay(stripe_api, 1000)
    sync_stripe("--site", "example.com")
    # A refund is picked up by any sync; --since re-reads the charge itself too.
    stripe_api.v1.refunds.create(params={"charge": intent.latest_charge.id, "amount": 400})
    out, _ = sync_stripe("--site", "example.com", "--since", today_in(site).isoformat())
    assert out.startswith("example.com: 1 charges read: 0 new payments, 1 updated; 1 refunds,")
    payment = Payment.objects.get()
    assert (payment.amount, payment.amount_refunded, str(payment.net)) == (1000, 400, "6.000000")


def test_since_after_the_cursor_leaves_the_unread_days_to_the_next_sync(site, connection, stripe_api):
    pay(stripe_api, 1000)
    three_days_ago = int((timezone.now() - timedelta(days=3)).timestamp())
    StripeConnection.objects.filter(pk=connection.pk).update(charges_cursor=three_days_ago)
    sync_stripe("--site", "example.com", "--since", today_in(site).isoformat())
    connection.refresh_from_db()
    # Charges of the last three days before today were not read: the cursor must not jump over them.
    assert connection.charges_cursor == three_days_ago
    assert Payment.objects.count() == 1
    sync_stripe("--site", "example.com")  # the ordinary sync reads from the cursor and moves it
    connection.refresh_from_db()
    assert connection.charges_cursor > three_days_ago
    assert Payment.objects.count() == 1


def test_since_before_the_cursor_moves_it_like_an_ordinary_sync(site, connection, stripe_api):
    pay(stripe_api, 1000)
    sync_stripe("--site", "example.com")
    connection.refresh_from_db()
    cursor = connection.charges_cursor
    sync_stripe("--site", "example.com", "--since", (today_in(site) - timedelta(days=7)).isoformat())
    connection.refresh_from_db()
    assert connection.charges_cursor == cursor  # never moved back by re-reading older charges
    assert Payment.objects.count() == 1


def test_since_wins_over_the_page_position_of_an_interrupted_sync(site, connection, stripe_api):
    for i in range(15):
        pay(stripe_api, 100 + i)
    claimed = sync.claim(connection.pk)
    with pytest.raises(sync.Interrupted):
        sync.sync_connection(claimed, page_size=10, stop_after_pages=1)
    sync.release(claimed)
    out, _ = sync_stripe("--site", "example.com", "--since", today_in(site).isoformat())
    assert out.startswith("example.com: 15 charges read: 5 new payments, 10 updated;")
    connection.refresh_from_db()
    assert connection.sync_progress == {}
    assert Payment.objects.count() == 15


def test_without_site_it_syncs_every_active_connection_and_nothing_else(site, charlies_site, connection, stripe_api):
    pay(stripe_api, 1000)
    charlies = StripeConnection.objects.create(
        site=charlies_site, secret_key="", key_hint="sk_test_…abcd", mode="test", status="disconnected"
    )
    out, _ = sync_stripe()
    assert out.startswith("example.com: 1 charges read: 1 new payments, 0 updated;")
    assert "charlie.dev" not in out
    assert list(Payment.objects.values_list("site__domain", flat=True)) == ["example.com"]
    charlies.refresh_from_db()
    assert (charlies.last_attempt_at, charlies.api_calls) == (None, 0)


def test_without_site_and_without_connections_it_says_there_is_nothing_to_do(site):
    assert sync_stripe() == ("No site has an active Stripe connection: nothing to sync.\n", "")


@pytest.mark.parametrize("value", ["yesterday", "2026-02-30", "2026-1-5", "20260105", "2026-01-05T10:00", ""])
def test_it_rejects_a_since_that_is_not_a_date(site, connection, value):
    with pytest.raises(CommandError, match=r"is not a date: write it as YYYY-MM-DD"):
        sync_stripe("--site", "example.com", "--since", value)
    assert connection.last_attempt_at is None


def test_it_rejects_a_since_in_the_future(site, connection):
    future = (timezone.now() + timedelta(days=2)).date().isoformat()
    with pytest.raises(CommandError, match=rf"^--since {future} is in the future"):
        sync_stripe("--site", "example.com", "--since", future)


def test_it_rejects_an_unknown_domain(site, connection):
    with pytest.raises(CommandError, match=r"^No site with the domain 'nope\.example'\.$"):
        sync_stripe("--site", "nope.example")


def test_it_rejects_a_site_without_a_stripe_connection(site, charlies_site, connection):
    # The outsider's site exists but never connected Stripe; example.com's connection is not used for it.
    with pytest.raises(CommandError, match=r"^charlie\.dev has no Stripe connection"):
        sync_stripe("--site", "charlie.dev")
    assert not Payment.objects.exists()


def test_it_rejects_a_disconnected_site(site, connection):
    services.connection_disconnect(connection=connection)
    with pytest.raises(CommandError, match=r"^example\.com: Stripe is disconnected"):
        sync_stripe("--site", "example.com")


def test_it_names_the_last_error_of_a_broken_connection(site, connection):
    StripeConnection.objects.filter(pk=connection.pk).update(status="broken", last_error="This key lacks Refunds.")
    with pytest.raises(CommandError) as error:
        sync_stripe("--site", "example.com")
    assert str(error.value) == (
        "example.com: the Stripe connection is broken: This key lacks Refunds. Replace the key first."
    )


def test_it_refuses_to_overlap_a_running_sync(site, connection):
    running = sync.claim(connection.pk)
    with pytest.raises(CommandError, match=r"^example\.com: a sync is already running \(started \d{4}-\d\d-\d\d "):
        sync_stripe("--site", "example.com")
    assert StripeConnection.objects.get().sync_started_at == running.sync_started_at


def test_a_key_revoked_during_the_sync_fails_it_and_pauses_the_site(site, connection, stripe_api):
    StripeConnection.objects.filter(pk=connection.pk).update(secret_key="sk_test_humblytics-revoked")
    with pytest.raises(CommandError) as error:
        sync_stripe("--site", "example.com")
    assert str(error.value).startswith("example.com: the sync failed: Stripe rejected the key")
    assert str(error.value).endswith("Syncing is paused until the key is replaced.")
    assert StripeConnection.objects.get().status == "broken"


def test_a_bad_argument_exits_non_zero_with_one_line(site, capsys):
    with pytest.raises(SystemExit) as exit_:
        Command().run_from_argv(["manage.py", "sync_stripe", "--site", "nope.example"])
    assert exit_.value.code == 1
    assert capsys.readouterr().err == "CommandError: No site with the domain 'nope.example'.\n"

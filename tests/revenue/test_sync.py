"""The Stripe sync against localstripe through the official SDK over HTTP: every object kind carrying the
view id, renewals, refunds, pagination, resuming, idempotency and a revoked key.

localstripe speaks an older API shape and lacks Checkout Sessions, disputes and invoice_payments; those
paths are tested on Stripe's own recorded objects in test_sync_recorded.py.
"""

import pytest

from revenue import services, sync
from revenue.models import Payment, StripeConnection, StripeRef
from tests.revenue.conftest import TEST_KEY as KEY
from tests.tracking.factories import record
from tracking import services as tracking_services

pytestmark = pytest.mark.localstripe
VIEW = "view-paid-000000000001"


def land_view(site, view_id=VIEW, **visit):
    tracking_services.events_store([record(site, view=view_id, path="/pricing", **visit)])


def customer_with_card(client, **params):
    customer = client.v1.customers.create(params=params)
    card = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    return customer


def pay(client, amount=1999, currency="usd", **params):
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": currency, "payment_method": "pm_card_visa", "confirm": True, **params}
    )


def subscribe(client, customer, **params):
    product = client.v1.products.create(params={"name": "Pro"})
    plan = client.v1.plans.create(
        params={"id": "pro-monthly", "amount": 2500, "currency": "usd", "interval": "month", "product": product.id}
    )
    return client.v1.subscriptions.create(params={"customer": customer.id, "items": [{"plan": plan.id}], **params})


def run(connection, **options):
    report = services.sync_run(connection_id=connection.pk, **options)
    assert report is not None and not report.error, report
    return report


def test_an_id_on_the_payment_intent_credits_its_visit(site, connection, stripe_api):
    land_view(site, source="Google", channel="Organic Search", country="DE", browser="Firefox")
    pay(stripe_api, 1999, metadata={"humblytics_view_id": VIEW})
    report = run(connection)
    payment = Payment.objects.get()
    assert (payment.attribution, payment.view_source, payment.view_id) == ("attributed", "payment_intent", VIEW)
    assert (payment.currency, payment.amount, str(payment.gross), str(payment.net)) == (
        "USD",
        1999,
        "19.990000",
        "19.990000",
    )
    assert (payment.visit.source, payment.visit.country) == ("Google", "DE")
    assert payment.stripe_id.startswith("pi_") and payment.charge_id.startswith("ch_")
    assert report.lookup_calls == 0  # the PI came expanded in the charges page: no call of its own


def test_an_id_on_the_subscription_credits_its_invoices_and_renewals(site, connection, stripe_api):
    land_view(site)
    customer = customer_with_card(stripe_api)
    subscription = subscribe(stripe_api, customer, metadata={"humblytics_view_id": VIEW})
    run(connection)
    first = Payment.objects.get()
    assert (first.attribution, first.view_source, first.subscription_id) == (
        "attributed",
        "subscription",
        subscription.id,
    )
    # A renewal: a second paid invoice of the same subscription, whose PaymentIntent has no metadata.
    draft = stripe_api.v1.invoices.create(params={"customer": customer.id, "subscription": subscription.id})
    stripe_api.v1.invoices.pay(draft.id)
    report = run(connection)
    renewal = Payment.objects.exclude(pk=first.pk).get()
    assert (renewal.attribution, renewal.view_source, renewal.view_id) == ("attributed", "subscription", VIEW)
    assert renewal.invoice_id == draft.id
    # The subscription is known: the renewal cost one call (its invoice), the subscription none.
    assert report.lookup_calls <= 1


def test_an_id_on_the_invoice_is_found(site, connection, stripe_api):
    land_view(site)
    customer = customer_with_card(stripe_api)
    subscription = subscribe(stripe_api, customer)
    draft = stripe_api.v1.invoices.create(params={"customer": customer.id, "subscription": subscription.id})
    stripe_api.v1.invoices.update(draft.id, params={"metadata": {"humblytics_view_id": VIEW}})
    stripe_api.v1.invoices.pay(draft.id)
    run(connection)
    by_invoice = Payment.objects.get(invoice_id=draft.id)
    assert (by_invoice.attribution, by_invoice.view_source) == ("attributed", "invoice")
    assert Payment.objects.exclude(invoice_id=draft.id).get().attribution == "no_view_id"


def test_a_customer_level_id_is_credited_to_a_later_invoice(site, connection, stripe_api):
    land_view(site)
    customer = customer_with_card(stripe_api, metadata={"humblytics_view_id": VIEW})
    run(connection)  # nothing paid yet
    subscribe(stripe_api, customer)
    pay(stripe_api, 500, customer=customer.id)
    run(connection)
    assert set(Payment.objects.values_list("attribution", "view_source")) == {("attributed", "customer")}
    assert Payment.objects.count() == 2


def test_full_and_partial_refunds_reduce_net_revenue(site, connection, stripe_api):
    land_view(site)
    partial = pay(stripe_api, 1000, metadata={"humblytics_view_id": VIEW})
    full = pay(stripe_api, 700)
    run(connection)
    stripe_api.v1.refunds.create(params={"charge": partial.latest_charge.id, "amount": 250})
    stripe_api.v1.refunds.create(params={"charge": full.latest_charge.id})
    run(connection)
    one, two = Payment.objects.get(stripe_id=partial.id), Payment.objects.get(stripe_id=full.id)
    assert (one.amount_refunded, str(one.refunds), str(one.net)) == (250, "2.500000", "7.500000")
    assert (two.amount_refunded, str(two.net)) == (700, "0.000000")


def test_a_payment_without_an_id_is_counted_as_such(site, connection, stripe_api):
    pay(stripe_api, 1200)
    run(connection)
    payment = Payment.objects.get()
    assert (payment.attribution, payment.view_id, payment.visit) == ("no_view_id", "", None)
    assert payment.next_check_at is not None  # re-read later in case the id is added


def test_an_id_added_later_is_picked_up_by_the_recheck(site, connection, stripe_api):
    land_view(site)
    intent = pay(stripe_api, 1200)
    run(connection)
    stripe_api.v1.payment_intents.update(intent.id, params={"metadata": {"humblytics_view_id": VIEW}})
    Payment.objects.update(next_check_at=Payment.objects.get().synced_at)  # the +5 min check is due
    run(connection)
    assert Payment.objects.get().attribution == "attributed"


def test_an_id_from_another_site_is_never_credited(site, charlies_site, connection, stripe_api):
    land_view(charlies_site, view_id="charlies-view-0000001")
    pay(stripe_api, 1200, metadata={"humblytics_view_id": "charlies-view-0000001"})
    run(connection)
    payment = Payment.objects.get()
    assert (payment.attribution, payment.visit) == ("pending", None)  # and "view not found" after the window


def test_a_pending_view_is_attributed_once_it_lands(site, connection, stripe_api):
    pay(stripe_api, 1200, metadata={"humblytics_view_id": VIEW})
    run(connection)
    assert Payment.objects.get().attribution == "pending"
    land_view(site)
    Payment.objects.update(next_check_at=Payment.objects.get().synced_at)
    run(connection)
    assert Payment.objects.get().attribution == "attributed"


def test_syncing_again_changes_nothing(site, connection, stripe_api):
    land_view(site)
    pay(stripe_api, 1999, metadata={"humblytics_view_id": VIEW})
    pay(stripe_api, 500)
    run(connection)
    before = sorted(Payment.objects.values_list("stripe_id", "amount", "attribution", "net"))
    run(connection)
    run(connection)
    assert sorted(Payment.objects.values_list("stripe_id", "amount", "attribution", "net")) == before


def test_more_than_a_hundred_charges_are_paginated(site, connection, stripe_api):
    for i in range(130):
        pay(stripe_api, 100 + i)
    report = run(connection)
    assert Payment.objects.count() == 130
    assert report.charges_read == 130


def test_a_sync_killed_between_pages_resumes_exactly(site, connection, stripe_api):
    for i in range(25):
        pay(stripe_api, 100 + i)
    claimed = sync.claim(connection.pk)
    with pytest.raises(sync.Interrupted):
        sync.sync_connection(claimed, page_size=10, stop_after_pages=1)  # the process dies after page one
    sync.release(claimed)
    assert Payment.objects.count() == 10
    connection.refresh_from_db()
    assert connection.sync_progress["charges"]["done"] == 10
    report = run(connection, page_size=10)
    assert report.charges_read == 15  # the rest, not the first page again
    assert Payment.objects.count() == 25
    connection.refresh_from_db()
    assert connection.sync_progress == {}


def test_two_syncs_of_a_site_never_overlap(site, connection):
    first = sync.claim(connection.pk)
    assert first is not None
    assert sync.claim(connection.pk) is None
    assert services.sync_run(connection_id=connection.pk) is None
    sync.release(first)
    assert sync.claim(connection.pk) is not None


def test_a_revoked_key_marks_the_connection_broken_and_pauses_syncing(site, connection, stripe_api):
    StripeConnection.objects.filter(pk=connection.pk).update(secret_key="sk_test_humblytics-revoked")
    report = services.sync_run(connection_id=connection.pk)
    assert "rejected the key" in report.error
    connection.refresh_from_db()
    assert connection.status == "broken"
    assert "revoked" in connection.last_error
    assert services.sync_run(connection_id=connection.pk) is None  # paused until the key is replaced
    assert list(services.syncs_due()) == []


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("sk_test_humblytics-revoked", "rejected the key"),
        ("pk_test_abcdefghijkl", "publishable key"),
        ("not a key", "does not look like a Stripe key"),
        ("", "Paste a Stripe secret key"),
        ("sk_test_humblytics-no-charges", "rak_charge_read"),
    ],
)
def test_connecting_refuses_bad_keys_precisely(site, stripe_api, key, message):
    with pytest.raises(services.RevenueError) as error:
        services.connection_connect(site=site, secret_key=key)
    assert message in error.value.message
    assert not StripeConnection.objects.exists()


def test_the_key_is_encrypted_at_rest(site, connection):
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT secret_key FROM revenue_stripeconnection")
        stored = cursor.fetchone()[0]
    assert KEY.encode() not in bytes(stored)
    assert StripeConnection.objects.get().secret_key == KEY
    assert connection.key_hint == "sk_test_…tics"


def test_disconnecting_keeps_payments_and_forgets_the_key(site, connection, stripe_api):
    pay(stripe_api, 1200)
    run(connection)
    services.connection_disconnect(connection=connection)
    connection.refresh_from_db()
    assert (connection.status, connection.secret_key) == ("disconnected", "")
    assert Payment.objects.count() == 1
    assert services.sync_run(connection_id=connection.pk) is None


def test_renewals_reuse_the_cached_subscription(site, connection, stripe_api):
    land_view(site)
    customer = customer_with_card(stripe_api)
    subscription = subscribe(stripe_api, customer, metadata={"humblytics_view_id": VIEW})
    run(connection)
    assert StripeRef.objects.filter(stripe_id=subscription.id, view_id=VIEW).exists()


def test_the_key_appears_in_no_log_line(site, stripe_api, caplog, settings):
    import logging

    settings.STRIPE_BACKFILL_DAYS = 30
    caplog.set_level(logging.DEBUG)  # every logger, the stripe SDK's and urllib3's included
    connection = services.connection_connect(site=site, secret_key=KEY)
    assert connection.backfill_days == 30
    pay(stripe_api, 1200)
    run(connection)
    StripeConnection.objects.filter(pk=connection.pk).update(secret_key="sk_test_humblytics-revoked")
    services.sync_run(connection_id=connection.pk)
    with pytest.raises(services.RevenueError):
        services.connection_connect(site=site, secret_key="sk_test_humblytics-revoked")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records  # something was logged, and none of it carries a key
    assert "sk_test" not in logged and "humblytics-revoked" not in logged

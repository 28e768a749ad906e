"""The sync on the paths localstripe cannot exercise: Checkout Sessions (metadata, Payment Link return pages,
subscription mode), the current invoice shape (`parent.subscription_details`, `invoice_payments`), disputes and
settlement in another currency — on objects built from Stripe's recorded examples (tests/revenue/recorded.py).
Rate limiting and a missing permission go through the real client against localstripe's fault markers.
"""

import uuid
from datetime import timedelta
from decimal import Decimal as dec

import pytest
from django.utils import timezone

from revenue import services
from revenue.models import Payment, StripeConnection
from revenue.stripe.client import StripeAPI
from tests.revenue.conftest import make_client
from tests.revenue.recorded import RecordedStripe
from tests.tracking.factories import T0, record
from tracking import services as tracking_services
from tracking.models import PageView

pytestmark = pytest.mark.recorded
VIEW = "view-paid-000000000001"
TAGGED = {"humblytics_view_id": VIEW}


@pytest.fixture
def stripe(db):
    return RecordedStripe()


@pytest.fixture
def connection(site):
    return StripeConnection.objects.create(
        site=site, secret_key="rk_test_51QrecordedAbCdEf0123", key_hint="rk_test_…0123", mode="test"
    )


def land_view(site, view_id=VIEW, path="/pricing", **extra):
    tracking_services.events_store([record(site, view=view_id, path=path, **extra)])


def run(connection, api, **options):
    report = services.sync_run(connection_id=connection.pk, api=api, **options)
    assert report is not None and not report.error, report
    return report


def money(payment):
    return (payment.currency, payment.amount, payment.conversion, payment.gross, payment.refunds, payment.net)


# --- Checkout Sessions ----------------------------------------------------------------------------------
def test_an_id_only_on_the_checkout_session_credits_the_payment(site, connection, stripe):
    land_view(site, source="Google", channel="Organic Search", country="FR")
    buyer = stripe.customer()
    intent, charge = stripe.payment(4900, customer=buyer)  # Checkout does not copy its metadata to the PI
    session = stripe.checkout_session(payment_intent=intent, customer=buyer, metadata=TAGGED, amount_total=4900)
    report = run(connection, stripe)
    payment = Payment.objects.get()
    assert (payment.attribution, payment.view_source, payment.view_id) == ("attributed", "checkout_session", VIEW)
    assert (payment.stripe_id, payment.charge_id, payment.checkout_session_id, payment.customer_id) == (
        intent["id"], charge["id"], session["id"], buyer["id"],
    )  # fmt: skip
    assert (payment.visit.source, payment.visit.country) == ("Google", "FR")
    # Two lookups: is the PI an invoice's payment (no), which session made it; the customer is never read.
    assert stripe.calls_to("invoice_payments_for") == [intent["id"]]
    assert stripe.calls_to("checkout_sessions_for") == [intent["id"]]
    assert stripe.calls_to("retrieve_customer") == []
    assert report.lookup_calls == 2


def test_a_payment_link_return_page_credits_the_view_that_saw_the_session(site, charlies_site, connection, stripe):
    intent, _ = stripe.payment(2500)
    session = stripe.checkout_session(payment_intent=intent, payment_link=True, amount_total=2500)
    assert session["metadata"] == {} and session["payment_link"].startswith("plink_")
    # The outsider's site saw the same session id first: never credited across sites.
    land_view(charlies_site, view_id="charlies-view-0000001", ts=T0 - 60, checkout_session_id=session["id"])
    land_view(site, view_id=VIEW, ts=T0, path="/thanks", checkout_session_id=session["id"], source="Newsletter")
    # The buyer reloads the return page later: a second report of the same session, ignored.
    land_view(site, view_id="view-reload-0000000001", ts=T0 + 300, path="/thanks", checkout_session_id=session["id"])
    run(connection, stripe)
    payment = Payment.objects.get()
    first_view = PageView.objects.get(site=site, view_id=VIEW)
    assert (payment.attribution, payment.view_source, payment.view_id) == ("attributed", "checkout_session_url", VIEW)
    assert (payment.checkout_session_id, payment.pageview, payment.visit.source) == (
        session["id"], first_view, "Newsletter",
    )  # fmt: skip
    run(connection, stripe)  # reading it again changes nothing
    assert list(Payment.objects.values_list("view_id", "view_source")) == [(VIEW, "checkout_session_url")]


def test_a_subscription_checkout_sessions_id_reaches_every_renewal(site, connection, stripe):
    land_view(site)
    buyer = stripe.customer()
    subscription = stripe.subscription(customer=buyer)  # Checkout copies nothing of its metadata here either
    session = stripe.checkout_session(mode="subscription", subscription=subscription, customer=buyer, metadata=TAGGED)
    first_invoice = stripe.invoice(customer=buyer, subscription=subscription)
    stripe.payment(2000, customer=buyer, invoice=first_invoice)
    run(connection, stripe)
    bought = Payment.objects.get()
    assert (bought.attribution, bought.view_source, bought.checkout_session_id) == (
        "attributed", "checkout_session", session["id"],
    )  # fmt: skip
    assert (bought.invoice_id, bought.subscription_id) == (first_invoice["id"], subscription["id"])
    assert stripe.calls_to("checkout_sessions_for") == [subscription["id"]]

    renewal_invoice = stripe.invoice(customer=buyer, subscription=subscription, billing_reason="subscription_cycle")
    renewal, _ = stripe.payment(2000, customer=buyer, invoice=renewal_invoice, description="Subscription update")
    report = run(connection, stripe)
    paid_again = Payment.objects.get(stripe_id=renewal["id"])
    assert (paid_again.attribution, paid_again.view_source, paid_again.view_id) == (
        "attributed", "checkout_session", VIEW,
    )  # fmt: skip
    assert (paid_again.invoice_id, paid_again.subscription_id, paid_again.checkout_session_id) == (
        renewal_invoice["id"], subscription["id"], session["id"],
    )  # fmt: skip
    # The subscription and its session are known: the renewal cost one call (its invoice), nothing else.
    assert report.lookup_calls == 1
    assert stripe.calls_to("checkout_sessions_for") == [subscription["id"]]
    assert stripe.calls_to("retrieve_subscription") == [subscription["id"]]
    assert Payment.objects.count() == 2


# --- the current invoice shape ----------------------------------------------------------------------------
def test_the_current_invoice_shape_resolves_through_invoice_payments_and_the_subscription_snapshot(
    site, connection, stripe
):
    land_view(site)
    buyer = stripe.customer()
    subscription = stripe.subscription(customer=buyer, metadata=TAGGED)
    invoice = stripe.invoice(customer=buyer, subscription=subscription, snapshot=TAGGED)
    intent, charge = stripe.payment(2000, customer=buyer, invoice=invoice)
    assert "invoice" not in intent and "invoice" not in charge and "subscription" not in invoice
    report = run(connection, stripe)
    payment = Payment.objects.get()
    assert (payment.attribution, payment.view_source, payment.view_id) == ("attributed", "subscription", VIEW)
    assert (payment.invoice_id, payment.subscription_id, payment.customer_id) == (
        invoice["id"], subscription["id"], buyer["id"],
    )  # fmt: skip
    # PI → invoice: one invoice_payments call with the invoice expanded; the subscription's id and metadata
    # came from the invoice's parent.subscription_details: neither object was fetched.
    assert stripe.calls_to("invoice_payments_for") == [intent["id"]]
    assert stripe.calls_to("retrieve_invoice") == stripe.calls_to("retrieve_subscription") == []
    assert report.lookup_calls == 1


def test_an_invoice_without_the_id_in_its_snapshot_reads_the_subscription(site, connection, stripe):
    land_view(site)
    buyer = stripe.customer()
    subscription = stripe.subscription(customer=buyer, metadata=TAGGED)  # the id was added after finalising
    invoice = stripe.invoice(customer=buyer, subscription=subscription, snapshot={"plan": "pro"})
    stripe.payment(2000, customer=buyer, invoice=invoice)
    report = run(connection, stripe)
    payment = Payment.objects.get()
    assert (payment.attribution, payment.view_source, payment.subscription_id) == (
        "attributed", "subscription", subscription["id"],
    )  # fmt: skip
    assert stripe.calls_to("retrieve_subscription") == [subscription["id"]]
    assert report.lookup_calls == 2


def test_an_id_on_the_invoice_itself_comes_before_the_subscription(site, connection, stripe):
    land_view(site)
    land_view(site, view_id="view-older-00000000001", ts=T0 - 86400)
    buyer = stripe.customer()
    subscription = stripe.subscription(customer=buyer, metadata={"humblytics_view_id": "view-older-00000000001"})
    invoice = stripe.invoice(
        customer=buyer, subscription=subscription, snapshot=subscription["metadata"], metadata=TAGGED
    )
    stripe.payment(2000, customer=buyer, invoice=invoice)
    run(connection, stripe)
    assert Payment.objects.values_list("view_source", "view_id").get() == ("invoice", VIEW)


# --- disputes ---------------------------------------------------------------------------------------------
def test_a_lost_dispute_reduces_net_and_a_won_or_open_one_does_not(site, connection, stripe):
    _, lost = stripe.payment(1000)
    _, won = stripe.payment(1500)
    _, open_ = stripe.payment(700)
    run(connection, stripe)
    stripe.dispute(lost, status="lost")
    stripe.dispute(won, status="won")
    stripe.dispute(open_, status="needs_response")
    report = run(connection, stripe)
    assert report.disputes_read == 3
    by_charge = {p.charge_id: p for p in Payment.objects.all()}
    assert money(by_charge[lost["id"]]) == ("USD", 1000, "same", dec("10"), dec("10"), dec("0"))
    assert by_charge[lost["id"]].amount_disputed == 1000
    assert money(by_charge[won["id"]]) == ("USD", 1500, "same", dec("15"), dec("0"), dec("15"))
    assert money(by_charge[open_["id"]]) == ("USD", 700, "same", dec("7"), dec("0"), dec("7"))
    assert [p.amount_disputed for p in (by_charge[won["id"]], by_charge[open_["id"]])] == [0, 0]
    assert stripe.calls_to("retrieve_charge") == [lost["id"]]  # only the changed payment is re-read
    run(connection, stripe)
    assert stripe.calls_to("retrieve_charge") == [lost["id"]]  # and not again once it is up to date


def test_a_lost_dispute_is_kept_when_its_charge_is_read_again_after_the_look_back(site, connection, stripe):
    _, charge = stripe.payment(1000)
    dispute = stripe.dispute(charge, status="lost")
    run(connection, stripe)
    assert Payment.objects.get().amount_disputed == 1000
    dispute["created"] -= 200 * 86400  # older than the disputes phase looks back (120 days)
    report = run(connection, stripe, since=timezone.now() - timedelta(days=1))  # `sync_stripe --since` re-reads it
    assert (report.charges_read, report.disputes_read) == (1, 0)
    payment = Payment.objects.get()
    assert (payment.amount_disputed, payment.refunds, payment.net) == (1000, dec("10"), dec("0"))


def test_a_partly_lost_dispute_takes_only_its_amount(site, connection, stripe):
    _, charge = stripe.payment(2000)
    stripe.dispute(charge, status="lost", amount=500)
    run(connection, stripe)
    payment = Payment.objects.get()
    assert (payment.amount_disputed, payment.refunds, payment.net) == (500, dec("5"), dec("15"))


# --- currencies -------------------------------------------------------------------------------------------
def test_a_charge_in_euros_on_a_dollar_site_uses_the_settled_dollar_amount(site, connection, stripe):
    assert site.currency == "USD"
    stripe.payment(2000, "eur", settled=("usd", 2163))
    run(connection, stripe)
    payment = Payment.objects.get()
    assert money(payment) == ("EUR", 2000, "settled", dec("21.63"), dec("0"), dec("21.63"))
    assert payment.reporting_currency == "USD"


def test_a_lost_dispute_on_a_settled_charge_is_scaled_by_the_same_rate(site, connection, stripe):
    _, charge = stripe.payment(2000, "eur", settled=("usd", 2163))
    run(connection, stripe)
    stripe.dispute(charge, status="lost")
    run(connection, stripe)
    assert money(Payment.objects.get()) == ("EUR", 2000, "settled", dec("21.63"), dec("21.63"), dec("0"))


@pytest.mark.parametrize(
    "settled", [None, ("eur", 2000)], ids=["no balance transaction yet", "settled in euros, not dollars"]
)
def test_a_charge_without_a_usable_balance_transaction_is_kept_without_net(site, connection, stripe, settled):
    land_view(site)
    stripe.payment(2000, "eur", metadata=TAGGED, settled=settled)
    run(connection, stripe)
    payment = Payment.objects.get()
    assert money(payment) == ("EUR", 2000, "unavailable", None, None, None)
    assert (payment.attribution, payment.view_source) == ("attributed", "payment_intent")  # still credited


# --- rate limits and permissions, through the real client against localstripe -----------------------------
@pytest.fixture
def localstripe_api(localstripe_clean, settings):
    settings.STRIPE_API_BASE = localstripe_clean
    return make_client(localstripe_clean, "sk_test_humblytics")


def real_api(url, key, sleeps):
    return StripeAPI(key, api_base=url, max_requests_per_second=0, network_retries=0, sleep=sleeps.append)


def paid_on_localstripe(client, amount=1999):
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    )


@pytest.mark.localstripe
def test_a_429_is_retried_with_back_off_and_the_sync_completes(site, connection, localstripe_clean, localstripe_api):
    intent = paid_on_localstripe(localstripe_api)
    key = f"sk_test_rl{uuid.uuid4().hex[:12]}-ratelimited2"  # 429 on this key's first two requests only
    sleeps = []
    api = real_api(localstripe_clean, key, sleeps)
    report = run(connection, api)
    assert sleeps == [1.0, 2.0]  # the first request answered 429 twice, then 200
    assert report.charges_read == 1
    assert Payment.objects.get().stripe_id == intent.id
    connection.refresh_from_db()
    assert (connection.status, connection.last_error) == ("active", "")
    assert connection.api_calls == api.calls == report.api_calls  # the retries count as calls


@pytest.mark.localstripe
def test_a_key_rate_limited_for_too_long_is_tried_again_later_not_broken(site, connection, localstripe_clean):
    sleeps = []
    api = real_api(localstripe_clean, f"sk_test_rl{uuid.uuid4().hex[:12]}-ratelimited", sleeps)
    report = services.sync_run(connection_id=connection.pk, api=api)
    assert report.error == "Stripe kept answering 429 (rate limited); the sync will continue later."
    assert sleeps == [1.0, 2.0, 4.0, 8.0]  # five tries, no sleep after the last one
    connection.refresh_from_db()
    assert (connection.status, connection.last_error, connection.last_success_at) == ("active", report.error, None)
    assert connection.sync_started_at is None  # released: the next beat tick tries again


@pytest.mark.localstripe
def test_a_403_names_the_missing_permission_and_marks_the_connection_broken(
    site, connection, localstripe_clean, localstripe_api
):
    paid_on_localstripe(localstripe_api)
    api = real_api(localstripe_clean, "rk_test_humblytics-no-refunds", [])
    report = services.sync_run(connection_id=connection.pk, api=api)
    assert report.error == (
        "This key lacks the Refunds (read) permission (rak_refund_read). Edit the restricted key in Stripe → "
        "Developers → API keys and grant it, then save again."
    )
    connection.refresh_from_db()
    assert (connection.status, connection.last_error) == ("broken", report.error)
    assert Payment.objects.count() == 1  # the charges read before the refusal are kept
    assert services.sync_run(connection_id=connection.pk, api=api) is None  # paused until the key is replaced
    assert list(services.syncs_due()) == []

"""revenue.stripe.normalize: Stripe dicts of the current and older shapes -> dataclasses. Pure: no database.

Current shape: Stripe's own example objects (stripe/openapi fixtures, 2026-07-29.dahlia), placeholder values.
Older shape: dicts written to match what localstripe 1.15.10 returns (`localstripe/resources.py`, the
attributes and properties `_export` walks), and one invoice as Stripe API versions before basil sent it.
"""

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest

from revenue.stripe import normalize
from revenue.stripe.normalize import (
    BalanceTransaction,
    Charge,
    CheckoutSession,
    Customer,
    Dispute,
    Invoice,
    InvoicePayment,
    NormalizeError,
    PaymentIntent,
    Refund,
    Subscription,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "stripe" / "fixtures-2026-07-29.dahlia.json"
VID = "Vw_0123456789abcdef-XY"  # a valid window.Humblytics.viewId


@pytest.fixture(scope="module")
def stripe_fixtures():
    if not FIXTURES.exists():
        pytest.skip(f"Stripe's current-shape example objects are not at {FIXTURES}")
    return json.loads(FIXTURES.read_text())


@pytest.fixture
def current(stripe_fixtures):
    """A fresh copy of one current-shape example object: current("invoice")."""
    return lambda name: copy.deepcopy(stripe_fixtures[name])


# --- shape as localstripe returns it (localstripe 1.15.10) -------------------------------------------------


def ls_balance_transaction(**over):
    return {
        "id": "txn_ls1",
        "object": "balance_transaction",
        "created": 1767225600,
        "livemode": False,
        "amount": 2500,
        "available_on": 1767225600,
        "currency": "eur",
        "description": None,
        "exchange_rate": 1.0,
        "fee": 0,
        "fee_details": [],
        "net": 2500,
        "reporting_category": "charge",
        "source": "ch_ls1",
        "status": "available",
        "type": "charge",
        **over,
    }


def ls_refund(**over):
    return {
        "id": "re_ls1",
        "object": "refund",
        "created": 1767229200,
        "livemode": False,
        "charge": "ch_ls1",
        "payment_intent": None,
        "metadata": {},
        "amount": 500,
        "date": 1767229200,
        "currency": "eur",
        "status": "succeeded",
        "balance_transaction": "txn_ls2",
        **over,
    }


def ls_charge(**over):
    return {
        "id": "ch_ls1",
        "object": "charge",
        "created": 1767225600,
        "livemode": False,
        "amount": 2500,
        "currency": "eur",
        "customer": "cus_ls1",
        "description": None,
        "invoice": None,  # localstripe always sends it, and never fills it
        "metadata": {},
        "status": "succeeded",
        "receipt_email": None,
        "receipt_number": None,
        "payment_intent": "pi_ls1",
        "payment_method": "pm_ls1",
        "statement_descriptor": None,
        "failure_code": None,
        "failure_message": None,
        "captured": True,
        "balance_transaction": "txn_ls1",
        "paid": True,
        "refunds": {
            "object": "list",
            "url": "/v1/charges/ch_ls1/refunds",
            "data": [],
            "has_more": False,
            "total_count": 0,
        },
        "amount_refunded": 0,
        "refunded": False,
        **over,
    }


def ls_payment_intent(**over):
    return {
        "id": "pi_ls1",
        "object": "payment_intent",
        "created": 1767225600,
        "livemode": False,
        "amount": 2500,
        "currency": "eur",
        "latest_charge": ls_charge(),  # localstripe always exports the whole Charge here
        "client_secret": "pi_ls1_secret_abc",
        "customer": "cus_ls1",
        "payment_method": "pm_ls1",
        "metadata": {"humblytics_view_id": VID},
        "invoice": None,
        "next_action": None,
        "capture_method": "automatic_async",
        "status": "succeeded",
        "charges": {"object": "list", "url": "/v1/charges?payment_intent=pi_ls1", "data": [ls_charge()]},
        "last_payment_error": None,
        **over,
    }


def ls_invoice(**over):
    return {
        "id": "in_ls1",
        "object": "invoice",
        "created": 1767225600,
        "livemode": False,
        "customer": "cus_ls1",
        "customer_email": None,
        "subscription": "sub_ls1",
        "tax_percent": None,
        "default_tax_rates": None,
        "date": 1767225600,
        "metadata": {},
        "payment_intent": "pi_ls1",
        "application_fee": None,
        "attempt_count": 1,
        "attempted": True,
        "billing_reason": None,  # localstripe never sets it
        "collection_method": "charge_automatically",
        "description": None,
        "discount": None,
        "receipt_number": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "webhooks_delivered_at": 1767225600,
        "status_transitions": {"finalized_at": 1767225600, "paid_at": 1767225601, "voided_at": None},
        "period_start": 1767225600,
        "period_end": 1769904000,
        "lines": {"object": "list", "url": "/v1/invoices/in_ls1/lines", "data": [], "has_more": False},
        "currency": "eur",
        "ending_balance": 0,
        "subtotal": 2500,
        "tax": 0,
        "total_tax_amounts": [],
        "total": 2500,
        "amount_due": 2500,
        "amount_paid": 2500,
        "next_payment_attempt": None,
        "status": "paid",
        "charge": ls_charge(),  # a property returning the PI's latest Charge: exported whole
        "parent": {"type": "subscription_details", "subscription_details": {"subscription": "sub_ls1"}},
        **over,
    }


def ls_subscription(**over):
    return {
        "id": "sub_ls1",
        "object": "subscription",
        "created": 1767225600,
        "livemode": False,
        "customer": "cus_ls1",
        "metadata": {"humblytics_view_id": VID},
        "tax_percent": None,
        "default_tax_rates": None,
        "application_fee_percent": None,
        "cancel_at_period_end": False,
        "cancel_at": None,
        "canceled_at": None,
        "discount": None,
        "ended_at": None,
        "quantity": 1,
        "status": "active",
        "trial_end": None,
        "trial_start": None,
        "latest_invoice": "in_ls1",
        "start_date": 1767225600,
        "billing_cycle_anchor": None,
        "items": {"object": "list", "url": "/v1/subscription_items?subscription=sub_ls1", "data": []},
        "plan": {"id": "plan_ls1", "object": "plan", "amount": 2500, "currency": "eur", "interval": "month"},
        "current_period_start": 1767225600,
        "current_period_end": 1769904000,
        **over,
    }


def ls_customer(**over):
    return {
        "id": "cus_ls1",
        "object": "customer",
        "created": 1767225600,
        "livemode": False,
        "name": None,
        "description": None,
        "email": "buyer@example.com",
        "phone": None,
        "address": None,
        "invoice_settings": {"default_payment_method": "pm_ls1"},
        "business_vat_id": None,
        "preferred_locales": None,
        "metadata": {},
        "account_balance": 0,
        "delinquent": False,
        "discount": None,
        "shipping": None,
        "default_source": None,
        "sources": {"object": "list", "url": "/v1/customers/cus_ls1/sources", "data": []},
        "tax_ids": {"object": "list", "url": "/v1/customers/cus_ls1/tax_ids", "data": []},
        "currency": "eur",
        "subscriptions": {"object": "list", "url": "/v1/customers/cus_ls1/subscriptions", "data": []},
        **over,
    }


# --- current shape: Stripe's example objects ------------------------------------------------------------


def test_it_reads_a_current_charge(current):
    assert normalize.charge(current("charge")) == Charge(
        id="ch_1PgafuB7WZ01zgkWXYmPNZs8",
        livemode=False,
        created=1234567890,
        metadata={},
        customer=None,
        payment_intent=None,
        invoice=None,
        status="succeeded",
        paid=True,
        captured=False,
        refunded=False,
        disputed=False,
        amount=100,
        amount_captured=0,
        amount_refunded=0,
        currency="USD",
        description="My First Test Charge (created for API docs)",
        balance_transaction_id="txn_1PgaxNB7WZ01zgkWEV3TLf40",
        balance_transaction=None,
        refunds=(),
    )


def test_it_reads_a_current_payment_intent(current):
    assert normalize.payment_intent(current("payment_intent")) == PaymentIntent(
        id="pi_1PgafyB7WZ01zgkWSjxsAJo3",
        livemode=False,
        created=1234567890,
        metadata={},
        customer=None,
        invoice=None,
        latest_charge=None,
        status="requires_payment_method",
        amount=1099,
        amount_received=0,
        currency="USD",
        description=None,
    )


def test_it_reads_a_current_invoice_and_ignores_its_leftover_top_level_subscription_key(current):
    # The example fills parent.subscription_details although parent.type is quote_details (placeholders);
    # the top-level "subscription": null is a leftover the SDK no longer models.
    assert normalize.invoice(current("invoice")) == Invoice(
        id="in_1Pgc6tB7WZ01zgkWu9fdqL6I",
        livemode=False,
        created=1234567890,
        metadata={},
        customer="cus_QXg1o8vcGmoR32",
        subscription="subscription",
        subscription_metadata=None,
        parent_type="quote_details",
        status="draft",
        paid=None,
        paid_at=None,
        billing_reason="manual",
        currency="USD",
        total=1000,
        amount_due=1000,
        amount_paid=0,
        payment_intent=None,
        charge=None,
        payments=(),
    )


def test_it_reads_a_renewal_invoice_with_its_subscription_metadata_snapshot(current):
    d = current("invoice")
    d["billing_reason"] = "subscription_cycle"
    d["status"] = "paid"
    d["parent"] = {
        "type": "subscription_details",
        "quote_details": None,
        "subscription_details": {"subscription": "sub_1", "metadata": {"humblytics_view_id": VID, "plan": "pro"}},
    }
    inv = normalize.invoice(d)
    assert (inv.subscription, inv.subscription_metadata, inv.billing_reason, inv.status) == (
        "sub_1",
        {"humblytics_view_id": VID, "plan": "pro"},
        "subscription_cycle",
        "paid",
    )
    assert normalize.view_id(inv.subscription_metadata) == VID


def test_it_reads_an_expanded_subscription_in_the_parent(current):
    d = current("invoice")
    d["parent"] = {
        "type": "subscription_details",
        "subscription_details": {"subscription": {"id": "sub_2", "object": "subscription"}, "metadata": {}},
    }
    inv = normalize.invoice(d)
    assert (inv.subscription, inv.subscription_metadata) == ("sub_2", {})


def test_it_tolerates_an_unknown_parent_type(current):
    d = current("invoice")
    d["parent"] = {"type": "billing_cadence_details", "billing_cadence_details": {"billing_cadence": "bc_1"}}
    inv = normalize.invoice(d)
    assert (inv.parent_type, inv.subscription, inv.subscription_metadata) == ("billing_cadence_details", None, None)


def test_it_reads_an_invoice_without_parent(current):
    d = current("invoice")
    d["parent"] = None
    inv = normalize.invoice(d)
    assert (inv.parent_type, inv.subscription, inv.subscription_metadata) == (None, None, None)


def test_it_finds_the_payment_of_an_invoice_with_expanded_payments(current):
    d = current("invoice")
    failed = current("invoice_payment__docs_example") | {
        "id": "inpay_failed",
        "status": "canceled",
        "is_default": False,
        "payment": {"type": "payment_intent", "payment_intent": "pi_failed"},
        "status_transitions": {"canceled_at": 1391288000, "paid_at": None},
    }
    d["payments"] = {"object": "list", "data": [failed, current("invoice_payment__docs_example")], "has_more": False}
    inv = normalize.invoice(d)
    assert (inv.payment_intent, inv.charge) == ("pi_103Q0w2eZvKYlo2C364X582Z", None)
    assert [p.id for p in inv.payments] == ["inpay_failed", "inpay_1M3USa2eZvKYlo2CBjuwbq0N"]


def test_it_reads_charge_payments_and_expanded_payment_intents_in_invoice_payments(current):
    d = current("invoice")
    by_charge = current("invoice_payment__docs_example") | {"payment": {"type": "charge", "charge": "ch_legacy"}}
    d["payments"] = {"object": "list", "data": [by_charge]}
    assert (normalize.invoice(d).payment_intent, normalize.invoice(d).charge) == (None, "ch_legacy")

    expanded_pi = current("invoice_payment__docs_example")
    expanded_pi["payment"]["payment_intent"] = current("payment_intent")
    d["payments"] = {"object": "list", "data": [expanded_pi]}
    assert normalize.invoice(d).payment_intent == "pi_1PgafyB7WZ01zgkWSjxsAJo3"


def test_it_reads_invoice_payments(current):
    assert normalize.invoice_payment(current("invoice_payment__docs_example")) == InvoicePayment(
        id="inpay_1M3USa2eZvKYlo2CBjuwbq0N",
        livemode=False,
        created=1391288554,
        invoice="in_103Q0w2eZvKYlo2C5PYwf6Wf",
        payment_type="payment_intent",
        payment_intent="pi_103Q0w2eZvKYlo2C364X582Z",
        charge=None,
        status="paid",
        is_default=True,
        amount_paid=2000,
        amount_requested=2000,
        currency="USD",
        paid_at=1391288554,
    )


def test_it_reads_the_placeholder_invoice_payment_without_an_id_in_its_payment(current):
    ip = normalize.invoice_payment(current("invoice_payment"))
    assert (ip.payment_type, ip.payment_intent, ip.charge, ip.amount_paid, ip.currency) == (
        "payment_intent",
        None,
        None,
        None,
        None,  # "currency" is not a currency code
    )


def test_it_reads_a_current_subscription(current):
    assert normalize.subscription(current("subscription")) == Subscription(
        id="sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
        livemode=False,
        created=1234567890,
        metadata={},
        customer="cus_QXg1o8vcGmoR32",
        status="active",
        latest_invoice=None,
        currency="USD",
    )


def test_it_reads_a_current_checkout_session(current):
    assert normalize.checkout_session(current("checkout.session")) == CheckoutSession(
        id="cs_test_a1YS1URlnyQCN5fUUduORoQ7Pw41PJqDWkIVQCpJPqkfIhd6tVY8XB1OLY",
        livemode=False,
        created=1234567890,
        metadata={},
        customer=None,
        payment_intent="pi_1PgafyB7WZ01zgkWSjxsAJo3",
        subscription=None,
        invoice=None,
        payment_link=None,
        client_reference_id=None,
        status="open",
        payment_status="unpaid",
        mode="payment",
        amount_total=None,
        currency=None,
    )


def test_it_reads_a_completed_subscription_checkout_session_with_expanded_links(current):
    d = current("checkout.session") | {
        "status": "complete",
        "payment_status": "paid",
        "mode": "subscription",
        "payment_intent": None,
        "subscription": current("subscription"),
        "invoice": "in_1",
        "customer": {"id": "cus_1", "object": "customer", "metadata": {}},
        "metadata": {"humblytics_view_id": VID},
        "amount_total": 2000,
        "currency": "eur",
    }
    s = normalize.checkout_session(d)
    assert (s.status, s.payment_status, s.mode, s.payment_intent, s.subscription, s.invoice, s.customer) == (
        "complete",
        "paid",
        "subscription",
        None,
        "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw",
        "in_1",
        "cus_1",
    )
    assert (s.amount_total, s.currency, normalize.view_id(s.metadata)) == (2000, "EUR", VID)


def test_it_reads_a_current_customer(current):
    assert normalize.customer(current("customer")) == Customer(
        id="cus_QXg1o8vcGmoR32", livemode=False, created=1234567890, metadata={}, deleted=False
    )


def test_it_reads_a_current_refund(current):
    assert normalize.refund(current("refund")) == Refund(
        id="re_1Pgc72B7WZ01zgkWqPvrRrPE",
        livemode=None,  # the example has no livemode
        created=1234567890,
        metadata={},
        charge="ch_1PgafuB7WZ01zgkWXYmPNZs8",
        payment_intent=None,
        amount=100,
        currency="USD",
        status="succeeded",
        reason=None,
        balance_transaction_id=None,
        balance_transaction=None,
    )


def test_it_reads_a_current_dispute(current):
    d = normalize.dispute(current("dispute"))
    assert d == Dispute(
        id="dp_1Pgc71B7WZ01zgkWMevJiAUx",
        livemode=False,
        created=1234567890,
        metadata={},
        charge="ch_1PgafuB7WZ01zgkWXYmPNZs8",
        payment_intent=None,
        amount=1000,
        currency="USD",
        status="warning_needs_response",
        reason="general",
    )
    assert not d.is_lost
    assert normalize.dispute(current("dispute") | {"status": "lost"}).is_lost


def test_it_reads_a_current_balance_transaction(current):
    assert normalize.balance_transaction(current("balance_transaction")) == BalanceTransaction(
        id="txn_1PgaxNB7WZ01zgkWEV3TLf40",
        created=1234567890,
        amount=100,
        fee=0,
        net=100,
        currency="USD",
        exchange_rate=None,
        source="ch_1PgafuB7WZ01zgkWXYmPNZs8",
        type="charge",
        status="available",
    )


def test_it_reads_an_expanded_balance_transaction_on_a_charge(current):
    bt = current("balance_transaction") | {"amount": 1087, "net": 1055, "fee": 32, "exchange_rate": 1.0870123}
    c = normalize.charge(current("charge") | {"currency": "eur", "balance_transaction": bt})
    assert c.balance_transaction_id == "txn_1PgaxNB7WZ01zgkWEV3TLf40"
    assert c.balance_transaction == BalanceTransaction(
        id="txn_1PgaxNB7WZ01zgkWEV3TLf40",
        created=1234567890,
        amount=1087,
        fee=32,
        net=1055,
        currency="USD",
        exchange_rate=Decimal("1.0870123"),  # not the float's binary expansion
        source="ch_1PgafuB7WZ01zgkWXYmPNZs8",
        type="charge",
        status="available",
    )


def test_it_reads_ids_and_expanded_links_alike(current):
    ids = current("charge") | {"customer": "cus_1", "payment_intent": "pi_1"}
    objects = current("charge") | {
        "customer": current("customer") | {"id": "cus_1"},
        "payment_intent": current("payment_intent") | {"id": "pi_1", "metadata": {"humblytics_view_id": VID}},
    }
    assert normalize.charge(ids) == normalize.charge(objects)
    pi = normalize.linked(objects, "payment_intent")
    assert (type(pi), pi.id, normalize.view_id(pi.metadata)) == (PaymentIntent, "pi_1", VID)
    assert normalize.linked(ids, "payment_intent") is None
    assert normalize.linked(objects, "customer") == Customer(
        id="cus_1", livemode=False, created=1234567890, metadata={}
    )
    assert normalize.linked(objects, "no_such_key") is None


def test_it_normalises_any_object_by_its_type(current):
    for name, cls in [
        ("charge", Charge),
        ("payment_intent", PaymentIntent),
        ("invoice", Invoice),
        ("invoice_payment", InvoicePayment),
        ("subscription", Subscription),
        ("checkout.session", CheckoutSession),
        ("customer", Customer),
        ("refund", Refund),
        ("dispute", Dispute),
        ("balance_transaction", BalanceTransaction),
    ]:
        assert type(normalize.any_object(current(name))) is cls
    with pytest.raises(NormalizeError, match="'credit_note'"):
        normalize.any_object(current("credit_note"))


# --- older shape: as localstripe returns it ----------------------------------------------------------------


def test_it_reads_a_charge_shape_as_localstripe_returns_it():
    d = ls_charge(
        amount_refunded=500,
        refunds={"object": "list", "url": "/v1/charges/ch_ls1/refunds", "data": [ls_refund()], "has_more": False},
    )
    assert normalize.charge(d) == Charge(
        id="ch_ls1",
        livemode=False,
        created=1767225600,
        metadata={},
        customer="cus_ls1",
        payment_intent="pi_ls1",
        invoice=None,
        status="succeeded",
        paid=True,
        captured=True,
        refunded=False,
        disputed=None,  # localstripe has no disputes
        amount=2500,
        amount_captured=None,  # nor amount_captured
        amount_refunded=500,
        currency="EUR",
        description=None,
        balance_transaction_id="txn_ls1",
        balance_transaction=None,
        refunds=(
            Refund(
                id="re_ls1",
                livemode=False,
                created=1767229200,
                metadata={},
                charge="ch_ls1",
                payment_intent=None,
                amount=500,
                currency="EUR",
                status="succeeded",
                balance_transaction_id="txn_ls2",
            ),
        ),
    )


def test_it_reads_a_legacy_charge_invoice_link():
    c = normalize.charge(ls_charge(invoice={"id": "in_ls1", "object": "invoice"}, payment_intent=None))
    assert (c.invoice, c.payment_intent) == ("in_ls1", None)


def test_it_reads_a_payment_intent_shape_as_localstripe_returns_it():
    pi = normalize.payment_intent(ls_payment_intent(invoice="in_ls1"))
    assert pi == PaymentIntent(
        id="pi_ls1",
        livemode=False,
        created=1767225600,
        metadata={"humblytics_view_id": VID},
        customer="cus_ls1",
        invoice="in_ls1",
        latest_charge="ch_ls1",
        status="succeeded",
        amount=2500,
        amount_received=None,  # localstripe has none
        currency="EUR",
    )
    assert normalize.linked(ls_payment_intent(), "latest_charge") == normalize.charge(ls_charge())


def test_it_reads_an_invoice_shape_as_localstripe_returns_it():
    assert normalize.invoice(ls_invoice()) == Invoice(
        id="in_ls1",
        livemode=False,
        created=1767225600,
        metadata={},
        customer="cus_ls1",
        subscription="sub_ls1",
        subscription_metadata=None,  # localstripe keeps no snapshot: read the subscription itself
        parent_type="subscription_details",
        status="paid",
        paid=None,
        paid_at=1767225601,
        billing_reason=None,
        currency="EUR",
        total=2500,
        amount_due=2500,
        amount_paid=2500,
        payment_intent="pi_ls1",
        charge="ch_ls1",
        payments=(),
    )


def test_it_reads_a_localstripe_invoice_without_subscription():
    inv = normalize.invoice(ls_invoice(subscription=None, parent=None, payment_intent=None, charge=None))
    assert (inv.subscription, inv.payment_intent, inv.charge, inv.parent_type) == (None, None, None, None)


def test_it_reads_an_invoice_as_pre_basil_stripe_versions_sent_it():
    # API versions 2023-08-16 … 2025-02-24: top-level links, `paid`, and the subscription_details snapshot.
    d = {
        "id": "in_old",
        "object": "invoice",
        "created": 1717200000,
        "livemode": True,
        "customer": {"id": "cus_old", "object": "customer", "metadata": {}},
        "subscription": {"id": "sub_old", "object": "subscription", "metadata": {}},
        "subscription_details": {"metadata": {"humblytics_view_id": f"  {VID}\n"}},
        "payment_intent": "pi_old",
        "charge": "ch_old",
        "paid": True,
        "status": "paid",
        "billing_reason": "subscription_cycle",
        "currency": "usd",
        "total": 900,
        "amount_due": 900,
        "amount_paid": 900,
        "metadata": {},
    }
    inv = normalize.invoice(d)
    assert (inv.customer, inv.subscription, inv.payment_intent, inv.charge, inv.paid, inv.livemode) == (
        "cus_old",
        "sub_old",
        "pi_old",
        "ch_old",
        True,
        True,
    )
    assert normalize.view_id(inv.subscription_metadata) == VID


def test_it_reads_a_subscription_shape_as_localstripe_returns_it():
    assert normalize.subscription(ls_subscription()) == Subscription(
        id="sub_ls1",
        livemode=False,
        created=1767225600,
        metadata={"humblytics_view_id": VID},
        customer="cus_ls1",
        status="active",
        latest_invoice="in_ls1",
        currency=None,  # Plans not Prices: localstripe's subscription has no currency of its own
    )


def test_it_reads_a_customer_shape_as_localstripe_returns_it():
    assert normalize.customer(ls_customer(metadata={"humblytics_view_id": VID})) == Customer(
        id="cus_ls1", livemode=False, created=1767225600, metadata={"humblytics_view_id": VID}, deleted=False
    )


def test_it_reads_a_deleted_customer():
    # What localstripe (and Stripe) return for a deleted customer: only id, object and deleted.
    assert normalize.customer({"id": "cus_gone", "object": "customer", "deleted": True}) == Customer(
        id="cus_gone", deleted=True
    )


def test_it_reads_a_refund_and_balance_transaction_shape_as_localstripe_returns_them():
    r = normalize.refund(
        ls_refund(
            balance_transaction=ls_balance_transaction(
                id="txn_ls2",
                amount=-500,
                net=-500,
                description="REFUND FOR CHARGE",
                reporting_category="refund",
                source="re_ls1",
                type="refund",
            )
        )
    )
    assert (r.charge, r.amount, r.currency, r.status, r.balance_transaction_id) == (
        "ch_ls1",
        500,
        "EUR",
        "succeeded",
        "txn_ls2",
    )
    assert r.balance_transaction == BalanceTransaction(
        id="txn_ls2",
        created=1767225600,
        amount=-500,
        fee=0,
        net=-500,
        currency="EUR",
        exchange_rate=Decimal("1.0"),
        source="re_ls1",
        type="refund",
        status="available",
    )


# --- robustness -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "function, kind",
    [
        (normalize.charge, "charge"),
        (normalize.payment_intent, "payment_intent"),
        (normalize.invoice, "invoice"),
        (normalize.subscription, "subscription"),
        (normalize.checkout_session, "checkout.session"),
        (normalize.customer, "customer"),
        (normalize.refund, "refund"),
        (normalize.dispute, "dispute"),
        (normalize.invoice_payment, "invoice_payment"),
        (normalize.balance_transaction, "balance_transaction"),
    ],
)
def test_it_rejects_a_dict_that_is_not_the_named_object(function, kind):
    with pytest.raises(NormalizeError, match=rf"Expected a Stripe {kind}, got object='plan' \(id='plan_1'\)"):
        function({"id": "plan_1", "object": "plan"})
    with pytest.raises(NormalizeError, match="got object=None"):
        function({"id": "x_1"})
    with pytest.raises(NormalizeError, match="as a dict, got str"):
        function("ch_1")
    # …and a bare object of the right kind, every field missing, does not raise.
    assert function({"object": kind}).id is None


def test_it_turns_fields_of_the_wrong_type_into_none():
    c = normalize.charge(
        {
            "object": "charge",
            "id": 42,
            "livemode": "false",
            "created": "1767225600",
            "amount": True,
            "amount_refunded": 1.5,
            "currency": "dollars",
            "customer": 123,
            "payment_intent": {"object": "payment_intent"},  # expanded but without an id
            "paid": 1,
            "status": "",
            "metadata": "humblytics_view_id=x",
            "refunds": "none",
            "balance_transaction": {"object": "refund", "id": "re_1"},
        }
    )
    assert c == Charge(balance_transaction_id="re_1")  # an id is an id; the object is not a balance transaction


def test_it_keeps_only_string_metadata():
    d = {"object": "customer", "metadata": {"humblytics_view_id": VID, "n": 5, "none": None, 7: "x", "nested": {}}}
    assert normalize.customer(d).metadata == {"humblytics_view_id": VID}


def test_it_skips_list_entries_that_are_not_the_expected_objects(current):
    d = current("invoice") | {"payments": {"object": "list", "data": ["inpay_1", None, {"object": "charge"}]}}
    assert normalize.invoice(d).payments == ()
    c = normalize.charge(current("charge") | {"refunds": [ls_refund(), "re_2", {"object": "dispute"}]})
    assert [r.id for r in c.refunds] == ["re_ls1"]


# --- the view id -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        (VID, VID),
        ("a" * 16, "a" * 16),
        ("Z" * 40, "Z" * 40),
        ("  " + VID + "\t\n", VID),
        ("AZaz09_-AZaz09_-", "AZaz09_-AZaz09_-"),
    ],
)
def test_it_accepts_valid_view_ids(value, expected):
    assert normalize.view_id({"humblytics_view_id": value, "other": "x"}) == expected


@pytest.mark.parametrize(
    "value",
    [
        "a" * 15,
        "a" * 41,
        "",
        "    ",
        "has spaces inside the id",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "abcdefghijklmnop;DROP TABLE",
        "abcdefghijklmnop\x00",
        "abcdefghijklmnop\nsecondline",
        "ÄÖÜäöüßÄÖÜäöüßÄÖÜ",
        "abcdefghijklmnop.qr",
        12345678901234567890,
        True,
        None,
        ["Vw_0123456789abcdef-XY"],
        {"id": "Vw_0123456789abcdef-XY"},
    ],
)
def test_it_rejects_invalid_view_ids(value):
    assert normalize.view_id({"humblytics_view_id": value}) is None


@pytest.mark.parametrize(
    "metadata", [None, "humblytics_view_id", ["humblytics_view_id"], {}, {"Humblytics_View_Id": VID}, {"view_id": VID}]
)
def test_it_finds_no_view_id_without_the_exact_key_in_a_dict(metadata):
    assert normalize.view_id(metadata) is None

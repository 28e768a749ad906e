"""What localstripe 1.15.10 does when driven through stripe-python 16.1.0: the facts docs/localstripe.md relies on.

These pin the emulator's behaviour, quirks included (each quirk is named where it is asserted), so that an upgrade
of either package that changes a shape fails here first, not in the revenue sync tests.
"""

import time

import pytest
import stripe

from tests.revenue.conftest import make_client

pytestmark = pytest.mark.localstripe

CHARGE_KEYS = {
    "amount",
    "amount_refunded",
    "balance_transaction",
    "captured",
    "created",
    "currency",
    "customer",
    "description",
    "failure_code",
    "failure_message",
    "id",
    "invoice",
    "livemode",
    "metadata",
    "object",
    "paid",
    "payment_intent",
    "payment_method",
    "receipt_email",
    "receipt_number",
    "refunded",
    "refunds",
    "statement_descriptor",
    "status",
}
PAYMENT_INTENT_KEYS = {
    "amount",
    "capture_method",
    "charges",
    "client_secret",
    "created",
    "currency",
    "customer",
    "id",
    "invoice",
    "last_payment_error",
    "latest_charge",
    "livemode",
    "metadata",
    "next_action",
    "object",
    "payment_method",
    "status",
}
REFUND_KEYS = {
    "amount",
    "balance_transaction",
    "charge",
    "created",
    "currency",
    "date",
    "id",
    "livemode",
    "metadata",
    "object",
    "payment_intent",
    "status",
}


def _customer_with_card(client, **params):
    customer = client.v1.customers.create(params=params)
    card = client.v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
    client.v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
    return customer


def _pay(client, amount, **params):
    return client.v1.payment_intents.create(
        params={"amount": amount, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True, **params}
    )


def _plan(client, amount=2500):
    product = client.v1.products.create(params={"name": "Pro"})
    return client.v1.plans.create(
        params={"id": "pro-monthly", "amount": amount, "currency": "usd", "interval": "month", "product": product.id}
    )


def test_it_creates_a_customer_and_keeps_its_metadata(stripe_client):
    created = stripe_client.v1.customers.create(
        params={"email": "buyer@example.org", "name": "Buyer", "metadata": {"humblytics_view_id": "v_cus"}}
    )

    fetched = stripe_client.v1.customers.retrieve(created.id)
    assert fetched.id.startswith("cus_")
    assert fetched.metadata.to_dict() == {"humblytics_view_id": "v_cus"}
    assert (fetched.email, fetched.name, fetched.livemode) == ("buyer@example.org", "Buyer", False)
    assert [c.id for c in stripe_client.v1.customers.list().data] == [created.id]


def test_a_confirmed_payment_intent_succeeds_with_one_charge_and_a_balance_transaction(stripe_client):
    customer = _customer_with_card(stripe_client, email="buyer@example.org")
    card = stripe_client.v1.customers.retrieve(customer.id).invoice_settings.default_payment_method

    intent = _pay(stripe_client, 1999, customer=customer.id, payment_method=card, metadata={"humblytics_view_id": "v1"})

    pi = stripe_client.v1.payment_intents.retrieve(intent.id).to_dict()
    assert set(pi) == PAYMENT_INTENT_KEYS
    assert (pi["status"], pi["amount"], pi["currency"], pi["customer"]) == ("succeeded", 1999, "usd", customer.id)
    assert pi["metadata"] == {"humblytics_view_id": "v1"}
    assert pi["invoice"] is None
    # Quirk: latest_charge comes back as the whole Charge, not its id (real Stripe sends the id unless expanded).
    charge = pi["latest_charge"]
    assert set(charge) == CHARGE_KEYS
    assert pi["charges"]["data"] == [charge]
    assert charge["payment_intent"] == intent.id
    assert (charge["status"], charge["paid"], charge["captured"], charge["amount"]) == ("succeeded", True, True, 1999)
    assert (charge["customer"], charge["payment_method"], charge["invoice"]) == (customer.id, card, None)
    # Quirk: the PaymentIntent's metadata is not copied onto its Charge (real Stripe copies it at confirmation).
    assert charge["metadata"] == {}

    txn = stripe_client.v1.balance_transactions.retrieve(charge["balance_transaction"])
    assert (txn.amount, txn.fee, txn.net, txn.currency, txn.exchange_rate) == (1999, 0, 1999, "usd", 1.0)
    assert (txn.source, txn.type, txn.reporting_category) == (charge["id"], "charge", "charge")


def test_a_declined_card_raises_a_card_error_and_leaves_a_failed_charge(stripe_client):
    with pytest.raises(stripe.CardError) as declined:
        _pay(stripe_client, 500, payment_method="pm_card_chargeCustomerFail")

    assert declined.value.http_status == 402
    assert declined.value.code == "card_declined"
    [charge] = stripe_client.v1.charges.list().data
    assert (charge.id, charge.status, charge.paid) == (declined.value.json_body["error"]["charge"], "failed", False)
    assert charge.balance_transaction is None
    intent = stripe_client.v1.payment_intents.retrieve(charge.payment_intent)
    assert intent.status == "requires_payment_method"


def test_it_lists_charges_created_after_a_timestamp_one_page_at_a_time(stripe_client):
    _pay(stripe_client, 1)
    time.sleep(1 - time.time() % 1 + 0.01)  # `created` has whole seconds: step into the next one
    since = int(time.time()) - 1
    for amount in range(100, 250):
        _pay(stripe_client, amount)

    first = stripe_client.v1.charges.list(params={"created": {"gt": since}, "limit": 100})
    second = stripe_client.v1.charges.list(
        params={"created": {"gt": since}, "limit": 100, "starting_after": first.data[-1].id}
    )

    # Quirk: oldest first (store order); real Stripe lists newest first.
    assert [c.amount for c in first.data] == list(range(100, 200))
    assert first.has_more is True
    assert [c.amount for c in second.data] == list(range(200, 250))
    assert second.has_more is False
    assert sum(1 for _ in stripe_client.v1.charges.list(params={"limit": 40}).auto_paging_iter()) == 151


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"created": {"gte": 1_700_000_000}}, 500),  # only created[gt] is implemented: "Not implemented"
        ({"created": {"gt": 1_700_000_000, "lt": 1_900_000_000}}, 400),  # one bound only
        ({"payment_intent": "pi_x"}, 500),  # unknown filters crash the handler (plain-text 500)
        ({"ending_before": "ch_x"}, 500),
    ],
)
def test_charge_list_filters_beyond_created_gt_fail(stripe_client, params, status):
    with pytest.raises(stripe.StripeError) as failed:
        stripe_client.v1.charges.list(params=params)

    assert failed.value.http_status == status


def test_a_subscription_on_a_plan_pays_its_first_invoice_through_a_payment_intent(stripe_client):
    customer = _customer_with_card(stripe_client, email="sub@example.org")
    plan = _plan(stripe_client)

    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"plan": plan.id}], "metadata": {"humblytics_view_id": "v_sub"}}
    )

    assert (sub.status, sub.plan.id, sub.metadata.to_dict()) == (
        "active",
        "pro-monthly",
        {"humblytics_view_id": "v_sub"},
    )
    invoice = stripe_client.v1.invoices.retrieve(sub.latest_invoice)
    assert (invoice.status, invoice.amount_due, invoice.amount_paid, invoice.total) == ("paid", 2500, 2500, 2500)
    assert invoice.billing_reason is None  # quirk: never set (real Stripe: subscription_create)
    # Both shapes at once: the old invoice.subscription and the basil parent block (without a metadata snapshot).
    assert invoice.subscription == sub.id
    assert invoice.parent.to_dict() == {
        "type": "subscription_details",
        "subscription_details": {"subscription": sub.id},
    }
    intent = stripe_client.v1.payment_intents.retrieve(invoice.payment_intent)
    assert (intent.invoice, intent.customer, intent.status, intent.amount) == (
        invoice.id,
        customer.id,
        "succeeded",
        2500,
    )
    assert intent.metadata.to_dict() == {}  # the subscription's metadata is not copied onto its payments
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge.id)
    assert charge.payment_intent == intent.id
    assert charge.invoice is None  # quirk: never set, even for an invoice's charge; walk charge → PI → invoice
    assert invoice.charge.id == charge.id  # invoice.charge is the embedded Charge


def test_a_second_invoice_for_the_same_subscription_stands_in_for_a_renewal(stripe_client):
    customer = _customer_with_card(stripe_client, email="renew@example.org")
    sub = stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"plan": _plan(stripe_client).id}]}
    )

    draft = stripe_client.v1.invoices.create(params={"customer": customer.id, "subscription": sub.id})
    assert (draft.status, draft.payment_intent, draft.subscription) == ("draft", None, sub.id)
    renewal = stripe_client.v1.invoices.pay(draft.id)

    assert (renewal.status, renewal.amount_paid) == ("paid", 2500)
    # No clock: the "renewal" bills the same period as the first invoice; only `date` moves to the period's end.
    listed = stripe_client.v1.invoices.list(params={"subscription": sub.id}).data
    assert listed[0].id == renewal.id  # invoices list newest `date` first
    assert len(listed) == 2
    assert len({i.payment_intent for i in listed}) == 2
    assert listed[0].period_start == listed[1].period_start
    assert listed[0].date == listed[1].period_end
    assert stripe_client.v1.subscriptions.retrieve(sub.id).latest_invoice == renewal.id
    renewal_pi = stripe_client.v1.payment_intents.retrieve(renewal.payment_intent)
    assert (renewal_pi.invoice, renewal_pi.status, renewal_pi.metadata.to_dict()) == (renewal.id, "succeeded", {})


def test_refunds_partial_then_the_rest_update_the_charge(stripe_client):
    intent = _pay(stripe_client, 500)
    charge_id = intent.latest_charge.id

    partial = stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 200})
    after_partial = stripe_client.v1.charges.retrieve(charge_id)
    rest = stripe_client.v1.refunds.create(params={"charge": charge_id, "amount": 300})
    after_full = stripe_client.v1.charges.retrieve(charge_id)

    assert set(partial.to_dict()) == REFUND_KEYS
    assert (partial.amount, partial.status, partial.charge, partial.payment_intent) == (
        200,
        "succeeded",
        charge_id,
        None,
    )
    assert (after_partial.amount_refunded, after_partial.refunded) == (200, False)
    assert (after_full.amount_refunded, after_full.refunded) == (500, True)
    assert sorted(r.id for r in after_full.refunds.data) == sorted([partial.id, rest.id])  # same second: any order
    txn = stripe_client.v1.balance_transactions.retrieve(partial.balance_transaction)
    assert (txn.amount, txn.type, txn.source) == (-200, "refund", partial.id)


def test_a_refund_by_payment_intent_refunds_the_whole_amount_again(stripe_client):
    intent = _pay(stripe_client, 500)
    stripe_client.v1.refunds.create(params={"charge": intent.latest_charge.id, "amount": 200})

    # Quirk: no "amount left" logic and no over-refund check (real Stripe would refund 300, then refuse).
    again = stripe_client.v1.refunds.create(params={"payment_intent": intent.id})

    assert (again.amount, again.payment_intent) == (500, intent.id)
    charge = stripe_client.v1.charges.retrieve(intent.latest_charge.id)
    assert (charge.amount_refunded, charge.refunded) == (700, True)


def test_events_cover_customers_invoices_and_payment_intents_but_not_charges_or_refunds(stripe_client):
    customer = _customer_with_card(stripe_client, email="events@example.org")
    stripe_client.v1.subscriptions.create(
        params={"customer": customer.id, "items": [{"plan": _plan(stripe_client).id}]}
    )
    stripe_client.v1.refunds.create(params={"charge": _pay(stripe_client, 100).latest_charge.id})

    events = stripe_client.v1.events.list(params={"limit": 100})

    assert [e.type for e in events.data] == [
        "customer.created",
        "customer.updated",
        "product.created",
        "plan.created",
        "invoice.created",
        "payment_intent.succeeded",
        "invoice.payment_succeeded",
        "customer.subscription.created",
        "payment_intent.succeeded",
    ]
    assert {e.api_version for e in events.data} == {"2017-08-15"}
    since = stripe_client.v1.events.list(params={"created": {"gte": events.data[0].created}, "type": "plan.created"})
    assert [e.type for e in since.data] == ["plan.created"]
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.events.list(params={"types": ["charge.succeeded"]})


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.v1.checkout.sessions.list(),
        lambda c: c.v1.disputes.list(),
        lambda c: c.v1.prices.list(),
        lambda c: c.v1.invoice_payments.list(),
        lambda c: c.v1.charges.search(params={"query": "status:'succeeded'"}),
        lambda c: c.v1.test_helpers.test_clocks.list(),
    ],
    ids=["checkout_sessions", "disputes", "prices", "invoice_payments", "charges_search", "test_clocks"],
)
def test_endpoints_localstripe_lacks_answer_404(stripe_client, call):
    with pytest.raises(stripe.StripeError) as missing:
        call(stripe_client)

    assert missing.value.http_status == 404


def test_a_revoked_key_gets_401_an_authentication_error(localstripe_clean):
    with pytest.raises(stripe.AuthenticationError) as revoked:
        make_client(localstripe_clean, "sk_test_merchant-revoked").v1.charges.list(params={"limit": 1})

    assert revoked.value.http_status == 401
    assert revoked.value.json_body == {
        "error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****oked"}
    }


def test_publishable_and_malformed_keys_get_localstripes_own_401(localstripe_clean):
    for key in ("pk_test_abc", "sk_"):
        with pytest.raises(stripe.AuthenticationError) as refused:
            make_client(localstripe_clean, key).v1.charges.list()
        assert refused.value.json_body == {"error": {"type": "invalid_request_error", "message": "Unauthorized"}}


def test_a_restricted_key_without_a_permission_gets_403_naming_it(localstripe_clean):
    client = make_client(localstripe_clean, "rk_test_merchant-no-invoices")

    assert client.v1.charges.list().data == []
    with pytest.raises(stripe.PermissionError) as forbidden:
        client.v1.invoices.list(params={"limit": 1})

    assert forbidden.value.http_status == 403
    assert "'rak_invoice_read' permission" in forbidden.value.user_message


def test_a_rate_limited_key_gets_429_until_its_quota_of_refusals_is_spent(localstripe_clean):
    client = make_client(localstripe_clean, "sk_test_merchant-ratelimited2")

    for _ in range(2):
        with pytest.raises(stripe.RateLimitError) as limited:
            client.v1.charges.list()
        # stripe-python leaves RateLimitError.code unset; the code is in the body.
        assert (limited.value.http_status, limited.value.json_body["error"]["code"]) == (429, "rate_limit")
    assert client.v1.charges.list().data == []


def test_a_reset_forgets_every_object(localstripe_server, stripe_client):
    _pay(stripe_client, 100)

    localstripe_server.reset()

    assert stripe_client.v1.charges.list().data == []
    assert stripe_client.v1.payment_intents.list().data == []
    assert stripe_client.v1.events.list().data == []

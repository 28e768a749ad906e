"""A small stand-in for Stripe's read API that serves objects built from Stripe's own recorded examples.

It stands in for Stripe only because no local emulator implements these endpoints: localstripe 1.15.10 (which
test_sync.py drives through the real client over HTTP) has no Checkout Sessions, no `invoice_payments`, no
disputes, no settlement in another currency, and answers in the pre-basil invoice shape (docs/localstripe.md).
Every path localstripe can serve is tested there, not here.

The objects start as deep copies of Stripe's example objects (stripe/openapi fixtures for API 2026-07-29.dahlia,
`shared/stripe/fixtures-2026-07-29.dahlia.json`), so every field has the name and shape Stripe sends — the
current one: `invoice.parent.subscription_details`, no `charge.invoice` / `payment_intent.invoice` / top-level
`invoice.subscription`. Their placeholder values (`"obj_123"`, `"subscription"`, 1234567890, random integers)
are overwritten wherever the sync reads them, with realistic ids, recent timestamps, amounts, links and our
`humblytics_view_id` metadata.

`RecordedStripe` has the read methods of `revenue.stripe.client.StripeAPI` and returns what they return, with
the same expansions (a charge's `payment_intent` and `balance_transaction`, an invoice payment's `invoice`);
lists are newest first, as on Stripe. `calls` counts calls like the real client; `log` names them.
"""

import copy
import hashlib
import itertools
import json
import string
import time
from pathlib import Path

import pytest

from revenue.stripe import client as stripe_client

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "stripe" / "fixtures-2026-07-29.dahlia.json"
_ALPHABET = string.digits + string.ascii_letters
_OWN_CURRENCY = object()


def load_examples():
    """Stripe's example objects by kind; skips the calling test when the file is not there."""
    if not EXAMPLES.exists():
        pytest.skip(f"Stripe's recorded example objects are not at {EXAMPLES} (needed for the recorded-shape tests)")
    return json.loads(EXAMPLES.read_text())


class RecordedStripe:
    """Build objects with customer(), subscription(), invoice(), checkout_session(), payment(), dispute();
    the sync reads them through the StripeAPI methods below."""

    def __init__(self, *, now=None, examples=None):
        self.examples = examples or load_examples()
        self.calls = 0
        self.log = []  # (method, argument) per call
        self._start = int(now if now is not None else time.time()) - 3600  # objects made in the last hour
        self._seq = itertools.count(1)
        self._objects = {}  # id -> object; the read methods hand out copies, as an HTTP API would
        self._order = []  # ids in creation order

    # --- building ------------------------------------------------------------------------------------
    def _id(self, prefix, length=22):
        """`cus_1Q…`: Stripe's look (prefix, `_1`, base-62), deterministic per object made."""
        digest = int.from_bytes(hashlib.sha512(f"{prefix}{next(self._seq)}".encode()).digest())
        tail = ""
        while len(tail) < length:
            digest, rest = divmod(digest, 62)
            tail += _ALPHABET[rest]
        return f"{prefix}_1Q{tail}"

    def _new(self, kind, prefix, **fields):
        obj = copy.deepcopy(self.examples[kind])
        obj.update(id=self._id(prefix), created=self._start + len(self._order) * 7, livemode=False, metadata={})
        obj.update(fields)
        self._objects[obj["id"]] = obj
        self._order.append(obj["id"])
        return obj

    def customer(self, *, metadata=None, email="buyer@example.org"):
        return self._new(
            "customer",
            "cus",
            email=email,
            name="A Buyer",
            discount=None,
            invoice_prefix="8C1F2E9A",
            metadata=metadata or {},
        )

    def subscription(self, *, customer, metadata=None, amount=2000, currency="usd"):
        sub = self._new(
            "subscription",
            "sub",
            customer=customer["id"],
            currency=currency,
            status="active",
            metadata=metadata or {},
            latest_invoice=None,
            cancel_at=None,
            canceled_at=None,
            cancel_at_period_end=False,
            ended_at=None,
            trial_start=None,
            trial_end=None,
            next_pending_invoice_item_invoice=None,
            billing_cycle_anchor_config=None,
            pending_invoice_item_interval=None,
            pending_update=None,
            transfer_data=None,
        )
        sub["start_date"] = sub["billing_cycle_anchor"] = sub["created"]
        item = sub["items"]["data"][0]
        item.update(
            id=self._id("si"), subscription=sub["id"], created=sub["created"], current_period_start=sub["created"]
        )
        item["current_period_end"] = sub["created"] + 30 * 86400
        item["price"].update(
            unit_amount=amount, unit_amount_decimal=str(amount), currency=currency, transform_quantity=None
        )
        item.pop("plan", None)  # the example's plan is all placeholders; a Price-based item has no plan
        sub["items"]["url"] = f"/v1/subscription_items?subscription={sub['id']}"
        return sub

    def invoice(
        self, *, customer, subscription=None, snapshot=None, metadata=None, amount=2000, currency="usd",
        billing_reason=None,
    ):  # fmt: skip
        """An open invoice. `snapshot`: the subscription's metadata as Stripe copies it when finalising."""
        invoice = self._new(
            "invoice",
            "in",
            customer=customer["id"],
            currency=currency,
            metadata=metadata or {},
            status="open",
            billing_reason=billing_reason or ("subscription_create" if subscription else "manual"),
            amount_due=amount,
            amount_paid=0,
            amount_remaining=amount,
            amount_overpaid=0,
            subtotal=amount,
            subtotal_excluding_tax=amount,
            total=amount,
            total_excluding_tax=amount,
            from_invoice=None,
            last_finalization_error=None,
            shipping_cost=None,
            number=f"8C1F2E9A-{len(self._order):04d}",
        )
        invoice.pop("subscription", None)  # removed in 2025-03-31.basil; the example still carries `null`
        if subscription is not None:
            invoice["parent"] = {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": dict(snapshot or {}), "subscription": subscription["id"]},
            }
            subscription["latest_invoice"] = invoice["id"]
        else:
            invoice["parent"] = None
        invoice["status_transitions"].update(finalized_at=invoice["created"])
        created = invoice["created"]
        invoice.update(
            due_date=None, effective_at=created, next_payment_attempt=created + 3600, period_start=created,
            period_end=created, webhooks_delivered_at=created,
        )  # fmt: skip
        line = invoice["lines"]["data"][0]
        line.update(id=self._id("il"), invoice=invoice["id"], amount=amount, currency=currency, subtotal=amount)
        line["period"] = {"start": invoice["created"], "end": invoice["created"] + 30 * 86400}
        if subscription is not None:
            line["parent"] = {
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None, "proration": False, "proration_details": {"credited_items": None},
                    "subscription": subscription["id"], "subscription_item": subscription["items"]["data"][0]["id"],
                },
            }  # fmt: skip
        invoice["lines"]["url"] = f"/v1/invoices/{invoice['id']}/lines"
        return invoice

    def checkout_session(
        self, *, mode="payment", payment_intent=None, subscription=None, invoice=None, customer=None, metadata=None,
        payment_link=False, amount_total=1999, currency="usd",
    ):  # fmt: skip
        """A completed, paid Checkout Session. `payment_link=True`: created by a Payment Link (no metadata of ours)."""
        session = self._new(
            "checkout.session",
            "cs",
            id="cs_test_a" + self._id("x", 55)[2:],  # Checkout Session ids are long: cs_test_a1 + 56 characters
            mode=mode,
            status="complete",
            payment_status="paid",
            payment_intent=payment_intent["id"] if payment_intent else None,
            subscription=subscription["id"] if subscription else None,
            invoice=invoice["id"] if invoice else None,
            customer=customer["id"] if customer else None,
            metadata=metadata or {},
            amount_subtotal=amount_total,
            amount_total=amount_total,
            currency=currency,
            url=None,  # a completed session has no URL any more
            currency_conversion=None,
            shipping_cost=None,
            total_details={"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            payment_method_configuration_details=None,
        )
        session["expires_at"] = session["created"] + 86400
        if payment_link:
            session["payment_link"] = self._id("plink")
            session["success_url"] = "https://example.com/thanks?session_id={CHECKOUT_SESSION_ID}"
        return session

    def payment(
        self, amount=1999, currency="usd", *, customer=None, metadata=None, invoice=None,
        settled=_OWN_CURRENCY, fee=None, description=None,
    ):  # fmt: skip
        """A succeeded PaymentIntent and its Charge -> (payment_intent, charge).

        `settled`: (currency, amount) the balance transaction settled in; default: the charge's own.
        `settled=None`: the charge has no balance transaction (yet). `invoice`: the invoice this pays
        (linked the current way: an InvoicePayment, nothing on the PI or the charge).
        """
        metadata = dict(metadata or {})
        intent = self._new(
            "payment_intent",
            "pi",
            amount=amount,
            amount_received=amount,
            currency=currency,
            customer=customer["id"] if customer else None,
            metadata=metadata,
            status="succeeded",
            canceled_at=None,
            last_payment_error=None,
            next_action=None,
            processing=None,
            shipping=None,
            description=description or ("Subscription creation" if invoice else None),
            payment_method=self._id("pm"),
            payment_method_configuration_details=None,
            transfer_data=None,
        )
        intent["client_secret"] = f"{intent['id']}_secret_{self._id('x', 25)[4:]}"
        charge = self._new(
            "charge",
            "ch",
            amount=amount,
            amount_captured=amount,
            amount_refunded=0,
            captured=True,
            paid=True,
            status="succeeded",
            currency=currency,
            customer=intent["customer"],
            payment_intent=intent["id"],
            payment_method=intent["payment_method"],
            metadata=dict(metadata),  # Stripe copies the PI's metadata onto the charge when it is created
            description=intent["description"],
            disputed=False,
            refunded=False,
            receipt_url=None,
            source=None,
            shipping=None,
            transfer_data=None,
        )
        charge["refunds"] = {
            "object": "list",
            "data": [],
            "has_more": False,
            "url": f"/v1/charges/{charge['id']}/refunds",
        }
        charge["created"] = intent["created"]
        intent["latest_charge"] = charge["id"]
        charge["balance_transaction"] = None
        if settled is _OWN_CURRENCY:
            settled = (currency, amount)
        if settled is not None:
            settle_currency, settle_amount = settled
            fee = round(settle_amount * 0.029) + 30 if fee is None else fee
            txn = self._new(
                "balance_transaction",
                "txn",
                amount=settle_amount,
                currency=settle_currency,
                exchange_rate=None if settle_currency == currency else round(settle_amount / amount, 6),
                fee=fee,
                fee_details=[{"amount": fee, "application": None, "currency": settle_currency,
                              "description": "Stripe processing fees", "type": "stripe_fee"}],
                net=settle_amount - fee,
                source=charge["id"],
                available_on=charge["created"] + 2 * 86400,
                description=intent["description"],
                status="pending",
            )  # fmt: skip
            del txn["livemode"], txn["metadata"]  # balance transactions have neither
            txn["created"] = charge["created"]
            charge["balance_transaction"] = txn["id"]
        if invoice is not None:
            self._pay_invoice(invoice, intent)
        return intent, charge

    def _pay_invoice(self, invoice, intent):
        payment = self._new(
            "invoice_payment__docs_example",
            "inpay",
            invoice=invoice["id"],
            amount_paid=intent["amount"],
            amount_requested=intent["amount"],
            currency=intent["currency"],
            is_default=True,
            status="paid",
            payment={"type": "payment_intent", "payment_intent": intent["id"]},
        )
        payment.pop("_source", None)
        payment.pop("metadata", None)  # invoice payments have no metadata
        payment["status_transitions"] = {"canceled_at": None, "paid_at": intent["created"]}
        invoice.update(
            status="paid", amount_paid=intent["amount"], amount_remaining=0, attempted=True, attempt_count=1,
            next_payment_attempt=None,
        )  # fmt: skip
        invoice["status_transitions"]["paid_at"] = intent["created"]

    def dispute(self, charge, *, status, amount=None, reason="fraudulent"):
        """A dispute of `charge`, created now-ish; `status`: warning_needs_response, needs_response, under_review,
        won, lost, …"""
        dispute = self._new(
            "dispute",
            "dp",
            charge=charge["id"],
            payment_intent=charge["payment_intent"],
            amount=charge["amount"] if amount is None else amount,
            currency=charge["currency"],
            status=status,
            reason=reason,
            is_charge_refundable=False,
        )
        dispute["payment_method_details"]["card"]["case_type"] = "chargeback"
        dispute["evidence_details"]["due_by"] = dispute["created"] + 7 * 86400
        charge["disputed"] = True
        return dispute

    # --- reading: the StripeAPI methods ---------------------------------------------------------------
    def _call(self, method, argument=None):
        self.calls += 1
        self.log.append((method, argument))

    def _all(self, kind):
        objects = [self._objects[i] for i in self._order if self._objects[i]["object"] == kind]
        return sorted(objects, key=lambda o: o["created"], reverse=True)  # newest first, as on Stripe

    def _one(self, kind, stripe_id):
        obj = self._objects.get(stripe_id)
        if obj is None or obj["object"] != kind:
            # What the real client raises for Stripe's 404 with `param: id`.
            raise stripe_client.StripeProblem(f"Stripe refused a request: No such {kind}: '{stripe_id}'")
        return copy.deepcopy(obj)

    @staticmethod
    def _page(objects, *, starting_after, limit, url):
        if starting_after:
            ids = [o["id"] for o in objects]
            objects = objects[ids.index(starting_after) + 1 :]
        return {"object": "list", "data": copy.deepcopy(objects[:limit]), "has_more": len(objects) > limit, "url": url}

    def _expanded_charge(self, charge):
        charge = copy.deepcopy(charge)
        if charge.get("payment_intent"):
            charge["payment_intent"] = copy.deepcopy(self._objects[charge["payment_intent"]])
        if charge.get("balance_transaction"):
            charge["balance_transaction"] = copy.deepcopy(self._objects[charge["balance_transaction"]])
        return charge

    def list_charges(self, *, created_gt, starting_after=None, limit=100):
        self._call("list_charges", created_gt)
        charges = [c for c in self._all("charge") if c["created"] > created_gt]
        page = self._page(charges, starting_after=starting_after, limit=limit, url="/v1/charges")
        page["data"] = [self._expanded_charge(c) for c in page["data"]]
        return page

    def retrieve_charge(self, charge_id):
        self._call("retrieve_charge", charge_id)
        return self._expanded_charge(self._one("charge", charge_id))

    def retrieve_payment_intent(self, pi_id):
        self._call("retrieve_payment_intent", pi_id)
        return self._one("payment_intent", pi_id)

    def retrieve_invoice(self, invoice_id):
        self._call("retrieve_invoice", invoice_id)
        return self._one("invoice", invoice_id)

    def retrieve_subscription(self, subscription_id):
        self._call("retrieve_subscription", subscription_id)
        return self._one("subscription", subscription_id)

    def retrieve_customer(self, customer_id):
        self._call("retrieve_customer", customer_id)
        return self._one("customer", customer_id)

    def invoice_payments_for(self, pi_id):
        self._call("invoice_payments_for", pi_id)
        found = []
        for payment in self._all("invoice_payment"):
            if payment["payment"].get("payment_intent") == pi_id:
                payment = copy.deepcopy(payment)
                payment["invoice"] = copy.deepcopy(self._objects[payment["invoice"]])  # expand=["data.invoice"]
                found.append(payment)
        return found[:10]

    def checkout_sessions_for(self, *, payment_intent=None, subscription=None):
        self._call("checkout_sessions_for", payment_intent or subscription)
        sessions = [
            s
            for s in self._all("checkout.session")
            if (not payment_intent or s["payment_intent"] == payment_intent)
            and (not subscription or s["subscription"] == subscription)
        ]
        return copy.deepcopy(sessions[:10])

    def list_refunds(self, *, starting_after=None, limit=100):
        self._call("list_refunds")
        return self._page(self._all("refund"), starting_after=starting_after, limit=limit, url="/v1/refunds")

    def list_disputes(self, *, starting_after=None, limit=100):
        self._call("list_disputes")
        return self._page(self._all("dispute"), starting_after=starting_after, limit=limit, url="/v1/disputes")

    def validate(self):
        for resource in ("charges", "payment_intents", "invoices", "subscriptions", "customers", "refunds", "sessions"):
            self._call("validate", resource)

    def calls_to(self, method):
        return [argument for name, argument in self.log if name == method]

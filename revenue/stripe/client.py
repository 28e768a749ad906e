"""The one module that imports `stripe`. Everything else gets plain dicts from here.

Pins the API version, retries network errors and 5xx (the SDK's max_network_retries), backs off on 429
itself (the SDK does not), keeps far below Stripe's per-account limits with a token bucket (the limit is
shared with the merchant's own traffic), counts calls, and turns SDK errors into a few exceptions whose
messages are for the merchant. The key is never logged: errors are rebuilt from Stripe's message only.
"""

import re
import time

import stripe

API_VERSION = "2026-10-28.endive"
RATE_LIMIT_RETRIES = 5
_KEY_RE = re.compile(r"^(sk|rk)_(live|test)_[A-Za-z0-9_-]{6,255}$")
_PERMISSION_RE = re.compile(r"\brak_[a-z_]+\b")
PERMISSIONS = {
    "rak_charge_read": "Charges (read)",
    "rak_payment_intent_read": "PaymentIntents (read)",
    "rak_invoice_read": "Invoices (read)",
    "rak_subscription_read": "Subscriptions (read)",
    "rak_checkout_session_read": "Checkout Sessions (read)",
    "rak_customer_read": "Customers (read)",
    "rak_refund_read": "Refunds (read)",
    "rak_dispute_read": "Disputes (read)",
    "rak_balance_transaction_source_read": "Balance transaction sources (read)",
}


class StripeProblem(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class InvalidKey(StripeProblem):
    """Stripe said 401: the key is wrong, revoked or expired."""


class MissingPermission(StripeProblem):
    def __init__(self, message, permission=None):
        super().__init__(message)
        self.permission = permission


class NotSupported(StripeProblem):
    """The server has no such endpoint (404 on a list/resource path): an emulator, or an old account."""


class Unavailable(StripeProblem):
    """Network trouble, 5xx after retries, or rate limited for too long: try again later."""


def key_mode(key):
    """'live' or 'test' for a usable secret or restricted key; InvalidKey with a precise message otherwise."""
    key = (key or "").strip()
    if not key:
        raise InvalidKey("Paste a Stripe secret key (sk_…) or restricted key (rk_…).")
    if key.startswith("pk_"):
        raise InvalidKey(
            "That is a publishable key (pk_…), which cannot read payments. Paste a restricted key (rk_…) with "
            "read permissions, or a secret key (sk_…)."
        )
    if not _KEY_RE.match(key):
        raise InvalidKey(
            "That does not look like a Stripe key: it should start with rk_live_, rk_test_, sk_live_ or sk_test_."
        )
    return key.split("_", 2)[1]


def key_hint(key):
    key = key.strip()
    prefix = "_".join(key.split("_", 2)[:2]) + "_"
    return f"{prefix}…{key[-4:]}"


class StripeAPI:
    def __init__(self, key, *, api_base=None, max_requests_per_second=4.0, network_retries=2, sleep=time.sleep):
        self._client = stripe.StripeClient(
            key.strip(),
            stripe_version=API_VERSION,
            base_addresses={"api": api_base} if api_base else {},
            max_network_retries=network_retries,
        )
        self.calls = 0
        self._interval = 1.0 / max_requests_per_second if max_requests_per_second else 0.0
        self._next_slot = 0.0
        self._sleep = sleep

    # --- plumbing ------------------------------------------------------------------------------
    def _throttle(self):
        if not self._interval:
            return
        now = time.monotonic()
        if now < self._next_slot:
            self._sleep(self._next_slot - now)
            now = self._next_slot
        self._next_slot = now + self._interval

    def _call(self, method, params=None):
        delay = 1.0
        for attempt in range(RATE_LIMIT_RETRIES):
            self._throttle()
            self.calls += 1
            try:
                return method(params=params or {}).to_dict()
            except stripe.RateLimitError:
                if attempt == RATE_LIMIT_RETRIES - 1:
                    break  # no point sleeping before giving up
                self._sleep(delay)
                delay = min(delay * 2, 30.0)
            except stripe.AuthenticationError:
                raise InvalidKey(
                    "Stripe rejected the key (wrong, revoked or expired). Create a new restricted key and replace it."
                ) from None
            except stripe.PermissionError as error:
                raise _missing_permission(error) from None
            except stripe.InvalidRequestError as error:
                if error.http_status == 404 and not getattr(error, "param", None):
                    raise NotSupported(f"Stripe has no such endpoint here ({_short(error)})") from None
                raise StripeProblem(f"Stripe refused a request: {_short(error)}") from None
            except (stripe.APIConnectionError, stripe.APIError) as error:
                if getattr(error, "http_status", None) == 404:  # a route the server lacks (non-JSON 404)
                    raise NotSupported("Stripe has no such endpoint here") from None
                raise Unavailable(f"Stripe could not be reached: {_short(error)}") from None
        raise Unavailable("Stripe kept answering 429 (rate limited); the sync will continue later.")

    def _v1(self):
        return self._client.v1

    # --- reads ---------------------------------------------------------------------------------
    def list_charges(self, *, created_gt, starting_after=None, limit=100):
        params = {
            "limit": limit,
            "created": {"gt": int(created_gt)},
            "expand": ["data.payment_intent", "data.balance_transaction"],
        }
        if starting_after:
            params["starting_after"] = starting_after
        return self._call(self._v1().charges.list, params)

    def retrieve_charge(self, charge_id):
        return self._call(
            lambda params: self._v1().charges.retrieve(charge_id, params=params),
            {"expand": ["payment_intent", "balance_transaction"]},
        )

    def retrieve_payment_intent(self, pi_id):
        return self._call(lambda params: self._v1().payment_intents.retrieve(pi_id, params=params))

    def retrieve_invoice(self, invoice_id):
        return self._call(lambda params: self._v1().invoices.retrieve(invoice_id, params=params))

    def retrieve_subscription(self, subscription_id):
        return self._call(lambda params: self._v1().subscriptions.retrieve(subscription_id, params=params))

    def retrieve_customer(self, customer_id):
        return self._call(lambda params: self._v1().customers.retrieve(customer_id, params=params))

    def invoice_payments_for(self, pi_id):
        """The invoice(s) a PaymentIntent paid (current API; the reverse of invoice.payments)."""
        params = {
            "limit": 10,
            "payment": {"type": "payment_intent", "payment_intent": pi_id},
            "expand": ["data.invoice"],  # one call gives the invoice too
        }
        return self._call(self._v1().invoice_payments.list, params)["data"]

    def checkout_sessions_for(self, *, payment_intent=None, subscription=None):
        params = {"limit": 10}
        if payment_intent:
            params["payment_intent"] = payment_intent
        if subscription:
            params["subscription"] = subscription
        return self._call(self._v1().checkout.sessions.list, params)["data"]

    def list_refunds(self, *, starting_after=None, limit=100):
        params = {"limit": limit}
        if starting_after:
            params["starting_after"] = starting_after
        return self._call(self._v1().refunds.list, params)

    def list_disputes(self, *, starting_after=None, limit=100):
        params = {"limit": limit}
        if starting_after:
            params["starting_after"] = starting_after
        return self._call(self._v1().disputes.list, params)

    def validate(self):
        """One cheap read per resource the sync needs; raises the first problem (naming a missing permission)."""
        v1 = self._v1()
        for method in (
            v1.charges.list, v1.payment_intents.list, v1.invoices.list, v1.subscriptions.list, v1.customers.list,
            v1.refunds.list, v1.checkout.sessions.list,
        ):  # fmt: skip
            try:
                self._call(method, {"limit": 1})
            except NotSupported:
                continue  # e.g. an emulator without Checkout Sessions: nothing to read there


def _missing_permission(error):
    text = getattr(error, "user_message", None) or str(error)
    match = _PERMISSION_RE.search(text)
    if match:
        permission = match.group(0)
        human = PERMISSIONS.get(permission, permission)
        return MissingPermission(
            f"This key lacks the {human} permission ({permission}). Edit the restricted key in Stripe → "
            "Developers → API keys and grant it, then save again.",
            permission,
        )
    return MissingPermission("This key lacks a permission Stripe needs for the sync: " + text[:300])


def _short(error):
    text = getattr(error, "user_message", None) or str(error) or error.__class__.__name__
    # Stripe echoes keys in some messages ("Invalid API Key provided: sk_test_****1234"): never pass one on.
    return re.sub(r"\b(sk|rk|pk)_(live|test)_[A-Za-z0-9_*-]+", "[key]", text)[:300]


class EmulatorWriter:
    """Creates Stripe objects as a merchant's checkout would, for `make demo` and the benchmarks.

    Only ever pointed at an emulator (localstripe): the app itself never writes to Stripe.
    """

    def __init__(self, url, key="sk_test_humblytics_demo"):
        self.client = stripe.StripeClient(
            key, base_addresses={"api": url}, stripe_version=API_VERSION, max_network_retries=0
        )
        self._plan = None

    def customer(self, email, view_id=None):
        v1 = self.client.v1
        params = {"email": email}
        if view_id:
            params["metadata"] = {"humblytics_view_id": view_id}
        customer = v1.customers.create(params=params)
        card = v1.payment_methods.attach("pm_card_visa", params={"customer": customer.id})
        v1.customers.update(customer.id, params={"invoice_settings": {"default_payment_method": card.id}})
        return customer

    def pay(self, amount, currency, view_id=None, **params):
        if view_id:
            params["metadata"] = {"humblytics_view_id": view_id}
        return self.client.v1.payment_intents.create(
            params={"amount": amount, "currency": currency.lower(), "payment_method": "pm_card_visa", "confirm": True,
                    **params}
        )  # fmt: skip

    def plan(self, amount, currency):
        if self._plan is None:
            product = self.client.v1.products.create(params={"name": "Humblytics Pro"})
            self._plan = self.client.v1.plans.create(
                params={"amount": amount, "currency": currency.lower(), "interval": "month", "product": product.id}
            )
        return self._plan

    def subscribe(self, customer, plan, view_id=None):
        params = {"customer": customer.id, "items": [{"plan": plan.id}]}
        if view_id:
            params["metadata"] = {"humblytics_view_id": view_id}
        return self.client.v1.subscriptions.create(params=params)

    def renew(self, customer, subscription):
        """localstripe has no clock: a second paid invoice of the same subscription stands in for a renewal."""
        draft = self.client.v1.invoices.create(params={"customer": customer.id, "subscription": subscription.id})
        return self.client.v1.invoices.pay(draft.id)

    def refund(self, intent, amount=None):
        params = {"charge": intent.latest_charge.id}
        if amount:
            params["amount"] = amount
        return self.client.v1.refunds.create(params=params)

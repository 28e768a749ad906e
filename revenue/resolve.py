"""From a Stripe charge to the view id it should be credited to, with as few API calls as possible.

Walks PaymentIntent → Invoice → Subscription → Checkout Session → Customer and stops at the first
object whose metadata carries a valid `humblytics_view_id` (revenue.attribution decides). What each
object said is cached in StripeRef, so a subscription's renewals and a customer's later payments cost
no API call once their subscription or customer is known.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from revenue import attribution
from revenue.models import StripeRef
from revenue.stripe import client as stripe_client
from revenue.stripe import normalize
from tracking.models import PageView


@dataclass
class Resolution:
    view_id: str | None = None
    source: str | None = None
    payment_intent_id: str = ""
    invoice_id: str = ""
    subscription_id: str = ""
    checkout_session_id: str = ""
    customer_id: str = ""
    description: str = ""
    looked_up: list = field(default_factory=list)


class Resolver:
    def __init__(self, api, connection, *, use_cache=True):
        self.api, self.connection, self.use_cache = api, connection, use_cache
        self._refs = {}

    # --- the cache ---------------------------------------------------------------------------------
    def _ref(self, stripe_id):
        if stripe_id in self._refs:
            return self._refs[stripe_id]
        ref = (
            StripeRef.objects.filter(connection=self.connection, stripe_id=stripe_id).first()
            if self.use_cache
            else None
        )
        self._refs[stripe_id] = ref
        return ref

    def _remember(self, stripe_id, kind, view_id, links):
        ref, _ = StripeRef.objects.update_or_create(
            connection=self.connection, stripe_id=stripe_id,
            defaults={"kind": kind, "view_id": view_id or "", "links": links, "fetched_at": timezone.now()},
        )  # fmt: skip
        self._refs[stripe_id] = ref
        return ref

    def _cached_or_fetch(self, stripe_id, kind, fetch, describe):
        """(view_id or None, links) for an object, from the cache or one API call."""
        ref = self._ref(stripe_id)
        if ref is not None:
            return ref.view_id or None, ref.links
        try:
            raw = fetch(stripe_id)
        except stripe_client.NotSupported:
            return None, {}
        view_id, links = describe(raw)
        self._remember(stripe_id, kind, view_id, links)
        return view_id, links

    # --- one charge ----------------------------------------------------------------------------------
    def resolve(self, charge_raw):
        charge = normalize.charge(charge_raw)
        result = Resolution(customer_id=charge.customer or "", description=(charge.description or "")[:300])
        candidates = {}
        pi_raw = normalize.expanded(charge_raw, "payment_intent")
        if pi_raw is None and charge.payment_intent:
            pi_raw = self.api.retrieve_payment_intent(charge.payment_intent)
        pi = normalize.payment_intent(pi_raw) if pi_raw else None
        if pi is not None:
            result.payment_intent_id = pi.id or ""
            result.customer_id = result.customer_id or pi.customer or ""
            result.description = result.description or (pi.description or "")[:300]
            candidates["payment_intent"] = pi.metadata
        result.invoice_id = charge.invoice or (pi.invoice if pi else None) or ""
        if self._done(candidates, result):
            return result

        # Invoice: the legacy link, else the current API's invoice_payments (one call, cached per PI).
        if not result.invoice_id and pi is not None and "invoice" not in (pi_raw or {}):
            result.invoice_id = self._invoice_for_pi(pi.id) or ""
        if result.invoice_id:
            view_id, links = self._cached_or_fetch(
                result.invoice_id, "invoice", self.api.retrieve_invoice, _describe_invoice
            )
            candidates["invoice"] = _meta(view_id)
            result.subscription_id = links.get("subscription") or ""
            result.customer_id = result.customer_id or links.get("customer") or ""
            if links.get("subscription_view_id"):  # the invoice's snapshot of its subscription's metadata
                candidates["subscription"] = _meta(links["subscription_view_id"])
        if self._done(candidates, result):
            return result

        if result.subscription_id and "subscription" not in candidates:
            view_id, links = self._cached_or_fetch(
                result.subscription_id, "subscription", self.api.retrieve_subscription, _describe_subscription
            )
            candidates["subscription"] = _meta(view_id)
            result.customer_id = result.customer_id or links.get("customer") or ""
        if self._done(candidates, result):
            return result

        session_key = result.subscription_id or result.payment_intent_id
        if session_key:
            view_id, links = self._session(session_key, subscription=bool(result.subscription_id))
            candidates["checkout_session"] = _meta(view_id)
            result.checkout_session_id = links.get("session") or ""
        if self._done(candidates, result):
            return result
        if result.checkout_session_id:
            seen = (
                PageView.objects.filter(site_id=self.connection.site_id, checkout_session_id=result.checkout_session_id)
                .order_by("timestamp")
                .values_list("view_id", flat=True)
                .first()
            )
            candidates["checkout_session_url"] = seen
        if self._done(candidates, result):
            return result

        if result.customer_id:
            view_id, _ = self._cached_or_fetch(
                result.customer_id, "customer", self.api.retrieve_customer, _describe_customer
            )
            candidates["customer"] = _meta(view_id)
        self._done(candidates, result)
        return result

    def _done(self, candidates, result):
        view_id, source = attribution.first_view_id(candidates)
        if view_id:
            result.view_id, result.source = view_id, source
            return True
        return False

    def _invoice_for_pi(self, pi_id):
        key = f"invoice-of:{pi_id}"
        ref = self._ref(key)
        if ref is not None:
            return ref.links.get("invoice")
        try:
            payments = self.api.invoice_payments_for(pi_id)
        except stripe_client.NotSupported:
            payments = []
        invoice_id = next((normalize.invoice_payment(p).invoice for p in payments if p), None)
        self._remember(key, "invoice_lookup", None, {"invoice": invoice_id})
        expanded = next((normalize.expanded(p, "invoice") for p in payments if normalize.expanded(p, "invoice")), None)
        if invoice_id and expanded and self._ref(invoice_id) is None:
            view_id, links = _describe_invoice(expanded)
            self._remember(invoice_id, "invoice", view_id, links)  # no second call for the invoice itself
        return invoice_id

    def _session(self, key, *, subscription):
        ref_key = f"session-of:{key}"
        ref = self._ref(ref_key)
        if ref is not None:
            return ref.view_id or None, ref.links
        try:
            if subscription:
                sessions = self.api.checkout_sessions_for(subscription=key)
            else:
                sessions = self.api.checkout_sessions_for(payment_intent=key)
        except stripe_client.NotSupported:
            sessions = []
        view_id, session_id = None, None
        for raw in sessions:
            session = normalize.checkout_session(raw)
            session_id = session_id or session.id
            view_id = view_id or normalize.view_id(session.metadata)
        links = {"session": session_id}
        self._remember(ref_key, "checkout_session", view_id, links)
        return view_id, links


def _meta(view_id):
    return {normalize.VIEW_ID_KEY: view_id} if view_id else {}


def _describe_invoice(raw):
    invoice = normalize.invoice(raw)
    links = {"subscription": invoice.subscription, "customer": invoice.customer}
    snapshot = normalize.view_id(invoice.subscription_metadata or {})
    if snapshot:
        links["subscription_view_id"] = snapshot
    return normalize.view_id(invoice.metadata), links


def _describe_subscription(raw):
    subscription = normalize.subscription(raw)
    return normalize.view_id(subscription.metadata), {"customer": subscription.customer}


def _describe_customer(raw):
    customer = normalize.customer(raw)
    return normalize.view_id(customer.metadata), {}

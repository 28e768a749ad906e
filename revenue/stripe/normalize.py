"""Stripe objects (plain dicts, e.g. `stripe_object.to_dict()`) -> small frozen dataclasses. Pure: no Django, no SDK.

Objects reach us in two shapes and the code reads both:
- the current one (2025-03-31.basil and later): `invoice.parent.subscription_details.subscription`,
  `invoice.payments` (InvoicePayment objects), no `charge.invoice` / `payment_intent.invoice`;
- the older one (events rendered in an old API version, accounts pinned to one, and localstripe, our test
  emulator): `invoice.subscription`, `invoice.subscription_details.metadata`, `invoice.payment_intent`,
  `invoice.charge`, `invoice.paid`, `charge.invoice`, `payment_intent.invoice`.
Any link may be an id (`"cus_1"`) or an expanded object (`{"id": "cus_1", ...}`); both give the id.

A field that is missing or of the wrong type becomes None (or empty) rather than raising: Stripe adds and
removes fields between versions and a sync must not die on one odd object. Only a dict that is not the named
object at all (`object` mismatch, or not a mapping) raises NormalizeError.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

VIEW_ID_KEY = "humblytics_view_id"
# window.Humblytics.viewId: 16–40 URL-safe characters.
_VIEW_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,40}")
_CURRENCY_RE = re.compile(r"[A-Za-z]{3}")


class NormalizeError(ValueError):
    """The dict handed in is not the Stripe object the caller asked for."""


# --- the objects ------------------------------------------------------------------------------------------
# Every field has a default so that callers' tests can build one by hand: `Charge(id="ch_1", amount=100)`.


@dataclass(frozen=True, kw_only=True)
class BalanceTransaction:
    id: str | None = None
    created: int | None = None
    amount: int | None = None  # gross, in the settlement currency's minor units
    fee: int | None = None
    net: int | None = None
    currency: str | None = None  # the settlement currency, upper-case
    exchange_rate: Decimal | None = None  # None when no conversion happened
    source: str | None = None  # the charge / refund / dispute id
    type: str | None = None
    status: str | None = None


@dataclass(frozen=True, kw_only=True)
class Refund:
    id: str | None = None
    livemode: bool | None = None
    created: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    charge: str | None = None
    payment_intent: str | None = None
    amount: int | None = None
    currency: str | None = None
    status: str | None = None  # pending, requires_action, succeeded, failed, canceled
    reason: str | None = None
    balance_transaction_id: str | None = None
    balance_transaction: BalanceTransaction | None = None  # only when expanded


@dataclass(frozen=True, kw_only=True)
class Charge:
    id: str | None = None
    livemode: bool | None = None
    created: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # a one-time copy of the PI's metadata, if any
    customer: str | None = None
    payment_intent: str | None = None  # None for legacy Charges-API payments
    invoice: str | None = None  # older shape only
    status: str | None = None  # succeeded, pending, failed
    paid: bool | None = None
    captured: bool | None = None
    refunded: bool | None = None  # fully refunded
    disputed: bool | None = None
    amount: int | None = None
    amount_captured: int | None = None  # missing in older shapes
    amount_refunded: int | None = None
    currency: str | None = None
    description: str | None = None
    balance_transaction_id: str | None = None
    balance_transaction: BalanceTransaction | None = None  # only when expanded
    refunds: tuple[Refund, ...] = ()  # only when the charge embeds its refunds list (older shapes, expand)


@dataclass(frozen=True, kw_only=True)
class PaymentIntent:
    id: str | None = None
    livemode: bool | None = None
    created: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    customer: str | None = None
    invoice: str | None = None  # older shape only
    latest_charge: str | None = None
    status: str | None = None
    amount: int | None = None
    amount_received: int | None = None
    currency: str | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class InvoicePayment:
    id: str | None = None
    livemode: bool | None = None
    created: int | None = None
    invoice: str | None = None
    payment_type: str | None = None  # payment_intent, charge, out_of_band_payment, …
    payment_intent: str | None = None
    charge: str | None = None
    status: str | None = None  # open, paid, canceled
    is_default: bool | None = None
    amount_paid: int | None = None
    amount_requested: int | None = None
    currency: str | None = None
    paid_at: int | None = None


@dataclass(frozen=True, kw_only=True)
class Invoice:
    id: str | None = None  # None for a preview (upcoming) invoice
    livemode: bool | None = None
    created: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    customer: str | None = None
    subscription: str | None = None
    # The subscription's metadata as it was when the invoice was finalised; None when the object has no
    # snapshot (older invoices, invoices without a subscription) — then read the subscription itself.
    subscription_metadata: dict[str, str] | None = None
    parent_type: str | None = None  # subscription_details, quote_details, or anything Stripe adds later
    status: str | None = None  # draft, open, paid, uncollectible, void
    paid: bool | None = None  # older shape only
    paid_at: int | None = None
    billing_reason: str | None = None  # subscription_create, subscription_cycle, manual, …
    currency: str | None = None
    total: int | None = None
    amount_due: int | None = None
    amount_paid: int | None = None  # includes out-of-band payments: not money moved
    # The payment that paid it: legacy `payment_intent`/`charge`, else the default (or first paid) entry of
    # the expanded `payments` list. `payments` holds every entry when expanded.
    payment_intent: str | None = None
    charge: str | None = None
    payments: tuple[InvoicePayment, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Subscription:
    id: str | None = None
    livemode: bool | None = None
    created: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    customer: str | None = None
    status: str | None = None
    latest_invoice: str | None = None
    currency: str | None = None


@dataclass(frozen=True, kw_only=True)
class CheckoutSession:
    id: str | None = None
    livemode: bool | None = None
    created: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)  # NOT copied to the PI or the subscription
    customer: str | None = None
    payment_intent: str | None = None
    subscription: str | None = None
    invoice: str | None = None
    payment_link: str | None = None
    client_reference_id: str | None = None
    status: str | None = None  # open, complete, expired
    payment_status: str | None = None  # paid, unpaid, no_payment_required
    mode: str | None = None  # payment, subscription, setup
    amount_total: int | None = None
    currency: str | None = None


@dataclass(frozen=True, kw_only=True)
class Customer:
    id: str | None = None
    livemode: bool | None = None
    created: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    deleted: bool = False  # a deleted customer keeps only its id


@dataclass(frozen=True, kw_only=True)
class Dispute:
    id: str | None = None
    livemode: bool | None = None
    created: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    charge: str | None = None
    payment_intent: str | None = None
    amount: int | None = None
    currency: str | None = None
    status: str | None = None  # warning_*, needs_response, under_review, won, lost
    reason: str | None = None

    @property
    def is_lost(self):
        return self.status == "lost"


# --- small readers that never raise ------------------------------------------------------------------------


def ref(value):
    """The id of a link that is either an id string or an expanded object."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, Mapping):
        return _str(value.get("id"))
    return None


def expanded(d, key):
    """`d[key]` when it is an expanded object (a mapping), else None."""
    value = d.get(key) if isinstance(d, Mapping) else None
    return value if isinstance(value, Mapping) else None


def _str(value):
    return value if isinstance(value, str) and value else None


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value):
    return value if isinstance(value, bool) else None


def _currency(value):
    return value.upper() if isinstance(value, str) and _CURRENCY_RE.fullmatch(value) else None


def _decimal(value):
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))  # str() first: Decimal(0.1) would carry binary noise
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _metadata(value):
    """A plain dict of str -> str. Stripe metadata values are always strings; anything else is dropped."""
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _block(d, key):
    """A nested object of `d` (a Mapping), or {} when it is missing, null or not an object."""
    value = d.get(key)
    return value if isinstance(value, Mapping) else {}


def _list_data(value):
    """The items of an embedded list object (`{"object": "list", "data": [...]}`) or a bare list."""
    if isinstance(value, Mapping):
        value = value.get("data")
    if isinstance(value, list | tuple):
        return [item for item in value if isinstance(item, Mapping)]
    return []


def _check(d, expected):
    if not isinstance(d, Mapping):
        raise NormalizeError(f"Expected a Stripe {expected} as a dict, got {type(d).__name__}.")
    actual = d.get("object")
    if actual != expected:
        raise NormalizeError(f"Expected a Stripe {expected}, got object={actual!r} (id={d.get('id')!r}).")


def _common(d):
    return {"id": _str(d.get("id")), "livemode": _bool(d.get("livemode")), "created": _int(d.get("created"))}


def _balance_transaction_or_none(value):
    if isinstance(value, Mapping) and value.get("object") == "balance_transaction":
        return balance_transaction(value)
    return None


# --- the normalisers ---------------------------------------------------------------------------------------


def view_id(metadata):
    """The `humblytics_view_id` in `metadata` when it is a valid view id (whitespace trimmed), else None."""
    if not isinstance(metadata, Mapping):
        return None
    value = metadata.get(VIEW_ID_KEY)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if _VIEW_ID_RE.fullmatch(value) else None


def balance_transaction(d):
    _check(d, "balance_transaction")
    return BalanceTransaction(
        id=_str(d.get("id")),
        created=_int(d.get("created")),
        amount=_int(d.get("amount")),
        fee=_int(d.get("fee")),
        net=_int(d.get("net")),
        currency=_currency(d.get("currency")),
        exchange_rate=_decimal(d.get("exchange_rate")),
        source=ref(d.get("source")),
        type=_str(d.get("type")),
        status=_str(d.get("status")),
    )


def refund(d):
    _check(d, "refund")
    return Refund(
        **_common(d),
        metadata=_metadata(d.get("metadata")),
        charge=ref(d.get("charge")),
        payment_intent=ref(d.get("payment_intent")),
        amount=_int(d.get("amount")),
        currency=_currency(d.get("currency")),
        status=_str(d.get("status")),
        reason=_str(d.get("reason")),
        balance_transaction_id=ref(d.get("balance_transaction")),
        balance_transaction=_balance_transaction_or_none(d.get("balance_transaction")),
    )


def charge(d):
    _check(d, "charge")
    refunds = tuple(refund(r) for r in _list_data(d.get("refunds")) if r.get("object") == "refund")
    return Charge(
        **_common(d),
        metadata=_metadata(d.get("metadata")),
        customer=ref(d.get("customer")),
        payment_intent=ref(d.get("payment_intent")),
        invoice=ref(d.get("invoice")),
        status=_str(d.get("status")),
        paid=_bool(d.get("paid")),
        captured=_bool(d.get("captured")),
        refunded=_bool(d.get("refunded")),
        disputed=_bool(d.get("disputed")),
        amount=_int(d.get("amount")),
        amount_captured=_int(d.get("amount_captured")),
        amount_refunded=_int(d.get("amount_refunded")),
        currency=_currency(d.get("currency")),
        description=_str(d.get("description")),
        balance_transaction_id=ref(d.get("balance_transaction")),
        balance_transaction=_balance_transaction_or_none(d.get("balance_transaction")),
        refunds=refunds,
    )


def payment_intent(d):
    _check(d, "payment_intent")
    return PaymentIntent(
        **_common(d),
        metadata=_metadata(d.get("metadata")),
        customer=ref(d.get("customer")),
        invoice=ref(d.get("invoice")),
        latest_charge=ref(d.get("latest_charge")),
        status=_str(d.get("status")),
        amount=_int(d.get("amount")),
        amount_received=_int(d.get("amount_received")),
        currency=_currency(d.get("currency")),
        description=_str(d.get("description")),
    )


def invoice_payment(d):
    _check(d, "invoice_payment")
    payment = _block(d, "payment")
    transitions = _block(d, "status_transitions")
    return InvoicePayment(
        **_common(d),
        invoice=ref(d.get("invoice")),
        payment_type=_str(payment.get("type")),
        payment_intent=ref(payment.get("payment_intent")),
        charge=ref(payment.get("charge")),
        status=_str(d.get("status")),
        is_default=_bool(d.get("is_default")),
        amount_paid=_int(d.get("amount_paid")),
        amount_requested=_int(d.get("amount_requested")),
        currency=_currency(d.get("currency")),
        paid_at=_int(transitions.get("paid_at")),
    )


def _main_payment(payments):
    """The entry that stands for "the" payment of an invoice: paid before not, the default before others."""
    usable = [p for p in payments if p.payment_intent or p.charge]
    return min(usable, key=lambda p: (p.status != "paid", p.is_default is not True), default=None)


def invoice(d):
    _check(d, "invoice")
    parent = _block(d, "parent")
    # Only the block named by parent.type is set on real objects; read subscription_details whenever it is
    # there so an unknown parent.type never hides a subscription.
    details = parent.get("subscription_details")
    if not isinstance(details, Mapping):
        details = d.get("subscription_details")  # older shape: a top-level block with the metadata snapshot
    details = details if isinstance(details, Mapping) else {}
    snapshot = details.get("metadata")
    payments = tuple(invoice_payment(p) for p in _list_data(d.get("payments")) if p.get("object") == "invoice_payment")
    main = _main_payment(payments)
    transitions = _block(d, "status_transitions")
    return Invoice(
        **_common(d),
        metadata=_metadata(d.get("metadata")),
        customer=ref(d.get("customer")),
        subscription=ref(details.get("subscription")) or ref(d.get("subscription")),
        subscription_metadata=_metadata(snapshot) if isinstance(snapshot, Mapping) else None,
        parent_type=_str(parent.get("type")),
        status=_str(d.get("status")),
        paid=_bool(d.get("paid")),
        paid_at=_int(transitions.get("paid_at")),
        billing_reason=_str(d.get("billing_reason")),
        currency=_currency(d.get("currency")),
        total=_int(d.get("total")),
        amount_due=_int(d.get("amount_due")),
        amount_paid=_int(d.get("amount_paid")),
        payment_intent=ref(d.get("payment_intent")) or (main.payment_intent if main else None),
        charge=ref(d.get("charge")) or (main.charge if main else None),
        payments=payments,
    )


def subscription(d):
    _check(d, "subscription")
    return Subscription(
        **_common(d),
        metadata=_metadata(d.get("metadata")),
        customer=ref(d.get("customer")),
        status=_str(d.get("status")),
        latest_invoice=ref(d.get("latest_invoice")),
        currency=_currency(d.get("currency")),
    )


def checkout_session(d):
    _check(d, "checkout.session")
    return CheckoutSession(
        **_common(d),
        metadata=_metadata(d.get("metadata")),
        customer=ref(d.get("customer")),
        payment_intent=ref(d.get("payment_intent")),
        subscription=ref(d.get("subscription")),
        invoice=ref(d.get("invoice")),
        payment_link=ref(d.get("payment_link")),
        client_reference_id=_str(d.get("client_reference_id")),
        status=_str(d.get("status")),
        payment_status=_str(d.get("payment_status")),
        mode=_str(d.get("mode")),
        amount_total=_int(d.get("amount_total")),
        currency=_currency(d.get("currency")),
    )


def customer(d):
    _check(d, "customer")
    return Customer(**_common(d), metadata=_metadata(d.get("metadata")), deleted=d.get("deleted") is True)


def dispute(d):
    _check(d, "dispute")
    return Dispute(
        **_common(d),
        metadata=_metadata(d.get("metadata")),
        charge=ref(d.get("charge")),
        payment_intent=ref(d.get("payment_intent")),
        amount=_int(d.get("amount")),
        currency=_currency(d.get("currency")),
        status=_str(d.get("status")),
        reason=_str(d.get("reason")),
    )


NORMALIZERS = {
    "balance_transaction": balance_transaction,
    "charge": charge,
    "checkout.session": checkout_session,
    "customer": customer,
    "dispute": dispute,
    "invoice": invoice,
    "invoice_payment": invoice_payment,
    "payment_intent": payment_intent,
    "refund": refund,
    "subscription": subscription,
}


def any_object(d):
    """Normalise whichever of the objects above `d` is (by its `object`); NormalizeError for anything else."""
    kind = d.get("object") if isinstance(d, Mapping) else None
    normalizer = NORMALIZERS.get(kind) if isinstance(kind, str) else None
    if normalizer is None:
        raise NormalizeError(f"Not a Stripe object we normalise: object={kind!r}.")
    return normalizer(d)


def linked(d, key):
    """The normalised object behind link `key` of raw dict `d` when it was expanded, else None.

    `linked(raw_charge, "payment_intent")` -> PaymentIntent, so one `expand=[...]` call can feed attribution.
    An expanded link of an object type we do not normalise gives None.
    """
    value = expanded(d, key)
    if value is None or value.get("object") not in NORMALIZERS:
        return None
    return NORMALIZERS[value["object"]](value)

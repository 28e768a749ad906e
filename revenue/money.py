"""What a payment is worth: gross, refunded, lost to disputes and net, in its own and the site's currency. Pure.

Amounts are integers in the currency's minor unit (Stripe's convention; see humblytics.currencies for the
zero-, two- and three-decimal tables and ISK's quirk); the Decimal properties give major units.

The reporting currency (the site's) is reached in exactly two ways, and no rate is ever invented:
- "same": the payment is already in the reporting currency;
- "settled": the charge's expanded balance transaction settled in the reporting currency — its `amount`
  (gross, before Stripe's fee) is the gross; refunds and lost disputes are scaled by the same rate,
  `settled * part / amount` rounded half-even in minor units, and net is gross − refunded − disputed so the
  parts always add up. (A refund later settles at that day's rate; we keep the sale's rate so that a full
  refund nets to exactly zero.)
- otherwise "unavailable": every reporting amount is None.

What the dashboard should do with "unavailable" payments: count them (payments, conversions, attribution
still hold) but leave them out of every reporting-currency sum, and say so next to the totals — e.g.
"3 payments in other currencies not included (EUR 120.00, JPY 5,000)" listing their original-currency
totals. Never treat None as 0 and never convert them with a rate from elsewhere.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from humblytics.currencies import from_minor_units, is_currency

SAME = "same"
SETTLED = "settled"
UNAVAILABLE = "unavailable"

_NOT_REFUNDED = frozenset(["failed", "canceled"])


@dataclass(frozen=True, kw_only=True)
class PaymentMoney:
    charge_id: str | None
    currency: str
    gross_minor: int
    refunded_minor: int
    disputed_lost_minor: int
    net_minor: int
    reporting_currency: str
    conversion: str  # SAME, SETTLED or UNAVAILABLE
    reporting_gross_minor: int | None
    reporting_refunded_minor: int | None
    reporting_disputed_lost_minor: int | None
    reporting_net_minor: int | None
    exchange_rate: Decimal | None = None  # Stripe's rate, for display; SETTLED amounts do not depend on it

    @property
    def gross(self):
        return from_minor_units(self.gross_minor, self.currency)

    @property
    def refunded(self):
        return from_minor_units(self.refunded_minor, self.currency)

    @property
    def disputed_lost(self):
        return from_minor_units(self.disputed_lost_minor, self.currency)

    @property
    def net(self):
        return from_minor_units(self.net_minor, self.currency)

    def _reporting(self, minor):
        return None if minor is None else from_minor_units(minor, self.reporting_currency)

    @property
    def reporting_gross(self):
        return self._reporting(self.reporting_gross_minor)

    @property
    def reporting_refunded(self):
        return self._reporting(self.reporting_refunded_minor)

    @property
    def reporting_disputed_lost(self):
        return self._reporting(self.reporting_disputed_lost_minor)

    @property
    def reporting_net(self):
        return self._reporting(self.reporting_net_minor)


def _scale(settled, part, base):
    with localcontext() as ctx:
        ctx.prec = 50
        return int((Decimal(settled) * part / base).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def _moved(charge):
    """Money moved only for a captured, succeeded charge (legacy objects may carry only `paid`)."""
    succeeded = charge.status == "succeeded" or (charge.status is None and charge.paid is True)
    return succeeded and charge.captured is not False


def _belongs(obj, charge, what):
    if obj.charge and charge.id and obj.charge != charge.id:
        raise ValueError(f"{what} {obj.id} belongs to charge {obj.charge}, not {charge.id}.")


def payment_money(charge, *, reporting_currency, refunds=None, disputes=()):
    """The money of one normalised Charge (revenue.stripe.normalize.Charge).

    `refunds`: every Refund of the charge when the caller has them (e.g. from refund events, fresher than
    the charge); failed and canceled ones do not count. Without it, `charge.amount_refunded` is used.
    `disputes`: the charge's Disputes; only lost ones count. Refunds and disputes never exceed the gross.
    A charge that is not succeeded-and-captured moved no money: everything is zero.
    Partial capture: gross is `amount_captured` when the object has it (VERIFY on a live account that
    `amount_refunded` then excludes the released remainder; older shapes and localstripe have no
    `amount_captured` and count the remainder as a refund, so gross is `amount` there).
    """
    reporting_currency = reporting_currency.upper() if isinstance(reporting_currency, str) else reporting_currency
    if not is_currency(reporting_currency):
        raise ValueError(f"Not a currency: {reporting_currency!r}.")
    if charge.currency is None or charge.amount is None:
        raise ValueError(f"Charge {charge.id} has no amount or currency.")

    if not _moved(charge):
        gross = 0
    elif charge.amount_captured is not None and charge.captured:
        gross = charge.amount_captured
    else:
        gross = charge.amount

    if refunds is None:
        refunded = charge.amount_refunded or 0
    else:
        for r in refunds:
            _belongs(r, charge, "Refund")
        refunded = sum(r.amount or 0 for r in refunds if r.status not in _NOT_REFUNDED)
    refunded = max(0, min(refunded, gross))

    for d in disputes:
        _belongs(d, charge, "Dispute")
    disputed = sum(d.amount or 0 for d in disputes if d.is_lost)
    disputed = max(0, min(disputed, gross - refunded))

    net = gross - refunded - disputed
    original = {"gross": gross, "refunded": refunded, "disputed": disputed, "net": net}

    bt = charge.balance_transaction
    if charge.currency == reporting_currency:
        conversion, reported = SAME, original
    elif bt is not None and bt.currency == reporting_currency and bt.amount is not None:
        settled = bt.amount if gross else 0
        parts = {
            "refunded": _scale(settled, refunded, gross) if gross else 0,
            "disputed": _scale(settled, disputed, gross) if gross else 0,
        }
        conversion = SETTLED
        reported = {"gross": settled, **parts, "net": settled - parts["refunded"] - parts["disputed"]}
    else:
        conversion, reported = UNAVAILABLE, dict.fromkeys(original)

    return PaymentMoney(
        charge_id=charge.id,
        currency=charge.currency,
        gross_minor=gross,
        refunded_minor=refunded,
        disputed_lost_minor=disputed,
        net_minor=net,
        reporting_currency=reporting_currency,
        conversion=conversion,
        reporting_gross_minor=reported["gross"],
        reporting_refunded_minor=reported["refunded"],
        reporting_disputed_lost_minor=reported["disputed"],
        reporting_net_minor=reported["net"],
        exchange_rate=bt.exchange_rate if bt is not None else None,
    )

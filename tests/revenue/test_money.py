"""revenue.money: gross, refunded, lost disputes and net, in the payment's and the site's currency. Pure: no database."""

import copy
import json
from decimal import Decimal
from pathlib import Path

import pytest

from revenue.money import SAME, SETTLED, UNAVAILABLE, PaymentMoney, payment_money
from revenue.stripe import normalize
from revenue.stripe.normalize import BalanceTransaction, Charge, Dispute, Refund

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "stripe" / "fixtures-2026-07-29.dahlia.json"


def paid(amount=1999, currency="USD", **over):
    return Charge(id="ch_1", status="succeeded", paid=True, captured=True, amount=amount, currency=currency, **over)


def settled_in(currency, amount, rate=None):
    return BalanceTransaction(id="txn_1", amount=amount, currency=currency, exchange_rate=rate, source="ch_1")


def refund(amount, status="succeeded", charge="ch_1", id="re_1"):
    return Refund(id=id, charge=charge, amount=amount, status=status)


def dispute(amount, status, charge="ch_1"):
    return Dispute(id="dp_1", charge=charge, amount=amount, status=status)


def minor(money):
    return (money.gross_minor, money.refunded_minor, money.disputed_lost_minor, money.net_minor)


def reporting_minor(money):
    return (
        money.reporting_gross_minor,
        money.reporting_refunded_minor,
        money.reporting_disputed_lost_minor,
        money.reporting_net_minor,
    )


@pytest.mark.parametrize(
    "currency, amount, major",
    [
        ("USD", 1999, "19.99"),
        ("EUR", 5, "0.05"),
        ("JPY", 500, "500"),
        ("KRW", 15000, "15000"),
        ("BHD", 1234, "1.234"),
        ("KWD", 1000, "1.000"),
        ("ISK", 100, "1.00"),  # zero-decimal in ISO 4217, but Stripe sends it with two decimals
    ],
)
def test_it_reads_minor_units_in_every_kind_of_currency(currency, amount, major):
    money = payment_money(paid(amount, currency), reporting_currency=currency)
    assert (money.gross, money.net, money.reporting_gross, money.reporting_net) == (Decimal(major),) * 4
    assert str(money.gross) == major


def test_a_payment_in_the_reporting_currency_is_reported_as_is():
    money = payment_money(paid(1999, amount_refunded=0), reporting_currency="usd")
    assert money == PaymentMoney(
        charge_id="ch_1",
        currency="USD",
        gross_minor=1999,
        refunded_minor=0,
        disputed_lost_minor=0,
        net_minor=1999,
        reporting_currency="USD",
        conversion=SAME,
        reporting_gross_minor=1999,
        reporting_refunded_minor=0,
        reporting_disputed_lost_minor=0,
        reporting_net_minor=1999,
        exchange_rate=None,
    )
    assert (money.refunded, money.disputed_lost, money.reporting_refunded) == (Decimal("0.00"),) * 3


def test_a_full_refund_nets_to_zero():
    money = payment_money(paid(1999, amount_refunded=1999, refunded=True), reporting_currency="USD")
    assert minor(money) == (1999, 1999, 0, 0)
    assert money.net == Decimal("0.00")


def test_a_partial_refund_leaves_the_rest():
    money = payment_money(paid(1999, amount_refunded=500), reporting_currency="USD")
    assert minor(money) == (1999, 500, 0, 1499)
    assert (money.refunded, money.net) == (Decimal("5.00"), Decimal("14.99"))


def test_a_refunds_list_is_used_instead_of_the_charges_total_and_failed_ones_do_not_count():
    refunds = [
        refund(300, id="re_1"),
        refund(200, "pending", id="re_2"),
        refund(900, "failed", id="re_3"),
        refund(100, "canceled", id="re_4"),
    ]
    money = payment_money(paid(1999, amount_refunded=300), reporting_currency="USD", refunds=refunds)
    assert minor(money) == (1999, 500, 0, 1499)
    assert minor(payment_money(paid(1999, amount_refunded=300), reporting_currency="USD", refunds=[])) == (
        1999,
        0,
        0,
        1999,
    )


def test_refunds_never_exceed_the_gross():
    assert minor(payment_money(paid(1000, amount_refunded=5000), reporting_currency="USD")) == (1000, 1000, 0, 0)


def test_it_rejects_a_refund_or_dispute_of_another_charge():
    with pytest.raises(ValueError, match="Refund re_1 belongs to charge ch_2, not ch_1"):
        payment_money(paid(), reporting_currency="USD", refunds=[refund(100, charge="ch_2")])
    with pytest.raises(ValueError, match="Dispute dp_1 belongs to charge ch_2, not ch_1"):
        payment_money(paid(), reporting_currency="USD", disputes=[dispute(100, "lost", charge="ch_2")])


def test_a_lost_dispute_is_taken_off_and_a_won_or_open_one_is_not():
    assert minor(payment_money(paid(1999), reporting_currency="USD", disputes=[dispute(1999, "lost")])) == (
        1999,
        0,
        1999,
        0,
    )
    for status in ("won", "needs_response", "under_review", "warning_needs_response", "warning_closed"):
        money = payment_money(paid(1999), reporting_currency="USD", disputes=[dispute(1999, status)])
        assert minor(money) == (1999, 0, 0, 1999), status


def test_a_lost_dispute_after_a_partial_refund_takes_no_more_than_what_is_left():
    money = payment_money(paid(1999, amount_refunded=500), reporting_currency="USD", disputes=[dispute(1999, "lost")])
    assert minor(money) == (1999, 500, 1499, 0)
    assert money.disputed_lost == Decimal("14.99")


def test_a_charge_that_moved_no_money_is_worth_nothing():
    for charge in (
        Charge(id="ch_1", status="failed", paid=False, captured=False, amount=1999, currency="USD"),
        Charge(id="ch_1", status="pending", paid=False, captured=True, amount=1999, currency="USD"),
        Charge(id="ch_1", status="succeeded", paid=True, captured=False, amount=1999, currency="USD"),
    ):
        assert minor(payment_money(charge, reporting_currency="USD")) == (0, 0, 0, 0)
    legacy = Charge(id="ch_1", paid=True, amount=1999, currency="USD")  # no status, only `paid`
    assert minor(payment_money(legacy, reporting_currency="USD")) == (1999, 0, 0, 1999)


def test_a_partially_captured_charge_is_worth_what_was_captured():
    money = payment_money(paid(1000, amount_captured=600, amount_refunded=100), reporting_currency="USD")
    assert minor(money) == (600, 100, 0, 500)


# --- the reporting currency --------------------------------------------------------------------------------


def test_a_payment_settled_in_the_reporting_currency_uses_the_settled_amount_and_scales_the_rest():
    charge = paid(1000, "EUR", amount_refunded=333, balance_transaction=settled_in("USD", 1087, Decimal("1.087")))
    money = payment_money(charge, reporting_currency="USD")
    assert (money.conversion, money.exchange_rate) == (SETTLED, Decimal("1.087"))
    assert minor(money) == (1000, 333, 0, 667)
    # 1087 * 333 / 1000 = 361.971 -> 362; net is what is left so the parts add up.
    assert reporting_minor(money) == (1087, 362, 0, 725)
    assert (money.reporting_gross, money.reporting_net) == (Decimal("10.87"), Decimal("7.25"))


def test_settled_parts_are_rounded_half_to_even():
    # 1005 * 500 / 1000 = 502.5 -> 502 (even); 1005 * 300 / 1000 = 301.5 -> 302 (even).
    charge = paid(1000, "EUR", amount_refunded=500, balance_transaction=settled_in("USD", 1005))
    assert reporting_minor(payment_money(charge, reporting_currency="USD")) == (1005, 502, 0, 503)
    charge = paid(1000, "EUR", amount_refunded=300, balance_transaction=settled_in("USD", 1005))
    assert reporting_minor(payment_money(charge, reporting_currency="USD")) == (1005, 302, 0, 703)


def test_settlement_converts_between_zero_two_and_three_decimal_currencies():
    jpy = paid(5000, "JPY", amount_refunded=1000, balance_transaction=settled_in("USD", 3350, Decimal("0.0067")))
    money = payment_money(jpy, reporting_currency="USD")
    assert (money.gross, money.refunded) == (Decimal("5000"), Decimal("1000"))
    assert (money.reporting_gross, money.reporting_refunded, money.reporting_net) == (
        Decimal("33.50"),
        Decimal("6.70"),
        Decimal("26.80"),
    )
    kwd = paid(10000, "KWD", balance_transaction=settled_in("EUR", 2990))
    money = payment_money(kwd, reporting_currency="EUR", disputes=[dispute(10000, "lost")])
    assert (money.gross, money.reporting_gross, money.reporting_disputed_lost, money.reporting_net) == (
        Decimal("10.000"),
        Decimal("29.90"),
        Decimal("29.90"),
        Decimal("0.00"),
    )
    usd_to_bhd = payment_money(paid(1000, "USD", balance_transaction=settled_in("BHD", 3770)), reporting_currency="BHD")
    assert (usd_to_bhd.conversion, usd_to_bhd.reporting_gross) == (SETTLED, Decimal("3.770"))


def test_without_a_settlement_in_the_reporting_currency_no_rate_is_invented():
    for charge in (
        paid(1000, "EUR"),  # balance transaction not expanded
        paid(1000, "EUR", balance_transaction=settled_in("GBP", 870, Decimal("0.87"))),  # settled elsewhere
    ):
        money = payment_money(charge, reporting_currency="USD", refunds=[refund(100)])
        assert money.conversion == UNAVAILABLE
        assert minor(money) == (1000, 100, 0, 900)
        assert reporting_minor(money) == (None, None, None, None)
        assert (money.reporting_gross, money.reporting_net) == (None, None)


def test_the_same_currency_ignores_the_balance_transaction():
    charge = paid(1999, "USD", balance_transaction=settled_in("USD", 1999, None))
    assert payment_money(charge, reporting_currency="USD").conversion == SAME


def test_it_rejects_a_bad_reporting_currency_or_a_charge_without_money():
    with pytest.raises(ValueError, match="Not a currency: 'DOLLARS'"):
        payment_money(paid(), reporting_currency="dollars")
    with pytest.raises(ValueError, match="Not a currency: None"):
        payment_money(paid(), reporting_currency=None)
    with pytest.raises(ValueError, match="Charge ch_1 has no amount or currency"):
        payment_money(Charge(id="ch_1", status="succeeded", amount=100), reporting_currency="USD")


# --- from Stripe's dicts -------------------------------------------------------------------------------------


def test_it_works_on_a_current_shape_charge_with_an_expanded_balance_transaction():
    if not FIXTURES.exists():
        pytest.skip(f"Stripe's current-shape example objects are not at {FIXTURES}")
    objects = json.loads(FIXTURES.read_text())
    raw = copy.deepcopy(objects["charge"]) | {
        "captured": True,
        "amount": 2000,
        "amount_captured": 2000,
        "amount_refunded": 500,
        "currency": "eur",
        "balance_transaction": objects["balance_transaction"]
        | {"amount": 2174, "currency": "usd", "exchange_rate": 1.087},
    }
    money = payment_money(
        normalize.charge(raw),
        reporting_currency="USD",
        disputes=[normalize.dispute(objects["dispute"] | {"amount": 1500, "status": "lost"})],
    )
    assert (money.conversion, money.exchange_rate, money.currency) == (SETTLED, Decimal("1.087"), "EUR")
    assert minor(money) == (2000, 500, 1500, 0)
    assert reporting_minor(money) == (2174, 544, 1630, 0)  # 543.5 -> 544, 1630.5 -> 1630 (half-even)


def test_it_works_on_a_charge_shape_as_localstripe_returns_it():
    raw = {
        "id": "ch_ls1",
        "object": "charge",
        "amount": 500,
        "currency": "usd",
        "status": "succeeded",
        "paid": True,
        "captured": True,
        "balance_transaction": "txn_ls1",  # localstripe does expand it on request; here it is an id
        "refunds": {
            "object": "list",
            "data": [
                {"id": "re_a", "object": "refund", "charge": "ch_ls1", "amount": 200, "status": "succeeded"},
                {"id": "re_b", "object": "refund", "charge": "ch_ls1", "amount": 300, "status": "succeeded"},
            ],
        },
        "amount_refunded": 500,
        "refunded": True,
    }
    charge = normalize.charge(raw)
    assert minor(payment_money(charge, reporting_currency="USD", refunds=charge.refunds)) == (500, 500, 0, 0)
    assert payment_money(charge, reporting_currency="EUR").conversion == UNAVAILABLE

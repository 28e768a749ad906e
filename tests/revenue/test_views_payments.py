"""The payment list behind the Revenue tab's troubleshooting counts: filtered by status, paginated, newest first."""

from datetime import UTC, datetime, timedelta

import pytest

from revenue.models import Payment, StripeConnection
from tests.tracking.factories import record
from tracking import services as tracking_services
from tracking.models import PageView

PAYMENTS = "/sites/example.com/settings/revenue/payments/"
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _payment(site, stripe_id, *, attribution=Payment.Attribution.NO_VIEW_ID, minutes=0, **fields):
    defaults = {"currency": "USD", "amount": 1999, "reporting_currency": "EUR"}
    return Payment.objects.create(
        site=site,
        stripe_id=stripe_id,
        attribution=attribution,
        created_at=T0 + timedelta(minutes=minutes),
        **{**defaults, **fields},
    )


@pytest.fixture
def visit(site):
    tracking_services.events_store(
        [record(site, view="view_from_newsletter_0001", source="Newsletter", country="FR", path="/pricing")]
    )
    return PageView.objects.get(view_id="view_from_newsletter_0001").visit


@pytest.fixture
def payments(site, visit):
    """One payment per status, the attributed one credited to the newsletter visit."""
    return {
        "attributed": _payment(
            site,
            "pi_attributed",
            attribution=Payment.Attribution.ATTRIBUTED,
            minutes=4,
            view_id="view_from_newsletter_0001",
            view_source="checkout_session",
            visit=visit,
            amount=4999,
            amount_refunded=1000,
        ),
        "pending": _payment(
            site, "pi_pending", attribution=Payment.Attribution.PENDING, minutes=3, view_id="view_late_0000000001"
        ),
        "no_view_id": _payment(site, "ch_legacy", minutes=2, currency="JPY", amount=5000),
        "view_not_found": _payment(
            site,
            "pi_not_found",
            attribution=Payment.Attribution.VIEW_NOT_FOUND,
            minutes=1,
            view_id="view_elsewhere_000001",
            view_source="customer",
        ),
    }


def _stripe_ids(body):
    return [
        stripe_id for stripe_id in ("pi_attributed", "pi_pending", "ch_legacy", "pi_not_found") if stripe_id in body
    ]


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_every_member_sees_all_payments_newest_first(request, login, site, payments, who):
    response = login(request.getfixturevalue(who)).get(PAYMENTS)
    body = response.content.decode()
    assert response.status_code == 200
    assert '<h2 style="margin-top:0">All payments</h2>' in body
    positions = [body.index(f"<code>{stripe_id}</code>") for stripe_id in ("pi_attributed", "pi_pending", "ch_legacy")]
    assert positions == sorted(positions)
    assert body.index("<code>ch_legacy</code>") < body.index("<code>pi_not_found</code>")


def test_it_shows_date_amount_stripe_id_status_source_and_the_visit(login, site, payments, vera):
    body = login(vera).get(PAYMENTS + "?status=attributed").content.decode()
    assert "<td>10 Mar 2026, 13:04</td>" in body  # Europe/Berlin
    assert '<td class="num">49.99 USD<br><span class="muted">−10.00 refunded or disputed</span></td>' in body
    assert (
        '<a href="https://dashboard.stripe.com/test/payments/pi_attributed" rel="noreferrer noopener" '
        'target="_blank"><code>pi_attributed</code></a> <span class="badge warn">Test</span>'
    ) in body
    assert '<td><span class="badge ok">Attributed</span></td>' in body
    assert "<td>Checkout Session</td>" in body
    assert '<td>Newsletter · FR<br><span class="muted">/pricing</span></td>' in body
    assert _stripe_ids(body) == ["pi_attributed"]


@pytest.mark.parametrize(
    ("status", "expected", "label"),
    [
        ("attributed", ["pi_attributed"], "Attributed"),
        ("pending", ["pi_pending"], "Pending"),
        ("no_view_id", ["ch_legacy"], "Without a view id"),
        ("view_not_found", ["pi_not_found"], "View not found"),
    ],
)
def test_it_filters_by_status(login, site, payments, vera, status, expected, label):
    response = login(vera).get(PAYMENTS, {"status": status})
    body = response.content.decode()
    assert response.status_code == 200
    assert _stripe_ids(body) == expected
    assert f'<h2 style="margin-top:0">{label} payments</h2>' in body
    assert f'<a href="{PAYMENTS}?status={status}" class="active" aria-current="page">{label}</a>' in body


def test_an_unattributed_payment_shows_no_visit(login, site, payments, vera):
    body = login(vera).get(PAYMENTS, {"status": "view_not_found"}).content.decode()
    assert '<td class="num">19.99 USD</td>' in body
    assert "<td>Customer</td>" in body
    assert "Newsletter" not in body


def test_it_formats_zero_decimal_currencies(login, site, payments, vera):
    body = login(vera).get(PAYMENTS, {"status": "no_view_id"}).content.decode()
    assert '<td class="num">5000 JPY</td>' in body


def test_it_refuses_an_unknown_status_with_a_clear_message(login, site, payments, vera):
    response = login(vera).get(PAYMENTS, {"status": "<script>"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Unknown status “&lt;script&gt;”: choose one of attributed, pending, no_view_id, view_not_found." in body
    assert _stripe_ids(body) == []


def test_it_says_when_a_status_has_no_payments(login, site, vera):
    body = login(vera).get(PAYMENTS, {"status": "pending"}).content.decode()
    assert "<strong>No pending payments.</strong>" in body


def test_it_paginates_fifty_per_page_keeping_the_filter(login, site, vera):
    for number in range(55):
        _payment(site, f"pi_{number:03d}", minutes=number)
    _payment(site, "pi_other_status", attribution=Payment.Attribution.PENDING, minutes=100)
    client = login(vera)
    body = client.get(PAYMENTS, {"status": "no_view_id"}).content.decode()
    assert body.count('<td><span class="badge danger">Without a view id</span></td>') == 50
    assert "<code>pi_054</code>" in body and "<code>pi_005</code>" in body and "<code>pi_004</code>" not in body
    assert "Page 1 of 2 (55 payments)" in body
    assert 'href="?status=no_view_id&amp;page=2">Older →</a>' in body
    assert "pi_other_status" not in body

    body = client.get(PAYMENTS, {"status": "no_view_id", "page": "2"}).content.decode()
    assert body.count('<td><span class="badge danger">Without a view id</span></td>') == 5
    assert "<code>pi_004</code>" in body and "<code>pi_000</code>" in body
    assert 'href="?status=no_view_id&amp;page=1">← Newer</a>' in body

    # A page past the end or not a number shows the last or first page, not an error.
    assert "Page 2 of 2" in client.get(PAYMENTS, {"status": "no_view_id", "page": "99"}).content.decode()
    assert "Page 1 of 2" in client.get(PAYMENTS, {"status": "no_view_id", "page": "x"}).content.decode()


def test_it_lists_only_the_connected_mode(login, site, alice, payments):
    _payment(site, "pi_live_one", livemode=True)
    StripeConnection.objects.create(site=site, secret_key="sk_live_x", key_hint="sk_live_…xxxx", mode="live")
    body = login(alice).get(PAYMENTS).content.decode()
    assert "Live-mode payments, like your Stripe key; newest first." in body
    assert "<code>pi_live_one</code>" in body
    assert _stripe_ids(body) == []
    assert 'href="https://dashboard.stripe.com/payments/pi_live_one"' in body


def test_it_lists_only_this_sites_payments(login, site, payments, charlies_site, charlie):
    _payment(charlies_site, "pi_charlies")
    body = login(charlie).get("/sites/charlie.dev/settings/revenue/payments/").content.decode()
    assert "<code>pi_charlies</code>" in body
    assert _stripe_ids(body) == []


def test_it_hides_the_list_from_an_outsider(login, site, payments, charlie):
    client = login(charlie)
    for query in ({}, {"status": "attributed"}, {"status": "nonsense"}):
        assert client.get(PAYMENTS, query).status_code == 404


def test_it_sends_an_anonymous_visitor_to_log_in(client, site):
    response = client.get(PAYMENTS)
    assert (response.status_code, response.url) == (302, f"/accounts/login/?next={PAYMENTS}")


def test_the_list_is_read_only(login, site, alice):
    assert login(alice).post(PAYMENTS).status_code == 405

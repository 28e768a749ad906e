"""The staff admin for Stripe connections, payments and refs: the key never shows, payments are read-only."""

import base64
from datetime import UTC, datetime

import pytest
from django.db import connection as db_connection
from django.urls import reverse

from accounts.models import User
from revenue import services
from revenue.models import Payment, StripeConnection, StripeRef

pytestmark = pytest.mark.localstripe

KEY = "rk_test_AdminNeverShows0000k3y9"


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(email="staff@humblytics.local", password="staff-password-123")


@pytest.fixture
def stripe_connection(settings, localstripe_clean, site, alice):
    settings.STRIPE_API_BASE = localstripe_clean
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 50
    return services.connection_connect(site=site, secret_key=KEY, user=alice)


@pytest.fixture
def payments(site, stripe_connection):
    common = {"currency": "USD", "reporting_currency": "EUR", "connection": stripe_connection}
    return [
        Payment.objects.create(
            site=site,
            stripe_id="pi_admin_one",
            payment_intent_id="pi_admin_one",
            created_at=datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
            amount=1999,
            attribution=Payment.Attribution.ATTRIBUTED,
            view_id="view_admin_000000001",
            view_source="payment_intent",
            **common,
        ),
        Payment.objects.create(
            site=site,
            stripe_id="ch_admin_two",
            created_at=datetime(2026, 3, 11, 12, 0, tzinfo=UTC),
            amount=500,
            attribution=Payment.Attribution.NO_VIEW_ID,
            livemode=True,
            **common,
        ),
    ]


@pytest.fixture
def ref(stripe_connection):
    return StripeRef.objects.create(
        connection=stripe_connection, stripe_id="cus_admin", kind="customer", view_id="view_admin_000000001"
    )


def _url(model, view, *args):
    return reverse(f"admin:revenue_{model._meta.model_name}_{view}", args=args)


def _ciphertexts(connection):
    """The stored (encrypted) key as the forms a page could leak it in."""
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT secret_key FROM revenue_stripeconnection WHERE id = %s", [connection.pk])
        value = cursor.fetchone()[0]
    if isinstance(value, str):
        return [value]
    raw = bytes(value)
    return [raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()]


def _assert_no_key(body, connection):
    assert KEY not in body
    assert KEY[8:] not in body  # not even without its prefix
    for ciphertext in _ciphertexts(connection):
        assert ciphertext[:24] not in body
    assert "secret_key" not in body


# Connections


def test_staff_sees_the_connections_with_the_hint_only(login, staff, stripe_connection):
    response = login(staff).get(_url(StripeConnection, "changelist"))
    body = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [stripe_connection]
    assert response.context["cl"].list_display == [
        "action_checkbox",
        "site",
        "mode",
        "status",
        "key_hint",
        "last_success_at",
        "last_attempt_at",
        "api_calls",
    ]
    assert "example.com" in body
    assert "rk_test_…k3y9" in body
    _assert_no_key(body, stripe_connection)


def test_the_connection_change_page_never_contains_the_key(login, staff, stripe_connection):
    response = login(staff).get(_url(StripeConnection, "change", stripe_connection.pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert "rk_test_…k3y9" in body
    assert "alice@example.org" in body
    assert "secret_key" not in response.context["adminform"].form.fields
    _assert_no_key(body, stripe_connection)


def test_the_connection_history_and_delete_pages_never_contain_the_key(login, staff, stripe_connection):
    client = login(staff)
    for view in ("history", "delete"):
        response = client.get(_url(StripeConnection, view, stripe_connection.pk))
        assert response.status_code == 200, view
        body = response.content.decode()
        assert str(stripe_connection) in body, view  # the page is about this connection, not blank
        _assert_no_key(body, stripe_connection)


def test_saving_the_connection_page_cannot_touch_the_key(login, staff, stripe_connection):
    response = login(staff).post(
        _url(StripeConnection, "change", stripe_connection.pk), {"secret_key": "sk_test_injected", "status": "broken"}
    )
    assert response.status_code == 302
    stripe_connection.refresh_from_db()
    assert (stripe_connection.secret_key, stripe_connection.status) == (KEY, "active")


def test_staff_cannot_add_a_connection_without_the_key_check(login, staff, stripe_connection):
    assert login(staff).get(_url(StripeConnection, "add")).status_code == 403


def test_staff_searches_connections_by_domain(login, staff, stripe_connection, charlies_site):
    response = login(staff).get(_url(StripeConnection, "changelist"), {"q": "example"})
    assert list(response.context["cl"].result_list) == [stripe_connection]
    response = login(staff).get(_url(StripeConnection, "changelist"), {"q": "charlie.dev"})
    assert list(response.context["cl"].result_list) == []


def test_the_connection_sync_action_queues_a_sync(login, staff, stripe_connection, django_capture_on_commit_callbacks):
    client = login(staff)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            _url(StripeConnection, "changelist"),
            {"action": "sync_now", "_selected_action": [stripe_connection.pk]},
            follow=True,
        )
    assert len(callbacks) == 1
    assert "Sync requested for 1 connection." in response.content.decode()


# Payments


def test_staff_sees_the_payments_with_their_attribution(login, staff, payments):
    response = login(staff).get(_url(Payment, "changelist"))
    body = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [payments[1], payments[0]]
    assert response.context["cl"].list_display == [
        "action_checkbox",
        "created_at",
        "site",
        "stripe_id",
        "amount",
        "currency",
        "attribution",
        "view_source",
        "livemode",
    ]
    assert "pi_admin_one" in body and "ch_admin_two" in body
    _assert_no_key(body, payments[0].connection)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"attribution__exact": "attributed"}, ["pi_admin_one"]),
        ({"attribution__exact": "no_view_id"}, ["ch_admin_two"]),
        ({"view_source__exact": "payment_intent"}, ["pi_admin_one"]),
        ({"currency__exact": "USD"}, ["ch_admin_two", "pi_admin_one"]),
        ({"livemode__exact": "1"}, ["ch_admin_two"]),
        ({"q": "ch_admin_two"}, ["ch_admin_two"]),
        ({"q": "pi_admin_one"}, ["pi_admin_one"]),
        ({"q": "view_admin_000000001"}, ["pi_admin_one"]),
    ],
)
def test_staff_filters_and_searches_payments(login, staff, payments, query, expected):
    response = login(staff).get(_url(Payment, "changelist"), query)
    assert [payment.stripe_id for payment in response.context["cl"].result_list] == expected


def test_the_payment_page_is_read_only_and_never_contains_the_key(login, staff, payments):
    client = login(staff)
    response = client.get(_url(Payment, "change", payments[0].pk))
    body = response.content.decode()
    assert response.status_code == 200
    assert "pi_admin_one" in body
    assert response.context["adminform"].form.fields == {}
    _assert_no_key(body, payments[0].connection)
    assert client.get(_url(Payment, "add")).status_code == 403

    client.post(_url(Payment, "change", payments[0].pk), {"amount": "1", "attribution": "pending"})
    payments[0].refresh_from_db()
    assert (payments[0].amount, payments[0].attribution) == (1999, "attributed")


def test_the_resync_action_queues_one_sync_per_connection(login, staff, payments, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = login(staff).post(
            _url(Payment, "changelist"),
            {"action": "resync", "_selected_action": [payment.pk for payment in payments]},
            follow=True,
        )
    assert len(callbacks) == 1  # both payments came from the same connection
    assert "Sync requested for 1 connection." in response.content.decode()


def test_the_resync_action_skips_a_disconnected_connection(login, staff, payments, django_capture_on_commit_callbacks):
    services.connection_disconnect(connection=payments[0].connection)
    with django_capture_on_commit_callbacks() as callbacks:
        response = login(staff).post(
            _url(Payment, "changelist"), {"action": "resync", "_selected_action": [payments[0].pk]}, follow=True
        )
    assert callbacks == []
    body = response.content.decode()
    assert "Sync requested for 0 connections. Skipped 1 disconnected connection." in body


def test_the_reattribute_action_queues_the_payments_for_a_fresh_look(login, staff, payments):
    response = login(staff).post(
        _url(Payment, "changelist"), {"action": "reattribute", "_selected_action": [payments[0].pk]}, follow=True
    )
    assert "Queued 1 payment to be attributed again on the next sync." in response.content.decode()
    payments[0].refresh_from_db()
    payments[1].refresh_from_db()
    assert (payments[0].checks, payments[0].next_check_at is not None) == (0, True)
    assert payments[0].attribution != Payment.Attribution.ATTRIBUTED
    assert payments[1].next_check_at is None  # not selected


# Refs


def test_refs_are_listed_read_only(login, staff, ref):
    client = login(staff)
    response = client.get(_url(StripeRef, "changelist"))
    body = response.content.decode()
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [ref]
    assert "cus_admin" in body and "view_admin_000000001" in body
    _assert_no_key(body, ref.connection)

    response = client.get(_url(StripeRef, "change", ref.pk))
    assert response.status_code == 200
    assert response.context["adminform"].form.fields == {}
    _assert_no_key(response.content.decode(), ref.connection)
    assert client.get(_url(StripeRef, "add")).status_code == 403
    assert client.post(_url(StripeRef, "delete", ref.pk), {"post": "yes"}).status_code == 403
    assert StripeRef.objects.filter(pk=ref.pk).exists()


def test_a_non_staff_member_gets_no_revenue_admin(login, alice, stripe_connection):
    response = login(alice).get(_url(StripeConnection, "changelist"))
    assert (response.status_code, response.url) == (
        302,
        f"/admin/login/?next={_url(StripeConnection, 'changelist')}",
    )

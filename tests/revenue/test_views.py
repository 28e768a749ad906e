"""The Revenue tab: connect Stripe with a key checked by localstripe, sync, replace the key, disconnect.

Keys are checked for real (services.connection_connect against localstripe): `-revoked` keys get Stripe's 401,
`-no-<resource>` keys a 403 naming the missing permission (see docs/localstripe.md).
"""

import re
from datetime import UTC, datetime

import pytest

from revenue import services
from revenue.models import Payment, StripeConnection

pytestmark = pytest.mark.localstripe

TAB = "/sites/example.com/settings/revenue/"
SYNC = TAB + "sync/"
DISCONNECT = TAB + "disconnect/"
PAYMENTS = TAB + "payments/"
CHARLIES_TAB = "/sites/charlie.dev/settings/revenue/"
GOOD_KEY = "rk_test_ViewsTabKey0123456789wxyz"


@pytest.fixture
def connection_key():
    return GOOD_KEY


def _payment(site, stripe_id, *, attribution=Payment.Attribution.NO_VIEW_ID, **fields):
    defaults = {
        "created_at": datetime(2026, 3, 10, 12, 0, tzinfo=UTC),
        "currency": "USD",
        "amount": 1999,
        "reporting_currency": "EUR",
    }
    return Payment.objects.create(site=site, stripe_id=stripe_id, attribution=attribution, **{**defaults, **fields})


def _key_field(body):
    """The key field's block (label, input, help, errors) when it has an error, as _form_field.html renders it."""
    match = re.search(r'<div class="field has-error">\s*<label for="id_secret_key">.*?\n</div>', body, re.DOTALL)
    assert match, "the key field is not marked as having an error"
    assert 'aria-invalid="true"' in match.group()
    return match.group()


def _connect(client, key):
    return client.post(TAB, {"provider": "stripe", "method": "stripe_api", "secret_key": key})


# Not connected


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_an_admin_sees_how_to_connect_with_a_read_only_key(request, login, site, who):
    response = login(request.getfixturevalue(who)).get(TAB)
    body = response.content.decode()
    assert response.status_code == 200
    assert '<a href="/sites/example.com/settings/revenue/" class="active" aria-current="page">Revenue</a>' in body
    assert '<span class="badge warn">Not connected</span>' in body
    assert "No Stripe account is connected to example.com yet." in body
    assert 'name="provider" value="stripe" id="id_provider_0" checked>\n Stripe</label>' in body
    assert 'name="method" value="stripe_api" id="id_method_0" checked>' in body
    assert "Stripe API: Humblytics reads your payments with a key every few minutes (no webhooks)" in body
    assert 'type="password" name="secret_key"' in body
    assert "<code>rk_live_…</code>, or <code>rk_test_…</code>" in body
    for permission in [
        "Charges",
        "PaymentIntents",
        "Invoices",
        "Subscriptions",
        "Checkout Sessions",
        "Customers",
        "Refunds",
    ]:
        assert f"<li>{permission}</li>" in body
    assert "<li>Disputes <span" in body
    assert "<li>Balance transaction sources <span" in body
    assert "Connect Stripe</button>" in body
    assert "Sync now" not in body
    assert "/disconnect/" not in body


def test_a_viewer_reads_the_tab_without_the_connect_form(login, site, vera):
    body = login(vera).get(TAB).content.decode()
    assert "No Stripe account is connected to example.com yet." in body
    assert "An owner or admin can connect Stripe." in body
    assert 'name="secret_key"' not in body


def test_the_tab_has_the_snippets_for_the_browser_node_python_and_payment_links(login, site, vera):
    body = login(vera).get(TAB).content.decode()
    # The browser hands the id over in a hidden field or a fetch body.
    assert '&lt;input type="hidden" name="humblytics_view_id"&gt;' in body
    assert "window.Humblytics.viewId" in body
    assert "JSON.stringify" in body
    # Node (stripe on npm) and Python (stripe on PyPI), for every supported object.
    assert 'require("stripe")(process.env.STRIPE_SECRET_KEY)' in body
    assert 'stripe.paymentIntents.create({amount: 1999, currency: "usd", metadata})' in body
    assert "payment_intent_data: {metadata}" in body
    assert "subscription_data: {metadata}" in body
    assert "stripe.subscriptions.create(" in body
    assert "stripe.customers.update(" in body
    assert "from stripe import StripeClient" in body
    assert "client.v1.payment_intents.create(" in body
    assert "&quot;payment_intent_data&quot;: {&quot;metadata&quot;: metadata}" not in body  # verbatim, not escaped
    assert '"payment_intent_data": {"metadata": metadata}' in body
    assert '"subscription_data": {"metadata": metadata}' in body
    assert "client.v1.customers.update(" in body
    assert 'metadata = {"humblytics_view_id": view_id}' in body
    # Payment Links: the success URL carries Stripe's placeholder, on the site's own domain.
    assert "<code>https://example.com/thanks?session_id={CHECKOUT_SESSION_ID}</code>" in body
    assert body.count('data-copy="snippet-') == 4


def test_the_troubleshooting_counts_link_to_the_filtered_payment_lists(login, site, vera):
    _payment(site, "pi_a", attribution=Payment.Attribution.ATTRIBUTED)
    _payment(site, "pi_p", attribution=Payment.Attribution.PENDING)
    _payment(site, "pi_n1")
    _payment(site, "pi_n2")
    _payment(site, "pi_v", attribution=Payment.Attribution.VIEW_NOT_FOUND)
    body = login(vera).get(TAB).content.decode()
    assert f'<a href="{PAYMENTS}">5 payments synced</a>' in body
    assert "connect Stripe above: payments appear here after the first sync." in body
    for status, count in [("attributed", 1), ("pending", 1), ("no_view_id", 2), ("view_not_found", 1)]:
        assert f'<td class="num"><a href="{PAYMENTS}?status={status}">{count}</a></td>' in body
    assert "The page view has not landed yet" in body
    assert "Set humblytics_view_id in the metadata of at least one supported object" in body
    assert "make sure the tracker runs on the page where checkout starts" in body


def test_it_sends_an_anonymous_visitor_to_log_in(client, site):
    for url in (TAB, PAYMENTS, DISCONNECT, SYNC):
        response = client.get(url)
        assert (response.status_code, response.url) == (302, f"/accounts/login/?next={url}")
    response = client.post(TAB, {"secret_key": GOOD_KEY})
    assert (response.status_code, response.url) == (302, f"/accounts/login/?next={TAB}")
    assert not StripeConnection.objects.exists()


def test_it_hides_every_revenue_page_from_an_outsider(login, site, connection, charlie, charlies_site):
    _payment(site, "pi_secret_of_alice")
    client = login(charlie)
    for url in (TAB, PAYMENTS, f"{PAYMENTS}?status=no_view_id", DISCONNECT):
        assert client.get(url).status_code == 404, url
    assert client.post(TAB, {"secret_key": "sk_test_charlie-takes-over"}).status_code == 404
    assert client.post(SYNC).status_code == 404
    assert client.post(DISCONNECT).status_code == 404
    connection.refresh_from_db()
    assert (connection.status, connection.key_hint) == ("active", "rk_test_…wxyz")
    # His own site's tab works, and shows nothing of alice's.
    body = client.get(CHARLIES_TAB).content.decode()
    assert "No Stripe account is connected to charlie.dev yet." in body
    assert "wxyz" not in body


# Connecting


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_it_connects_with_a_good_key_and_shows_the_connected_state(
    request, login, site, stripe_api, django_capture_on_commit_callbacks, who
):
    user = request.getfixturevalue(who)
    client = login(user)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _connect(client, GOOD_KEY)
    assert (response.status_code, response.url) == (302, TAB)
    assert len(callbacks) == 1  # the first sync is queued
    connection = StripeConnection.objects.get()
    assert (connection.site, connection.mode, connection.status) == (site, "test", "active")
    assert (connection.key_hint, connection.connected_by, connection.secret_key) == ("rk_test_…wxyz", user, GOOD_KEY)

    response = client.get(TAB)
    body = response.content.decode()
    assert "Stripe is connected in test mode with rk_test_…wxyz. The first sync has started." in body
    assert '<span class="badge warn">Test mode</span>' in body
    assert '<span class="badge ok">Active</span>' in body
    assert "<code>rk_test_…wxyz</code>" in body
    assert f"by {user.email}" in body
    assert 'Last successful sync</th><td><span class="muted">Not yet</span>' in body
    assert 'action="/sites/example.com/settings/revenue/sync/"' in body and "Sync now</button>" in body
    assert f'href="{DISCONNECT}">Disconnect</a>' in body
    assert "<summary>Replace key</summary>" in body
    assert "Not connected" not in body
    assert GOOD_KEY not in body
    assert "no-store" in response["Cache-Control"]


def test_it_shows_a_revoked_key_error_next_to_the_field_and_stores_nothing(login, site, stripe_api, alice):
    key = "rk_test_alice-revoked-0000"
    response = _connect(login(alice), key)
    body = response.content.decode()
    assert response.status_code == 400
    assert (
        '<p class="error" role="alert">Stripe rejected the key (wrong, revoked or expired). Create a new restricted '
        "key and replace it.</p>"
    ) in _key_field(body)
    assert key not in body
    assert not StripeConnection.objects.exists()


def test_it_explains_that_a_publishable_key_cannot_read_payments(login, site, stripe_api, bob):
    key = "pk_test_bobs0publishable0key"
    response = _connect(login(bob), key)
    body = response.content.decode()
    assert response.status_code == 400
    assert (
        '<p class="error" role="alert">That is a publishable key (pk_…), which cannot read payments. Paste a '
        "restricted key (rk_…) with read permissions, or a secret key (sk_…).</p>"
    ) in _key_field(body)
    assert key not in body
    assert not StripeConnection.objects.exists()


def test_it_names_the_permission_a_restricted_key_lacks(login, site, stripe_api, alice):
    key = "rk_test_alice-no-subscriptions"
    response = _connect(login(alice), key)
    body = response.content.decode()
    assert response.status_code == 400
    assert "This key lacks the Subscriptions (read) permission (rak_subscription_read)." in _key_field(body)
    assert key not in body
    assert not StripeConnection.objects.exists()


def test_it_asks_for_a_key_when_none_is_pasted(login, site, stripe_api, alice):
    response = _connect(login(alice), "   ")
    assert response.status_code == 400
    assert '<p class="error" role="alert">This field is required.</p>' in _key_field(response.content.decode())
    assert not StripeConnection.objects.exists()


def test_it_refuses_something_that_is_no_stripe_key(login, site, stripe_api, alice):
    response = _connect(login(alice), "hello world")
    assert response.status_code == 400
    assert "That does not look like a Stripe key" in response.content.decode()
    assert not StripeConnection.objects.exists()


def test_a_post_without_the_single_choices_still_means_stripe(login, site, stripe_api, alice):
    assert login(alice).post(TAB, {"secret_key": GOOD_KEY}).status_code == 302
    assert StripeConnection.objects.get().key_hint == "rk_test_…wxyz"


def test_it_refuses_an_unknown_provider(login, site, stripe_api, alice):
    response = login(alice).post(TAB, {"provider": "paypal", "method": "stripe_api", "secret_key": GOOD_KEY})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Select a valid choice. paypal is not one of the available choices." in body
    assert GOOD_KEY not in body
    assert not StripeConnection.objects.exists()


def test_a_viewer_cannot_connect_stripe(login, site, stripe_api, vera):
    assert _connect(login(vera), GOOD_KEY).status_code == 403
    assert not StripeConnection.objects.exists()


def test_it_replaces_the_key_and_mends_a_broken_connection(login, site, connection, alice):
    StripeConnection.objects.filter(pk=connection.pk).update(
        status=StripeConnection.Status.BROKEN,
        last_error="This key lacks the Invoices (read) permission (rak_invoice_read).",
    )
    client = login(alice)
    body = client.get(TAB).content.decode()
    assert '<span class="badge danger">Broken: syncing paused</span>' in body
    assert (
        "<strong>Syncing is paused:</strong> This key lacks the Invoices (read) permission (rak_invoice_read)." in body
    )
    assert "paste it under “Replace key”" in body

    new_key = "sk_test_ReplacedKey00009876"
    assert _connect(client, new_key).status_code == 302
    connection.refresh_from_db()
    assert (connection.status, connection.last_error, connection.key_hint) == ("active", "", "sk_test_…9876")
    assert StripeConnection.objects.count() == 1
    body = client.get(TAB).content.decode()
    assert '<span class="badge ok">Active</span>' in body
    assert "Syncing is paused" not in body
    assert new_key not in body
    assert GOOD_KEY not in body


def test_a_failed_replacement_keeps_the_working_key_and_opens_the_form(login, site, connection, bob):
    response = _connect(login(bob), "sk_test_bob-revoked")
    body = response.content.decode()
    assert response.status_code == 400
    assert '<details class="replace-key" open>' in body
    assert "Stripe rejected the key (wrong, revoked or expired)." in _key_field(body)
    connection.refresh_from_db()
    assert (connection.secret_key, connection.key_hint, connection.status) == (GOOD_KEY, "rk_test_…wxyz", "active")


def test_a_live_key_shows_the_live_badge(login, site, stripe_api, alice):
    # localstripe answers any key; the prefix decides the mode.
    services.connection_connect(site=site, secret_key="rk_live_LiveKey000011112222", user=alice)
    body = login(alice).get(TAB).content.decode()
    assert '<span class="badge ok">Live mode</span>' in body
    assert "<code>rk_live_…2222</code>" in body


# Watching the sync


def test_it_shows_the_sync_progress_and_the_last_success(login, site, connection, vera):
    StripeConnection.objects.filter(pk=connection.pk).update(
        sync_started_at=datetime(2026, 3, 10, 11, 58, tzinfo=UTC),
        sync_progress={"phase": "charges", "done": 120},
        last_success_at=datetime(2026, 3, 10, 11, 0, tzinfo=UTC),
    )
    body = login(vera).get(TAB).content.decode()
    assert '<span class="badge warn">Syncing</span>' in body
    assert "ago: charges, 120 read so far. Reload this page to follow it." in body
    assert "Last successful sync</th><td>10 Mar 2026, 12:00" in body  # Europe/Berlin
    assert "An owner or admin can sync, replace the key or disconnect Stripe." in body
    assert "Sync now" not in body
    assert "wxyz</code>" in body
    assert GOOD_KEY not in body


def test_it_shows_progress_in_the_shape_the_sync_writes(login, site, connection, vera):
    progress = {"charges": {"cursor": 1773100000, "starting_after": "ch_x", "newest": 1773100500, "done": 300}}
    StripeConnection.objects.filter(pk=connection.pk).update(
        sync_started_at=datetime(2026, 3, 10, 11, 58, tzinfo=UTC), sync_progress=progress
    )
    client = login(vera)
    assert "ago: charges, 300 read so far. Reload this page to follow it." in client.get(TAB).content.decode()

    StripeConnection.objects.filter(pk=connection.pk).update(sync_started_at=None)  # killed part-way
    body = client.get(TAB).content.decode()
    assert "The last sync stopped part-way (charges, 300 read): the next one continues from there." in body
    assert "Syncing</span>" not in body


def test_a_passing_problem_is_shown_without_the_broken_state(login, site, connection, vera):
    StripeConnection.objects.filter(pk=connection.pk).update(last_error="Stripe could not be reached: timeout")
    body = login(vera).get(TAB).content.decode()
    assert '<span class="badge ok">Active</span>' in body
    assert "The last sync ran into a problem: Stripe could not be reached: timeout Humblytics tries again" in body
    assert "Syncing is paused" not in body


def test_a_real_sync_shows_its_success_and_the_payments(
    login, site, connection, stripe_client, vera, django_capture_on_commit_callbacks
):
    customer = stripe_client.v1.customers.create(params={"email": "buyer@example.org"})
    method = stripe_client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    stripe_client.v1.payment_intents.create(
        params={
            "amount": 2500,
            "currency": "usd",
            "customer": customer.id,
            "payment_method": method.id,
            "confirm": True,
            "metadata": {"humblytics_view_id": "view_nobody_has_0001"},
        }
    )
    services.sync_run(connection_id=connection.pk)
    client = login(vera)
    body = client.get(TAB).content.decode()
    assert "Last successful sync</th><td>" in body and "Not yet" not in body
    assert f'<a href="{PAYMENTS}">1 payment synced</a>' in body
    assert f'<td class="num"><a href="{PAYMENTS}?status=pending">1</a></td>' in body  # its view has not landed
    body = client.get(PAYMENTS, {"status": "pending"}).content.decode()
    assert '<td class="num">25.00 USD</td>' in body
    assert "<td>PaymentIntent</td>" in body
    assert GOOD_KEY not in body


def test_the_key_never_appears_on_any_revenue_page(login, site, connection, alice):
    _payment(site, "pi_one", connection=connection)
    client = login(alice)
    urls = [TAB, DISCONNECT, PAYMENTS, *(f"{PAYMENTS}?status={status}" for status in Payment.Attribution.values)]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert GOOD_KEY not in body, url
        assert GOOD_KEY[8:] not in body, url
        if url.startswith(PAYMENTS):  # a real list, not a blank page: the payment, or the empty state
            listed = url in (PAYMENTS, f"{PAYMENTS}?status={Payment.Attribution.NO_VIEW_ID}")
            assert ("pi_one" in body) if listed else ("payments.</strong>" in body and "pi_one" not in body), url
        else:
            assert "rk_test_…wxyz" in body, url


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_sync_now_queues_a_sync(request, login, site, connection, django_capture_on_commit_callbacks, who):
    client = login(request.getfixturevalue(who))
    connection.refresh_from_db()
    before = connection.last_attempt_at
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(SYNC)
    assert (response.status_code, response.url) == (302, TAB)
    assert len(callbacks) == 1
    # The queued task ran (in-process here) and really synced against localstripe.
    connection.refresh_from_db()
    assert connection.last_attempt_at != before and connection.last_success_at is not None
    assert "A sync has started." in client.get(TAB).content.decode()


def test_sync_now_without_a_connection_says_to_connect_first(login, site, alice, django_capture_on_commit_callbacks):
    client = login(alice)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(SYNC)
    assert (response.status_code, response.url) == (302, TAB)
    assert callbacks == []
    assert "Connect Stripe first." in client.get(TAB).content.decode()


def test_a_viewer_cannot_sync(login, site, connection, vera, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert login(vera).post(SYNC).status_code == 403
    assert callbacks == []


def test_sync_only_accepts_post(login, site, connection, alice):
    assert login(alice).get(SYNC).status_code == 405


# Disconnecting


def test_disconnect_asks_first_then_keeps_the_payments(login, site, connection, alice):
    _payment(site, "pi_kept", attribution=Payment.Attribution.ATTRIBUTED, connection=connection)
    client = login(alice)
    body = client.get(DISCONNECT).content.decode()
    assert "Disconnect Stripe?" in body
    assert "Humblytics stops reading payments with rk_test_…wxyz. Payments synced so far stay" in body
    assert f'action="{DISCONNECT}"' in body
    assert GOOD_KEY not in body
    connection.refresh_from_db()
    assert connection.status == "active"

    response = client.post(DISCONNECT)
    assert (response.status_code, response.url) == (302, TAB)
    connection.refresh_from_db()
    assert (connection.status, connection.secret_key) == ("disconnected", "")
    assert list(Payment.objects.values_list("stripe_id", flat=True)) == ["pi_kept"]

    body = client.get(TAB).content.decode()
    assert "Stripe (rk_test_…wxyz) is disconnected. Payments synced so far are kept." in body
    assert "No Stripe account is connected to example.com yet." in body
    assert "The 1 payment synced before Stripe was disconnected is kept." in body
    assert "Connect Stripe</button>" in body
    assert "Sync now" not in body


def test_a_viewer_cannot_disconnect(login, site, connection, vera):
    client = login(vera)
    assert client.get(DISCONNECT).status_code == 403
    assert client.post(DISCONNECT).status_code == 403
    connection.refresh_from_db()
    assert connection.status == "active"


def test_disconnecting_twice_just_says_so(login, site, connection, bob):
    client = login(bob)
    client.post(DISCONNECT)
    response = client.post(DISCONNECT)
    assert (response.status_code, response.url) == (302, TAB)
    assert "Stripe is not connected." in client.get(TAB).content.decode()


def test_sync_now_after_disconnecting_asks_to_connect(login, site, connection, bob, django_capture_on_commit_callbacks):
    client = login(bob)
    client.post(DISCONNECT)
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(SYNC)
    assert callbacks == []
    assert "Connect Stripe first." in client.get(TAB).content.decode()


def test_reconnecting_after_a_disconnect_reuses_the_connection(login, site, connection, alice):
    client = login(alice)
    client.post(DISCONNECT)
    assert _connect(client, "rk_test_AgainKey0000abcd").status_code == 302
    connection.refresh_from_db()
    assert (connection.status, connection.key_hint) == ("active", "rk_test_…abcd")
    assert StripeConnection.objects.count() == 1

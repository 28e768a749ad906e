"""revenue.attribution: which object's view id wins, the status window and the re-check schedule. Pure: no database."""

from datetime import UTC, datetime, timedelta

import pytest

from revenue import attribution
from revenue.attribution import (
    ATTRIBUTED,
    NO_VIEW_ID,
    PENDING,
    PRECEDENCE,
    RANKING,
    VIEW_NOT_FOUND,
    first_view_id,
    next_check,
    status_for,
)
from revenue.stripe import normalize

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # when the payment was first seen
PI_VID = "pi_view_0123456789ab"
INV_VID = "inv_view_0123456789a"
SUB_VID = "sub_view_0123456789a"
CS_VID = "cs_view_0123456789ab"
URL_VID = "url_view_0123456789a"
CUS_VID = "cus_view_0123456789a"


def md(view_id):
    return {"humblytics_view_id": view_id, "order": "42"}


def test_the_precedence_is_the_products():
    assert PRECEDENCE == ("payment_intent", "invoice", "subscription", "checkout_session", "customer")
    assert RANKING == (
        "payment_intent",
        "invoice",
        "subscription",
        "checkout_session",
        "checkout_session_url",
        "customer",
    )


def test_an_id_on_the_payment_intent_beats_the_customers():
    assert first_view_id({"customer": md(CUS_VID), "payment_intent": md(PI_VID)}) == (PI_VID, "payment_intent")


def test_each_source_wins_over_everything_after_it():
    everything = {
        "payment_intent": md(PI_VID),
        "invoice": md(INV_VID),
        "subscription": md(SUB_VID),
        "checkout_session": md(CS_VID),
        "checkout_session_url": URL_VID,
        "customer": md(CUS_VID),
    }
    winners = []
    for source in RANKING:
        winners.append(first_view_id(everything))
        everything[source] = None
    assert winners == [
        (PI_VID, "payment_intent"),
        (INV_VID, "invoice"),
        (SUB_VID, "subscription"),
        (CS_VID, "checkout_session"),
        (URL_VID, "checkout_session_url"),
        (CUS_VID, "customer"),
    ]
    assert first_view_id(everything) == (None, None)


def test_a_subscriptions_id_credits_a_renewal_invoice():
    # A renewal: the PaymentIntent and the invoice carry no id, the subscription (bought with one) does.
    renewal = normalize.invoice(
        {
            "object": "invoice",
            "id": "in_renewal",
            "billing_reason": "subscription_cycle",
            "metadata": {},
            "parent": {
                "type": "subscription_details",
                "subscription_details": {"subscription": "sub_1", "metadata": md(SUB_VID)},
            },
        }
    )
    candidates = {
        "payment_intent": {},
        "invoice": renewal.metadata,
        "subscription": renewal.subscription_metadata,  # the snapshot spares a subscription lookup
        "customer": md(CUS_VID),
    }
    assert first_view_id(candidates) == (SUB_VID, "subscription")


def test_an_invalid_id_on_the_payment_intent_falls_through_to_the_next_object():
    candidates = {"payment_intent": md("<script>alert(1)</script>"), "invoice": md(INV_VID)}
    assert first_view_id(candidates) == (INV_VID, "invoice")
    candidates = {"payment_intent": md("short"), "invoice": None, "customer": md(f"  {CUS_VID} ")}
    assert first_view_id(candidates) == (CUS_VID, "customer")


def test_unknown_objects_and_metadata_without_an_id_are_skipped():
    candidates = {
        "payment_intent": None,
        "invoice": {},
        "subscription": {"other": "x"},
        "checkout_session": "not metadata",  # only the URL sighting may be a bare id
        "customer": md(CUS_VID),
    }
    assert first_view_id(candidates) == (CUS_VID, "customer")


def test_it_finds_nothing_in_nothing():
    assert first_view_id({}) == (None, None)
    assert first_view_id(dict.fromkeys(PRECEDENCE)) == (None, None)


def test_the_checkout_session_url_ranks_after_the_sessions_metadata_and_before_the_customer():
    assert first_view_id({"checkout_session": md(CS_VID), "checkout_session_url": URL_VID}) == (
        CS_VID,
        "checkout_session",
    )
    assert first_view_id({"checkout_session_url": URL_VID, "customer": md(CUS_VID)}) == (
        URL_VID,
        "checkout_session_url",
    )
    assert first_view_id({"checkout_session_url": md(URL_VID)}) == (URL_VID, "checkout_session_url")
    assert first_view_id({"checkout_session_url": "not a view id!", "customer": md(CUS_VID)}) == (
        CUS_VID,
        "customer",
    )


def test_it_rejects_an_unknown_source():
    with pytest.raises(ValueError, match=r"Unknown attribution sources: \['charge', 'paymentintent'\]"):
        first_view_id({"paymentintent": md(PI_VID), "charge": md(PI_VID)})


# --- status -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "view_id_found, view_found, age, expected",
    [
        (True, True, timedelta(0), ATTRIBUTED),
        (True, True, timedelta(days=30), ATTRIBUTED),
        (True, False, timedelta(0), PENDING),  # the view may still be in the ingestion buffer
        (True, False, timedelta(hours=47, minutes=59), PENDING),
        (True, False, timedelta(hours=48), VIEW_NOT_FOUND),
        (True, False, timedelta(days=3), VIEW_NOT_FOUND),
        (False, False, timedelta(minutes=1), PENDING),  # the merchant may add the id late
        (False, False, timedelta(hours=47, minutes=59, seconds=59), PENDING),
        (False, False, timedelta(hours=48), NO_VIEW_ID),
        (False, True, timedelta(hours=49), NO_VIEW_ID),  # no id: whatever view_found says
    ],
)
def test_the_status_depends_on_what_was_found_and_the_window(view_id_found, view_found, age, expected):
    assert status_for(view_id_found, view_found, first_seen=T0, now=T0 + age) == expected


def test_the_window_can_be_changed():
    assert status_for(False, False, T0, T0 + timedelta(hours=2), window=timedelta(hours=1)) == NO_VIEW_ID
    assert status_for(False, False, T0, T0 + timedelta(hours=2), window=timedelta(hours=3)) == PENDING
    assert attribution.WINDOW.total_seconds() == 48 * 3600


# --- re-checks ---------------------------------------------------------------------------------------------


def test_it_rechecks_after_five_minutes_an_hour_and_a_day_then_gives_up():
    schedule = []
    checks, now = 0, T0
    while (due := next_check(T0, checks, now)) is not None:
        schedule.append(due - T0)
        checks, now = checks + 1, due
    assert schedule == [timedelta(minutes=5), timedelta(hours=1), timedelta(hours=24)]


def test_a_late_worker_skips_checks_already_past_instead_of_running_them_back_to_back():
    assert next_check(T0, 1, now=T0 + timedelta(hours=3)) == T0 + timedelta(hours=24)
    assert next_check(T0, 0, now=T0 + timedelta(minutes=30)) == T0 + timedelta(hours=1)
    assert next_check(T0, 0, now=T0 + timedelta(hours=30)) is None
    assert next_check(T0, 3, now=T0) is None
    assert next_check(T0, 7, now=T0) is None


def test_an_id_added_late_is_picked_up_by_a_recheck():
    # The merchant's webhook handler writes the id onto the PaymentIntent 20 minutes after payment.
    def pi_metadata(at):
        return md(PI_VID) if at >= T0 + timedelta(minutes=20) else {}

    seen = []
    checks, now = 0, T0
    found, source = first_view_id({"payment_intent": pi_metadata(now)})
    seen.append((now - T0, status_for(found is not None, found is not None, T0, now)))
    while found is None and (due := next_check(T0, checks, now)) is not None:
        checks, now = checks + 1, due
        found, source = first_view_id({"payment_intent": pi_metadata(now)})
        seen.append((now - T0, status_for(found is not None, found is not None, T0, now)))
    assert (found, source, checks) == (PI_VID, "payment_intent", 2)
    assert seen == [(timedelta(0), PENDING), (timedelta(minutes=5), PENDING), (timedelta(hours=1), ATTRIBUTED)]

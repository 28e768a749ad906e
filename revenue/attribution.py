"""Which page view a payment is credited to, and when to look again. The product's rules, pure.

The merchant puts `window.Humblytics.viewId` in `metadata.humblytics_view_id` of whichever Stripe object
their integration creates. We read the objects linked to a payment and take the first valid id in
RANKING; the payment records which object it came from (`source`).
"""

from collections.abc import Mapping
from datetime import timedelta

from revenue.stripe.normalize import VIEW_ID_KEY, view_id

# The product's precedence among Stripe objects: the most specific object the merchant creates first.
# A renewal's PaymentIntent has no metadata, so it falls through to the invoice's subscription snapshot or
# the subscription itself: the id given when the subscription was bought credits every renewal.
PRECEDENCE = ("payment_intent", "invoice", "subscription", "checkout_session", "customer")

# Our own evidence ranks between the Checkout Session and the Customer: the tracker saw
# `?session_id=cs_…` (Stripe's success-URL placeholder) on a page view, so that view belongs to the buyer.
# - After the Session's own metadata (and everything above it): those are ids the merchant set on purpose
#   for exactly this purchase; the success page is inferred, can be reloaded later or opened on another
#   device, and is by nature a view *after* the purchase, not the one that led to it.
# - Before the Customer: customer metadata is long-lived and may hold the view of an earlier visit, while
#   the success-page sighting is tied to this very Checkout Session.
CHECKOUT_SESSION_URL = "checkout_session_url"
RANKING = (*PRECEDENCE[:4], CHECKOUT_SESSION_URL, PRECEDENCE[4])

ATTRIBUTED = "attributed"
PENDING = "pending"
NO_VIEW_ID = "no_view_id"
VIEW_NOT_FOUND = "view_not_found"

# How long a payment stays "pending" before its missing id / missing view becomes final.
WINDOW = timedelta(hours=48)
# Re-read an unattributed payment this long after we first saw it: metadata added late (a merchant's
# webhook handler that updates the PaymentIntent after confirmation) has no Stripe event of its own.
RECHECKS = (timedelta(minutes=5), timedelta(hours=1), timedelta(hours=24))


def first_view_id(candidates):
    """The first valid view id in RANKING order -> (view_id, source), or (None, None).

    `candidates` maps a source name to that object's metadata dict, or None when the object does not exist
    or was not looked up. For CHECKOUT_SESSION_URL the value may also be the view id itself (a str).
    An invalid id (too short, `<script>`, …) is ignored and the next source is tried.
    """
    unknown = set(candidates) - set(RANKING)
    if unknown:
        raise ValueError(f"Unknown attribution sources: {sorted(unknown)}; expected some of {RANKING}.")
    for source in RANKING:
        metadata = candidates.get(source)
        if isinstance(metadata, str) and source == CHECKOUT_SESSION_URL:
            metadata = {VIEW_ID_KEY: metadata}
        found = view_id(metadata) if isinstance(metadata, Mapping) else None
        if found:
            return found, source
    return None, None


def status_for(view_id_found, view_found, first_seen, now, window=WINDOW):
    """The attribution status of a payment first seen at `first_seen`, as of `now`.

    - attributed: the id was found and its page view exists.
    - pending: within `window` of first seeing the payment, something is still missing (the id may be added
      late; the view may not have left the ingestion buffer yet).
    - no_view_id / view_not_found: the same, once the window has passed.
    The status depends on `now`: a row stored as pending must be recomputed (on the next re-read, or by a
    sweep of pending rows older than the window) — the last scheduled re-read (+24 h) comes before the
    window (48 h) closes, so it cannot be the one that settles it.
    """
    if view_id_found and view_found:
        return ATTRIBUTED
    if now - first_seen < window:
        return PENDING
    return VIEW_NOT_FOUND if view_id_found else NO_VIEW_ID


def next_check(first_seen, checks_done, now):
    """When to re-read an unattributed payment next, or None to give up.

    Call it when the payment is first seen (checks_done=0) and after each re-read. Scheduled times are
    relative to `first_seen`; ones already past (a late worker) are skipped rather than run back to back,
    and at most len(RECHECKS) re-reads happen in all.
    """
    for offset in RECHECKS[max(checks_done, 0) :]:
        due = first_seen + offset
        if due > now:
            return due
    return None

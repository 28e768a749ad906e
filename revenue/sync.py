"""Reading a site's Stripe account into Payments, without webhooks.

One sync: charges created since the cursor (the first one backfills STRIPE_BACKFILL_DAYS), then new
refunds and disputes, then a re-check of payments still waiting for a view id or a page view. Each page
of charges is committed together with the position it reached (`sync_progress`), so a sync killed
between pages resumes at the next page: nothing is read into the database twice (payments are unique
by Stripe id) and nothing is skipped (the cursor moves only when a listing completed).
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from revenue import attribution
from revenue.models import Payment, StripeConnection
from revenue.money import payment_money
from revenue.resolve import Resolver
from revenue.stripe import client as stripe_client
from revenue.stripe import normalize
from tracking.models import PageView

log = logging.getLogger(__name__)
CLAIM_TIMEOUT = timedelta(minutes=30)
DISPUTE_LOOKBACK = timedelta(days=120)


@dataclass
class SyncReport:
    charges_read: int = 0
    payments_new: int = 0
    lookup_calls: int = 0  # calls spent walking from charges to their view ids (not listing)
    payments_updated: int = 0
    refunds_read: int = 0
    disputes_read: int = 0
    rechecked: int = 0
    api_calls: int = 0
    error: str = ""


class Interrupted(Exception):
    """Raised by `stop_after_pages` to stand in for a killed process (tests and benchmarks)."""


def api_for(connection):
    return stripe_client.StripeAPI(
        connection.secret_key,
        api_base=settings.STRIPE_API_BASE,
        max_requests_per_second=settings.STRIPE_MAX_REQUESTS_PER_SECOND,
    )


def claim(connection_id, *, now=None):
    """Take the site's sync lock with a conditional UPDATE; None when another sync holds it."""
    now = now or timezone.now()
    free = Q(sync_started_at__isnull=True) | Q(sync_started_at__lt=now - CLAIM_TIMEOUT)
    claimed = (
        StripeConnection.objects.filter(pk=connection_id, status=StripeConnection.Status.ACTIVE)
        .filter(free)
        .update(sync_started_at=now, last_attempt_at=now)
    )
    return StripeConnection.objects.select_related("site").get(pk=connection_id) if claimed else None


def release(connection):
    StripeConnection.objects.filter(pk=connection.pk).update(sync_started_at=None)


def sync_connection(connection, *, api=None, since=None, page_size=100, stop_after_pages=None, on_progress=None):
    """One full sync of a claimed connection. Returns a SyncReport; never raises for Stripe trouble."""
    api = api or api_for(connection)
    report = SyncReport()
    try:
        _sync_charges(connection, api, report, since, page_size, stop_after_pages, on_progress)
        _sync_refunds(connection, api, report)
        _sync_disputes(connection, api, report)
        _recheck(connection, api, report)
    except (stripe_client.InvalidKey, stripe_client.MissingPermission) as problem:
        report.error = problem.message
        StripeConnection.objects.filter(pk=connection.pk).update(
            status=StripeConnection.Status.BROKEN, last_error=problem.message
        )
    except stripe_client.StripeProblem as problem:
        report.error = problem.message
        StripeConnection.objects.filter(pk=connection.pk).update(last_error=problem.message)
    else:
        StripeConnection.objects.filter(pk=connection.pk).update(last_success_at=timezone.now(), last_error="")
    finally:
        report.api_calls = api.calls
        StripeConnection.objects.filter(pk=connection.pk).update(api_calls=F("api_calls") + api.calls)
    return report


# --- charges -------------------------------------------------------------------------------------
def _sync_charges(connection, api, report, since, page_size, stop_after_pages, on_progress):
    progress = dict(connection.sync_progress or {})
    # The first second not read yet: the cursor, or the start of the backfill window.
    unread = (
        connection.charges_cursor
        if connection.charges_cursor is not None
        else int((timezone.now() - timedelta(days=connection.backfill_days)).timestamp())
    )
    # An explicit `since` (an operator's re-read) wins over a page position left by an interrupted sync.
    state = (progress.get("charges") or {}) if since is None else {}
    if state:
        cursor = state["cursor"]
    elif since is not None:
        cursor = int(since.timestamp()) - 1
    else:
        cursor = unread
    starting_after = state.get("starting_after")
    newest = state.get("newest", cursor)
    done = state.get("done", 0)
    resolver = Resolver(api, connection)
    pages = 0
    while True:
        page = api.list_charges(created_gt=cursor, starting_after=starting_after, limit=page_size)
        data = page.get("data") or []
        with transaction.atomic():
            for raw in data:
                created = _store_charge(connection, resolver, raw, report)
                newest = max(newest, created or 0)
            report.charges_read += len(data)
            done += len(data)
            if page.get("has_more") and data:
                starting_after = data[-1]["id"]
                progress["charges"] = {
                    "cursor": cursor,
                    "starting_after": starting_after,
                    "newest": newest,
                    "done": done,
                }
                StripeConnection.objects.filter(pk=connection.pk).update(sync_progress=progress)
            else:
                progress.pop("charges", None)
                if cursor <= unread:
                    # Everything up to `newest` is read. `created[gt]`: re-read the newest second next time
                    # (ties), never anything older; a re-read of old charges never moves the cursor back.
                    new_cursor = max(cursor, connection.charges_cursor or 0, newest - 1)
                else:
                    # A re-read that began after the first unread second: the charges in between are still
                    # unread, so the cursor stays (moving it to `newest` would skip them for good).
                    new_cursor = connection.charges_cursor
                StripeConnection.objects.filter(pk=connection.pk).update(
                    sync_progress=progress, charges_cursor=new_cursor
                )
                connection.charges_cursor = new_cursor
        connection.sync_progress = progress
        if on_progress:
            on_progress(done)
        pages += 1
        if not (page.get("has_more") and data):
            return
        if stop_after_pages is not None and pages >= stop_after_pages:
            raise Interrupted(f"stopped after {pages} page(s)")


def _store_charge(connection, resolver, raw, report):
    charge = normalize.charge(raw)
    if charge.status != "succeeded" or charge.paid is False or charge.captured is False:
        return charge.created
    stripe_id = charge.payment_intent or charge.id
    existing = Payment.objects.filter(site_id=connection.site_id, stripe_id=stripe_id).first()
    payment = existing or Payment(site_id=connection.site_id, stripe_id=stripe_id)
    payment.connection = connection
    _apply_money(payment, charge, connection, disputes=_known_disputes(payment, charge))
    payment.charge_id = charge.id or ""
    payment.livemode = bool(charge.livemode)
    payment.created_at = datetime.fromtimestamp(charge.created or 0, UTC)
    if existing is None or payment.attribution != attribution.ATTRIBUTED:
        calls_before = resolver.api.calls
        resolution = resolver.resolve(raw)
        report.lookup_calls += resolver.api.calls - calls_before
        _apply_resolution(payment, resolution)
        _attach_view(payment, now=timezone.now())
    payment.save()
    if existing is None:
        report.payments_new += 1
    else:
        report.payments_updated += 1
    return charge.created


def _known_disputes(payment, charge):
    """The lost-dispute amount already recorded, as a dispute: re-reading a charge (the newest second again, a
    refund, `since`) must not forget a loss the disputes phase found, possibly beyond its look-back window."""
    if not payment.amount_disputed:
        return ()
    return (normalize.Dispute(id="recorded", charge=charge.id, amount=payment.amount_disputed, status="lost"),)


def _apply_money(payment, charge, connection, disputes=()):
    site_currency = connection.site.currency
    money = payment_money(charge, reporting_currency=site_currency, disputes=disputes)
    payment.currency = money.currency
    payment.amount = money.gross_minor
    payment.amount_refunded = money.refunded_minor
    payment.amount_disputed = money.disputed_lost_minor
    payment.reporting_currency = site_currency
    payment.conversion = money.conversion
    payment.gross = money.reporting_gross
    payment.refunds = (
        money.reporting_refunded + money.reporting_disputed_lost if money.reporting_refunded is not None else None
    )
    payment.net = money.reporting_net


def _apply_resolution(payment, resolution):
    payment.payment_intent_id = resolution.payment_intent_id or payment.payment_intent_id
    payment.invoice_id = resolution.invoice_id or payment.invoice_id
    payment.subscription_id = resolution.subscription_id or payment.subscription_id
    payment.checkout_session_id = resolution.checkout_session_id or payment.checkout_session_id
    payment.customer_id = resolution.customer_id or payment.customer_id
    payment.description = resolution.description or payment.description
    payment.view_id = resolution.view_id or ""
    payment.view_source = resolution.source or ""


def _attach_view(payment, *, now):
    """Find the page view (same site only) and set the attribution status and the next check."""
    view = None
    if payment.view_id:
        view = (
            PageView.objects.filter(site_id=payment.site_id, view_id=payment.view_id)
            .only("id", "visit_id", "visitor_id")
            .first()
        )
    first_seen = payment.synced_at or now
    if payment.view_id:
        status = attribution.status_for(True, view is not None, first_seen, now)
    else:
        # No id on any object: say so now (the merchant can fix it); re-reads may still find one added late.
        status = attribution.NO_VIEW_ID
    payment.attribution = status
    if view is not None:
        payment.pageview_id, payment.visit_id, payment.visitor_id = view.id, view.visit_id, view.visitor_id
        payment.attributed_at = payment.attributed_at or now
        payment.next_check_at = None
    else:
        payment.pageview_id = payment.visit_id = payment.visitor_id = None
        payment.next_check_at = attribution.next_check(first_seen, payment.checks, now)
        if status == attribution.PENDING and payment.next_check_at is None:
            payment.next_check_at = first_seen + attribution.WINDOW  # decide "view not found" then


# --- refunds and disputes ------------------------------------------------------------------------
def _listing(fetch, *, newer_than):
    """Every object of a list newer than `newer_than`, stopping early on Stripe's newest-first order."""
    starting_after = None
    while True:
        page = fetch(starting_after=starting_after)
        data = page.get("data") or []
        descending = all(a.get("created", 0) >= b.get("created", 0) for a, b in pairwise(data))
        for raw in data:
            if (raw.get("created") or 0) > newer_than:
                yield raw
            elif descending:
                return
        if not page.get("has_more") or not data:
            return
        starting_after = data[-1]["id"]


def _refresh_payment_money(connection, api, charge_id, disputes=None):
    payment = Payment.objects.filter(site_id=connection.site_id, charge_id=charge_id).first()
    if payment is None:
        return False  # a charge from before the backfill window
    charge = normalize.charge(api.retrieve_charge(charge_id))
    _apply_money(
        payment, charge, connection, disputes=_known_disputes(payment, charge) if disputes is None else disputes
    )
    payment.save(
        update_fields=["amount", "amount_refunded", "amount_disputed", "gross", "refunds", "net", "conversion"]
    )
    return True


def _sync_refunds(connection, api, report):
    cursor = connection.refunds_cursor or 0
    newest = cursor
    charges = set()
    for raw in _listing(api.list_refunds, newer_than=cursor):
        refund = normalize.refund(raw)
        newest = max(newest, refund.created or 0)
        report.refunds_read += 1
        if refund.charge:
            charges.add(refund.charge)
    with transaction.atomic():
        for charge_id in sorted(charges):
            _refresh_payment_money(connection, api, charge_id)
        StripeConnection.objects.filter(pk=connection.pk).update(refunds_cursor=max(cursor, newest - 1))
    connection.refunds_cursor = max(cursor, newest - 1)


def _sync_disputes(connection, api, report):
    since = int((timezone.now() - DISPUTE_LOOKBACK).timestamp())
    lost = {}
    try:
        for raw in _listing(api.list_disputes, newer_than=since):
            dispute = normalize.dispute(raw)
            report.disputes_read += 1
            if dispute.charge:
                lost.setdefault(dispute.charge, []).append(dispute)
    except stripe_client.NotSupported:
        return  # the server has no disputes endpoint (an emulator): nothing to read
    with transaction.atomic():
        for charge_id, disputes in lost.items():
            payment = Payment.objects.filter(site_id=connection.site_id, charge_id=charge_id).first()
            lost_now = sum(d.amount or 0 for d in disputes if d.is_lost)
            if payment is not None and payment.amount_disputed != lost_now:
                _refresh_payment_money(connection, api, charge_id, disputes=disputes)


# --- re-checking what is not attributed yet ------------------------------------------------------
def _recheck(connection, api, report, *, now=None):
    now = now or timezone.now()
    due = Payment.objects.filter(
        site_id=connection.site_id,
        attribution__in=[attribution.PENDING, attribution.NO_VIEW_ID],
        next_check_at__lte=now,
    ).order_by("next_check_at")[:500]
    resolver = Resolver(api, connection, use_cache=False)
    for payment in due:
        if payment.attribution == attribution.NO_VIEW_ID and payment.charge_id:
            # The merchant may have added the id since: read the objects again.
            _apply_resolution(payment, resolver.resolve(api.retrieve_charge(payment.charge_id)))
        payment.checks += 1
        _attach_view(payment, now=now)
        payment.save()
        report.rechecked += 1


def reattribute(payments):
    """Queue payments for a fresh attribution on the next sync (staff action)."""
    return Payment.objects.filter(pk__in=[p.pk for p in payments]).update(
        attribution=attribution.NO_VIEW_ID, next_check_at=timezone.now(), checks=0
    )

"""The Revenue tab of a site's settings: connect Stripe, watch the sync, see why payments are not attributed.

Interfaces only: parse input, call one service in revenue.services, render. Access is the settings'
rule (sites.selectors.membership_get): members read, owners and admins change, a non-member gets a 404.
The merchant's key goes in through the form and never comes out: pages show `key_hint` only.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST, require_safe

from humblytics.currencies import from_minor_units
from revenue import selectors, services
from revenue.forms import OPTIONAL_PERMISSIONS, REQUIRED_PERMISSIONS, StripeKeyForm
from revenue.models import Payment, StripeConnection
from sites.models import Role
from sites.selectors import membership_get
from sites.views import _confirm, _render_tab, require_get_or_post

PAGE_SIZE = 50

VIEW_SOURCES = {
    "payment_intent": "PaymentIntent",
    "invoice": "Invoice",
    "subscription": "Subscription",
    "checkout_session": "Checkout Session",
    "checkout_session_url": "Success page (session_id)",
    "customer": "Customer",
}

# What each attribution status means and what the merchant can do about it, in the order shown.
TROUBLESHOOTING = (
    (
        Payment.Attribution.ATTRIBUTED,
        "Attributed",
        "ok",
        "Credited to the visit whose page view carried the id.",
    ),
    (
        Payment.Attribution.PENDING,
        "Pending",
        "warn",
        "The page view has not landed yet, or the id may still be added: wait. Humblytics looks again after "
        "5 minutes, 1 hour and 24 hours, and settles the status after 48 hours.",
    ),
    (
        Payment.Attribution.NO_VIEW_ID,
        "Without a view id",
        "danger",
        "Set humblytics_view_id in the metadata of at least one supported object (PaymentIntent, Invoice, "
        "Subscription, Checkout Session or Customer): see the snippets below.",
    ),
    (
        Payment.Attribution.VIEW_NOT_FOUND,
        "View not found",
        "danger",
        "The id is there but no page view of this site has it: make sure the tracker runs on the page where "
        "checkout starts, and that you send window.Humblytics.viewId unchanged.",
    ),
)
STATUS_LABELS = {status: label for status, label, _, _ in TROUBLESHOOTING}
STATUS_TONES = {status: tone for status, _, tone, _ in TROUBLESHOOTING}


def _membership(request, domain, role=Role.VIEWER):
    return membership_get(user=request.user, domain=domain, role=role)


def _live_connection(site):
    """The site's connection unless it was disconnected (a disconnected one only keeps its payments)."""
    connection = StripeConnection.objects.filter(site=site).first()
    if connection is None or connection.status == StripeConnection.Status.DISCONNECTED:
        return None
    return connection


def _progress(progress):
    """sync_progress as [(phase, done)]. Both shapes: {"phase": "charges", "done": 120} and what revenue.sync
    writes, {"charges": {"done": 120, "cursor": …, "starting_after": …}} (one entry per unfinished phase)."""
    if not isinstance(progress, dict):
        return []
    if "phase" in progress:
        return [(str(progress["phase"]), progress.get("done"))]
    return [(str(phase), state.get("done")) for phase, state in progress.items() if isinstance(state, dict)]


def _payments_url(site, status=None):
    url = reverse("sites:revenue_payments", args=[site.domain])
    return f"{url}?status={status}" if status else url


def _tab(request, membership, form, *, status=200):
    site = membership.site
    overview = selectors.revenue_overview(site=site)
    connection = overview["connection"]
    if connection is not None and connection.status == StripeConnection.Status.DISCONNECTED:
        connection = None
    rows = [
        {
            "status": key,
            "label": label,
            "tone": tone,
            "fix": fix,
            "count": overview.get(key) or 0,
            "url": _payments_url(site, key),
        }
        for key, label, tone, fix in TROUBLESHOOTING
    ]
    context = {
        "form": form,
        "overview": overview,
        "connection": connection,
        "syncing": bool(connection and connection.sync_started_at),
        "progress": _progress(connection.sync_progress) if connection else [],
        "rows": rows,
        "all_payments_url": _payments_url(site),
        "required_permissions": REQUIRED_PERMISSIONS,
        "optional_permissions": OPTIONAL_PERMISSIONS,
    }
    response = _render_tab(request, membership, "revenue", context, status=status)
    add_never_cache_headers(response)
    return response


@login_required
@require_get_or_post
def revenue_tab(request, domain):
    """GET shows the tab; POST connects Stripe, or replaces the key of the current connection."""
    membership = _membership(request, domain, Role.ADMIN if request.method == "POST" else Role.VIEWER)
    site = membership.site
    form = StripeKeyForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            connection = services.connection_connect(
                site=site, secret_key=form.cleaned_data["secret_key"], user=request.user
            )
        except services.RevenueError as error:
            form.add_error("secret_key", error.message)
        else:
            messages.success(
                request,
                f"Stripe is connected in {connection.get_mode_display().lower()} mode with {connection.key_hint}. "
                "The first sync has started.",
            )
            return redirect("sites:settings_revenue", site.domain)
    return _tab(request, membership, form, status=400 if form.is_bound else 200)


@login_required
@require_POST
def revenue_sync(request, domain):
    membership = _membership(request, domain, Role.ADMIN)
    site = membership.site
    connection = _live_connection(site)
    if connection is None:
        messages.error(request, "Connect Stripe first.")
        return redirect("sites:settings_revenue", site.domain)
    try:
        services.sync_request(connection=connection)
    except services.RevenueError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "A sync has started. This page shows its progress when you reload it.")
    return redirect("sites:settings_revenue", site.domain)


@login_required
@require_get_or_post
def revenue_disconnect(request, domain):
    membership = _membership(request, domain, Role.ADMIN)
    site = membership.site
    connection = _live_connection(site)
    if connection is None:
        messages.info(request, "Stripe is not connected.")
        return redirect("sites:settings_revenue", site.domain)
    if request.method == "POST":
        services.connection_disconnect(connection=connection)
        messages.success(request, f"Stripe ({connection.key_hint}) is disconnected. Payments synced so far are kept.")
        return redirect("sites:settings_revenue", site.domain)
    return _confirm(
        request,
        membership,
        "revenue",
        title="Disconnect Stripe?",
        text=f"Humblytics stops reading payments with {connection.key_hint}. Payments synced so far stay in "
        "your reports. Revoke the key in Stripe too if nothing else uses it.",
        action=request.path,
        button="Disconnect Stripe",
    )


def _payment_row(payment):
    visit = payment.visit if payment.attribution == Payment.Attribution.ATTRIBUTED else None
    refunded = payment.amount_refunded + payment.amount_disputed
    return {
        "payment": payment,
        "amount": from_minor_units(payment.amount, payment.currency),
        "currency": payment.currency.upper(),
        "refunded": from_minor_units(refunded, payment.currency) if refunded else None,
        "status_label": STATUS_LABELS.get(payment.attribution, payment.attribution),
        "status_tone": STATUS_TONES.get(payment.attribution, "warn"),
        "view_source": VIEW_SOURCES.get(payment.view_source, payment.view_source),
        "visit": visit,
        "stripe_url": "https://dashboard.stripe.com/{}payments/{}".format(
            "" if payment.livemode else "test/", payment.stripe_id
        ),
    }


@login_required
@require_safe
def revenue_payments(request, domain):
    membership = _membership(request, domain)
    site = membership.site
    status = request.GET.get("status", "")
    error = None
    # The same mode as the tab's counts (selectors.revenue_overview): test and live never mix.
    connection = StripeConnection.objects.filter(site=site).first()
    livemode = None if connection is None else connection.mode == StripeConnection.Mode.LIVE
    if status and status not in Payment.Attribution.values:
        error = f"Unknown status “{status[:40]}”: choose one of {', '.join(Payment.Attribution.values)}."
        payments = Payment.objects.none()
    else:
        payments = selectors.payment_list(site=site, attribution=status or None, livemode=livemode)
    page = Paginator(payments, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = [
        {"label": "All", "url": _payments_url(site), "active": not status},
        *(
            {"label": label, "url": _payments_url(site, key), "active": status == key}
            for key, label, _, _ in TROUBLESHOOTING
        ),
    ]
    context = {
        "page": page,
        "rows": [_payment_row(payment) for payment in page.object_list],
        "status": status if not error else "",
        "status_label": STATUS_LABELS.get(status, ""),
        "filters": filters,
        "error": error,
        "mode": None if livemode is None else ("live" if livemode else "test"),
        "back_url": reverse("sites:settings_revenue", args=[site.domain]),
    }
    return _render_tab(
        request, membership, "revenue", context, template="revenue/payments.html", status=400 if error else 200
    )

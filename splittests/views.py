"""The Split tests tab: list, create and edit drafts, the lifecycle buttons, results, CSV, the calculator.

Interfaces only. Access is the settings' rule (sites.selectors.membership_get): any member reads, owners and
admins change, a non-member gets a 404.
"""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from dashboard.charts import COLOURS, line_chart
from sites.models import Role
from sites.selectors import membership_get
from sites.views import _render_tab, require_get_or_post
from splittests import presenters, selectors, services
from splittests.forms import FORM_ROWS, CalculatorForm, SplitTestForm, VariantForm, VariantFormSet
from splittests.models import Variant
from splittests.report import FIXED, SEQUENTIAL
from splittests.stats import MIN_CONVERSIONS, MIN_VISITORS, plan_test

TAB = "split-tests"
ACTIONS = {
    "launch": (services.splittest_launch, "launched: the tracker delivers it within a minute"),
    "pause": (services.splittest_pause, "paused: visitors see the control and are not counted"),
    "resume": (services.splittest_resume, "resumed"),
    "stop": (services.splittest_stop, "stopped"),
}


def _membership(request, domain, role=Role.VIEWER):
    return membership_get(user=request.user, domain=domain, role=role)


def _render(request, membership, template, context=None, status=200):
    return _render_tab(request, membership, TAB, context, template=f"splittests/{template}", status=status)


def snippet(request, site):
    from django.conf import settings

    base = settings.BASE_URL or f"{request.scheme}://{request.get_host()}"
    return f'<script src="{base}/js/script.js?site={site.domain}" data-domain="{site.domain}"></script>'


@login_required
@require_safe
def test_list(request, domain):
    membership = _membership(request, domain)
    tests = selectors.splittest_list(site=membership.site)
    return _render(request, membership, "list.html", {"tests": tests, "snippet": snippet(request, membership.site)})


def _formset(request, site, control, initial=None):
    return VariantFormSet(
        request.POST if request.method == "POST" else None,
        initial=initial,
        prefix="variant",
        form_kwargs={"site": site, "control": control},
    )


def _edit(request, membership, test=None):
    site = membership.site
    if request.method != "POST":
        if test:
            form = SplitTestForm(initial=SplitTestForm.initial_for(test), site=site)
            treatments = [VariantForm.initial_for(v) for v in test.variants.all() if not v.is_control]
        else:
            form = SplitTestForm(site=site)
            treatments = [{"name": "Variant B"}]
        padded = treatments + [{} for _ in range(max(0, FORM_ROWS - len(treatments)))]
        formset = VariantFormSet(initial=padded, prefix="variant", form_kwargs={"site": site, "control": None})
        formset.extra = 0
        return _render(request, membership, "form.html", {"form": form, "formset": formset, "test": test})

    form = SplitTestForm(request.POST, site=site)
    control = None
    if form.is_valid():
        control = form.cleaned_data["page_path"]
    formset = _formset(request, site, control)
    if form.is_valid() and formset.is_valid():
        variants = [form.control_variant()] + [v for v in (f.variant() for f in formset.forms) if v]
        try:
            if test:
                test = services.splittest_update(test=test, fields=form.service_fields(), variants=variants)
            else:
                test = services.splittest_create(
                    site=site, user=request.user, fields=form.service_fields(), variants=variants
                )
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error.messages)
        else:
            messages.success(request, f"“{test.name}” is saved as a draft. Launch it when the snippet is in place.")
            return redirect("splittests:detail", site.domain, test.pk)
    context = {"form": form, "formset": formset, "test": test}
    return _render(request, membership, "form.html", context, status=400)


@login_required
@require_get_or_post
def test_new(request, domain):
    membership = _membership(request, domain, Role.ADMIN)
    return _edit(request, membership)


@login_required
@require_get_or_post
def test_edit(request, domain, test_id):
    membership = _membership(request, domain, Role.ADMIN)
    test = selectors.splittest_get(site=membership.site, test_id=test_id)
    if not test.is_editable:
        messages.error(request, "Only a draft can be edited: changing a running test would mix two experiments.")
        return redirect("splittests:detail", domain, test.pk)
    return _edit(request, membership, test)


def _requested_mode(request):
    value = request.GET.get("results")
    if value in (None, ""):
        return None
    if value not in (SEQUENTIAL, FIXED):
        raise Http404("results: sequential or fixed-horizon")
    return value


def _duration(test, report):
    if not test.planned_visitors_per_variant:
        return None
    variants = len(report.rows)
    needed = max(0, test.planned_visitors_per_variant * variants - report.total_visitors)
    estimate = {"planned": test.planned_visitors_per_variant, "remaining_visitors": needed, "days": None}
    if test.daily_visitors:
        share = test.traffic_percent / 100
        estimate["days"] = -(-needed // max(1, round(test.daily_visitors * share))) if needed else 0
    return estimate


@login_required
@require_safe
def test_detail(request, domain, test_id):
    membership = _membership(request, domain)
    site = membership.site
    test = selectors.splittest_get(site=site, test_id=test_id)
    mode = _requested_mode(request)
    report = selectors.splittest_results(test=test, mode=mode)
    rows = [presenters.row_display(r, site.currency, is_control=i == 0) for i, r in enumerate(report.rows)]
    for row in rows:
        row["declarable"] = not report.declarable.get(row["id"])
        row["not_declarable_because"] = report.declarable.get(row["id"], ())
    chart = None
    if report.chart_labels:
        chart = line_chart(
            report.chart_labels, report.chart_series, title="Cumulative conversion rate (%) per variant by day"
        )
    context = {
        "test": test,
        "variants": list(test.variants.all()),
        "report": report,
        "rows": rows,
        "chart": chart,
        "mode_sentence": presenters.mode_sentence(report),
        "other_mode": SEQUENTIAL if report.mode == FIXED else (FIXED if report.planned_reached else None),
        "duration": _duration(test, report),
        "min_visitors": MIN_VISITORS,
        "min_conversions": MIN_CONVERSIONS,
        "snippet": snippet(request, site),
        "legend": [(r.name, COLOURS[i % len(COLOURS)]) for i, r in enumerate(report.rows)],
    }
    return _render(request, membership, "detail.html", context)


@login_required
@require_POST
def test_action(request, domain, test_id, action):
    membership = _membership(request, domain, Role.ADMIN)
    test = selectors.splittest_get(site=membership.site, test_id=test_id)
    if action not in ACTIONS:
        raise Http404("No such action")
    service, done = ACTIONS[action]
    try:
        service(test=test)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"“{test.name}” {done}.")
    return redirect("splittests:detail", domain, test.pk)


@login_required
@require_POST
def test_declare(request, domain, test_id):
    membership = _membership(request, domain, Role.ADMIN)
    test = selectors.splittest_get(site=membership.site, test_id=test_id)
    try:
        variant_id = int(request.POST.get("variant", ""))
    except ValueError:
        messages.error(request, "Choose the variant to declare the winner.")
        return redirect("splittests:detail", domain, test.pk)
    variant = get_object_or_404(Variant, pk=variant_id, test=test)
    try:
        services.splittest_declare_winner(test=test, variant=variant)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{variant.name} is declared the winner; the test is stopped.")
    return redirect("splittests:detail", domain, test.pk)


@login_required
@require_safe
def test_csv(request, domain, test_id):
    membership = _membership(request, domain)
    test = selectors.splittest_get(site=membership.site, test_id=test_id)
    report = selectors.splittest_results(test=test, mode=_requested_mode(request))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="splittest-{test.pk}-results.csv"'
    writer = csv.writer(response)
    for line in presenters.csv_rows(report, membership.site.currency):
        writer.writerow(_csv_safe(cell) for cell in line)
    return response


def _csv_safe(cell):
    # A variant name like "=HYPERLINK(…)" must not run as a formula in a spreadsheet.
    text = str(cell)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(text) else text


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


@login_required
@require_safe
def calculator(request, domain):
    membership = _membership(request, domain)
    form = CalculatorForm(request.GET or None)
    plan = error = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            plan = plan_test(
                baseline=data["baseline_percent"] / 100,
                mde=data["effect_percent"] / 100,
                variants=data["variants"],
                daily_visitors=data.get("daily_visitors"),
                alpha=data["alpha_percent"] / 100,
                power=data["power_percent"] / 100,
            )
        except ValueError as problem:
            error = str(problem)
    status = 400 if form.is_bound and (form.errors or error) else 200
    context = {"form": form, "plan": plan, "error": error, "new_url": reverse("splittests:new", args=[domain])}
    return _render(request, membership, "calculator.html", context, status=status)

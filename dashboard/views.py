"""The dashboard pages: overview, a breakdown's details, CSV export and the realtime count.

Each view checks membership first (a non-member gets the same 404 as for a missing site), parses the
URL into a State, asks `dashboard.reports` and renders. Bad parameters are a QueryError: a 400 page
with its message, never a 500.
"""

import csv
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_safe

from dashboard import engine
from dashboard.charts import line_chart
from dashboard.formatting import csv_safe, extra_columns_for
from dashboard.presenters import PANELS, PERIODS, dimension_label, parse_breakdown, parse_state
from dashboard.query import MAX_LIMIT, QueryError
from dashboard.reports import PAGE_SIZE, PANEL_ROWS, TIME_SERIES_METRICS, Report
from sites.selectors import membership_get, site_goals

MAX_SEARCH = 200


def now():
    """The dashboard's clock (tests fix it)."""
    return timezone.now()


def _today(site):
    return timezone.localdate(now(), timezone=ZoneInfo(site.timezone))


def _report(request, site):
    today, earliest = _today(site), engine.earliest_day(site)
    state = parse_state(request.GET, today=today, earliest=earliest)
    return Report(site, state, today=today, earliest=earliest)


def _bad_request(request, membership, error):
    context = {"site": membership.site, "membership": membership, "message": error.message}
    return render(request, "dashboard/error.html", context, status=400)


def _parse_sort(params):
    name = params.get("sort")
    if not name:
        return None
    direction = params.get("dir") or "desc"
    if direction not in ("asc", "desc"):
        raise QueryError("dir: use asc or desc")
    return name, direction


def _parse_page(params):
    raw = params.get("page") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise QueryError("page: give a whole number from 1")
    return int(raw)


def _search(params):
    return (params.get("q") or "").strip()[:MAX_SEARCH]


def _chips(state):
    return [{"label": f.label, "remove_url": state.without_filter(i)} for i, f in enumerate(state.filters)]


def _base(site):
    return reverse("dashboard:dashboard", args=[site.domain])


@login_required
@require_safe
def dashboard(request, domain):
    membership = membership_get(user=request.user, domain=domain)
    site = membership.site
    if site.first_event_at is None:
        context = {
            "site": site,
            "membership": membership,
            "tracking_url": reverse("sites:settings_tracking", args=[site.domain]),
        }
        return render(request, "dashboard/empty.html", context)
    try:
        report = _report(request, site)
        state = report.state
        cards = report.cards()
        with_revenue = "revenue" in extra_columns_for(site)
        # One engine run for both charts: visitors and pageviews, and revenue where the site has it.
        series = report.time_series(["visitors", "pageviews", *(["revenue", "net_revenue"] if with_revenue else [])])
        panels = [_panel(report, panel, site) for panel in PANELS]
    except QueryError as error:
        return _bad_request(request, membership, error)
    chart = line_chart(series["labels"], series["series"][:2], title=f"Visitors and pageviews, {report.label}")
    revenue_chart = None
    if with_revenue:
        revenue_chart = line_chart(
            series["labels"], series["series"][2:], title=f"Revenue ({site.currency}), {report.label}"
        )
    context = {
        "site": site,
        "membership": membership,
        "report": report,
        "state": state,
        "periods": [{"key": k, "label": label, "url": state.with_period(k)} for k, label in PERIODS if k != "custom"],
        "chips": _chips(state),
        "cards": cards,
        "chart": mark_safe(chart),  # noqa: S308 - charts.py escapes every text it draws
        "revenue_chart": mark_safe(revenue_chart) if revenue_chart else None,  # noqa: S308 - as above
        "panels": panels,
        "realtime": engine.realtime_visitors(site, now=now()),
        "realtime_url": reverse("dashboard:realtime", args=[site.domain]),
        "series_csv_url": reverse("dashboard:export", args=[site.domain])
        + state.query_string(("breakdown", "time"), with_tabs=False),
        "base_url": _base(site),
    }
    return render(request, "dashboard/dashboard.html", context)


def _panel(report, panel, site):
    state = report.state
    tab = state.panel_tab(panel)
    item = {
        "key": panel.key,
        "tab": tab,
        "tabs": [{"label": t.label, "url": state.with_tab(panel.key, t.key), "active": t == tab} for t in panel.tabs],
        "details_url": reverse("dashboard:details", args=[site.domain, tab.dimension])
        + state.query_string(with_tabs=False),
    }
    if tab.dimension == "event:goal" and not site_goals(site=site):
        item["no_goals_url"] = reverse("sites:settings_goals", args=[site.domain])
        return item
    item["table"] = report.table(tab.dimension, limit=PANEL_ROWS, skip_empty=tab.skip_empty)
    return item


@login_required
@require_safe
def details(request, domain, breakdown):
    membership = membership_get(user=request.user, domain=domain)
    site = membership.site
    try:
        dimension = parse_breakdown(breakdown)
        report = _report(request, site)
        sort, page, search = _parse_sort(request.GET), _parse_page(request.GET), _search(request.GET)
        table = report.table(
            dimension, details=True, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, sort=sort, search=search
        )
    except QueryError as error:
        return _bad_request(request, membership, error)
    state = report.state
    keep = [("q", search)] if search else []
    sort_pairs = [("sort", sort[0]), ("dir", sort[1])] if sort else []
    headers = []
    for name, label in [("name", dimension_label(dimension)), *table.headers]:
        url = None
        if name in table.sortable:
            first = "asc" if name == "name" else "desc"
            direction = ("desc" if sort[1] == "asc" else "asc") if sort and sort[0] == name else first
            url = state.query_string(*keep, ("sort", name), ("dir", direction), with_tabs=False)
        current = sort[1] if sort and sort[0] == name else None
        headers.append({"name": name, "label": label, "url": url, "sorted": current})
    pages = max(1, -(-table.total_rows // PAGE_SIZE))

    def page_url(number):
        return state.query_string(*keep, *sort_pairs, ("page", str(number)), with_tabs=False)

    context = {
        "site": site,
        "membership": membership,
        "report": report,
        "state": state,
        "dimension": dimension,
        "title": dimension_label(dimension),
        "table": table,
        "headers": headers,
        "search": search,
        "search_fields": [(k, v) for k, v in state.hidden_fields() if k != "q"] + sort_pairs,
        "page": page,
        "pages": pages,
        "previous_url": page_url(page - 1) if page > 1 else None,
        "next_url": page_url(page + 1) if page < pages else None,
        "chips": _chips(state),
        "back_url": _base(site) + state.query_string(with_tabs=False),
        "csv_url": reverse("dashboard:export", args=[site.domain])
        + state.query_string(("breakdown", dimension), *keep, *sort_pairs, with_tabs=False),
        "first_row": (page - 1) * PAGE_SIZE + 1,
        "last_row": (page - 1) * PAGE_SIZE + len(table.rows),
        "base_url": _base(site),
    }
    return render(request, "dashboard/details.html", context)


@login_required
@require_safe
def export_csv(request, domain):
    membership = membership_get(user=request.user, domain=domain)
    site = membership.site
    try:
        breakdown = request.GET.get("breakdown") or ""
        report = _report(request, site)
        if breakdown == "time":
            metrics = [*TIME_SERIES_METRICS, *extra_columns_for(site)]
            series = report.time_series(metrics)
            header = [series["interval"], *metrics]
            rows = [[key, *(values[i] for _, values in series["series"])] for i, key in enumerate(series["keys"])]
        else:
            dimension = parse_breakdown(breakdown)
            table = report.table(
                dimension, details=True, limit=MAX_LIMIT, sort=_parse_sort(request.GET), search=_search(request.GET)
            )
            header = [dimension, *table.columns]
            rows = [[row["label"], *(raw for _, _, raw in row["values"])] for row in table.rows]
    except QueryError as error:
        return _bad_request(request, membership, error)
    start, end = report.date_range.start.isoformat(), report.date_range.end.isoformat()
    name = (breakdown if breakdown == "time" else dimension).replace(":", "_")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{site.domain}-{name}-{start}-{end}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([csv_safe(value) for value in row])
    return response


@login_required
@require_safe
def realtime(request, domain):
    membership = membership_get(user=request.user, domain=domain)
    response = JsonResponse({"visitors": engine.realtime_visitors(membership.site, now=now()), "minutes": 5})
    response["Cache-Control"] = "no-store"
    return response

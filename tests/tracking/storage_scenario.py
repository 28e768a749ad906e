"""One storing scenario, run on PostgreSQL in the test process and on SQLite in a child process.

tracking.rows writes with COPY and array UPDATEs on PostgreSQL and through the ORM elsewhere; the
scenario touches every one of its functions (new and extended visits, page views, events, duplicates,
engagement raising a page view and lengthening its visit, drops) and `snapshot()` prints what landed,
so a test can require both backends to store the same rows.
"""

import json


def run():
    from accounts.models import User
    from sites.services import site_create
    from tests.tracking.factories import T0, record
    from tracking.services import events_store

    owner = User.objects.create_user(email="scenario@example.org", password=None)
    site = site_create(owner=owner, domain="scenario.example")
    first = record(site, path="/", view="scenario-view-00000001", props={"ab": "b"})
    events_store([
        first,
        record(site, ts=T0 + 60, path="/pricing", view="scenario-view-00000002"),
        record(site, kind="event", ts=T0 + 90, name="Signup", view="scenario-view-00000002", props={"plan": "pro"},
               revenue_amount="49.90", revenue_currency="EUR"),
        record(site, ts=T0, visitor=222, path="/solo", view="scenario-view-00000003", referrer='a "quoted" \\ ref\tx'),
        {"kind": "drop", "site": site.pk, "day": "2026-03-10", "reason": "bot"},
    ])  # fmt: skip
    events_store([
        first,  # stored again: nothing changes
        record(site, ts=T0 + 600, path='/docs/"x"', view="scenario-view-00000004"),  # extends the visit
        record(site, kind="engagement", ts=T0 + 700, view="scenario-view-00000004", engaged_ms=120_000,
               scroll_depth=80),
        record(site, kind="engagement", ts=T0 + 700, view="scenario-view-00000003", engaged_ms=5_000),
        record(site, kind="engagement", ts=T0 + 700, view="scenario-view-unknown01", engaged_ms=5_000),
        {"kind": "drop", "site": site.pk, "day": "2026-03-10", "reason": "bot"},
    ])  # fmt: skip
    return snapshot(site)


def snapshot(site):
    from tracking.models import DroppedEvents, Event, PageView, Visit

    visits = {v.id: v for v in Visit.objects.filter(site=site)}
    number = {pk: i for i, pk in enumerate(sorted(visits, key=lambda pk: visits[pk].started_at))}
    return json.loads(json.dumps({
        "visits": sorted(
            [v.visitor_id, v.started_at.isoformat(), v.last_seen_at.isoformat(), v.duration, v.pageviews, v.events,
             v.is_bounce, v.entry_page, v.exit_page, v.referrer, v.city]
            for v in visits.values()
        ),
        "pageviews": sorted(
            [p.view_id, number[p.visit_id], p.visitor_id, p.timestamp.isoformat(), p.pathname, p.props, p.engaged_ms,
             p.scroll_depth]
            for p in PageView.objects.filter(site=site)
        ),
        "events": sorted(
            [e.view_id, number[e.visit_id], e.name, e.props, str(e.revenue_amount), e.revenue_currency, e.interactive]
            for e in Event.objects.filter(site=site)
        ),
        "drops": list(DroppedEvents.objects.filter(site=site).values_list("reason", "count")),
    }))  # fmt: skip


if __name__ == "__main__":
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    print("SCENARIO " + json.dumps(run()))

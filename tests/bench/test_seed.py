"""The bench seeder on a tiny site: every row consistent with its visit, shapes roughly as configured."""

import itertools
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection

from bench import seed as seeder
from tests.tracking.factories import record
from tracking import services
from tracking.models import Event, PageView, Visit

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the seeder writes with PostgreSQL COPY")

CONFIG = seeder.Config(pageviews=2000, days=7, end=date(2026, 3, 10), seed=7)


def rows(site):
    visits = {v.id: v for v in Visit.objects.filter(site=site)}
    views = list(PageView.objects.filter(site=site).order_by("timestamp", "id"))
    events = list(Event.objects.filter(site=site))
    return visits, views, events


def fingerprint(site):
    visits, views, events = rows(site)
    return (
        sorted((v.id, v.visitor_id, v.started_at, v.duration, v.source, v.country, v.browser) for v in visits.values()),
        sorted((p.view_id, p.visit_id, p.timestamp, p.pathname) for p in views),
        sorted((e.view_id, e.name, e.props) for e in events),
    )


def schema():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename IN ('tracking_visit', 'tracking_pageview', 'tracking_event')"
        )
        indexes = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid::regclass::text IN ('tracking_visit', 'tracking_pageview', 'tracking_event')"""
        )
        return indexes, sorted(cursor.fetchall())


@pytest.fixture
def seeded(db):
    site, counts = seeder.seed(CONFIG, progress=None)
    return site, counts


def test_it_writes_exactly_the_asked_page_views_and_reports_what_it_wrote(seeded):
    site, counts = seeded
    visits, views, events = rows(site)
    assert counts == {"visits": len(visits), "pageviews": 2000, "events": len(events)}
    assert len(views) == 2000
    assert site.name == "bench seed pv=2000 days=7 end=2026-03-10 seed=7 until=79200"
    assert site.timezone == seeder.TIMEZONE
    assert site.first_event_at == datetime(2026, 3, 4, tzinfo=UTC)
    assert sorted((g.kind, g.page_path or g.event_name) for g in site.goals.all()) == sorted(seeder.GOALS)


def test_every_visit_agrees_with_its_page_views_and_events(seeded):
    site, _ = seeded
    visits, views, events = rows(site)
    by_visit = defaultdict(list)
    for view in views:
        by_visit[view.visit_id].append(view)
    events_by_visit = defaultdict(list)
    for event in events:
        events_by_visit[event.visit_id].append(event)
    assert set(by_visit) == set(visits)  # every page view's visit exists, and no visit is empty
    assert sum(v.pageviews for v in visits.values()) == len(views)
    view_ids = {view.view_id: view for view in views}
    assert len(view_ids) == len(views)
    for visit_id, visit in visits.items():
        own = by_visit[visit_id]
        own_events = events_by_visit[visit_id]
        assert visit.pageviews == len(own)
        assert visit.events == len(own_events)
        assert {view.visitor_id for view in own} | {e.visitor_id for e in own_events} == {visit.visitor_id}
        assert visit.started_at == own[0].timestamp
        assert (visit.entry_page, visit.exit_page) == (own[0].pathname, own[-1].pathname)
        assert visit.is_bounce == (len(own) == 1 and not own_events)
        assert visit.last_seen_at >= max([*(v.timestamp for v in own), *(e.timestamp for e in own_events)])
        assert visit.duration == int((visit.last_seen_at - visit.started_at).total_seconds())
        gaps = [later.timestamp - earlier.timestamp for earlier, later in itertools.pairwise(own)]
        assert all(gap < timedelta(minutes=30) for gap in gaps)  # one visit, never 30 minutes idle
        for event in own_events:
            view = view_ids[event.view_id]  # an event happens on one of its visit's page views
            assert (view.visit_id, view.pathname) == (visit_id, event.pathname)


def test_traffic_falls_inside_the_days_asked_for(seeded):
    site, _ = seeded
    visits, _, _ = rows(site)
    assert min(v.started_at for v in visits.values()).date() == date(2026, 3, 4)
    assert max(v.started_at for v in visits.values()).date() == date(2026, 3, 10)


def test_nothing_happens_after_the_seeds_clock(seeded):
    site, _ = seeded
    visits, views, events = rows(site)
    assert CONFIG.now == datetime(2026, 3, 10, 22, tzinfo=UTC)
    assert max(v.last_seen_at for v in visits.values()) < CONFIG.now
    assert max(p.timestamp for p in views) < CONFIG.now
    assert max(e.timestamp for e in events) < CONFIG.now
    assert max(p.timestamp for p in views) > CONFIG.now - timedelta(hours=1)  # but traffic right up to it


def test_its_shapes_are_roughly_as_configured(seeded):
    site, _ = seeded
    visits, views, events = list(rows(site)[0].values()), *rows(site)[1:]
    n = len(visits)
    assert 2.6 <= 2000 / n <= 4.0  # ~3.3 page views per visit
    assert 0.35 <= sum(v.is_bounce for v in visits) / n <= 0.55
    per_visitor = Counter(v.visitor_id for v in visits)
    assert max(per_visitor.values()) <= 5
    assert 1.2 <= n / len(per_visitor) <= 1.7
    assert 0.07 <= sum(bool(v.utm_campaign) for v in visits) / n <= 0.25
    assert 0.01 <= sum(bool(v.events) for v in visits) / n <= 0.15
    assert {e.name for e in events} <= {"Signup", "Purchase", "Outbound Link: Click"}
    for event in events:
        assert event.interactive
        if event.name == "Purchase":
            assert (
                event.revenue_amount > 0 and event.revenue_currency == "USD" and set(event.props) == {"plan", "billing"}
            )
        else:
            assert event.revenue_amount is None
    channels = Counter(v.channel for v in visits)
    assert channels.most_common(1)[0][0] == "Direct"
    assert {"Organic Search", "Organic Social", "Referral", "Email"} <= set(channels)
    for visit in visits:  # channels consistent with the source (classified as ingestion would)
        if visit.source == "Direct / None":
            assert visit.channel == "Direct" and not visit.referrer_host
        if visit.source == "Google" and not visit.utm_source:
            assert visit.channel == "Organic Search"
    devices = Counter(v.device for v in visits)
    assert devices["Desktop"] > devices["Mobile"] > devices["Tablet"]
    assert Counter(v.country for v in visits).most_common(1)[0][0] == "US"
    assert len({p.pathname for p in views}) > 200  # a long tail of pages


def test_it_is_deterministic_for_a_seed(seeded):
    site, _ = seeded
    first = fingerprint(site)
    seeder.seed(CONFIG, progress=None)
    assert fingerprint(site) == first
    seeder.seed(seeder.Config(pageviews=2000, days=7, end=date(2026, 3, 10), seed=8), progress=None)
    assert fingerprint(site) != first


def test_it_leaves_other_sites_traffic_alone(db, charlies_site):
    services.events_store([record(charlies_site, visitor=5, path="/only-mine")])
    seeder.seed(CONFIG, progress=None)
    seeder.seed(CONFIG, progress=None)  # replacing the bench site's traffic deletes only its own rows
    assert list(PageView.objects.filter(site=charlies_site).values_list("pathname", flat=True)) == ["/only-mine"]
    assert Visit.objects.filter(site=charlies_site).count() == 1


def test_the_bulk_path_restores_every_index_and_constraint(db):
    before = schema()
    site, counts = seeder.seed(CONFIG, bulk=True, progress=None)
    assert schema() == before
    assert PageView.objects.filter(site=site).count() == 2000 == counts["pageviews"]


def test_the_script_refuses_an_empty_seed(capsys):
    with pytest.raises(SystemExit):
        seeder.main(["--pageviews", "0"])
    assert "--pageviews and --days must be at least 1" in capsys.readouterr().err

"""events_store: batches become page views, events and visits, exactly once."""

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.tracking.factories import T0, record
from tracking import services
from tracking.models import DroppedEvents, Event, PageView, Salt, Visit

MINUTE = 60


def test_it_stores_a_page_view_in_a_new_visit(site):
    stored = services.events_store([record(site, path="/pricing", source="Google", channel="Organic Search")])
    assert stored["pageviews"] == 1 and stored["visits"] == 1
    view = PageView.objects.get()
    visit = Visit.objects.get()
    assert (view.site_id, view.pathname, view.visit_id) == (site.pk, "/pricing", visit.id)
    assert (visit.entry_page, visit.exit_page, visit.pageviews, visit.is_bounce) == ("/pricing", "/pricing", 1, True)
    assert (visit.source, visit.channel, visit.country, visit.browser) == ("Google", "Organic Search", "DE", "Firefox")
    site.refresh_from_db()
    assert site.first_event_at == datetime.fromtimestamp(T0, UTC)


def test_it_extends_a_visit_within_thirty_idle_minutes(site):
    services.events_store([record(site, path="/a")])
    services.events_store([record(site, path="/b", ts=T0 + 29 * MINUTE)])
    visit = Visit.objects.get()
    assert (visit.pageviews, visit.entry_page, visit.exit_page, visit.is_bounce) == (2, "/a", "/b", False)
    assert visit.duration == 29 * 60


def test_it_splits_a_visit_after_thirty_idle_minutes(site):
    services.events_store([record(site, path="/a"), record(site, path="/b", ts=T0 + 31 * MINUTE)])
    assert Visit.objects.count() == 2
    assert sorted(Visit.objects.values_list("entry_page", flat=True)) == ["/a", "/b"]


def test_it_keeps_one_visit_across_midnight_through_yesterdays_hash(site):
    midnight = datetime(2026, 3, 11, tzinfo=UTC).timestamp()
    services.events_store([record(site, path="/late", ts=midnight - 5 * MINUTE, visitor=1)])
    # After midnight the salt rotated: a new visitor hash, with yesterday's hash alongside.
    services.events_store([record(site, path="/early", ts=midnight + 5 * MINUTE, visitor=2, prev_visitor=1)])
    visit = Visit.objects.get()
    assert (visit.pageviews, visit.exit_page, visit.duration) == (2, "/early", 600)


def test_it_starts_a_new_visit_after_midnight_when_idle_too_long(site):
    midnight = datetime(2026, 3, 11, tzinfo=UTC).timestamp()
    services.events_store([record(site, ts=midnight - 40 * MINUTE, visitor=1)])
    services.events_store([record(site, ts=midnight + 5 * MINUTE, visitor=2, prev_visitor=1)])
    assert Visit.objects.count() == 2


def test_it_keeps_visitors_and_sites_apart(site, charlies_site):
    services.events_store(
        [record(site, visitor=1), record(site, visitor=2), record(charlies_site, visitor=1, ts=T0 + MINUTE)]
    )
    assert Visit.objects.filter(site=site).count() == 2
    assert Visit.objects.filter(site=charlies_site).count() == 1


def test_it_stores_a_duplicate_page_view_once_even_across_batches(site):
    first = record(site, view="duplicate-view-0001")
    services.events_store([first, dict(first)])
    services.events_store([dict(first)])
    assert PageView.objects.count() == 1
    assert Visit.objects.get().pageviews == 1


def test_it_stores_the_same_event_twice_once(site):
    services.events_store([record(site, view="v-0000000000000001")])
    signup = record(site, kind="event", name="Signup", view="v-0000000000000001", props={"plan": "pro"})
    services.events_store([signup])
    services.events_store([dict(signup)])
    event = Event.objects.get()
    assert (event.name, event.props, event.interactive) == ("Signup", {"plan": "pro"}, True)
    visit = Visit.objects.get()
    assert (visit.events, visit.is_bounce) == (1, False)


def test_a_non_interactive_event_keeps_a_bounce(site):
    services.events_store([record(site, view="v-0000000000000002")])
    services.events_store([record(site, kind="event", name="Video", view="v-0000000000000002", interactive=False)])
    assert Visit.objects.get().is_bounce is True


def test_it_stores_revenue_on_custom_events(site):
    services.events_store(
        [record(site, kind="event", name="Purchase", revenue_amount="19.990000", revenue_currency="EUR")]
    )
    event = Event.objects.get()
    assert (str(event.revenue_amount), event.revenue_currency) == ("19.990000", "EUR")


def test_engagement_raises_engaged_time_scroll_depth_and_visit_duration_never_lowers_them(site):
    services.events_store([record(site, view="v-0000000000000003")])
    services.events_store(
        [record(site, kind="engagement", view="v-0000000000000003", engaged_ms=90_000, scroll_depth=60)]
    )
    services.events_store(
        [record(site, kind="engagement", view="v-0000000000000003", engaged_ms=1_000, scroll_depth=10)]
    )
    view = PageView.objects.get()
    assert (view.engaged_ms, view.scroll_depth) == (90_000, 60)
    visit = Visit.objects.get()
    assert (visit.duration, visit.is_bounce, visit.events) == (90, True, 0)


def test_engagement_for_an_unknown_view_is_ignored(site):
    assert (
        services.events_store([record(site, kind="engagement", view="nobody-ever-saw-it", engaged_ms=5)])["engagements"]
        == 0
    )


def test_it_counts_drops_per_site_day_and_reason(site):
    drop = {"kind": "drop", "site": site.pk, "day": "2026-03-10", "reason": "bot"}
    services.events_store([drop, dict(drop)])
    services.events_store([dict(drop)])
    assert DroppedEvents.objects.get(site=site, reason="bot").count == 3


def test_a_batch_stored_twice_changes_nothing_the_second_time(site):
    batch = [
        record(site, path="/a", view="v-0000000000000010"),
        record(site, path="/b", ts=T0 + 60, view="v-0000000000000011"),
    ]
    services.events_store([dict(r) for r in batch])
    services.events_store([dict(r) for r in batch])
    assert PageView.objects.count() == 2
    assert Visit.objects.get().pageviews == 2


@pytest.mark.django_db
def test_it_rotates_salts_and_deletes_those_older_than_48_hours():
    services.salts_forget_cache()
    now = datetime(2026, 3, 10, 0, 5, tzinfo=UTC)
    for day in (date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9)):
        services.salt_for_day(day)
    services.salts_rotate(now=now)
    # The salt of 8 March was created 48 h 5 min ago: gone. Yesterday's stays for visits spanning midnight.
    assert sorted(Salt.objects.values_list("day", flat=True)) == [date(2026, 3, 9), date(2026, 3, 10)]
    services.salts_rotate(now=now + timedelta(days=1))
    assert sorted(Salt.objects.values_list("day", flat=True)) == [date(2026, 3, 10), date(2026, 3, 11)]
    assert services.salt_for_day(date(2026, 3, 10)) != services.salt_for_day(date(2026, 3, 11))


@pytest.mark.django_db
def test_a_missing_old_salt_is_not_created_on_read():
    services.salts_forget_cache()
    assert services.salt_for_day(date(2020, 1, 1), create=False) is None
    assert not Salt.objects.exists()


def test_a_record_stored_after_a_later_one_joins_its_visit(site):
    # An event queued before the script loaded can be stored before the page view it followed.
    services.events_store([record(site, kind="event", name="Signup", path="/join", ts=T0 + 1, view="v-ooo-0000000001")])
    services.events_store([record(site, path="/landing", ts=T0, view="v-ooo-0000000001")])
    visit = Visit.objects.get()
    assert (visit.pageviews, visit.events, visit.entry_page) == (1, 1, "/landing")
    assert visit.started_at == datetime.fromtimestamp(T0, UTC)

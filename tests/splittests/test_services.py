"""Creating, editing and running tests: the rules, the lifecycle, declaring a winner, the auto-stop sweep."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from splittests import services, tasks
from splittests.models import SplitTest, Variant
from tests.splittests.conftest import REDIRECT_B, T0, control_of, expose, fields, variant_named, variants

CHANGES_C = {
    "name": "C",
    "kind": Variant.Kind.CHANGES,
    "weight": 2,
    "changes": [{"selector": "h1", "action": "text", "name": "", "value": "Hi"}],
}


def test_it_creates_a_draft_with_the_control_first(site, alice):
    test = services.splittest_create(
        site=site, user=alice, fields=fields(), variants=[CHANGES_C, *variants(REDIRECT_B)]
    )
    assert test.status == SplitTest.Status.DRAFT and test.created_by == alice
    assert [(v.position, v.name, v.kind, v.weight) for v in test.variants.all()] == [
        (0, "Control", "control", 1),
        (1, "C", "changes", 2),
        (2, "B", "redirect", 1),
    ]
    assert variant_named(test, "C").changes == CHANGES_C["changes"]


def test_it_plans_the_sample_from_the_baseline_and_effect(site, alice):
    test = services.splittest_create(
        site=site,
        user=alice,
        fields=fields(baseline_rate=0.05, minimum_effect=0.2),
        variants=variants(REDIRECT_B),
    )
    # statsmodels: NormalIndPower().solve_power(proportion_effectsize(0.06, 0.05), alpha=0.05, power=0.8) = 8,142.6
    assert test.planned_visitors_per_variant == 8143


@pytest.mark.parametrize(
    ("variant_list", "message"),
    [
        (variants(), "at least one variant"),
        ([REDIRECT_B, {**REDIRECT_B, "name": "C"}], "Exactly one variant is the control"),
        (variants({**REDIRECT_B, "name": "Control"}), "its own name"),
        ([{"name": "Control", "kind": "control", "weight": 0}, {**REDIRECT_B, "weight": 0}], "weight above 0"),
    ],
)
def test_it_refuses_broken_variant_lists(site, alice, variant_list, message):
    with pytest.raises(ValidationError, match=message):
        services.splittest_create(site=site, user=alice, fields=fields(), variants=variant_list)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"goal_kind": "revenue_target"}, "goal_amount"), ({"goal_kind": "page"}, "goal_path"),
     ({"goal_kind": "event"}, "goal_event")],
)  # fmt: skip
def test_each_goal_needs_its_detail(site, alice, overrides, field):
    with pytest.raises(ValidationError) as caught:
        services.splittest_create(site=site, user=alice, fields=fields(**overrides), variants=variants(REDIRECT_B))
    assert field in caught.value.message_dict


def test_a_goal_keeps_only_its_own_detail(site, alice):
    test = services.splittest_create(
        site=site, user=alice, fields=fields(goal_kind="event", goal_event="Signup", goal_path="/x"),
        variants=variants(REDIRECT_B),
    )  # fmt: skip
    assert (test.goal_event, test.goal_path, test.goal_amount, test.goal_label) == ("Signup", "", None, "Event Signup")


def test_it_launches_pauses_resumes_and_stops(draft):
    services.splittest_launch(test=draft, now=T0)
    assert (draft.status, draft.started_at) == ("running", T0)
    services.splittest_pause(test=draft)
    assert draft.status == "paused"
    services.splittest_resume(test=draft)
    assert draft.status == "running"
    services.splittest_stop(test=draft, now=T0 + timedelta(days=3))
    assert (draft.status, draft.stopped_at, draft.stop_reason) == (
        "stopped",
        T0 + timedelta(days=3),
        "Stopped by hand.",
    )


@pytest.mark.parametrize(
    ("action", "message"),
    [(services.splittest_pause, "Only a running test can be paused"),
     (services.splittest_resume, "Only a paused test can be resumed"),
     (services.splittest_stop, "Only a running or paused test can be stopped")],
)  # fmt: skip
def test_it_refuses_transitions_from_the_wrong_status(draft, action, message):
    with pytest.raises(ValidationError, match=message):
        action(test=draft)
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_test_launches_once(running):
    with pytest.raises(ValidationError, match="Only a draft can be launched"):
        services.splittest_launch(test=running)


def test_one_test_at_a_time_runs_on_a_page(site, alice, running):
    second = services.splittest_create(
        site=site, user=alice, fields=fields(name="Second"), variants=variants(CHANGES_C)
    )
    elsewhere = services.splittest_create(
        site=site, user=alice, fields=fields(name="Elsewhere", page_path="/about"), variants=variants(CHANGES_C)
    )
    services.splittest_launch(test=elsewhere)
    services.splittest_pause(test=running)
    with pytest.raises(ValidationError, match="“Pricing headline” already tests /pricing"):
        services.splittest_launch(test=second)
    services.splittest_stop(test=running)
    assert services.splittest_launch(test=second).status == "running"


def test_only_a_draft_can_be_edited(running):
    with pytest.raises(ValidationError, match="Only a draft can be edited"):
        services.splittest_update(test=running, fields=fields(name="Changed"), variants=variants(REDIRECT_B))
    running.refresh_from_db()
    assert running.name == "Pricing headline"


def test_editing_a_draft_replaces_its_variants(draft):
    services.splittest_update(test=draft, fields=fields(name="New"), variants=variants(CHANGES_C))
    assert draft.name == "New"
    assert [v.name for v in draft.variants.all()] == ["Control", "C"]


def _converting(test, variant, visitors, converted, first_visitor):
    """Exposures for `visitors` visitors of `variant`; the first `converted` of them send the goal event."""
    from tests.tracking.factories import record
    from tracking.services import events_store

    records = []
    for n in range(visitors):
        visitor = first_visitor + n
        expose(test, variant, visitor, at=T0 + timedelta(minutes=1))
        if n < converted:
            ts = (T0 + timedelta(minutes=5)).timestamp()
            records.append(record(test.site, visitor=visitor, ts=ts, path="/thanks"))
    events_store(records)


@pytest.fixture
def page_goal_test(site, alice):
    test = services.splittest_create(
        site=site, user=alice, fields=fields(goal_kind="page", goal_path="/thanks"), variants=variants(REDIRECT_B)
    )
    return services.splittest_launch(test=test, now=T0)


def test_a_winner_cannot_be_declared_before_the_minimum_sample(page_goal_test):
    _converting(page_goal_test, control_of(page_goal_test), 50, 5, 1)
    _converting(page_goal_test, variant_named(page_goal_test, "B"), 50, 20, 1001)
    with pytest.raises(ValidationError, match="at least 100 are needed"):
        services.splittest_declare_winner(test=page_goal_test, variant=variant_named(page_goal_test, "B"))
    page_goal_test.refresh_from_db()
    assert page_goal_test.winner is None and page_goal_test.status == "running"


def test_a_clear_winner_is_declared_and_the_test_stops(page_goal_test):
    _converting(page_goal_test, control_of(page_goal_test), 400, 30, 1)
    _converting(page_goal_test, variant_named(page_goal_test, "B"), 400, 120, 1001)
    b = variant_named(page_goal_test, "B")
    with pytest.raises(ValidationError, match="converts better"):
        services.splittest_declare_winner(test=page_goal_test, variant=control_of(page_goal_test))
    services.splittest_declare_winner(test=page_goal_test, variant=b)
    assert (page_goal_test.winner, page_goal_test.status) == (b, "stopped")
    assert page_goal_test.stop_reason == "B declared the winner."
    with pytest.raises(ValidationError, match="once"):
        services.splittest_declare_winner(test=page_goal_test, variant=b)


def test_an_exposure_is_stored_once_per_view(running):
    control = control_of(running)
    kwargs = {
        "site_id": running.site_id,
        "test_id": running.pk,
        "variant_id": control.pk,
        "view_id": "v" * 22,
        "visitor_id": 1,
    }
    assert services.exposure_record(**kwargs) is True
    assert services.exposure_record(**kwargs) is False
    assert running.exposures.count() == 1


def test_auto_stop_stops_a_test_after_its_days(draft):
    draft.auto_stop_days = 7
    draft.save()
    services.splittest_launch(test=draft, now=T0)
    assert services.splittests_auto_stop(now=T0 + timedelta(days=6, hours=23)) == []
    assert services.splittests_auto_stop(now=T0 + timedelta(days=7)) == [draft.pk]
    draft.refresh_from_db()
    assert (draft.status, draft.stop_reason) == ("stopped", "Stopped automatically after 7 days.")
    assert services.splittests_auto_stop(now=T0 + timedelta(days=8)) == []  # running it twice changes nothing


def test_auto_stop_stops_a_test_at_its_planned_sample(draft):
    SplitTest.objects.filter(pk=draft.pk).update(auto_stop_at_sample=True, planned_visitors_per_variant=3)
    draft.refresh_from_db()
    services.splittest_launch(test=draft, now=T0)
    for visitor in range(3):
        expose(draft, control_of(draft), visitor)
    for visitor in range(2):
        expose(draft, variant_named(draft, "B"), 100 + visitor)
    assert tasks.auto_stop() == []
    expose(draft, variant_named(draft, "B"), 200)
    assert tasks.auto_stop() == [draft.pk]
    draft.refresh_from_db()
    assert draft.stop_reason == "Stopped automatically: every variant reached 3 visitors."


def test_the_beat_schedule_runs_the_auto_stop():
    from humblytics.celery import app

    assert app.conf.beat_schedule["splittests-auto-stop"]["task"] == "splittests.auto_stop"


def test_the_auto_stop_task_is_registered_with_celery():
    from humblytics.celery import app

    assert "splittests.auto_stop" in app.tasks

"""Staff run split tests in the admin with the same lifecycle as the tab: launch, pause, resume, stop, declare."""

import pytest
from django.urls import reverse

from accounts.models import User
from splittests import services
from splittests.models import Exposure, SplitTest
from tests.splittests.conftest import REDIRECT_B, T0, control_of, expose, fields, variant_named, variants

CHANGELIST = "admin:splittests_splittest_changelist"


@pytest.fixture
def staff(db):
    return User.objects.create_superuser(email="staff@humblytics.local", password="staff-password-123")


def act(client, action, *tests, **extra):
    data = {"action": action, "_selected_action": [t.pk for t in tests], **extra}
    return client.post(reverse(CHANGELIST), data, follow=True)


def test_staff_launch_pause_resume_and_stop(login, staff, draft):
    client = login(staff)
    for action, status in (("launch", "running"), ("pause", "paused"), ("resume", "running"), ("stop", "stopped")):
        response = act(client, action, draft)
        assert response.status_code == 200
        draft.refresh_from_db()
        assert draft.status == status
    assert draft.stop_reason == "Stopped by staff."


def test_a_refused_action_says_why(login, staff, draft):
    response = act(login(staff), "pause", draft)
    assert "Only a running test can be paused." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_declaring_asks_for_the_variant_then_applies_the_rules(login, staff, running):
    client = login(staff)
    page = act(client, "declare_winner", running)
    html = page.content.decode()
    assert "Declare the winner of Pricing headline" in html
    assert f'value="{variant_named(running, "B").pk}"' in html
    response = act(client, "declare_winner", running, variant=variant_named(running, "B").pk)
    assert "cannot be declared the winner yet" in response.content.decode()
    running.refresh_from_db()
    assert running.winner is None


def test_declaring_wants_one_test_at_a_time(login, staff, site, alice, running):
    other = services.splittest_create(site=site, user=alice, fields=fields(name="Other"), variants=variants(REDIRECT_B))
    response = act(login(staff), "declare_winner", running, other)
    assert "one test at a time" in response.content.decode()


def test_a_running_tests_setup_is_read_only(login, staff, running):
    page = login(staff).get(reverse("admin:splittests_splittest_change", args=[running.pk])).content.decode()
    assert 'name="page_path"' not in page and 'name="status"' not in page


def test_exposures_are_read_only(login, staff, running):
    expose(running, control_of(running), 1)
    client = login(staff)
    assert client.get(reverse("admin:splittests_exposure_changelist")).status_code == 200
    assert client.get(reverse("admin:splittests_exposure_add")).status_code == 403
    assert Exposure.objects.count() == 1


def test_non_staff_cannot_open_the_admin(login, alice, running):
    response = login(alice).get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert SplitTest.objects.get().status == "running"


def test_staff_declare_a_clear_winner(login, staff, site, alice):
    from tests.splittests.test_services import _converting

    test = services.splittest_launch(
        test=services.splittest_create(
            site=site, user=alice, fields=fields(goal_kind="page", goal_path="/thanks"), variants=variants(REDIRECT_B)
        ),
        now=T0,
    )
    _converting(test, control_of(test), 400, 30, 1)
    _converting(test, variant_named(test, "B"), 400, 120, 1001)
    response = act(login(staff), "declare_winner", test, variant=variant_named(test, "B").pk)
    assert [str(m) for m in response.context["messages"]] == ["B is declared the winner of Pricing headline."]
    test.refresh_from_db()
    assert (test.winner.name, test.status) == ("B", "stopped")


def test_staff_create_a_test_with_the_tabs_rules(login, staff, site):
    data = {
        "site": site.pk, "name": "From the admin", "hypothesis": "", "page_path": "https://example.com/pricing/",
        "status": "draft", "randomization": "user", "traffic_percent": "100", "goal_kind": "revenue_any",
        "goal_path": "", "goal_event": "", "created_at_0": "2026-03-10", "created_at_1": "12:00:00",
        "variants-TOTAL_FORMS": "2", "variants-INITIAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-position": "0", "variants-0-name": "Control", "variants-0-kind": "control", "variants-0-weight": "1",
        "variants-0-redirect_url": "", "variants-0-changes": "[]",
        "variants-1-position": "1", "variants-1-name": "B", "variants-1-kind": "redirect", "variants-1-weight": "1",
        "variants-1-redirect_url": "https://evil.org/", "variants-1-changes": "[]",
    }  # fmt: skip
    client = login(staff)
    response = client.post(reverse("admin:splittests_splittest_add"), {**data, "variants-1-kind": "control"})
    assert response.status_code == 200
    assert "Exactly one variant is the control." in response.content.decode()
    response = client.post(reverse("admin:splittests_splittest_add"), data)
    assert response.status_code == 200
    assert "Redirect within example.com" in response.content.decode()
    response = client.post(
        reverse("admin:splittests_splittest_add"),
        {**data, "variants-1-redirect_url": "/pricing-b", "variants-0-weight": "0", "variants-1-weight": "0"},
    )
    assert "At least one variant needs a traffic weight above 0." in response.content.decode()
    assert not SplitTest.objects.exists()
    data["variants-1-redirect_url"] = "/pricing-b"
    response = client.post(reverse("admin:splittests_splittest_add"), data)
    assert response.status_code == 302
    test = SplitTest.objects.get()
    assert (test.name, test.page_path, test.status, test.randomization, test.goal_kind) == (
        "From the admin", "/pricing", "draft", "user", "revenue_any",
    )  # fmt: skip
    assert [(v.name, v.kind, v.redirect_url) for v in test.variants.all()] == [
        ("Control", "control", ""), ("B", "redirect", "/pricing-b"),
    ]  # fmt: skip


def test_staff_get_the_tabs_goal_rules_and_a_plan(login, staff, site):
    data = {
        "site": site.pk, "name": "Planned in the admin", "hypothesis": "", "page_path": "/pricing",
        "randomization": "user", "traffic_percent": "100", "goal_kind": "revenue_target", "goal_amount": "",
        "goal_path": "/left-over", "goal_event": "", "baseline_rate": "0.05", "minimum_effect": "0.2",
        "created_at_0": "2026-03-10", "created_at_1": "12:00:00",
        "variants-TOTAL_FORMS": "2", "variants-INITIAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-position": "0", "variants-0-name": "Control", "variants-0-kind": "control", "variants-0-weight": "1",
        "variants-0-redirect_url": "", "variants-0-changes": "[]",
        "variants-1-position": "1", "variants-1-name": "B", "variants-1-kind": "redirect", "variants-1-weight": "1",
        "variants-1-redirect_url": "/pricing-b", "variants-1-changes": "[]",
    }  # fmt: skip
    client = login(staff)
    add = reverse("admin:splittests_splittest_add")
    response = client.post(add, data)
    assert response.status_code == 200
    assert "Enter the amount a payment must reach." in response.content.decode()
    response = client.post(add, {**data, "baseline_rate": "5"})
    assert "must be a rate between 0 and 1" in response.content.decode()
    assert not SplitTest.objects.exists()
    response = client.post(add, {**data, "goal_amount": "25"})
    assert response.status_code == 302
    test = SplitTest.objects.get()
    # As the tab plans it: statsmodels' NormalIndPower().solve_power(proportion_effectsize(0.06, 0.05), alpha=0.05,
    # power=0.8) = 8,142.5; the goal path of another goal kind is cleared.
    assert (test.goal_amount, test.goal_path, test.planned_visitors_per_variant) == (25, "", 8143)

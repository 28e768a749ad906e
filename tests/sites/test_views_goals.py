"""The Goals settings tab: every member reads, owner and admin add and delete, outsiders get a 404."""

import pytest

from sites import services
from sites.models import Goal

TAB = "/sites/example.com/settings/goals/"


def _delete_url(goal):
    return f"{TAB}{goal.pk}/delete/"


@pytest.fixture
def pricing(site):
    return services.goal_create(site=site, kind="page", page_path="/pricing")


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_every_member_sees_the_goals(request, login, site, pricing, who):
    services.goal_create(site=site, kind="event", event_name="Signup")
    body = login(request.getfixturevalue(who)).get(TAB).content.decode()
    assert f'<a href="{TAB}" class="active" aria-current="page">Goals</a>' in body
    assert "<td>Visit /pricing</td>" in body and "<td>Page visit</td>" in body
    assert "<td>Signup</td>" in body and "<td>Custom event</td>" in body


def test_a_viewer_sees_no_add_or_delete_controls(login, pricing, vera):
    body = login(vera).get(TAB).content.decode()
    assert "Add goal" not in body
    assert "/delete/" not in body
    assert "An owner or admin can add and delete goals." in body


def test_it_shows_an_empty_state_without_goals(login, site, bob):
    body = login(bob).get(TAB).content.decode()
    assert "No goals yet." in body and "Add goal" in body


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_an_owner_or_admin_adds_a_page_goal(request, login, site, who):
    client = login(request.getfixturevalue(who))
    response = client.post(TAB, {"kind": "page", "page_path": "/blog/*", "event_name": "ignored"})
    assert (response.status_code, response.url) == (302, TAB)
    assert [(g.kind, g.page_path, g.event_name) for g in Goal.objects.filter(site=site)] == [("page", "/blog/*", "")]
    assert "Goal “Visit /blog/*” added." in client.get(TAB).content.decode()


def test_an_admin_adds_an_event_goal(login, site, bob):
    login(bob).post(TAB, {"kind": "event", "event_name": "Signup"})
    assert [(g.kind, g.event_name) for g in Goal.objects.filter(site=site)] == [("event", "Signup")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "page", "page_path": "pricing"}, "A page path starts with /, like /pricing or /blog/*."),
        ({"kind": "event", "event_name": ""}, "Enter the event name your site sends, like Signup."),
        ({"kind": "page", "page_path": "/pricing"}, "The goal “Visit /pricing” exists already."),
        ({"kind": "funnel"}, "Select a valid choice. funnel is not one of the available choices."),
    ],
)
def test_it_shows_what_is_wrong_beside_the_form(login, pricing, bob, data, message):
    response = login(bob).post(TAB, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Goal.objects.count() == 1


def test_a_viewer_cannot_add_or_delete(login, pricing, vera):
    client = login(vera)
    assert client.post(TAB, {"kind": "event", "event_name": "Signup"}).status_code == 403
    assert client.post(_delete_url(pricing)).status_code == 403
    assert list(Goal.objects.values_list("page_path", flat=True)) == ["/pricing"]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_an_owner_or_admin_deletes_a_goal(request, login, pricing, who):
    client = login(request.getfixturevalue(who))
    response = client.post(_delete_url(pricing))
    assert (response.status_code, response.url) == (302, TAB)
    assert not Goal.objects.exists()
    assert "Goal “Visit /pricing” deleted." in client.get(TAB).content.decode()


def test_deleting_needs_a_post(login, pricing, alice):
    assert login(alice).get(_delete_url(pricing)).status_code == 405
    assert Goal.objects.count() == 1


def test_a_goal_of_another_site_is_a_404(login, pricing, charlies_site, alice):
    theirs = services.goal_create(site=charlies_site, kind="event", event_name="Buy")
    assert login(alice).post(_delete_url(theirs)).status_code == 404
    assert Goal.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_outsider_gets_a_404(login, pricing, charlie, charlies_site, method):
    client = login(charlie)
    assert getattr(client, method)(TAB).status_code == 404
    assert client.post(_delete_url(pricing)).status_code == 404
    assert Goal.objects.count() == 1


def test_an_anonymous_visitor_is_sent_to_log_in(client, pricing):
    response = client.get(TAB)
    assert (response.status_code, response.url) == (302, f"/accounts/login/?next={TAB}")

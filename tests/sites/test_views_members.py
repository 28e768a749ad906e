"""The Members tab: list, invite, change role, remove, cancel invites; the last owner stays."""

import pytest
from django.core import mail

from sites import services
from sites.models import Invite, Membership, Role

TAB = "/sites/example.com/settings/members/"


def _role_url(membership):
    return f"/sites/example.com/settings/members/{membership.pk}/role/"


def _remove_url(membership):
    return f"/sites/example.com/settings/members/{membership.pk}/remove/"


def _cancel_url(invite):
    return f"/sites/example.com/settings/members/invites/{invite.pk}/cancel/"


def _member(site, user):
    return Membership.objects.get(site=site, user=user)


def _roles(site):
    return dict(Membership.objects.filter(site=site).values_list("user__email", "role"))


ROLES = {"alice@example.org": "owner", "bob@example.org": "admin", "vera@example.org": "viewer"}


@pytest.fixture
def invite(site, alice):
    return services.invite_create(site=site, email="dave@example.org", role=Role.ADMIN, invited_by=alice)


# Reading


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_every_member_sees_members_and_pending_invites(request, login, site, invite, who):
    response = login(request.getfixturevalue(who)).get(TAB)
    body = response.content.decode()
    assert response.status_code == 200
    for email in ROLES:
        assert email in body
    assert "dave@example.org" in body
    assert "by alice@example.org" in body


def test_only_the_owner_sees_the_member_controls(login, site, invite, alice, bob, vera):
    owner_page = login(alice).get(TAB).content.decode()
    assert "Send invitation" in owner_page
    assert 'name="role" aria-label="Role of bob@example.org"' in owner_page
    assert f'href="{_remove_url(_member(site, bob))}"' in owner_page
    assert f'action="{_cancel_url(invite)}"' in owner_page
    for user in (bob, vera):
        page = login(user).get(TAB).content.decode()
        assert "Send invitation" not in page
        assert "/remove/" not in page and "/role/" not in page and "/cancel/" not in page
        assert '<span class="badge">Admin</span>' in page
        assert "Only an owner can invite, change or remove members." in page


def test_it_sends_an_anonymous_visitor_to_log_in(client, site):
    response = client.get(TAB)
    assert (response.status_code, response.url) == (302, f"/accounts/login/?next={TAB}")


def test_it_hides_the_members_from_an_outsider(login, site, invite, charlie, bob):
    client = login(charlie)
    assert client.get(TAB).status_code == 404
    assert client.post(TAB, {"email": "charlie@example.org", "role": "owner"}).status_code == 404
    assert client.post(_role_url(_member(site, bob)), {"role": "viewer"}).status_code == 404
    assert client.post(_remove_url(_member(site, bob))).status_code == 404
    assert client.post(_cancel_url(invite)).status_code == 404
    assert _roles(site) == ROLES
    assert Invite.objects.count() == 1


# Inviting


def test_the_owner_invites_by_email_with_a_role(login, site, alice):
    client = login(alice)
    response = client.post(TAB, {"email": " Dave@Example.ORG ", "role": "admin"})
    assert (response.status_code, response.url) == (302, TAB)
    invite = Invite.objects.get()
    assert (invite.email, invite.role, invite.invited_by) == ("dave@example.org", "admin", alice)
    assert [m.to for m in mail.outbox] == [["dave@example.org"]]
    assert "Invitation sent to dave@example.org as admin." in client.get(TAB).content.decode()


def test_it_refuses_to_invite_an_existing_member(login, site, alice):
    response = login(alice).post(TAB, {"email": "bob@example.org", "role": "viewer"})
    assert response.status_code == 400
    assert "bob@example.org is already a member of this site." in response.content.decode()
    assert not Invite.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"email": "not-an-address", "role": "viewer"}, "Enter a valid email address."),
        ({"email": "", "role": "viewer"}, "This field is required."),
        ({"email": "dave@example.org", "role": "superuser"}, "Select a valid choice."),
    ],
)
def test_it_shows_bad_invite_input_beside_the_field(login, site, alice, data, message):
    response = login(alice).post(TAB, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Invite.objects.exists()


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_only_an_owner_may_invite(request, login, site, who):
    assert login(request.getfixturevalue(who)).post(TAB, {"email": "x@example.org", "role": "owner"}).status_code == 403
    assert not Invite.objects.exists()


def test_the_owner_cancels_an_invite(login, site, invite, alice):
    client = login(alice)
    response = client.post(_cancel_url(invite))
    assert (response.status_code, response.url) == (302, TAB)
    assert not Invite.objects.exists()
    assert "The invitation for dave@example.org is cancelled." in client.get(TAB).content.decode()


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_only_an_owner_may_cancel_an_invite(request, login, site, invite, who):
    client = login(request.getfixturevalue(who))
    assert client.post(_cancel_url(invite)).status_code == 403
    assert client.get(_cancel_url(invite)).status_code == 405
    assert Invite.objects.count() == 1


# Changing roles


def test_the_owner_changes_a_role(login, site, alice, vera):
    client = login(alice)
    response = client.post(_role_url(_member(site, vera)), {"role": "admin"})
    assert (response.status_code, response.url) == (302, TAB)
    assert _roles(site) == {**ROLES, "vera@example.org": "admin"}
    assert "vera@example.org is now admin." in client.get(TAB).content.decode()


def test_the_owner_can_make_a_second_owner_and_then_step_down(login, site, alice, bob):
    client = login(alice)
    client.post(_role_url(_member(site, bob)), {"role": "owner"})
    client.post(_role_url(_member(site, alice)), {"role": "viewer"})
    assert _roles(site) == {**ROLES, "alice@example.org": "viewer", "bob@example.org": "owner"}


def test_the_last_owner_cannot_be_demoted(login, site, alice):
    client = login(alice)
    response = client.post(_role_url(_member(site, alice)), {"role": "admin"}, follow=True)
    assert "A site needs at least one owner: make someone else owner first." in response.content.decode()
    assert _roles(site) == ROLES


def test_an_unknown_role_is_refused(login, site, alice, vera):
    response = login(alice).post(_role_url(_member(site, vera)), {"role": "god"}, follow=True)
    assert "Choose owner, admin or viewer." in response.content.decode()
    assert _roles(site) == ROLES


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_only_an_owner_may_change_roles(request, login, site, vera, who):
    client = login(request.getfixturevalue(who))
    assert client.post(_role_url(_member(site, vera)), {"role": "owner"}).status_code == 403
    assert client.get(_role_url(_member(site, vera))).status_code == 405
    assert _roles(site) == ROLES


def test_a_membership_of_another_site_is_not_found(login, site, alice, charlie, charlies_site):
    theirs = _member(charlies_site, charlie)
    assert login(alice).post(_role_url(theirs), {"role": "viewer"}).status_code == 404
    assert login(alice).post(_remove_url(theirs)).status_code == 404
    assert _member(charlies_site, charlie).role == Role.OWNER


# Removing


def test_removing_asks_for_confirmation_first(login, site, alice, bob):
    response = login(alice).get(_remove_url(_member(site, bob)))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Remove bob@example.org?" in body
    assert f'<form method="post" action="{_remove_url(_member(site, bob))}"' in body
    assert _roles(site) == ROLES


def test_the_owner_removes_a_member(login, site, alice, bob):
    client = login(alice)
    response = client.post(_remove_url(_member(site, bob)))
    assert (response.status_code, response.url) == (302, TAB)
    assert _roles(site) == {"alice@example.org": "owner", "vera@example.org": "viewer"}
    assert "bob@example.org no longer has access to example.com." in client.get(TAB).content.decode()
    assert login(bob).get(TAB).status_code == 404


def test_the_last_owner_cannot_be_removed(login, site, alice):
    response = login(alice).post(_remove_url(_member(site, alice)), follow=True)
    assert response.redirect_chain == [(TAB, 302)]
    assert "A site needs at least one owner: make someone else owner first." in response.content.decode()
    assert _roles(site) == ROLES


def test_an_owner_with_a_co_owner_can_leave(login, site, alice, bob):
    Membership.objects.filter(site=site, user=bob).update(role=Role.OWNER)
    client = login(alice)
    assert "Leave example.com?" in client.get(_remove_url(_member(site, alice))).content.decode()
    response = client.post(_remove_url(_member(site, alice)), follow=True)
    assert response.redirect_chain == [("/sites/", 302)]
    assert "You left example.com." in response.content.decode()
    assert "alice@example.org" not in _roles(site)


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_only_an_owner_may_remove_members(request, login, site, vera, who):
    client = login(request.getfixturevalue(who))
    assert client.get(_remove_url(_member(site, vera))).status_code == 403
    assert client.post(_remove_url(_member(site, vera))).status_code == 403
    assert _roles(site) == ROLES

import pytest
from django.contrib.messages import get_messages
from django.http import Http404
from django.urls import reverse

from accounts.models import User
from sites import selectors, services
from sites.models import Invite, Membership, Role
from tests.conftest import PASSWORD

NEW_PASSWORD = "a quiet lighthouse 42"


def _messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_it_accepts_an_invite_on_signup_with_the_invited_role(client, alice, site):
    services.invite_create(site=site, email="newcomer@example.org", role=Role.ADMIN, invited_by=alice)
    data = {"email": "Newcomer@Example.org", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    response = client.post(reverse("accounts:signup"), data)

    newcomer = User.objects.get(email="newcomer@example.org")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(newcomer.pk)
    assert list(Membership.objects.filter(user=newcomer).values_list("site__domain", "role")) == [
        ("example.com", Role.ADMIN)
    ]
    assert not Invite.objects.exists()
    assert _messages(response) == ["Welcome to Humblytics! Your account is ready.", "You joined example.com."]


def test_it_accepts_invites_on_login_and_names_every_site_joined(client, alice, site, charlie, charlies_site):
    other = services.site_create(owner=alice, domain="shop.example.com")
    Invite.objects.create(site=site, email="charlie@example.org", role=Role.VIEWER, invited_by=alice)
    Invite.objects.create(site=other, email="charlie@example.org", role=Role.ADMIN, invited_by=alice)

    response = client.post(reverse("accounts:login"), {"username": "Charlie@example.org", "password": PASSWORD})

    assert response.status_code == 302
    assert sorted(Membership.objects.filter(user=charlie).values_list("site__domain", "role")) == [
        ("charlie.dev", Role.OWNER),
        ("example.com", Role.VIEWER),
        ("shop.example.com", Role.ADMIN),
    ]
    assert selectors.membership_get(user=charlie, domain="example.com").role == Role.VIEWER
    assert not Invite.objects.exists()
    assert _messages(response) == ["You joined example.com and shop.example.com."]


def test_it_leaves_other_peoples_invites_alone_on_login(client, alice, site, charlie):
    Invite.objects.create(site=site, email="someone.else@example.org", role=Role.ADMIN, invited_by=alice)

    response = client.post(reverse("accounts:login"), {"username": charlie.email, "password": PASSWORD})

    assert response.status_code == 302
    assert _messages(response) == []
    assert not Membership.objects.filter(user=charlie).exists()
    assert list(Invite.objects.values_list("email", flat=True)) == ["someone.else@example.org"]
    with pytest.raises(Http404):
        selectors.membership_get(user=charlie, domain="example.com")


def test_it_does_not_accept_invites_on_a_failed_login(client, alice, site, charlie):
    Invite.objects.create(site=site, email=charlie.email, role=Role.ADMIN, invited_by=alice)

    response = client.post(reverse("accounts:login"), {"username": charlie.email, "password": "not it"})

    assert response.status_code == 200
    assert Invite.objects.filter(email=charlie.email).exists()
    with pytest.raises(Http404):
        selectors.membership_get(user=charlie, domain="example.com")


def test_the_invite_email_links_to_a_prefilled_signup(client, alice, site, mailoutbox):
    services.invite_create(site=site, email="newcomer@example.org", role=Role.VIEWER, invited_by=alice)
    path = "/accounts/signup/?email=newcomer@example.org"
    assert path in mailoutbox[0].body

    response = client.get(path)
    assert response.context["form"]["email"].value() == "newcomer@example.org"

"""The API keys tab: list, create (plaintext shown once), revoke with confirmation."""

import re

import pytest

from sites import services
from sites.models import ApiKey

TAB = "/sites/example.com/settings/api-keys/"
KEY_RE = re.compile(r"hly_[A-Za-z0-9]{44}")


def _revoke_url(api_key):
    return f"/sites/example.com/settings/api-keys/{api_key.pk}/revoke/"


@pytest.fixture
def ci_key(site, alice):
    api_key, plaintext = services.apikey_create(site=site, name="CI", created_by=alice)
    return api_key, plaintext


# Reading


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_every_member_sees_the_keys_with_a_masked_prefix(request, login, site, ci_key, who):
    api_key, plaintext = ci_key
    body = login(request.getfixturevalue(who)).get(TAB).content.decode()
    assert "<td>CI</td>" in body
    assert f"<code>hly_{api_key.prefix}…</code>" in body
    assert "alice@example.org" in body
    assert "Never" in body  # not used yet
    assert '<span class="badge ok">Active</span>' in body
    assert plaintext not in body
    assert KEY_RE.search(body) is None


def test_a_viewer_sees_no_create_or_revoke_controls(login, site, ci_key, vera):
    body = login(vera).get(TAB).content.decode()
    assert "Create key" not in body
    assert "/revoke/" not in body


def test_an_admin_sees_the_create_and_revoke_controls(login, site, ci_key, bob):
    body = login(bob).get(TAB).content.decode()
    assert "Create key" in body
    assert f'href="{_revoke_url(ci_key[0])}"' in body


def test_it_shows_an_empty_state_without_keys(login, site, bob):
    assert "No API keys yet." in login(bob).get(TAB).content.decode()


def test_it_shows_when_a_key_was_last_used(login, site, ci_key, vera):
    services.apikey_authenticate(key=ci_key[1])
    body = login(vera).get(TAB).content.decode()
    assert "0\xa0minutes ago" in body
    assert "Never" not in body


def test_it_sends_an_anonymous_visitor_to_log_in(client, site, ci_key):
    for url in (TAB, _revoke_url(ci_key[0])):
        response = client.get(url)
        assert (response.status_code, response.url) == (302, f"/accounts/login/?next={url}")


def test_it_hides_the_keys_from_an_outsider(login, site, ci_key, charlie):
    client = login(charlie)
    assert client.get(TAB).status_code == 404
    assert client.post(TAB, {"name": "mine now"}).status_code == 404
    assert client.get(_revoke_url(ci_key[0])).status_code == 404
    assert client.post(_revoke_url(ci_key[0])).status_code == 404
    assert ApiKey.objects.get().is_active
    assert ApiKey.objects.count() == 1


# Creating


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_it_shows_the_new_key_once_and_never_again(request, login, site, who):
    client = login(request.getfixturevalue(who))
    response = client.post(TAB, {"name": "Grafana"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    plaintext = KEY_RE.search(body).group()
    assert "this is the only time it is shown" in body
    api_key = ApiKey.objects.get()
    assert (api_key.name, api_key.site, api_key.created_by) == ("Grafana", site, request.getfixturevalue(who))
    assert services.apikey_authenticate(key=plaintext) == api_key

    later = client.get(TAB).content.decode()
    assert plaintext not in later
    assert KEY_RE.search(later) is None
    assert api_key.masked in later


def test_a_key_without_a_name_gets_a_default_one(login, site, bob):
    login(bob).post(TAB, {"name": "  "})
    assert ApiKey.objects.get().name == "API key"


def test_it_refuses_a_name_that_is_too_long(login, site, bob):
    response = login(bob).post(TAB, {"name": "k" * 101})
    assert response.status_code == 400
    assert "Ensure this value has at most 100 characters (it has 101)." in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_viewer_cannot_create_a_key(login, site, vera):
    assert login(vera).post(TAB, {"name": "sneaky"}).status_code == 403
    assert not ApiKey.objects.exists()


# Revoking


def test_revoking_asks_for_confirmation_first(login, site, ci_key, bob):
    response = login(bob).get(_revoke_url(ci_key[0]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Revoke “CI”?" in body
    assert f'<form method="post" action="{_revoke_url(ci_key[0])}"' in body
    assert ApiKey.objects.get().is_active  # GET changes nothing
    assert services.apikey_authenticate(key=ci_key[1]) is not None


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_a_revoked_key_no_longer_authenticates(request, login, site, ci_key, who):
    client = login(request.getfixturevalue(who))
    response = client.post(_revoke_url(ci_key[0]))
    assert (response.status_code, response.url) == (302, TAB)
    assert not ApiKey.objects.get().is_active
    assert services.apikey_authenticate(key=ci_key[1]) is None
    body = client.get(TAB).content.decode()
    assert "CI (hly_" in body and "is revoked: it no longer works." in body
    assert '<span class="badge danger">Revoked' in body
    assert "/revoke/" not in body


def test_revoking_twice_says_it_is_already_revoked(login, site, ci_key, bob):
    client = login(bob)
    client.post(_revoke_url(ci_key[0]))
    response = client.post(_revoke_url(ci_key[0]), follow=True)
    assert "is already revoked." in response.content.decode()


def test_a_viewer_cannot_revoke_a_key(login, site, ci_key, vera):
    client = login(vera)
    assert client.get(_revoke_url(ci_key[0])).status_code == 403
    assert client.post(_revoke_url(ci_key[0])).status_code == 403
    assert services.apikey_authenticate(key=ci_key[1]) is not None


def test_a_key_of_another_site_cannot_be_revoked_through_this_one(login, site, alice, charlies_site):
    other, plaintext = services.apikey_create(site=charlies_site, name="Charlie's")
    assert login(alice).post(_revoke_url(other)).status_code == 404
    assert services.apikey_authenticate(key=plaintext) == other

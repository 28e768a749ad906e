"""The Danger zone tab: only an owner deletes a site, and only after typing its exact domain."""

import pytest

from sites.models import Membership, Site

TAB = "/sites/example.com/settings/danger/"


def test_it_sends_an_anonymous_visitor_to_log_in(client, site):
    response = client.get(TAB)
    assert (response.status_code, response.url) == (302, f"/accounts/login/?next={TAB}")
    assert client.post(TAB, {"confirmation": "example.com"}).status_code == 302
    assert Site.objects.filter(domain="example.com").exists()


def test_it_hides_the_tab_from_an_outsider(login, site, charlie):
    client = login(charlie)
    assert client.get(TAB).status_code == 404
    assert client.post(TAB, {"confirmation": "example.com"}).status_code == 404
    assert Site.objects.filter(domain="example.com").exists()


def test_the_owner_sees_the_delete_form(login, site, alice):
    body = login(alice).get(TAB).content.decode()
    assert "Delete this site" in body
    assert '<button type="submit" class="danger">Delete example.com</button>' in body
    assert 'name="confirmation"' in body


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_others_read_the_tab_without_the_delete_form(request, login, site, who):
    response = login(request.getfixturevalue(who)).get(TAB)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Only an owner can delete the site." in body
    assert 'name="confirmation"' not in body


@pytest.mark.parametrize("who", ["bob", "vera"])
def test_only_an_owner_may_delete(request, login, site, who):
    assert login(request.getfixturevalue(who)).post(TAB, {"confirmation": "example.com"}).status_code == 403
    assert Site.objects.filter(domain="example.com").exists()


@pytest.mark.parametrize("typed", ["", "example", "example.co", "www.example.com.evil", "charlie.dev"])
def test_it_needs_the_exact_domain(login, site, alice, charlies_site, typed):
    response = login(alice).post(TAB, {"confirmation": typed})
    body = response.content.decode()
    assert response.status_code == 400
    assert '<div class="field has-error">' in body
    assert Site.objects.count() == 2


def test_a_wrong_domain_is_answered_with_what_to_type(login, site, alice):
    body = login(alice).post(TAB, {"confirmation": "exampel.com"}).content.decode()
    assert '<p class="error" role="alert">Type example.com to confirm.</p>' in body


def test_the_owner_deletes_the_site_by_typing_its_domain(login, site, alice, charlies_site):
    client = login(alice)
    response = client.post(TAB, {"confirmation": " example.com "}, follow=True)
    assert response.redirect_chain == [("/sites/", 302)]
    body = response.content.decode()
    assert "example.com and all its data are deleted." in body
    assert "No sites yet" in body
    assert list(Site.objects.values_list("domain", flat=True)) == ["charlie.dev"]
    assert not Membership.objects.filter(site_id=site.pk).exists()
    assert client.get(TAB).status_code == 404

"""The site list, adding a site and its install page."""

import pytest
from django.test import override_settings
from django.utils.html import escape

from sites.models import Membership, Role, Site

LIST = "/sites/"
NEW = "/sites/new/"
INSTALL = "/sites/example.com/install/"


def _add(client, domain, **extra):
    return client.post(NEW, {"domain": domain, "name": "", "timezone": "UTC", "currency": "USD", **extra})


# The list


def test_it_lists_the_users_sites_with_their_role(login, site, charlies_site, bob):
    response = login(bob).get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Example" in body and "example.com" in body
    assert '<span class="badge">Admin</span>' in body
    assert "charlie.dev" not in body
    assert 'href="/sites/example.com/settings/general/"' in body


@pytest.mark.parametrize(("who", "label"), [("alice", "Owner"), ("vera", "Viewer")])
def test_it_shows_each_role_as_a_badge(request, login, site, who, label):
    body = login(request.getfixturevalue(who)).get(LIST).content.decode()
    assert f">{label}</span>" in body


def test_it_shows_an_empty_state_pointing_to_add_a_site(login, charlie):
    response = login(charlie).get(LIST)
    body = response.content.decode()
    assert response.status_code == 200
    assert "No sites yet" in body
    assert 'href="/sites/new/"' in body


def test_the_list_marks_a_site_still_waiting_for_data(login, site, alice):
    body = login(alice).get(LIST).content.decode()
    assert "Waiting for data" in body
    assert 'href="/sites/example.com/install/"' in body


@pytest.mark.parametrize("url", [LIST, NEW, INSTALL])
def test_it_sends_an_anonymous_visitor_to_log_in(client, site, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={url}"


# Adding a site


def test_the_add_form_offers_timezones_and_currencies_with_defaults(login, alice):
    response = login(alice).get(NEW)
    body = response.content.decode()
    assert response.status_code == 200
    assert '<option value="Europe/Berlin">Berlin</option>' in body
    assert '<optgroup label="America">' in body
    assert '<option value="UTC" selected>UTC</option>' in body
    assert '<option value="USD" selected>USD — US Dollar</option>' in body
    assert "US/Eastern" not in body  # legacy aliases stay out of the list


def test_it_adds_a_site_and_redirects_to_the_install_page(login, charlie):
    response = login(charlie).post(
        NEW, {"domain": "Shop.Example.org", "name": " Shop ", "timezone": "Asia/Tokyo", "currency": "JPY"}
    )
    assert response.status_code == 302
    assert response.url == "/sites/shop.example.org/install/"
    site = Site.objects.get(domain="shop.example.org")
    assert (site.name, site.timezone, site.currency) == ("Shop", "Asia/Tokyo", "JPY")
    assert Membership.objects.get(site=site).user == charlie
    assert Membership.objects.get(site=site).role == Role.OWNER


def test_it_strips_scheme_port_and_path(login, charlie):
    response = _add(login(charlie), "https://www.Shop.Example.org:8443/pricing?ref=x#top")
    assert response.url == "/sites/shop.example.org/install/"
    assert list(Site.objects.filter(memberships__user=charlie).values_list("domain", flat=True)) == ["shop.example.org"]


def test_it_stores_and_shows_a_unicode_domain_as_punycode(login, charlie):
    client = login(charlie)
    response = _add(client, "bücher.de")
    assert response.url == "/sites/xn--bcher-kva.de/install/"
    body = client.get(response.url).content.decode()
    assert escape('data-domain="xn--bcher-kva.de"') in body
    assert "xn--bcher-kva.de is added" in body  # the success message


@pytest.mark.parametrize(
    ("domain", "message"),
    [
        ("", "Enter a domain, like example.com."),
        ("   ", "Enter a domain, like example.com."),
        ("a" * 300, "That is too long for a domain (at most 253 characters)."),
        ("b" * 250 + ".com", "That is too long for a domain (at most 253 characters)."),
        ("192.168.0.1", "Use a domain name, not an IP address."),
        ("http://[::1]:8000/", "Use a domain name, not an IP address."),
        ("localhost", "Enter a full domain with a dot, like example.com."),
        ("☃.com", "That domain contains characters that are not allowed."),
        ("<script>alert(1)</script>.com", "That domain contains characters that are not allowed."),
        ("exa mple.com", "That does not look like a domain."),
        ("charlie.dev", "charlie.dev is already registered with Humblytics."),
        ("https://WWW.Charlie.dev/about", "charlie.dev is already registered with Humblytics."),
    ],
)
def test_it_refuses_a_hostile_domain_beside_the_field_and_creates_nothing(login, alice, charlies_site, domain, message):
    client = login(alice)
    response = _add(client, domain)
    body = response.content.decode()
    assert response.status_code == 400
    assert '<div class="field has-error">' in body
    assert f'<p class="error" role="alert">{escape(message)}</p>' in body
    assert "<script>alert" not in body
    assert list(Site.objects.values_list("domain", flat=True)) == ["charlie.dev"]


def test_it_refuses_an_unknown_timezone_or_currency(login, alice):
    response = _add(login(alice), "new.example.org", timezone="Mars/Olympus", currency="XYZ")
    body = response.content.decode()
    assert response.status_code == 400
    assert body.count("Select a valid choice.") == 2
    assert not Site.objects.exists()


def test_a_get_of_the_add_page_creates_nothing(login, alice):
    login(alice).get(NEW, {"domain": "sneaky.example.org"})
    assert not Site.objects.exists()


# The install page


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_the_install_page_shows_the_snippet_for_the_request_host(request, login, site, who):
    response = login(request.getfixturevalue(who)).get(INSTALL)
    body = response.content.decode()
    assert response.status_code == 200
    snippet = '<script defer data-domain="example.com" src="http://testserver/js/script.js"></script>'
    assert escape(snippet) in body
    assert 'data-copy="snippet-' in body
    assert "window.Humblytics.viewId" in body
    assert "humblytics_view_id" in body
    assert "Waiting for the first page view" in body


@override_settings(BASE_URL="https://stats.humblytics.test")
def test_the_snippet_uses_base_url_when_it_is_set(login, site, alice):
    body = login(alice).get(INSTALL).content.decode()
    assert escape('<script defer data-domain="example.com" src="https://stats.humblytics.test/js/script.js">') in body
    assert "testserver" not in body


def test_the_install_page_hides_a_site_from_an_outsider(login, site, charlie):
    assert login(charlie).get(INSTALL).status_code == 404


def test_the_install_page_answers_404_for_a_missing_site(login, alice):
    assert login(alice).get("/sites/nowhere.example/install/").status_code == 404

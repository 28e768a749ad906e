"""The General, Tracking and Revenue settings tabs."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils.html import escape

from sites.models import Site

GENERAL = "/sites/example.com/settings/general/"
TRACKING = "/sites/example.com/settings/tracking/"
REVENUE = "/sites/example.com/settings/revenue/"
READ_ONLY_TABS = [GENERAL, TRACKING, REVENUE]
CHANGE = {"domain": "example.com", "name": "Example Shop", "timezone": "America/New_York", "currency": "EUR"}


def _site():
    return Site.objects.get()


@pytest.mark.parametrize("url", [*READ_ONLY_TABS, "/sites/example.com/settings/"])
def test_it_sends_an_anonymous_visitor_to_log_in(client, site, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("url", [*READ_ONLY_TABS, "/sites/example.com/settings/"])
def test_it_hides_the_site_from_an_outsider(login, site, charlie, charlies_site, url):
    assert login(charlie).get(url).status_code == 404


@pytest.mark.parametrize("url", READ_ONLY_TABS)
def test_it_answers_404_for_a_domain_that_does_not_exist(login, alice, url):
    assert login(alice).get(url.replace("example.com", "missing.example")).status_code == 404


def test_the_settings_root_redirects_to_general(login, site, vera):
    response = login(vera).get("/sites/example.com/settings/")
    assert (response.status_code, response.url) == (302, GENERAL)


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
@pytest.mark.parametrize("url", READ_ONLY_TABS)
def test_every_member_reads_every_tab_with_the_tabs_partial(request, login, site, who, url):
    response = login(request.getfixturevalue(who)).get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert f'<a href="{url}" class="active" aria-current="page">' in body
    for tab in ["general", "tracking", "revenue", "api-keys", "members", "danger"]:
        assert f'href="/sites/example.com/settings/{tab}/"' in body


# General


def test_the_general_tab_shows_the_current_settings(login, site, bob):
    body = login(bob).get(GENERAL).content.decode()
    assert 'value="example.com"' in body
    assert 'value="Example"' in body
    assert '<option value="Europe/Berlin" selected>Berlin</option>' in body
    assert "Save changes" in body


def test_a_viewer_sees_the_general_settings_disabled_without_a_save_button(login, site, vera):
    body = login(vera).get(GENERAL).content.decode()
    assert 'value="example.com"' in body
    assert "disabled" in body
    assert "Save changes" not in body


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_an_admin_or_owner_changes_the_general_settings(request, login, site, who):
    client = login(request.getfixturevalue(who))
    response = client.post(GENERAL, CHANGE)
    assert (response.status_code, response.url) == (302, GENERAL)
    site = _site()
    assert (site.domain, site.name, site.timezone, site.currency) == (
        "example.com",
        "Example Shop",
        "America/New_York",
        "EUR",
    )
    assert "Site settings saved." in client.get(GENERAL).content.decode()


def test_changing_the_domain_moves_the_settings_to_the_new_address(login, site, alice):
    client = login(alice)
    response = client.post(GENERAL, {**CHANGE, "domain": "https://www.New-Example.org/"})
    assert response.url == "/sites/new-example.org/settings/general/"
    assert _site().domain == "new-example.org"
    assert client.get(GENERAL).status_code == 404


def test_it_refuses_a_domain_another_site_has_and_keeps_the_links_right(login, site, alice, charlies_site):
    response = login(alice).post(GENERAL, {**CHANGE, "domain": "charlie.dev"})
    body = response.content.decode()
    assert response.status_code == 400
    assert '<p class="error" role="alert">charlie.dev is already registered with Humblytics.</p>' in body
    assert 'href="/sites/example.com/settings/tracking/"' in body
    assert set(Site.objects.values_list("domain", flat=True)) == {"example.com", "charlie.dev"}
    assert Site.objects.get(pk=site.pk).name == "Example"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("domain", "", "Enter a domain, like example.com."),
        ("domain", "10.0.0.1", "Use a domain name, not an IP address."),
        ("timezone", "Not/AZone", "Select a valid choice. Not/AZone is not one of the available choices."),
        ("currency", "usd", "Select a valid choice. usd is not one of the available choices."),
        ("name", "n" * 101, "Ensure this value has at most 100 characters (it has 101)."),
    ],
)
def test_it_shows_bad_general_input_beside_the_field(login, site, alice, field, value, message):
    response = login(alice).post(GENERAL, {**CHANGE, field: value})
    assert response.status_code == 400
    assert f'<p class="error" role="alert">{escape(message)}</p>' in response.content.decode()
    site.refresh_from_db()
    assert (site.domain, site.name, site.timezone, site.currency) == ("example.com", "Example", "Europe/Berlin", "USD")


def test_a_viewer_cannot_change_the_general_settings(login, site, vera):
    assert login(vera).post(GENERAL, CHANGE).status_code == 403
    assert _site().name == "Example"


def test_an_outsider_cannot_change_the_general_settings(login, site, charlie):
    assert login(charlie).post(GENERAL, CHANGE).status_code == 404
    assert _site().name == "Example"


def test_an_anonymous_post_changes_nothing(client, site):
    assert client.post(GENERAL, CHANGE).status_code == 302
    assert _site().name == "Example"


def test_a_change_without_the_csrf_token_is_refused(site, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(GENERAL, CHANGE).status_code == 403
    assert _site().name == "Example"


# Tracking


def test_the_tracking_tab_waits_for_the_first_page_view(login, site, vera):
    body = login(vera).get(TRACKING).content.decode()
    assert "Waiting for the first page view" in body
    assert "Receiving page views since" not in body
    assert escape('<script defer data-domain="example.com" src="http://testserver/js/script.js"></script>') in body
    assert "window.Humblytics.viewId" in body


def test_the_tracking_tab_says_since_when_page_views_arrive(login, site, vera):
    Site.objects.filter(pk=site.pk).update(first_event_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC))
    body = login(vera).get(TRACKING).content.decode()
    assert "Waiting for the first page view" not in body
    assert "Receiving page views since 1 March 2026, 10:30 (Europe/Berlin)." in body


def test_the_tracking_tab_takes_no_post(login, site, alice):
    assert login(alice).post(TRACKING).status_code == 405


# Revenue


def test_the_revenue_tab_is_an_empty_state_for_now(login, site, bob):
    body = login(bob).get(REVENUE).content.decode()
    assert "Stripe revenue attribution is set up here" in body
    assert "No Stripe account is connected to example.com yet." in body
    assert "humblytics_view_id" in body

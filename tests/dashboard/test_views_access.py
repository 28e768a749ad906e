"""Who sees a dashboard: every member (viewer too); outsiders and unknown domains get a 404; anonymous a login."""

import pytest

from tests.dashboard import views_fixtures as fixtures
from tests.dashboard.views_fixtures import URL, cards

clock, seeded = fixtures.clock, fixtures.seeded

PAGES = [URL, f"{URL}details/visit:source/", f"{URL}export.csv?breakdown=visit:source", f"{URL}realtime.json"]


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_every_member_sees_the_dashboard(request, login, seeded, who):
    response = login(request.getfixturevalue(who)).get(URL + "?period=7d")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1" in body and "Example</h1>" in body
    assert cards(body)["visitors"][0] == "5"
    assert 'id="panel-sources"' in body


@pytest.mark.parametrize("url", PAGES)
def test_a_viewer_reads_every_dashboard_page(login, seeded, vera, url):
    assert login(vera).get(url).status_code == 200


@pytest.mark.parametrize("url", PAGES)
def test_an_outsider_gets_a_404_everywhere(login, seeded, charlie, charlies_site, url):
    response = login(charlie).get(url)
    assert response.status_code == 404
    assert "Example" not in response.content.decode()


@pytest.mark.parametrize("url", [p.replace("example.com", "nowhere.org") for p in PAGES])
def test_an_unknown_domain_is_a_404(login, alice, url):
    assert login(alice).get(url).status_code == 404


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_log_in(client, seeded, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/sites/example.com/")


def test_the_outsider_404_comes_before_parameter_checks(login, seeded, charlie):
    # A bad period must not tell an outsider that the site exists.
    assert login(charlie).get(URL + "?period=bogus").status_code == 404


def test_posting_to_the_dashboard_is_refused(login, seeded, alice):
    assert login(alice).post(URL).status_code == 405


def test_an_empty_site_says_what_to_do_next(login, site, vera):
    body = login(vera).get(URL).content.decode()
    assert "No data yet" in body
    assert 'href="/sites/example.com/install/"' in body
    assert 'href="/sites/example.com/settings/tracking/"' in body
    assert "The Tracking tab shows whether page views arrive" in body
    assert 'class="cards"' not in body


def test_the_site_list_and_the_settings_link_to_the_dashboard(login, site, vera):
    client = login(vera)
    assert f'href="{URL}">Dashboard</a>' in client.get("/sites/").content.decode()
    assert f'href="{URL}">example.com dashboard</a>' in client.get(f"{URL}settings/general/").content.decode()


def test_the_dashboard_urls_do_not_shadow_the_site_pages(login, site, alice):
    client = login(alice)
    assert "settings" in client.get(f"{URL}settings/general/").content.decode()
    assert client.get(f"{URL}install/").templates[0].name == "sites/install.html"

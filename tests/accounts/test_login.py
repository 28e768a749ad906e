import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.conftest import PASSWORD

LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
WRONG = "That e-mail address and password don't match an account. Check both and try again."


def _logged_in_user_id(client):
    return client.session.get("_auth_user_id")


def test_it_logs_in_with_the_email_in_any_case(client, alice):
    response = client.post(LOGIN, {"username": "  Alice@Example.ORG ", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("sites:list")
    assert _logged_in_user_id(client) == str(alice.pk)


def test_it_labels_the_login_field_as_an_email(client, db):
    html = client.get(LOGIN).content.decode()
    assert '<label for="id_username">E-mail</label>' in html
    assert 'type="email" name="username"' in html


def test_it_shows_an_error_for_a_wrong_password(client, alice):
    response = client.post(LOGIN, {"username": alice.email, "password": "not it"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [WRONG]
    assert WRONG.replace("'", "&#x27;") in response.content.decode()
    assert _logged_in_user_id(client) is None


def test_it_shows_the_same_error_for_an_unknown_email(client, db):
    response = client.post(LOGIN, {"username": "nobody@example.org", "password": PASSWORD})
    assert response.context["form"].non_field_errors() == [WRONG]
    assert _logged_in_user_id(client) is None


def test_it_refuses_an_inactive_user(client, alice):
    alice.is_active = False
    alice.save()
    response = client.post(LOGIN, {"username": alice.email, "password": PASSWORD})
    assert response.status_code == 200
    assert _logged_in_user_id(client) is None


def test_it_follows_a_local_next(client, alice):
    response = client.post(LOGIN, {"username": alice.email, "password": PASSWORD, "next": "/sites/example.com/"})
    assert response.status_code == 302
    assert response.url == "/sites/example.com/"


@pytest.mark.parametrize("url", ["https://evil.example/", "//evil.example/", "http://testserver.evil.example/"])
def test_it_does_not_follow_an_external_next(client, alice, url):
    response = client.post(LOGIN, {"username": alice.email, "password": PASSWORD, "next": url})
    assert response.status_code == 302
    assert response.url == reverse("sites:list")
    assert _logged_in_user_id(client) == str(alice.pk)


def test_it_prefills_the_email_and_carries_it_to_signup(client, db):
    response = client.get(LOGIN, {"email": "invited@example.org", "next": "/sites/"})
    assert response.context["form"]["username"].value() == "invited@example.org"
    assert 'value="invited@example.org"' in response.content.decode()
    assert response.context["signup_url"] == "/accounts/signup/?email=invited%40example.org&next=%2Fsites%2F"


def test_it_sends_a_logged_in_user_from_login_to_the_sites_list(login, alice):
    response = login(alice).get(LOGIN, {"next": "/elsewhere/"})
    assert response.status_code == 302
    assert response.url == reverse("sites:list")


def test_it_refuses_to_log_out_on_get(login, alice):
    client = login(alice)
    response = client.get(LOGOUT)
    assert response.status_code == 405
    assert _logged_in_user_id(client) == str(alice.pk)


def test_it_logs_out_on_post(login, alice):
    client = login(alice)
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert response.url == LOGIN
    assert _logged_in_user_id(client) is None
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["You are logged out."]

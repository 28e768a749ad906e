from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError
from django.urls import reverse

from accounts.forms import EMAIL_TAKEN
from accounts.models import User
from tests.conftest import PASSWORD

SIGNUP = reverse("accounts:signup")
NEW_PASSWORD = "a quiet lighthouse 42"


def _signup(client, email="New.Person@Example.org", password=NEW_PASSWORD, confirmation=None, **extra):
    data = {"email": email, "password1": password, "password2": confirmation or password, **extra}
    return client.post(SIGNUP, data)


def _messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def _logged_in_user_id(client):
    return client.session.get("_auth_user_id")


@pytest.mark.django_db
def test_it_signs_up_logs_in_and_redirects_to_the_sites_list(client):
    response = _signup(client)
    user = User.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("sites:list")
    assert user.email == "new.person@example.org"
    assert user.check_password(NEW_PASSWORD)
    assert _logged_in_user_id(client) == str(user.pk)
    assert _messages(response) == ["Welcome to Humblytics! Your account is ready."]


@pytest.mark.django_db
def test_it_follows_a_local_next_after_signing_up(client):
    response = _signup(client, next="/sites/?tab=new")
    assert response.status_code == 302
    assert response.url == "/sites/?tab=new"


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["https://evil.example/steal", "//evil.example/", "javascript:alert(1)"])
def test_it_does_not_follow_an_external_next_after_signing_up(client, url):
    response = _signup(client, next=url)
    assert response.status_code == 302
    assert response.url == reverse("sites:list")


def test_it_rejects_a_duplicate_email_in_another_case(client, alice):
    response = _signup(client, email="ALICE@Example.ORG")
    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [EMAIL_TAKEN]}
    assert list(User.objects.values_list("email", flat=True)) == ["alice@example.org"]
    assert _logged_in_user_id(client) is None
    assert "already exists" in response.content.decode()


def test_it_turns_a_duplicate_insert_race_into_a_form_error(client, alice):
    # The uniqueness check passed (another sign-up was not committed yet) but the insert collides.
    with mock.patch("accounts.views.SignupForm.save", side_effect=IntegrityError("accounts_user_email_key")):
        response = _signup(client, email="Alice@example.org")
    assert response.status_code == 200
    assert response.context["form"].errors == {"email": [EMAIL_TAKEN]}
    assert _logged_in_user_id(client) is None
    assert list(User.objects.all()) == [alice]
    assert User.objects.get().check_password(PASSWORD)


@pytest.mark.django_db
def test_it_rejects_a_weak_password(client):
    response = _signup(client, password="qwerty")
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "password2": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is too common.",
        ]
    }
    assert not User.objects.exists()
    assert _logged_in_user_id(client) is None


@pytest.mark.django_db
def test_it_rejects_a_password_that_looks_like_the_email(client):
    response = _signup(client, email="lighthouse.keeper@example.org", password="lighthouse.keeper")
    assert response.context["form"].errors == {"password2": ["The password is too similar to the email."]}
    assert not User.objects.exists()


@pytest.mark.django_db
def test_it_rejects_a_confirmation_that_does_not_match(client):
    response = _signup(client, confirmation="a different lighthouse 43")
    assert response.context["form"].errors == {"password2": ["The two password fields didn’t match."]}
    assert not User.objects.exists()


@pytest.mark.django_db
def test_it_rejects_an_invalid_email(client):
    response = _signup(client, email="not-an-address")
    assert response.context["form"].errors == {"email": ["Enter a valid email address."]}
    assert not User.objects.exists()


@pytest.mark.django_db
def test_it_prefills_the_email_from_the_invite_link(client):
    response = client.get(SIGNUP, {"email": "invited@example.org", "next": "/sites/"})
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["form"]["email"].value() == "invited@example.org"
    assert 'value="invited@example.org"' in html
    assert response.context["login_url"] == "/accounts/login/?email=invited%40example.org&next=%2Fsites%2F"


@pytest.mark.django_db
def test_it_drops_an_external_next_from_the_signup_page(client):
    response = client.get(SIGNUP, {"next": "https://evil.example/"})
    assert response.context["next"] == ""
    assert "evil.example" not in response.content.decode()


def test_it_sends_a_logged_in_user_from_signup_to_the_sites_list(login, alice):
    client = login(alice)
    for response in (client.get(SIGNUP), _signup(client)):
        assert response.status_code == 302
        assert response.url == reverse("sites:list")
    assert User.objects.count() == 1

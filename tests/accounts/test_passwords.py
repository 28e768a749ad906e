import re

from django.core import mail
from django.urls import reverse

from tests.conftest import PASSWORD

RESET = reverse("accounts:password_reset")
CHANGE = reverse("accounts:password_change")
NEW_PASSWORD = "a quiet lighthouse 42"


def _reset_link(message):
    return re.search(r"http://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", message.body).group(1)


def test_it_emails_a_reset_link_that_sets_a_new_password(client, alice):
    response = client.post(RESET, {"email": "ALICE@example.org"})
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.org"]
    assert message.subject == "Reset your Humblytics password"

    response = client.get(_reset_link(message))
    assert response.status_code == 302  # Django swaps the token for a session value
    set_password_url = response.url
    assert set_password_url.endswith("/set-password/")

    response = client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert not alice.check_password(PASSWORD)


def test_it_uses_the_base_url_in_the_reset_link_when_set(client, alice, settings):
    settings.BASE_URL = "https://analytics.example.net"
    client.post(RESET, {"email": alice.email})
    assert "https://analytics.example.net/accounts/password/reset/" in mail.outbox[0].body


def test_it_refuses_a_reset_link_the_second_time(client, alice):
    client.post(RESET, {"email": alice.email})
    link = _reset_link(mail.outbox[0])
    set_password_url = client.get(link).url
    client.post(set_password_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    response = client.get(link, follow=True)
    assert response.status_code == 200
    assert response.context["validlink"] is False
    assert "This link has expired" in response.content.decode()


def test_it_rejects_a_weak_new_password_on_reset(client, alice):
    client.post(RESET, {"email": alice.email})
    set_password_url = client.get(_reset_link(mail.outbox[0])).url
    response = client.post(set_password_url, {"new_password1": "12345678", "new_password2": "12345678"})
    assert response.status_code == 200
    assert "This password is too common." in response.context["form"].errors["new_password2"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_it_does_not_reveal_whether_an_email_has_an_account(client, db):
    response = client.post(RESET, {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_it_changes_the_password_of_a_logged_in_user_and_keeps_them_logged_in(login, alice):
    client = login(alice)
    response = client.post(
        CHANGE, {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert response.url == reverse("accounts:password_change_done")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert client.session.get("_auth_user_id") == str(alice.pk)
    assert client.get(response.url).status_code == 200


def test_it_refuses_a_password_change_with_a_wrong_old_password(login, alice):
    response = login(alice).post(
        CHANGE, {"old_password": "not it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["old_password"]
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_it_sends_an_anonymous_visitor_from_password_change_to_login(client, db):
    response = client.get(CHANGE)
    assert response.status_code == 302
    assert response.url == f"{reverse('accounts:login')}?next={CHANGE}"

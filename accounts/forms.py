"""Forms for signing up, logging in and the admin; every e-mail is compared and stored lowercase."""

from django import forms
from django.contrib.auth import forms as auth_forms

from accounts.models import User

EMAIL_TAKEN = "An account with this e-mail address already exists. Log in instead, or reset your password."


def clean_new_email(email, *, instance=None):
    """Lowercase an e-mail and refuse one another account already uses, in any letter case."""
    email = User.objects.normalize_email((email or "").strip()).lower()
    others = User.objects.filter(email__iexact=email)
    if instance is not None and instance.pk:
        others = others.exclude(pk=instance.pk)
    if others.exists():
        raise forms.ValidationError(EMAIL_TAKEN, code="email_taken")
    return email


def _email_widget(**attrs):
    return forms.EmailInput(attrs={"autocomplete": "email", "autocapitalize": "none", "spellcheck": "false", **attrs})


class SignupForm(auth_forms.BaseUserCreationForm):
    """E-mail, password and its confirmation; Django's password validators run against the new user."""

    class Meta:
        model = User
        fields = ("email",)
        labels = {"email": "E-mail"}
        widgets = {"email": _email_widget()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django's help is a <ul> of every validator; one plain sentence reads better under the field.
        self.fields[
            "password1"
        ].help_text = "At least 8 characters, not a common password, not only digits and not like your e-mail."
        self.fields["password2"].label = "Confirm the password"
        self.fields["password2"].help_text = ""

    def clean_email(self):
        return clean_new_email(self.cleaned_data.get("email"))


class LoginForm(auth_forms.AuthenticationForm):
    """Django's AuthenticationForm with the username field shown as what it is: an e-mail address."""

    username = forms.EmailField(label="E-mail", max_length=254, widget=_email_widget(autofocus=True))

    error_messages = {
        **auth_forms.AuthenticationForm.error_messages,
        "invalid_login": "That e-mail address and password don't match an account. Check both and try again.",
    }

    def clean_username(self):
        # Stored lowercase, looked up exactly: lowercase what was typed.
        return (self.cleaned_data.get("username") or "").strip().lower()


class PasswordResetForm(auth_forms.PasswordResetForm):
    email = forms.EmailField(label="E-mail", max_length=254, widget=_email_widget(autofocus=True))


class AdminUserCreationForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")

    def clean_email(self):
        return clean_new_email(self.cleaned_data.get("email"))


class AdminUserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self):
        return clean_new_email(self.cleaned_data.get("email"), instance=self.instance)

"""Sign up, log in and out, reset and change passwords.

Invites are accepted here, in the two views that log someone in by hand, rather than in a
``user_logged_in`` receiver: the receiver would also fire for the admin login and for every
``client.force_login`` in the test suite, silently turning other tests' pending invites into memberships.
"""

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import EMAIL_TAKEN, LoginForm, PasswordResetForm, SignupForm
from sites import services as site_services


def _safe_next(request):
    """The ``next`` URL if it stays on this host, else an empty string."""
    url = request.POST.get("next", request.GET.get("next", ""))
    if url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return ""


def _query(email, next_url):
    """``?email=…&next=…`` to carry both between the log-in and sign-up pages."""
    params = {key: value for key, value in (("email", email), ("next", next_url)) if value}
    return f"?{urlencode(params)}" if params else ""


def _prefill_email(request):
    return (request.GET.get("email") or "").strip()[:254]


def _and_join(names):
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _accept_invites(request, user):
    joined = site_services.invites_accept(user=user)
    if joined:
        messages.success(request, f"You joined {_and_join([site.domain for site in joined])}.")
    return joined


@sensitive_post_parameters("password1", "password2")
@csrf_protect
@never_cache
def signup(request):
    if request.user.is_authenticated:
        return redirect("sites:list")
    next_url = _safe_next(request)
    if request.method == "POST":
        form = SignupForm(request.POST)
        if form.is_valid():
            try:
                with transaction.atomic():
                    user = form.save()
            except IntegrityError:  # the same address signed up between our check and the insert
                form.add_error("email", EMAIL_TAKEN)
            else:
                auth.login(request, user)
                messages.success(request, "Welcome to Humblytics! Your account is ready.")
                _accept_invites(request, user)
                return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    else:
        form = SignupForm(initial={"email": _prefill_email(request)})
    email = form["email"].value() or ""
    context = {"form": form, "next": next_url, "login_url": reverse("accounts:login") + _query(email, next_url)}
    return render(request, "accounts/signup.html", context)


class LoginView(auth_views.LoginView):
    """Django's LoginView (safe ``next`` handling included) with e-mail login and invite acceptance."""

    form_class = LoginForm
    template_name = "accounts/login.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return redirect("sites:list")
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {"username": _prefill_email(self.request)}

    def form_valid(self, form):
        response = super().form_valid(form)
        _accept_invites(self.request, form.get_user())
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        email = context["form"]["username"].value() or ""
        context["signup_url"] = reverse("accounts:signup") + _query(email, context.get("next", ""))
        return context


class LogoutView(auth_views.LogoutView):
    """POST only (Django refuses GET with 405), so a link or an image tag cannot log anyone out."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, "You are logged out.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")

    @property
    def extra_email_context(self):
        # Behind a proxy the request's host may not be the public origin: prefer BASE_URL when it is set.
        return {"base_url": settings.BASE_URL}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change_form.html"
    success_url = reverse_lazy("accounts:password_change_done")

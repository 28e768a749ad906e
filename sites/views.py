"""The site pages: list, add, install snippet and the settings tabs.

Each view parses input, calls one service and renders. Who may do what is decided in one place,
selectors.membership_get: a non-member gets a 404 (an existing site looks like a missing one),
too low a role a 403. Reading needs any membership, changing needs admin, members and deletion owner.
"""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from sites import selectors, services
from sites.forms import ApiKeyForm, DeleteSiteForm, InviteForm, RoleForm, SiteForm, add_site_error
from sites.models import ApiKey, Goal, Invite, Membership, Role

require_get_or_post = require_http_methods(["GET", "HEAD", "POST"])

TABS = (
    ("general", "General", "sites:settings_general"),
    ("tracking", "Tracking", "sites:settings_tracking"),
    ("revenue", "Revenue", "sites:settings_revenue"),
    ("goals", "Goals", "sites:settings_goals"),
    ("split-tests", "Split tests", "splittests:list"),
    ("api-keys", "API keys", "sites:settings_api_keys"),
    ("members", "Members", "sites:settings_members"),
    ("danger", "Danger zone", "sites:settings_danger"),
)


def _membership(request, domain, role=Role.VIEWER):
    return selectors.membership_get(user=request.user, domain=domain, role=role)


def _error_text(error):
    return " ".join(error.messages)


def tracker_snippet(request, site):
    base = settings.BASE_URL or f"{request.scheme}://{request.get_host()}"
    return f'<script defer data-domain="{site.domain}" src="{base}/js/script.js"></script>'


def _render_tab(request, membership, tab, context=None, *, template=None, status=200):
    site = membership.site
    tabs = [{"key": key, "label": label, "url": reverse(name, args=[site.domain])} for key, label, name in TABS]
    context = {"site": site, "membership": membership, "tabs": tabs, "tab": tab, **(context or {})}
    template = template or f"sites/settings_{tab.replace('-', '_')}.html"
    return render(request, template, context, status=status)


def _confirm(request, membership, tab, *, title, text, action, button):
    context = {"title": title, "text": text, "action": action, "button": button}
    return _render_tab(request, membership, tab, context, template="sites/settings_confirm.html")


@login_required
@require_safe
def site_list(request):
    memberships = selectors.site_list_for_user(user=request.user)
    return render(request, "sites/list.html", {"memberships": memberships})


@login_required
@require_get_or_post
def site_add(request):
    form = SiteForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            site = services.site_create(owner=request.user, **form.service_kwargs())
        except ValidationError as error:
            add_site_error(form, error)
        else:
            messages.success(request, f"{site.domain} is added. Paste the snippet below into your pages.")
            return redirect("sites:install", site.domain)
    return render(request, "sites/add.html", {"form": form}, status=400 if form.is_bound else 200)


@login_required
@require_safe
def site_install(request, domain):
    membership = _membership(request, domain)
    site = membership.site
    context = {"site": site, "membership": membership, "snippet": tracker_snippet(request, site)}
    return render(request, "sites/install.html", context)


@login_required
@require_safe
def settings_index(request, domain):
    membership = _membership(request, domain)
    return redirect("sites:settings_general", membership.site.domain)


@login_required
@require_get_or_post
def settings_general(request, domain):
    membership = _membership(request, domain, Role.ADMIN if request.method == "POST" else Role.VIEWER)
    site = membership.site
    if request.method != "POST":
        form = SiteForm.for_site(site, disabled=not membership.can_change)
        return _render_tab(request, membership, "general", {"form": form})

    form = SiteForm.for_site(site, request.POST)
    if form.is_valid():
        try:
            services.site_update(site=site, **form.service_kwargs())
        except ValidationError as error:
            site.refresh_from_db()  # site_update may have set fields before it refused
            add_site_error(form, error)
        else:
            messages.success(request, "Site settings saved.")
            return redirect("sites:settings_general", site.domain)
    return _render_tab(request, membership, "general", {"form": form}, status=400)


@login_required
@require_safe
def settings_tracking(request, domain):
    membership = _membership(request, domain)
    return _render_tab(request, membership, "tracking", {"snippet": tracker_snippet(request, membership.site)})


@login_required
@require_get_or_post
def settings_api_keys(request, domain):
    membership = _membership(request, domain, Role.ADMIN if request.method == "POST" else Role.VIEWER)
    site = membership.site
    form = ApiKeyForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            api_key, plaintext = services.apikey_create(
                site=site, name=form.cleaned_data["name"], created_by=request.user
            )
        except ValidationError as error:
            add_site_error(form, error)
        else:
            # The only response that ever carries the key: rendered, not redirected, and never cached.
            context = {"api_key": api_key, "plaintext": plaintext}
            response = _render_tab(
                request, membership, "api-keys", context, template="sites/settings_api_key_created.html"
            )
            add_never_cache_headers(response)
            return response
    context = {"form": form, "api_keys": selectors.site_api_keys(site=site)}
    return _render_tab(request, membership, "api-keys", context, status=400 if form.is_bound else 200)


@login_required
@require_get_or_post
def apikey_revoke(request, domain, key_id):
    membership = _membership(request, domain, Role.ADMIN)
    api_key = get_object_or_404(ApiKey, pk=key_id, site=membership.site)
    back = reverse("sites:settings_api_keys", args=[membership.site.domain])
    if not api_key.is_active:
        messages.info(request, f"{api_key.name} ({api_key.masked}) is already revoked.")
        return redirect(back)
    if request.method == "POST":
        services.apikey_revoke(api_key=api_key)
        messages.success(request, f"{api_key.name} ({api_key.masked}) is revoked: it no longer works.")
        return redirect(back)
    return _confirm(
        request,
        membership,
        "api-keys",
        title=f"Revoke “{api_key.name}”?",
        text=f"Anything using {api_key.masked} stops working at once. This cannot be undone.",
        action=request.path,
        button="Revoke key",
    )


@login_required
@require_get_or_post
def settings_members(request, domain):
    membership = _membership(request, domain, Role.OWNER if request.method == "POST" else Role.VIEWER)
    site = membership.site
    form = InviteForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            invite = services.invite_create(
                site=site, email=form.cleaned_data["email"], role=form.cleaned_data["role"], invited_by=request.user
            )
        except ValidationError as error:
            add_site_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {invite.email} as {invite.get_role_display().lower()}.")
            return redirect("sites:settings_members", site.domain)
    context = {
        "form": form,
        "members": selectors.site_members(site=site),
        "invites": selectors.site_invites(site=site),
        "roles": Role.choices,
    }
    return _render_tab(request, membership, "members", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def member_role(request, domain, membership_id):
    membership = _membership(request, domain, Role.OWNER)
    target = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, site=membership.site)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose owner, admin or viewer.")
    else:
        try:
            services.membership_change_role(membership=target, role=form.cleaned_data["role"])
        except ValidationError as error:
            messages.error(request, _error_text(error))
        else:
            messages.success(request, f"{target.user.email} is now {target.get_role_display().lower()}.")
    return redirect("sites:settings_members", membership.site.domain)


@login_required
@require_get_or_post
def member_remove(request, domain, membership_id):
    membership = _membership(request, domain, Role.OWNER)
    site = membership.site
    target = get_object_or_404(Membership.objects.select_related("user"), pk=membership_id, site=site)
    leaving = target.pk == membership.pk  # read now: delete() clears the pk
    if request.method != "POST":
        return _confirm(
            request,
            membership,
            "members",
            title=f"Leave {site.domain}?" if leaving else f"Remove {target.user.email}?",
            text=(
                "You lose access to this site's statistics and settings."
                if leaving
                else f"{target.user.email} loses access to {site.domain} at once."
            ),
            action=request.path,
            button="Leave site" if leaving else "Remove member",
        )
    try:
        services.membership_remove(membership=target)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("sites:settings_members", site.domain)
    if leaving:
        messages.success(request, f"You left {site.domain}.")
        return redirect("sites:list")
    messages.success(request, f"{target.user.email} no longer has access to {site.domain}.")
    return redirect("sites:settings_members", site.domain)


@login_required
@require_POST
def invite_cancel(request, domain, invite_id):
    membership = _membership(request, domain, Role.OWNER)
    invite = get_object_or_404(Invite, pk=invite_id, site=membership.site)
    services.invite_cancel(invite=invite)
    messages.success(request, f"The invitation for {invite.email} is cancelled.")
    return redirect("sites:settings_members", membership.site.domain)


@login_required
@require_get_or_post
def settings_danger(request, domain):
    membership = _membership(request, domain, Role.OWNER if request.method == "POST" else Role.VIEWER)
    site = membership.site
    form = DeleteSiteForm(request.POST if request.method == "POST" else None, site=site)
    if form.is_bound and form.is_valid():
        try:
            services.site_delete(site=site, confirmation=form.cleaned_data["confirmation"])
        except ValidationError as error:
            add_site_error(form, error)
        else:
            messages.success(request, f"{membership.site.domain} and all its data are deleted.")
            return redirect("sites:list")
    return _render_tab(request, membership, "danger", {"form": form}, status=400 if form.is_bound else 200)


class GoalForm(forms.Form):
    kind = forms.ChoiceField(label="Goal type", choices=Goal.Kind.choices, initial=Goal.Kind.PAGE)
    page_path = forms.CharField(
        label="Page path",
        required=False,
        help_text="For a page visit: like /thank-you; * matches any part, like /blog/*.",
    )
    event_name = forms.CharField(
        label="Event name", required=False, help_text="For a custom event: the name your site sends, like Signup."
    )


@login_required
@require_get_or_post
def settings_goals(request, domain):
    membership = _membership(request, domain, Role.ADMIN if request.method == "POST" else Role.VIEWER)
    site = membership.site
    form = GoalForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            goal = services.goal_create(site=site, **form.cleaned_data)
        except ValidationError as error:
            add_site_error(form, error)
        else:
            messages.success(request, f"Goal “{goal.name}” added.")
            return redirect("sites:settings_goals", site.domain)
    context = {"form": form, "goals": selectors.site_goals(site=site)}
    return _render_tab(request, membership, "goals", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def goal_delete(request, domain, goal_id):
    membership = _membership(request, domain, Role.ADMIN)
    goal = get_object_or_404(Goal, pk=goal_id, site=membership.site)
    services.goal_delete(goal=goal)
    messages.success(request, f"Goal “{goal.name}” deleted. Its past conversions are no longer counted.")
    return redirect("sites:settings_goals", membership.site.domain)

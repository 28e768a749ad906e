"""Forms for the site pages. They only shape input: the rules (domain normalising, duplicates, the last
owner) live in sites/services.py, whose SiteError messages `add_site_error` puts beside the right field."""

import zoneinfo
from functools import cache

from django import forms

from humblytics.currencies import CURRENCY_CHOICES
from sites.models import Role

# The canonical Area/Location zones; legacy aliases (US/Eastern, Etc/GMT+5, Factory …) only clutter the list.
_TIMEZONE_AREAS = ("Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific")


@cache
def timezone_choices():
    """Grouped choices for a <select>: UTC first, then one <optgroup> per area."""
    groups = {}
    for name in sorted(zoneinfo.available_timezones()):
        area, _, location = name.partition("/")
        if area in _TIMEZONE_AREAS and location:
            groups.setdefault(area, []).append((name, location.replace("_", " ")))
    return [("UTC", "UTC"), *((area, tuple(zones)) for area, zones in groups.items())]


def _choices_with(choices, value):
    """Keep a stored value selectable even when it is not in the usual list (a legacy zone set elsewhere)."""
    flat = {key for key, label in choices if not isinstance(label, tuple)}
    flat |= {key for _, group in choices if isinstance(group, tuple) for key, _ in group}
    return choices if not value or value in flat else [(value, value), *choices]


def add_site_error(form, error):
    """Show a SiteError (or a model ValidationError) on the form: beside its field when the form has it."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class SiteForm(forms.Form):
    # Neither required nor max_length: the domain rules, and their messages, are normalize_domain's.
    domain = forms.CharField(
        label="Domain",
        required=False,
        help_text="Just the domain, like example.com: no https:// and no path. www. is dropped.",
        widget=forms.TextInput(
            attrs={"placeholder": "example.com", "autocapitalize": "none", "spellcheck": "false", "autofocus": True}
        ),
    )
    name = forms.CharField(
        label="Name", max_length=100, required=False, help_text="Optional; shown instead of the domain."
    )
    timezone = forms.ChoiceField(
        label="Reporting timezone", initial="UTC", help_text="Days in your reports start at midnight here."
    )
    currency = forms.ChoiceField(
        label="Reporting currency",
        choices=CURRENCY_CHOICES,
        initial="USD",
        help_text="Revenue from Stripe is reported in this currency.",
    )

    respect_gpc = forms.BooleanField(
        label="Respect Global Privacy Control",
        required=False,
        help_text="Don't count visitors whose browser sends the GPC opt-out signal (Sec-GPC: 1).",
    )

    def __init__(self, *args, disabled=False, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.initial.get("timezone")
        self.fields["timezone"].choices = _choices_with(timezone_choices(), current)
        if disabled:
            for field in self.fields.values():
                field.disabled = True

    @classmethod
    def for_site(cls, site, data=None, **kwargs):
        initial = {
            "domain": site.domain, "name": site.name, "timezone": site.timezone, "currency": site.currency,
            "respect_gpc": site.respect_gpc,
        }  # fmt: skip
        return cls(data, initial=initial, **kwargs)

    def service_kwargs(self):
        data = self.cleaned_data
        return {
            "domain": data["domain"],
            "name": data["name"],
            "timezone_name": data["timezone"],
            "currency": data["currency"],
            "respect_gpc": data["respect_gpc"],
        }


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=100,
        required=False,
        help_text="What uses it, like “CI” or “Grafana”.",
        widget=forms.TextInput(attrs={"placeholder": "API key"}),
    )


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail", widget=forms.EmailInput(attrs={"autocapitalize": "none", "spellcheck": "false"})
    )
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class DeleteSiteForm(forms.Form):
    confirmation = forms.CharField(
        label="Type the domain to confirm",
        max_length=300,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirmation"].widget.attrs["placeholder"] = site.domain

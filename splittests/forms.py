"""Forms for split tests. They shape input (paths, changes, percentages); the rules live in services.py."""

from decimal import Decimal

from django import forms

from splittests import changes as changes_module
from splittests import paths
from splittests.models import SplitTest, Variant
from splittests.stats import DEFAULT_ALPHA, DEFAULT_POWER

MAX_TREATMENTS = 4
FORM_ROWS = 3  # treatment rows on the form; empty ones are ignored
MAX_DAILY_VISITORS = 1_000_000_000  # within the PositiveIntegerField column (a larger number was a DataError, a 500)

RANDOMIZATION_HELP = (
    "Session-level: each visit is assigned afresh (a visit ends after 30 minutes without activity). User-level: "
    "the same variant on every page and visit for as long as Humblytics' cookie-free visitor id lasts, that is "
    "until midnight UTC (or sooner, if the visitor's IP address or browser changes); after that the visitor counts "
    "as new and may see another variant."
)


class SplitTestForm(forms.Form):
    name = forms.CharField(max_length=120)
    hypothesis = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="What you expect to change, and why."
    )
    page_path = forms.CharField(
        label="Control page", max_length=2000, help_text="The page under test, like /pricing (the path on your site)."
    )
    control_name = forms.CharField(label="Control's name", max_length=60, initial="Control")
    control_weight = forms.IntegerField(label="Control's traffic weight", min_value=0, max_value=1000, initial=1)
    traffic_percent = forms.IntegerField(
        label="Traffic in the test (%)",
        min_value=1,
        max_value=100,
        initial=100,
        help_text="The share of visitors that enter the test; the others see the control and are not counted.",
    )
    randomization = forms.ChoiceField(
        choices=SplitTest.Randomization.choices, initial=SplitTest.Randomization.USER, help_text=RANDOMIZATION_HELP
    )
    goal_kind = forms.ChoiceField(label="Goal", choices=SplitTest.GoalKind.choices)
    goal_amount = forms.DecimalField(
        label="Target amount", required=False, min_value=Decimal("0.01"), max_digits=12, decimal_places=2,
        help_text="For a revenue target: a payment of at least this much, in the site's currency.",
    )  # fmt: skip
    goal_path = forms.CharField(
        label="Goal page", required=False, max_length=2000, help_text="For a page visit: like /thanks or /docs/*."
    )
    goal_event = forms.CharField(
        label="Goal event", required=False, max_length=120, help_text="For a custom event, click or form: like Signup."
    )
    baseline_percent = forms.FloatField(
        label="Baseline conversion rate (%)", required=False, min_value=0.001, max_value=99.999,
        help_text="Optional, for the plan: the control's expected conversion rate.",
    )  # fmt: skip
    effect_percent = forms.FloatField(
        label="Minimum detectable effect (%)", required=False, min_value=-99.9, max_value=1000,
        help_text="Optional, for the plan: the smallest relative change worth detecting (10 = +10 %).",
    )  # fmt: skip
    daily_visitors = forms.IntegerField(
        label="Daily visitors of the page",
        required=False,
        min_value=1,
        max_value=MAX_DAILY_VISITORS,
        help_text="Optional: for the duration.",
    )
    auto_stop_days = forms.IntegerField(
        label="Stop after (days)", required=False, min_value=1, max_value=365, help_text="Optional."
    )
    auto_stop_at_sample = forms.BooleanField(label="Stop when every variant reaches the planned sample", required=False)

    def __init__(self, *args, site, **kwargs):
        super().__init__(*args, **kwargs)
        self.site = site
        self.fields[
            "goal_amount"
        ].help_text = f"For a revenue target: a payment of at least this much, in {site.currency}."

    @classmethod
    def initial_for(cls, test):
        control = next((v for v in test.variants.all() if v.is_control), None)
        return {
            "name": test.name,
            "hypothesis": test.hypothesis,
            "page_path": test.page_path,
            "control_name": control.name if control else "Control",
            "control_weight": control.weight if control else 1,
            "traffic_percent": test.traffic_percent,
            "randomization": test.randomization,
            "goal_kind": test.goal_kind,
            "goal_amount": test.goal_amount,
            "goal_path": test.goal_path,
            "goal_event": test.goal_event,
            "baseline_percent": test.baseline_rate * 100 if test.baseline_rate is not None else None,
            "effect_percent": test.minimum_effect * 100 if test.minimum_effect is not None else None,
            "daily_visitors": test.daily_visitors,
            "auto_stop_days": test.auto_stop_days,
            "auto_stop_at_sample": test.auto_stop_at_sample,
        }

    def clean_page_path(self):
        try:
            return paths.control_path(self.cleaned_data["page_path"], domain=self.site.domain)
        except paths.PathError as error:
            raise forms.ValidationError(str(error)) from None

    def clean_goal_event(self):
        return self.cleaned_data["goal_event"].strip()

    def clean_goal_path(self):
        value = self.cleaned_data["goal_path"].strip()
        if value and not value.startswith("/"):
            raise forms.ValidationError("Start the path with /, like /thanks.")
        return value

    def clean(self):
        data = super().clean()
        if (data.get("baseline_percent") is None) != (data.get("effect_percent") is None):
            self.add_error("effect_percent", "Enter both the baseline rate and the effect for a plan, or neither.")
        if data.get("auto_stop_at_sample") and data.get("baseline_percent") is None:
            self.add_error("auto_stop_at_sample", "Stopping at the planned sample needs a plan: enter the baseline.")
        return data

    def service_fields(self):
        data = self.cleaned_data
        baseline, effect = data.get("baseline_percent"), data.get("effect_percent")
        return {
            "name": data["name"],
            "hypothesis": data["hypothesis"],
            "page_path": data["page_path"],
            "traffic_percent": data["traffic_percent"],
            "randomization": data["randomization"],
            "goal_kind": data["goal_kind"],
            "goal_amount": data.get("goal_amount"),
            "goal_path": data.get("goal_path", ""),
            "goal_event": data.get("goal_event", ""),
            "baseline_rate": None if baseline is None else baseline / 100,
            "minimum_effect": None if effect is None else effect / 100,
            "daily_visitors": data.get("daily_visitors"),
            "auto_stop_days": data.get("auto_stop_days"),
            "auto_stop_at_sample": data.get("auto_stop_at_sample", False),
        }

    def control_variant(self):
        return {"name": self.cleaned_data["control_name"], "kind": Variant.Kind.CONTROL,
                "weight": self.cleaned_data["control_weight"]}  # fmt: skip


class VariantForm(forms.Form):
    name = forms.CharField(max_length=60, required=False)
    kind = forms.ChoiceField(
        choices=[(Variant.Kind.REDIRECT, "Redirect to a URL"), (Variant.Kind.CHANGES, "No-code changes")],
        initial=Variant.Kind.REDIRECT,
    )
    weight = forms.IntegerField(min_value=0, max_value=1000, initial=1, required=False)
    redirect_url = forms.CharField(
        label="Redirect to", required=False, max_length=2000, help_text="A path like /pricing-b or a URL on your site."
    )
    changes = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text="One per line: selector | text | New text, or selector | attr:href | /x, or "
        "selector | style:color | #c00.",
    )

    def __init__(self, *args, site=None, control=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.site, self.control = site, control

    def clean(self):
        data = super().clean()
        if not data.get("name"):
            if data.get("redirect_url") or data.get("changes"):
                self.add_error("name", "Name this variant.")
            return data
        if data.get("weight") is None:
            data["weight"] = 1
        if data.get("kind") == Variant.Kind.REDIRECT:
            try:
                data["redirect_url"] = paths.redirect_target(
                    data.get("redirect_url", ""), domain=self.site.domain, control=self.control or ""
                )
            except paths.PathError as error:
                self.add_error("redirect_url", str(error))
        elif data.get("kind") == Variant.Kind.CHANGES:
            try:
                data["parsed_changes"] = changes_module.parse(data.get("changes", ""))
            except changes_module.ChangeError as error:
                self.add_error("changes", str(error))
            else:
                if not data["parsed_changes"]:
                    self.add_error("changes", "Write at least one change.")
        return data

    def variant(self):
        data = self.cleaned_data
        if not data.get("name"):
            return None
        return {
            "name": data["name"],
            "kind": data["kind"],
            "weight": data["weight"],
            "redirect_url": data.get("redirect_url", ""),
            "changes": data.get("parsed_changes", []),
        }

    @staticmethod
    def initial_for(variant):
        return {
            "name": variant.name,
            "kind": variant.kind,
            "weight": variant.weight,
            "redirect_url": variant.redirect_url,
            "changes": changes_module.to_text(variant.changes),
        }


VariantFormSet = forms.formset_factory(VariantForm, extra=0, max_num=MAX_TREATMENTS, absolute_max=MAX_TREATMENTS)


class CalculatorForm(forms.Form):
    baseline_percent = forms.FloatField(label="Baseline conversion rate (%)", min_value=0.001, max_value=99.999)
    effect_percent = forms.FloatField(
        label="Minimum detectable effect (relative %)", min_value=-99.9, max_value=1000, initial=10
    )
    alpha_percent = forms.FloatField(
        label="Significance level (%)", min_value=0.01, max_value=50, initial=DEFAULT_ALPHA * 100
    )
    power_percent = forms.FloatField(label="Power (%)", min_value=50, max_value=99.99, initial=DEFAULT_POWER * 100)
    variants = forms.IntegerField(label="Variants (control included)", min_value=2, max_value=8, initial=2)
    daily_visitors = forms.IntegerField(
        label="Daily visitors entering the test", required=False, min_value=1, max_value=MAX_DAILY_VISITORS
    )

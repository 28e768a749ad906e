"""The form that connects Stripe. It only shapes input: which keys are accepted, and why one is refused
(a publishable key, a revoked key, a missing permission), is `services.connection_connect`'s business."""

from django import forms

# Read access the recommended restricted key needs, in Stripe's dashboard wording (Developers → API keys →
# Create restricted key): what StripeAPI.validate reads, plus Refunds, which the sync lists.
REQUIRED_PERMISSIONS = (
    "Charges",
    "PaymentIntents",
    "Invoices",
    "Subscriptions",
    "Checkout Sessions",
    "Customers",
    "Refunds",
)
OPTIONAL_PERMISSIONS = (
    ("Disputes", "so lost disputes are taken off net revenue"),
    ("Balance transaction sources", "so payments in another currency count in the settled amount"),
)


class StripeKeyForm(forms.Form):
    provider = forms.ChoiceField(
        label="Payment provider",
        choices=[("stripe", "Stripe")],
        initial="stripe",
        required=False,  # the only choice, for now: a post without it means Stripe
        widget=forms.RadioSelect,
    )
    method = forms.ChoiceField(
        label="Integration method",
        choices=[
            ("stripe_api", "Stripe API: Humblytics reads your payments with a key every few minutes (no webhooks)")
        ],
        initial="stripe_api",
        required=False,
        widget=forms.RadioSelect,
    )
    # Never rendered back: a form with an error must not echo the key into the page.
    secret_key = forms.CharField(
        label="Stripe key",
        max_length=255,
        help_text="A restricted key (rk_live_… or rk_test_…) with read access only is best; a secret key "
        "(sk_live_… or sk_test_…) works too. It is stored encrypted and never shown again.",
        widget=forms.PasswordInput(
            render_value=False,
            attrs={
                "placeholder": "rk_live_…",
                "autocomplete": "off",
                "autocapitalize": "none",
                "spellcheck": "false",
            },
        ),
    )

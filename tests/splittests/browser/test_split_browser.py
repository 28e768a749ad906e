"""Split tests in a real browser: redirects before paint, no double counting, exposures, revenue, no-code, bots.

Pages are tests/splittests/browser/pages on http://example.com:PORT; the per-site script, /api/event and
/api/exposure are on http://localhost:PORT. Rows are written inside the requests, so each check polls the database.
"""

from urllib.parse import parse_qsl, urlsplit

import pytest

from revenue import services as revenue_services
from revenue.models import Payment
from splittests import selectors, services
from splittests.models import Exposure, Variant
from splittests.stats import sample_ratio_mismatch
from tests.revenue.conftest import make_client
from tests.splittests.conftest import fields
from tests.tracking.browser.conftest import wait_for
from tracking.models import PageView, Visit

pytestmark = pytest.mark.browser

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
REFERRER = "https://news.ycombinator.com/item?id=42"
VISITORS = 24


def launch(site, alice, *, page, treatment, control_weight=1, **overrides):
    test = services.splittest_create(
        site=site,
        user=alice,
        fields=fields(page_path=page, **overrides),
        variants=[{"name": "Control", "kind": Variant.Kind.CONTROL, "weight": control_weight}, treatment],
    )
    return services.splittest_launch(test=test)


def redirect_b(weight=1):
    return {"name": "B", "kind": Variant.Kind.REDIRECT, "weight": weight, "redirect_url": "/landing-b/"}


NEW_HEADLINE = {
    "name": "New headline",
    "kind": Variant.Kind.CHANGES,
    "weight": 1,
    "changes": [
        {"selector": "#headline", "action": "text", "name": "", "value": "Changed headline"},
        {"selector": "#cta", "action": "style", "name": "color", "value": "rgb(255, 0, 0)"},
    ],
}


def watch(page):
    """Record the markers the pages send (pages/_base.html): paint entries, and the opacity at the end of the body."""
    page.paints, page.visible = [], []

    def on_request(request):
        parts = urlsplit(request.url)
        if parts.path == "/marker/":
            query = dict(parse_qsl(parts.query))
            kind = page.paints if query["what"] == "paint" else page.visible
            kind.append((query["path"], query["value"]))

    page.on("request", on_request)
    return page


def settled(page):
    """The view id once the tracker ran on the page the visitor ends up on."""
    page.wait_for_function("window.Humblytics && window.Humblytics.viewId && document.readyState === 'complete'")
    return page.evaluate("window.Humblytics.viewId")


def exposure_of(view_id):
    return wait_for(lambda: Exposure.objects.filter(view_id=view_id).select_related("variant").first())


def test_a_redirect_test_splits_visitors_without_painting_or_counting_the_control(visitor, customer, site, alice):
    test = launch(site, alice, page="/landing", treatment=redirect_b())
    landed = {}
    for _ in range(VISITORS):
        page = watch(visitor())
        page.goto(customer.url("/landing/?utm_source=newsletter"), referer=REFERRER, wait_until="commit")
        view_id = settled(page)
        path = page.evaluate("location.pathname")
        exposure = exposure_of(view_id)
        landed[view_id] = (path, exposure.variant.name, page)
        assert (path, exposure.variant.name) in {("/landing/", "Control"), ("/landing-b/", "B")}

    by_variant = {name: [page for path, n, page in landed.values() if n == name] for name in ("Control", "B")}
    counts = [len(by_variant["Control"]), len(by_variant["B"])]
    assert all(counts), counts
    assert not sample_ratio_mismatch(counts, [1, 1]).mismatch, counts

    for page in by_variant["B"]:
        # The control never painted, though the variant took 0.5 s to answer: the runtime hides it before it
        # redirects (Chromium also stops parsing it at location.replace, so not even the end of its body is reached;
        # browsers that go on parsing would paint it without the hiding). The control visitors below show that the
        # markers do arrive from a page that paints.
        assert ("/landing/", "first-contentful-paint") not in page.paints
        assert all(opacity == "0" for path, opacity in page.visible if path == "/landing/")
        # The assignment parameter is gone, the campaign tag and the referrer are kept, canonical points to control.
        assert page.evaluate("location.search") == "?utm_source=newsletter"
        assert page.evaluate("[...document.querySelectorAll('link[rel=canonical]')].map(l => l.href)") == [
            customer.url("/landing")
        ]
    for page in by_variant["Control"]:
        wait_for(lambda page=page: ("/landing/", "first-contentful-paint") in page.paints)  # the marker works

    # One page view per visitor, on the page they saw: none for the control that redirected away.
    views = wait_for(
        lambda: (
            len(rows := dict(PageView.objects.filter(site=site).values_list("view_id", "pathname"))) == VISITORS
            and rows
        )
    )
    assert views == {view_id: path for view_id, (path, _, _) in landed.items()}
    assert Exposure.objects.filter(test=test).count() == VISITORS
    # Each exposure is keyed by its page view's id and carries that page view's cookie-free visitor id.
    visitors = dict(PageView.objects.filter(site=site).values_list("view_id", "visitor_id"))
    assert dict(Exposure.objects.values_list("view_id", "visitor_id")) == visitors
    assert len(set(visitors.values())) == VISITORS
    b_visits = Visit.objects.filter(site=site, entry_page="/landing-b/")
    assert b_visits.count() == counts[1]
    assert set(b_visits.values_list("referrer_host", "utm_source")) == {("news.ycombinator.com", "newsletter")}
    results = selectors.splittest_results(test=test)
    assert [row.visitors for row in results.rows] == counts


def test_a_revenue_conversion_from_a_localstripe_payment_shows_in_the_results(
    visitor, customer, site, alice, settings, localstripe_clean, client
):
    settings.STRIPE_API_BASE = localstripe_clean
    settings.STRIPE_MAX_REQUESTS_PER_SECOND = 50
    test = launch(site, alice, page="/landing", treatment=redirect_b(), control_weight=0)
    page = visitor()
    page.goto(customer.url("/landing/"), wait_until="commit")
    view_id = settled(page)
    assert page.evaluate("location.pathname") == "/landing-b/"
    exposure_of(view_id)
    wait_for(lambda: PageView.objects.filter(site=site, view_id=view_id).exists())

    stripe = make_client(localstripe_clean)
    stripe.v1.payment_intents.create(
        params={
            "amount": 4900,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
            "metadata": {"humblytics_view_id": view_id},
        }
    )
    connection = revenue_services.connection_connect(site=site, secret_key="sk_test_humblytics", user=alice)
    report = revenue_services.sync_run(connection_id=connection.pk)
    assert report is not None and not report.error
    payment = Payment.objects.get()
    assert (payment.attribution, payment.view_id) == ("attributed", view_id)

    results = selectors.splittest_results(test=test)
    control, b = results.rows
    assert (b.name, b.visitors, b.conversions, str(b.revenue)) == ("B", 1, 1, "49.000000")
    assert (control.visitors, control.conversions) == (0, 0)
    client.force_login(alice)
    html = client.get(f"/sites/example.com/split-tests/{test.pk}/").content.decode()
    assert "49.00 USD" in html


def test_a_no_code_variant_changes_the_element_before_it_paints(visitor, customer, site, alice):
    # A change that reaches a script the parser has not run yet would run its own code: the runtime skips it.
    injecting = {"selector": "script.late", "action": "text", "name": "", "value": "window.lateRan = 'injected';"}
    treatment = {**NEW_HEADLINE, "changes": [*NEW_HEADLINE["changes"], injecting]}
    test = launch(site, alice, page="/nocode", treatment=treatment, control_weight=0)
    page = watch(visitor())
    page.goto(customer.url("/nocode/"))
    view_id = settled(page)
    assert page.inner_text("#headline") == "Changed headline"
    assert page.evaluate("getComputedStyle(document.getElementById('cta')).color") == "rgb(255, 0, 0)"
    assert page.evaluate("[window.lateRan, document.querySelector('script.late').textContent]") == [
        "original",
        "window.lateRan = 'original';",
    ]
    # Hidden while the body was parsed; the first contentful paint came after the changes were applied.
    wait_for(lambda: page.visible)
    assert page.visible == [("/nocode/", "0")]
    applied, first_paint = page.evaluate(
        """[performance.getEntriesByName('humblytics-split-applied')[0].startTime,
            performance.getEntriesByName('first-contentful-paint')[0].startTime]"""
    )
    assert applied <= first_paint
    exposure = exposure_of(view_id)
    assert (exposure.test, exposure.variant.name) == (test, "New headline")


def test_an_spa_navigation_to_the_test_page_runs_the_test(visitor, customer, site, alice):
    test = launch(site, alice, page="/nocode", treatment=NEW_HEADLINE, control_weight=0)
    page = visitor()
    page.goto(customer.url("/spa/"))
    home = settled(page)
    page.evaluate("goToOffer()")
    page.wait_for_function("document.getElementById('headline').textContent === 'Changed headline'")
    offer = page.evaluate("window.Humblytics.viewId")
    assert offer != home
    assert exposure_of(offer).test == test
    assert not Exposure.objects.filter(view_id=home).exists()


@pytest.mark.parametrize(
    ("user_agent", "automated", "pageview_counted"),
    [(GOOGLEBOT, False, False), (None, True, True)],
    ids=["a crawler", "an automated browser"],
)
def test_bots_get_the_control_and_no_exposure(visitor, customer, site, alice, user_agent, automated, pageview_counted):
    launch(site, alice, page="/landing", treatment=redirect_b(), control_weight=0)  # every person would be redirected
    kwargs = {"automated": automated} | ({"user_agent": user_agent} if user_agent else {})
    page = visitor(**kwargs)
    page.goto(customer.url("/landing/"))
    view_id = settled(page)
    assert page.evaluate("location.pathname") == "/landing/"
    assert page.inner_text("#headline") == "The control page"
    if pageview_counted:
        wait_for(lambda: PageView.objects.filter(site=site, view_id=view_id).exists())
    page.wait_for_timeout(300)  # an exposure would have been sent by now
    assert not Exposure.objects.exists()


def test_an_expired_or_forged_assignment_parameter_is_removed_and_counts_nothing(visitor, customer, site, alice):
    test = launch(site, alice, page="/landing", treatment=redirect_b())
    control, b = (test.variants.get(name=name).pk for name in ("Control", "B"))
    tokens = [f"{test.pk}.{b}.1", f"{test.pk}.{control}.9999999999", f"999999.{b}.9999999999", "garbage"]
    for token in tokens:
        page = visitor()
        page.goto(customer.url(f"/landing-b/?hx_t={token}&plan=pro"))
        view_id = settled(page)
        assert page.evaluate("location.search") == "?plan=pro"
        assert page.evaluate("document.querySelectorAll('link[rel=canonical]').length") == 1  # only the page's own
        wait_for(lambda view_id=view_id: PageView.objects.filter(site=site, view_id=view_id).exists())
    page.wait_for_timeout(300)
    assert not Exposure.objects.exists()

"""Results against numbers computed by hand: who counts, what converts, what revenue is, and the statistics."""

from datetime import timedelta
from decimal import Decimal

import pytest

from revenue.models import Payment
from splittests import services
from splittests.models import SplitTest
from splittests.selectors import splittest_results
from tests.splittests.conftest import REDIRECT_B, T0, control_of, expose, fields, variant_named, variants
from tests.tracking.factories import record
from tracking.services import events_store

EXPOSED = T0 + timedelta(minutes=1)
_payments = iter(range(10**9))


def launch(site, alice, treatments=(REDIRECT_B,), **overrides):
    test = services.splittest_create(site=site, user=alice, fields=fields(**overrides), variants=variants(*treatments))
    return services.splittest_launch(test=test, now=T0)


def pay(site, visitor_id, net, *, at=EXPOSED + timedelta(minutes=10), refunded="0", currency_net=True,
        attribution=Payment.Attribution.ATTRIBUTED, livemode=True):  # fmt: skip
    """A payment as the revenue sync leaves it; live, as the payments of a site without a test-mode connection."""
    net = Decimal(net)
    return Payment.objects.create(
        site=site, stripe_id=f"pi_{next(_payments)}", created_at=at, currency="USD", amount=int((net + Decimal(refunded)) * 100),
        amount_refunded=int(Decimal(refunded) * 100), reporting_currency="USD", gross=net + Decimal(refunded),
        refunds=Decimal(refunded), net=net if currency_net else None, attribution=attribution,
        visitor_id=visitor_id, view_id="v" * 22, livemode=livemode,
    )  # fmt: skip


def rows_of(result):
    return [(r.name, r.visitors, r.conversions, f"{r.revenue:.2f}") for r in result.rows]


@pytest.fixture
def revenue_setup(site, alice):
    """Control: 4 visitors; visitor 1 pays 10 and 5, visitor 2 pays 30 refunded in full.
    B: 4 visitors; visitor 11 pays 50 with 20 refunded, 12 paid before the exposure, 13 pays 20."""
    test = launch(site, alice)
    control, b = control_of(test), variant_named(test, "B")
    for visitor in (1, 2, 3, 4):
        expose(test, control, visitor)
    for visitor in (11, 12, 13, 14):
        expose(test, b, visitor)
    expose(test, control, 1, at=EXPOSED + timedelta(hours=1))  # seen again later: still one visitor
    pay(site, 1, "10.00")
    pay(site, 1, "5.00")
    pay(site, 2, "0.00", refunded="30.00")
    pay(site, 11, "30.00", refunded="20.00")
    pay(site, 12, "99.00", at=EXPOSED - timedelta(hours=1))
    pay(site, 13, "20.00")
    pay(site, 99, "500.00")  # never exposed
    return test


def test_only_attributed_live_payments_of_this_site_count(revenue_setup, charlies_site):
    site = revenue_setup.site
    pay(site, 3, "70.00", attribution=Payment.Attribution.PENDING)  # the sync has not resolved its view id
    pay(site, 4, "80.00", attribution=Payment.Attribution.VIEW_NOT_FOUND)
    pay(site, 14, "90.00", livemode=False)  # a test-mode payment on a live site
    pay(charlies_site, 13, "60.00")  # the same visitor id on another site
    assert rows_of(splittest_results(test=revenue_setup)) == [("Control", 4, 1, "15.00"), ("B", 4, 2, "50.00")]


def test_a_site_connected_in_test_mode_counts_its_test_mode_payments(revenue_setup):
    from revenue.models import StripeConnection

    StripeConnection.objects.create(
        site=revenue_setup.site, secret_key="sk_test_x", key_hint="sk_test_…x", mode=StripeConnection.Mode.TEST
    )
    pay(revenue_setup.site, 14, "90.00", livemode=False)
    # Only visitor 14's test-mode payment: the live ones of the fixture are left out now.
    assert rows_of(splittest_results(test=revenue_setup)) == [("Control", 4, 0, "0.00"), ("B", 4, 1, "90.00")]


def test_any_revenue_counts_each_paying_visitor_once_and_sums_net_revenue(revenue_setup):
    result = splittest_results(test=revenue_setup)
    assert rows_of(result) == [("Control", 4, 1, "15.00"), ("B", 4, 2, "50.00")]
    control, b = result.rows
    assert (control.revenue_per_visitor, b.revenue_per_visitor) == (Decimal("3.75"), Decimal("12.50"))
    assert control.rate.value == 0.25 and b.rate.value == 0.5
    assert b.uplift.value == pytest.approx(1.0)  # 50 % / 25 % − 1


def test_a_revenue_target_needs_one_payment_of_at_least_the_amount(revenue_setup):
    SplitTest.objects.filter(pk=revenue_setup.pk).update(goal_kind="revenue_target", goal_amount=Decimal("25"))
    revenue_setup.refresh_from_db()
    result = splittest_results(test=revenue_setup)
    assert rows_of(result) == [("Control", 4, 0, "15.00"), ("B", 4, 1, "50.00")]
    assert result.rows[1].uplift.value is None
    assert result.rows[1].uplift.reason == "no conversions in control"


def test_payments_without_a_conversion_to_the_site_currency_are_left_out_and_said(revenue_setup):
    pay(revenue_setup.site, 3, "1.00", currency_net=False)
    result = splittest_results(test=revenue_setup)
    assert rows_of(result)[0] == ("Control", 4, 1, "15.00")
    assert any("could not be converted to USD" in w for w in result.warnings)


def _goal_visitors(test, variant, visitors, converted, first, path="/thanks", at=EXPOSED + timedelta(minutes=5)):
    records = []
    for n in range(visitors):
        expose(test, variant, first + n)
        if n < converted:
            records.append(record(test.site, visitor=first + n, ts=at.timestamp(), path=path))
    events_store(records)


def test_a_page_goal_counts_visits_after_the_exposure_matching_the_pattern(site, alice, charlies_site):
    test = launch(site, alice, goal_kind="page", goal_path="/docs/**")
    control, b = control_of(test), variant_named(test, "B")
    _goal_visitors(test, control, 3, 1, 1, path="/docs/start")
    _goal_visitors(test, b, 3, 2, 11, path="/docs/a/b")
    events_store(
        [
            record(site, visitor=3, ts=(EXPOSED - timedelta(hours=2)).timestamp(), path="/docs/x"),  # before
            record(site, visitor=2, ts=(EXPOSED + timedelta(hours=2)).timestamp(), path="/pricing"),  # not the goal
            record(charlies_site, visitor=13, ts=(EXPOSED + timedelta(hours=2)).timestamp(), path="/docs/x"),
        ]
    )
    assert rows_of(splittest_results(test=test)) == [("Control", 3, 1, "0.00"), ("B", 3, 2, "0.00")]


def test_an_event_goal_counts_the_named_event(site, alice):
    test = launch(site, alice, goal_kind="event", goal_event="Signup")
    control, b = control_of(test), variant_named(test, "B")
    for visitor in (1, 2):
        expose(test, control, visitor)
    for visitor in (11, 12):
        expose(test, b, visitor)
    ts = (EXPOSED + timedelta(minutes=3)).timestamp()
    events_store(
        [
            record(site, kind="event", name="Signup", visitor=11, ts=ts),
            record(site, kind="event", name="Signup", visitor=12, ts=ts),
            record(site, kind="event", name="Cta", visitor=1, ts=ts),
        ]
    )
    assert rows_of(splittest_results(test=test)) == [("Control", 2, 0, "0.00"), ("B", 2, 2, "0.00")]


@pytest.fixture
def counted(site, alice):
    """Control 20 of 200 visitors convert, B 30 of 200 (a page goal)."""
    test = launch(site, alice, goal_kind="page", goal_path="/thanks")
    _goal_visitors(test, control_of(test), 200, 20, 1)
    _goal_visitors(test, variant_named(test, "B"), 200, 30, 1001)
    return test


def test_it_shows_sequential_results_without_a_plan(counted):
    result = splittest_results(test=counted)
    assert result.mode == "sequential" and not result.planned_reached
    b = result.rows[1]
    assert b.uplift.value == pytest.approx(0.5)
    # The always-valid p-value is never below the fixed-horizon one (0.12947, below).
    assert b.p_value.value >= 0.1294
    assert b.declaration and "Not significant yet" in " ".join(b.declaration)


def test_fixed_horizon_results_once_the_planned_sample_is_reached(counted):
    SplitTest.objects.filter(pk=counted.pk).update(planned_visitors_per_variant=200)
    counted.refresh_from_db()
    result = splittest_results(test=counted)
    assert result.mode == "fixed-horizon"
    b = result.rows[1]
    # By hand: p_c = 0.10, p_t = 0.15, SE = sqrt(0.15·0.85/200 + 0.10·0.90/200) = 0.032977, z = 1.51620,
    # two-sided p = erfc(z / √2) = 0.129470; difference 0.05 ± 1.95996 · SE.
    assert b.p_value.value == pytest.approx(0.129470, abs=1e-6)
    assert (b.difference.low, b.difference.high) == (
        pytest.approx(-0.014634, abs=1e-6),
        pytest.approx(0.114634, abs=1e-6),
    )
    assert splittest_results(test=counted, mode="sequential").mode == "sequential"


def test_a_split_far_from_the_weights_is_flagged(site, alice):
    test = launch(site, alice, goal_kind="page", goal_path="/thanks")
    _goal_visitors(test, control_of(test), 300, 30, 1)
    _goal_visitors(test, variant_named(test, "B"), 200, 20, 1001)
    result = splittest_results(test=test)
    # chi² = 2 · 50² / 250 = 20 with 1 degree of freedom: p = 7.74e-6
    assert result.srm_mismatch and result.srm_p_value.value == pytest.approx(7.744e-6, rel=1e-3)
    assert any(w.startswith("Sample-ratio mismatch") for w in result.warnings)


def test_a_test_without_exposures_says_why_instead_of_crashing(running):
    result = splittest_results(test=running)
    assert [r.visitors for r in result.rows] == [0, 0]
    assert result.rows[0].rate.value is None and result.rows[0].rate.reason == "no visitors in Control"
    assert result.rows[1].p_value.value is None
    assert result.srm_p_value.reason == "no exposures yet"
    assert result.chart_labels == []


def test_three_variants_are_compared_with_control_and_holm_corrected(site, alice):
    c = {"name": "C", "kind": "redirect", "weight": 1, "redirect_url": "/pricing-c"}
    test = launch(site, alice, treatments=(REDIRECT_B, c), goal_kind="page", goal_path="/thanks")
    for index, (variant, converted) in enumerate(zip(test.variants.all(), (10, 12, 30), strict=True)):
        _goal_visitors(test, variant, 100, converted, 1000 * index)
    result = splittest_results(test=test)
    assert [r.name for r in result.rows] == ["Control", "B", "C"]
    assert [(r.visitors, r.conversions) for r in result.rows] == [(100, 10), (100, 12), (100, 30)]
    assert "Holm's method over 2 comparisons" in result.correction_note

    # At the planned sample: the unpooled z-test of each treatment against control, Holm-adjusted by statsmodels.
    from scipy.stats import norm
    from statsmodels.stats.multitest import multipletests

    def z_test(p_t, p_c, n=100):
        se = ((p_t * (1 - p_t) + p_c * (1 - p_c)) / n) ** 0.5
        return 2 * norm.sf(abs(p_t - p_c) / se)

    SplitTest.objects.filter(pk=test.pk).update(planned_visitors_per_variant=100)
    test.refresh_from_db()
    fixed = splittest_results(test=test)
    expected = multipletests([z_test(0.12, 0.10), z_test(0.30, 0.10)], method="holm")[1]
    assert fixed.mode == "fixed-horizon"
    assert [r.p_value.value for r in fixed.treatments] == [pytest.approx(p, rel=1e-6) for p in expected]
    assert fixed.rows[2].uplift.value == pytest.approx(2.0)
    # C is significant (p ≈ 0.0004 after Holm) but B has only 12 conversions: no winner while B is under the minimum.
    assert expected[1] < 0.05
    assert any("B has 12 conversions" in reason for reason in fixed.declarable[variant_named(test, "C").pk])


def test_a_winner_needs_the_minimum_sample_in_every_variant_not_only_the_pair(site, alice):
    c = {"name": "C", "kind": "redirect", "weight": 1, "redirect_url": "/pricing-c"}
    test = launch(site, alice, treatments=(REDIRECT_B, c), goal_kind="page", goal_path="/thanks")
    control, b, c = test.variants.all()
    _goal_visitors(test, control, 400, 40, 1)
    _goal_visitors(test, b, 400, 120, 1001)
    _goal_visitors(test, c, 400, 20, 2001)  # C converts too little to have its 25 conversions
    result = splittest_results(test=test)
    b_row = result.rows[1]
    assert b_row.p_value.value < 0.001  # B is far better than control, even sequentially and after Holm
    assert result.declarable[b.pk] == ("C has 20 conversions; at least 25 are needed.",)
    at = (EXPOSED + timedelta(minutes=5)).timestamp()
    events_store([record(site, visitor=2001 + n, ts=at, path="/thanks") for n in range(20, 25)])  # now C has 25
    assert splittest_results(test=test).declarable[b.pk] == ()


def test_the_chart_is_the_cumulative_conversion_rate_per_day(site, alice):
    test = launch(site, alice, goal_kind="page", goal_path="/thanks")
    control, b = control_of(test), variant_named(test, "B")
    _goal_visitors(test, control, 2, 1, 1)  # day 1: 1 of 2
    _goal_visitors(test, b, 2, 0, 11)
    day2 = EXPOSED + timedelta(days=1)
    for visitor in (3, 4):
        expose(test, control, visitor, at=day2)
    events_store([record(site, visitor=12, ts=(day2 + timedelta(minutes=1)).timestamp(), path="/thanks")])
    result = splittest_results(test=test, now=day2 + timedelta(hours=1))
    assert result.chart_labels == ["10 Mar", "11 Mar"]
    assert result.chart_series == [("Control", [50.0, 25.0]), ("B", [0.0, 50.0])]


def test_a_test_left_with_only_its_control_shows_counts_and_says_why(running):
    variant_named(running, "B").delete()
    expose(running, control_of(running), 1)
    result = splittest_results(test=running)
    assert rows_of(result) == [("Control", 1, 0, "0.00")]
    assert result.warnings == ["The test needs exactly one control and at least one variant: nothing to compare."]


def test_the_page_of_a_broken_test_still_renders(login, alice, running):
    variant_named(running, "B").delete()
    control_of(running).delete()
    response = login(alice).get(f"/sites/example.com/split-tests/{running.pk}/")
    assert response.status_code == 200


def test_a_goal_path_with_regex_characters_matches_them_literally(site, alice):
    test = launch(site, alice, goal_kind="page", goal_path="/docs/*/[(+?\\1")
    _goal_visitors(test, control_of(test), 2, 1, 1, path="/docs/x/[(+?\\1")
    _goal_visitors(test, variant_named(test, "B"), 2, 1, 11, path="/docs/x/((+?\\1")  # not the goal
    assert rows_of(splittest_results(test=test)) == [("Control", 2, 1, "0.00"), ("B", 2, 0, "0.00")]


def test_a_visitor_shown_two_variants_counts_once_in_the_first_with_their_payment(site, alice):
    test = launch(site, alice, randomization=SplitTest.Randomization.SESSION)
    control, b = control_of(test), variant_named(test, "B")
    expose(test, control, 1)  # the first visit: control
    expose(test, b, 1, at=EXPOSED + timedelta(hours=2))  # a later visit, assigned afresh: B
    expose(test, b, 2)
    pay(site, 1, "40.00", at=EXPOSED + timedelta(hours=3))  # after both exposures
    result = splittest_results(test=test, now=EXPOSED + timedelta(hours=4))
    # Intention to treat: visitor 1 is the control's, with the payment; B is visitor 2 alone, unpaid.
    assert rows_of(result) == [("Control", 1, 1, "40.00"), ("B", 1, 0, "0.00")]
    assert result.crossover_visitors == 1
    assert any("saw more than one variant" in w and "saw first" in w for w in result.warnings)

"""The sample-size calculator and duration against statsmodels, and the rules for declaring a winner."""

import math

import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from splittests.stats import (
    Conversions,
    Declaration,
    SampleSizePlan,
    can_declare,
    duration_days,
    effect_size,
    plan_test,
    power_two_proportions,
    sample_size,
)


@pytest.mark.parametrize(
    ("baseline", "mde", "alpha", "power"),
    [
        (0.04, 0.10, 0.05, 0.8),
        (0.10, 0.05, 0.05, 0.9),
        (0.02, 0.20, 0.01, 0.8),
        (0.30, -0.10, 0.05, 0.8),
        (0.50, 0.50, 0.10, 0.95),
        (0.005, 1.0, 0.05, 0.8),
    ],
)
def test_the_sample_size_is_normalindpower_on_cohens_h_rounded_up(baseline, mde, alpha, power):
    target = baseline * (1 + mde)
    h = proportion_effectsize(target, baseline)
    assert effect_size(baseline, target) == pytest.approx(h, rel=1e-12)
    n = sample_size(baseline=baseline, mde=mde, alpha=alpha, power=power)
    analysis = NormalIndPower()
    assert n == math.ceil(analysis.solve_power(effect_size=h, alpha=alpha, power=power, ratio=1))
    # The smallest whole number of visitors that reaches the power.
    assert analysis.power(h, n, alpha, ratio=1) >= power > analysis.power(h, n - 1, alpha, ratio=1)
    assert power_two_proportions(h=h, visitors_per_variant=n, alpha=alpha) == pytest.approx(
        analysis.power(h, n, alpha, ratio=1), rel=1e-12
    )


def test_a_typical_plan_reads_as_expected():
    assert plan_test(baseline=0.04, mde=0.10, daily_visitors=1_000) == SampleSizePlan(
        baseline=0.04,
        target_rate=pytest.approx(0.044),
        variants=2,
        alpha=0.05,
        power=0.8,
        visitors_per_variant=39_455,
        total_visitors=78_910,
        days=79,  # 78,910 / 1,000 per day, rounded up
    )


def test_with_three_variants_each_comparison_is_planned_at_the_bonferroni_level():
    plan = plan_test(baseline=0.04, mde=0.10, variants=3, daily_visitors=2_500)
    assert plan.alpha == 0.025
    assert plan.visitors_per_variant == sample_size(baseline=0.04, mde=0.10, alpha=0.025)
    assert plan.total_visitors == 3 * plan.visitors_per_variant
    assert plan.days == math.ceil(3 * plan.visitors_per_variant / 2_500)
    uncorrected = plan_test(baseline=0.04, mde=0.10, variants=3, correct_for_variants=False)
    assert (uncorrected.alpha, uncorrected.visitors_per_variant, uncorrected.days) == (0.05, 39_455, None)


def test_the_duration_is_rounded_up_to_whole_days():
    assert duration_days(visitors_per_variant=1_000, variants=2, daily_visitors=500) == 4
    assert duration_days(visitors_per_variant=1_000, variants=2, daily_visitors=501) == 4
    assert duration_days(visitors_per_variant=1_000, variants=3, daily_visitors=2_999) == 2
    assert duration_days(visitors_per_variant=0, variants=2, daily_visitors=10) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"baseline": 0, "mde": 0.1}, "baseline must be a rate between 0 and 1"),
        ({"baseline": 1, "mde": 0.1}, "baseline must be a rate between 0 and 1"),
        ({"baseline": 0.05, "mde": 0}, "mde .* must not be 0"),
        ({"baseline": 0.6, "mde": 1.0}, r"baseline × \(1 \+ mde\) must be a rate between 0 and 1, got 1.2"),
        ({"baseline": 0.05, "mde": -1.0}, r"baseline × \(1 \+ mde\) must be a rate between 0 and 1, got 0"),
        ({"baseline": 0.05, "mde": 0.1, "alpha": 0}, "alpha must be between 0 and 1"),
        ({"baseline": 0.05, "mde": 0.1, "power": 1}, "power must be between alpha"),
        ({"baseline": "5%", "mde": 0.1}, "baseline must be a finite number"),
    ],
)
def test_the_calculator_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_size(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"visitors_per_variant": 100, "variants": 2, "daily_visitors": 0}, "daily_visitors must be positive"),
        (
            {"visitors_per_variant": -1, "variants": 2, "daily_visitors": 10},
            "visitors_per_variant must not be negative",
        ),
        ({"visitors_per_variant": 100, "variants": 1, "daily_visitors": 10}, "at least 2 variants"),
    ],
)
def test_the_duration_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        duration_days(**kwargs)


ENOUGH = {"Control": Conversions(4_000, 200), "B": Conversions(4_000, 260)}


def test_a_significant_sequential_test_allows_a_winner_before_the_planned_sample():
    assert can_declare(variants=ENOUGH, sequential_p_value=0.01, planned_visitors_per_variant=40_000) == Declaration(
        allowed=True, basis="sequential", reasons=()
    )


def test_reaching_the_planned_sample_allows_a_fixed_horizon_verdict():
    assert can_declare(
        variants=ENOUGH, sequential_p_value=0.2, p_value=0.03, planned_visitors_per_variant=4_000
    ) == Declaration(allowed=True, basis="fixed-horizon", reasons=())


def test_reaching_the_planned_sample_without_significance_names_no_winner():
    assert can_declare(
        variants=ENOUGH, sequential_p_value=0.6, p_value=0.31, planned_visitors_per_variant=4_000
    ) == Declaration(
        allowed=False,
        basis=None,
        reasons=("The planned sample is reached but the difference is not significant (p = 0.31).",),
    )


def test_a_running_test_that_is_not_significant_yet_says_what_is_missing():
    assert can_declare(
        variants=ENOUGH, sequential_p_value=0.08, p_value=0.01, planned_visitors_per_variant=10_000
    ) == Declaration(
        allowed=False,
        basis=None,
        reasons=(
            "Not significant yet (always-valid p = 0.08) and the planned 10,000 visitors per variant are not reached.",
        ),
    )
    assert can_declare(variants=ENOUGH, sequential_p_value=None).reasons == (
        "Not significant yet (always-valid p = undefined).",
    )


def test_too_few_visitors_or_conversions_block_even_a_significant_result():
    variants = [("Control", Conversions(90, 30)), ("B", Conversions(150, 12))]
    assert can_declare(variants=variants, sequential_p_value=0.001) == Declaration(
        allowed=False,
        basis=None,
        reasons=(
            "Control has 90 visitors; at least 100 are needed.",
            "B has 12 conversions; at least 25 are needed.",
        ),
    )
    assert can_declare(variants=variants, sequential_p_value=0.001, min_visitors=50, min_conversions=10).allowed


def test_a_sample_ratio_mismatch_blocks_a_winner():
    assert can_declare(variants=ENOUGH, sequential_p_value=0.001, sample_ratio_mismatch=True) == Declaration(
        allowed=False,
        basis=None,
        reasons=("Visitors are not split as configured (sample-ratio mismatch): the results are not reliable.",),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sequential_p_value": 1.5}, "sequential_p_value must be between 0 and 1"),
        ({"sequential_p_value": 0.01, "p_value": -0.1}, "p_value must be between 0 and 1"),
        (
            {"sequential_p_value": 0.01, "planned_visitors_per_variant": -5},
            "planned_visitors_per_variant must not be negative",
        ),
        ({"sequential_p_value": 0.01, "alpha": 2}, "alpha must be between 0 and 1"),
    ],
)
def test_can_declare_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        can_declare(variants=ENOUGH, **kwargs)


def test_can_declare_rejects_samples_that_are_not_conversions():
    with pytest.raises(ValueError, match="variant 'B' must be Conversions"):
        can_declare(variants={"A": Conversions(200, 30), "B": (200, 30)}, sequential_p_value=0.01)

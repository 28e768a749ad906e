"""Conversion rates: Wilson intervals, uplift, the z-test and the chance to beat control, against statsmodels/SciPy."""

import dataclasses

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as scipy_stats
from statsmodels.stats import proportion as sm_proportion

from splittests.stats import (
    Conversions,
    Estimate,
    chance_to_beat,
    compare_proportions,
    relative_uplift,
    wilson_interval,
)
from splittests.stats import proportions as proportions_module

CASES = [
    (1000, 100, 1000, 130),
    (5000, 210, 4800, 190),
    (120, 3, 130, 9),
    (40_000, 1_600, 40_400, 1_770),
    (10, 10, 10, 9),
]


@pytest.mark.parametrize(("n", "x"), [(1, 0), (1, 1), (10, 0), (10, 10), (37, 5), (1000, 42), (250_000, 7_123)])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_the_rate_interval_is_wilsons(n, x, alpha):
    low, high = sm_proportion.proportion_confint(x, n, alpha=alpha, method="wilson")
    assert wilson_interval(Conversions(n, x), alpha=alpha) == Estimate(
        value=pytest.approx(x / n), low=pytest.approx(low, abs=1e-14), high=pytest.approx(high, abs=1e-14)
    )


def test_a_variant_without_visitors_has_no_rate():
    assert wilson_interval(Conversions(0, 0), name="control") == Estimate.undefined("no visitors in control")


@pytest.mark.parametrize(("nc", "xc", "nt", "xt"), CASES)
def test_it_compares_two_rates_like_statsmodels(nc, xc, nt, xt):
    control, treatment = Conversions(nc, xc), Conversions(nt, xt)
    result = compare_proportions(control, treatment)

    diff_low, diff_high = sm_proportion.confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff")
    ratio_low, ratio_high = sm_proportion.confint_proportions_2indep(xt, nt, xc, nc, method="log", compare="ratio")
    z_test = sm_proportion.test_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff")
    assert result.difference == Estimate(
        value=pytest.approx(xt / nt - xc / nc, abs=1e-15),
        low=pytest.approx(diff_low, abs=1e-14),
        high=pytest.approx(diff_high, abs=1e-14),
    )
    assert result.uplift == Estimate(
        value=pytest.approx((xt / nt) / (xc / nc) - 1, rel=1e-12),
        low=pytest.approx(ratio_low - 1, abs=1e-12),
        high=pytest.approx(ratio_high - 1, abs=1e-12),
    )
    assert result.p_value == Estimate(value=pytest.approx(z_test.pvalue, rel=1e-9))
    assert result.control_rate == wilson_interval(control, name="control")
    assert result.treatment_rate == wilson_interval(treatment, name="treatment")
    assert result.chance_to_beat == chance_to_beat(control, treatment)
    assert result.alpha == 0.05


def test_significance_and_the_difference_interval_always_agree():
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(300):
        nc, nt = (int(v) for v in rng.integers(50, 5000, size=2))
        xc, xt = int(rng.binomial(nc, 0.08)), int(rng.binomial(nt, 0.09))
        result = compare_proportions(Conversions(nc, xc), Conversions(nt, xt))
        if result.p_value.defined:
            assert (result.p_value.value < 0.05) == (not result.difference.contains(0.0))
            checked += 1
    assert checked > 250  # the property was really exercised, not skipped as "undefined"


def test_a_whole_comparison_reads_as_expected():
    result = compare_proportions(Conversions(1000, 100), Conversions(1000, 130))

    def near(value):
        return pytest.approx(value, abs=1e-7)

    assert dataclasses.asdict(result) == {
        "control_rate": {"value": 0.1, "low": near(0.0829094), "high": near(0.1201520), "reason": None},
        "treatment_rate": {"value": 0.13, "low": near(0.1105638), "high": near(0.1522680), "reason": None},
        "difference": {"value": near(0.03), "low": near(0.0020679), "high": near(0.0579321), "reason": None},
        "uplift": {"value": near(0.3), "low": near(0.0169843), "high": near(0.6617759), "reason": None},
        "p_value": {"value": near(0.0352853), "low": None, "high": None, "reason": None},
        "chance_to_beat": {"value": near(0.9821651), "low": None, "high": None, "reason": None},
        "alpha": 0.05,
    }


def test_no_conversions_in_control_leaves_the_uplift_undefined():
    result = compare_proportions(Conversions(200, 0), Conversions(200, 4))
    assert result.uplift == Estimate.undefined("no conversions in control")
    assert result.difference.value == pytest.approx(0.02) and result.difference.has_interval
    assert result.p_value.defined
    assert result.chance_to_beat.value > 0.9


def test_no_conversions_in_treatment_gives_minus_100_percent_without_an_interval():
    assert relative_uplift(Conversions(200, 5), Conversions(200, 0)) == Estimate(
        value=-1.0, reason="no conversions in treatment: no interval"
    )


def test_no_conversions_anywhere_leaves_the_tests_undefined():
    result = compare_proportions(Conversions(150, 0), Conversions(160, 0))
    assert result.difference == Estimate(value=0.0, reason="no conversions in either variant: no interval")
    assert result.p_value == Estimate.undefined("no conversions in either variant")
    assert result.uplift == Estimate.undefined("no conversions in control")
    # The Beta(1, 1) posteriors still exist; with slightly more visitors in treatment its rate looks lower.
    assert result.chance_to_beat.value == pytest.approx(_reference_chance(1, 151, 1, 161), abs=1e-12)


def test_every_visitor_converting_in_both_leaves_the_tests_undefined():
    result = compare_proportions(Conversions(20, 20), Conversions(25, 25))
    assert result.p_value == Estimate.undefined("every visitor converted in both variants")
    assert result.uplift == Estimate(value=0.0, reason="every visitor converted in both variants: no interval")


def test_a_variant_without_visitors_leaves_everything_but_the_other_rate_undefined():
    result = compare_proportions(Conversions(0, 0), Conversions(3, 1))
    reason = Estimate.undefined("no visitors in control")
    assert (result.control_rate, result.difference, result.uplift, result.p_value, result.chance_to_beat) == (
        reason,
        reason,
        reason,
        reason,
        reason,
    )
    assert result.treatment_rate.value == pytest.approx(1 / 3)


def test_a_tiny_sample_gives_wide_but_defined_results():
    result = compare_proportions(Conversions(2, 1), Conversions(3, 2))
    assert result.uplift.value == pytest.approx(1 / 3)
    assert result.uplift.low < -0.5 and result.uplift.high > 3
    assert 0.2 < result.p_value.value < 1
    assert result.chance_to_beat.value == pytest.approx(_reference_chance(2, 2, 3, 2), abs=1e-12)


def _reference_chance(ac, bc, at, bt):
    """P(p_t > p_c) by adaptive quadrature of f_c(x)·(1 − F_t(x)) with SciPy's Beta functions."""
    control, treatment = scipy_stats.beta(ac, bc), scipy_stats.beta(at, bt)
    low = min(control.ppf(1e-15), treatment.ppf(1e-15))
    high = max(control.isf(1e-15), treatment.isf(1e-15))
    value, _ = integrate.quad(
        lambda x: control.pdf(x) * treatment.sf(x),
        low,
        high,
        points=[control.mean(), treatment.mean()],
        epsabs=1e-14,
        epsrel=1e-12,
        limit=500,
    )
    return value


@pytest.mark.parametrize(
    ("nc", "xc", "nt", "xt"),
    [
        (0, 0, 0, 0),
        (100, 10, 100, 15),
        (1000, 1, 1000, 0),
        (10_000, 500, 10_000, 560),
        (6, 1, 2_000, 1_970),
        (100_000, 30_000, 100_000, 30_400),
        (5, 5, 7, 0),
    ],
)
def test_the_chance_to_beat_matches_numerical_integration(nc, xc, nt, xt):
    if nc == 0:
        assert chance_to_beat(Conversions(0, 0), Conversions(0, 0)) == Estimate.undefined("no visitors in control")
        return
    expected = _reference_chance(1 + xc, 1 + nc - xc, 1 + xt, 1 + nt - xt)
    assert chance_to_beat(Conversions(nc, xc), Conversions(nt, xt)).value == pytest.approx(expected, abs=1e-10)


def test_the_chance_to_beat_matches_a_large_seeded_monte_carlo():
    rng = np.random.default_rng(2017)
    draws = 2_000_000
    control, treatment = Conversions(4_000, 180), Conversions(4_100, 205)
    p_c = rng.beta(1 + 180, 1 + 4_000 - 180, draws)
    p_t = rng.beta(1 + 205, 1 + 4_100 - 205, draws)
    assert chance_to_beat(control, treatment).value == pytest.approx(np.mean(p_t > p_c), abs=0.002)


def test_the_chance_to_beat_is_symmetric_and_a_half_for_identical_data():
    a, b = Conversions(900, 40), Conversions(1100, 61)
    assert chance_to_beat(a, b).value + chance_to_beat(b, a).value == pytest.approx(1.0, abs=1e-12)
    assert chance_to_beat(a, a).value == pytest.approx(0.5, abs=1e-12)


def test_huge_counts_use_the_normal_approximation_within_a_tiny_error(monkeypatch):
    control, treatment = Conversions(1_000_000, 200_000), Conversions(1_000_000, 201_000)
    assert min(200_001, 201_001) > proportions_module.EXACT_TERMS_LIMIT
    approximate = chance_to_beat(control, treatment).value
    monkeypatch.setattr(proportions_module, "EXACT_TERMS_LIMIT", 10**9)
    exact = chance_to_beat(control, treatment).value
    assert exact == pytest.approx(_reference_chance(200_001, 800_001, 201_001, 799_001), abs=1e-9)
    assert approximate == pytest.approx(exact, abs=1e-6)


def test_the_uplift_interval_covers_the_true_uplift_about_95_percent_of_the_time():
    rng = np.random.default_rng(11)
    n, p_c, p_t = 3_000, 0.05, 0.06
    covered = 0
    for xc, xt in zip(rng.binomial(n, p_c, 1_000), rng.binomial(n, p_t, 1_000), strict=True):
        covered += relative_uplift(Conversions(n, int(xc)), Conversions(n, int(xt))).contains(p_t / p_c - 1)
    assert 0.93 <= covered / 1_000 <= 0.97

"""Revenue per visitor (mostly zeros): Welch's t-test and the uplift of means, against SciPy."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from splittests.stats import Estimate, MeanSample, compare_means, mean_interval, relative_uplift_of_means


def _revenue(rng, visitors, paying_rate, median_payment):
    """Skewed revenue per visitor: most visitors pay nothing, payers are log-normal with a long tail."""
    amounts = np.zeros(visitors)
    paying = rng.random(visitors) < paying_rate
    amounts[paying] = np.round(rng.lognormal(math.log(median_payment), 1.2, paying.sum()), 2)
    return amounts


def _sql_sums(amounts):
    # What a GROUP BY variant would return: COUNT(*), SUM(amount), SUM(amount * amount).
    return MeanSample(visitors=len(amounts), total=float(amounts.sum()), total_squares=float((amounts**2).sum()))


@pytest.mark.parametrize(
    ("seed", "n_control", "n_treatment", "rate_control", "rate_treatment"),
    [
        (1, 2_000, 2_000, 0.03, 0.035),
        (2, 500, 800, 0.05, 0.05),
        (3, 20_000, 19_500, 0.02, 0.024),
        (4, 60, 45, 0.2, 0.1),
    ],
)
def test_it_matches_welchs_t_test_on_skewed_revenue(seed, n_control, n_treatment, rate_control, rate_treatment):
    rng = np.random.default_rng(seed)
    control_amounts = _revenue(rng, n_control, rate_control, 40.0)
    treatment_amounts = _revenue(rng, n_treatment, rate_treatment, 40.0)
    control, treatment = _sql_sums(control_amounts), _sql_sums(treatment_amounts)

    result = compare_means(control, treatment)

    reference = scipy_stats.ttest_ind(treatment_amounts, control_amounts, equal_var=False)
    interval = reference.confidence_interval(0.95)
    assert result.p_value == Estimate(value=pytest.approx(reference.pvalue, rel=1e-8))
    assert result.t == pytest.approx(reference.statistic, rel=1e-9)
    assert result.df == pytest.approx(reference.df, rel=1e-9)
    assert result.difference == Estimate(
        value=pytest.approx(treatment_amounts.mean() - control_amounts.mean(), rel=1e-9, abs=1e-12),
        low=pytest.approx(interval.low, rel=1e-8),
        high=pytest.approx(interval.high, rel=1e-8),
    )
    # Uplift: the delta method on log(mean_t / mean_c), computed independently with NumPy.
    m_t, m_c = treatment_amounts.mean(), control_amounts.mean()
    se_log = math.sqrt(
        treatment_amounts.var(ddof=1) / (n_treatment * m_t**2) + control_amounts.var(ddof=1) / (n_control * m_c**2)
    )
    z = scipy_stats.norm.ppf(0.975)
    assert result.uplift == Estimate(
        value=pytest.approx(m_t / m_c - 1, rel=1e-9),
        low=pytest.approx(math.exp(math.log(m_t / m_c) - z * se_log) - 1, rel=1e-9),
        high=pytest.approx(math.exp(math.log(m_t / m_c) + z * se_log) - 1, rel=1e-9),
    )
    control_ci = scipy_stats.t.interval(0.95, n_control - 1, loc=m_c, scale=scipy_stats.sem(control_amounts))
    assert result.control_mean == Estimate(
        value=pytest.approx(m_c),
        low=pytest.approx(control_ci[0], rel=1e-9),
        high=pytest.approx(control_ci[1], rel=1e-9),
    )
    assert result.treatment_mean == mean_interval(treatment, name="treatment")


def test_it_matches_scipy_from_summary_statistics():
    control = MeanSample(visitors=1_000, total=1_840.0, total_squares=412_000.0)
    treatment = MeanSample(visitors=1_100, total=2_420.0, total_squares=560_000.0)
    result = compare_means(control, treatment, alpha=0.1)
    reference = scipy_stats.ttest_ind_from_stats(
        treatment.mean,
        math.sqrt(treatment.variance),
        1_100,
        control.mean,
        math.sqrt(control.variance),
        1_000,
        equal_var=False,
    )
    assert result.p_value.value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.t == pytest.approx(reference.statistic, rel=1e-12)
    half = scipy_stats.t.ppf(0.95, result.df) * math.sqrt(treatment.variance / 1_100 + control.variance / 1_000)
    assert result.difference.high - result.difference.low == pytest.approx(2 * half, rel=1e-10)
    assert result.alpha == 0.1


def test_the_uplift_of_means_covers_the_truth_about_95_percent_of_the_time():
    rng = np.random.default_rng(5)
    n, paying, mu, sigma = 4_000, 0.05, math.log(30.0), 1.0
    true_mean = paying * math.exp(mu + sigma**2 / 2)  # the same in both variants: true uplift 0
    covered = 0
    for _ in range(400):
        samples = []
        for _variant in range(2):
            amounts = np.where(rng.random(n) < paying, rng.lognormal(mu, sigma, n), 0.0)
            samples.append(_sql_sums(amounts))
        covered += relative_uplift_of_means(*samples).contains(0.0)
    assert true_mean > 0
    assert 0.92 <= covered / 400 <= 0.98


def test_no_revenue_in_control_leaves_the_uplift_undefined_but_not_the_t_test():
    control = MeanSample.from_values([0.0] * 300)
    treatment = MeanSample.from_values([0.0] * 297 + [10.0, 25.0, 40.0])
    result = compare_means(control, treatment)
    assert result.uplift == Estimate.undefined("no revenue in control")
    reference = scipy_stats.ttest_ind([0.0] * 297 + [10.0, 25.0, 40.0], [0.0] * 300, equal_var=False)
    assert result.p_value.value == pytest.approx(reference.pvalue, rel=1e-9)


def test_no_revenue_in_treatment_gives_minus_100_percent_without_an_interval():
    control = MeanSample.from_values([0.0] * 98 + [10.0, 30.0])
    treatment = MeanSample.from_values([0.0] * 100)
    assert compare_means(control, treatment).uplift == Estimate(
        value=-1.0, reason="no revenue in treatment: no interval"
    )


def test_no_revenue_anywhere_leaves_every_test_undefined():
    result = compare_means(MeanSample.from_values([0.0] * 50), MeanSample.from_values([0.0] * 60))
    assert result.p_value == Estimate.undefined("no variation in either variant")
    assert result.difference == Estimate(value=0.0, reason="no variation in either variant: no interval")
    assert result.uplift == Estimate.undefined("no revenue in control")
    assert (result.t, result.df) == (None, None)


def test_a_single_visitor_is_too_few_for_a_variance():
    result = compare_means(MeanSample.from_values([12.0]), MeanSample.from_values([0.0, 5.0, 0.0]))
    assert result.p_value == Estimate.undefined("fewer than 2 visitors in control")
    assert result.control_mean == Estimate(value=12.0, reason="fewer than 2 visitors in control: no interval")
    assert result.uplift == Estimate(
        value=pytest.approx(5 / 3 / 12 - 1), reason="fewer than 2 visitors in control: no interval"
    )


def test_no_visitors_leaves_the_means_undefined():
    result = compare_means(MeanSample(0, 0, 0), MeanSample.from_values([1.0, 2.0]))
    assert result.control_mean == Estimate.undefined("no visitors in control")
    assert result.difference == Estimate.undefined("no visitors in control")
    assert result.uplift == Estimate.undefined("no visitors in control")


def test_net_refunds_make_a_negative_mean_and_no_uplift():
    control = MeanSample.from_values([0.0, -20.0, 5.0])
    treatment = MeanSample.from_values([0.0, 10.0, 5.0])
    assert compare_means(control, treatment).uplift == Estimate.undefined("the mean in control is negative")

"""Always-valid results (mSPRT): the formula against numerical integration, the intervals against the fixed-horizon
ones, and A/A tests peeked at every 100 visitors."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as scipy_stats

from splittests.stats import (
    DEFAULT_EXPECTED_VISITORS,
    Conversions,
    Estimate,
    MeanSample,
    compare_means,
    compare_proportions,
    mixing_rho2,
    sequential_means,
    sequential_proportions,
)
from splittests.stats.proportions import difference_variance


def _mixture_likelihood_ratio(estimate, variance, tau2, theta0=0.0):
    """Λ(θ0) = ∫ N(θ̂; θ, V) N(θ; θ0, τ²) dθ / N(θ̂; θ0, V), by quadrature (not the closed form under test)."""
    sd = math.sqrt(variance)
    numerator, _ = integrate.quad(
        lambda theta: scipy_stats.norm.pdf(estimate, theta, sd) * scipy_stats.norm.pdf(theta, theta0, math.sqrt(tau2)),
        estimate - 40 * sd,
        estimate + 40 * sd,
        points=[estimate, theta0],
        epsabs=0,
        epsrel=1e-12,
        limit=400,
    )
    return numerator / scipy_stats.norm.pdf(estimate, theta0, sd)


@pytest.mark.parametrize(
    ("nc", "xc", "nt", "xt", "expected_visitors"),
    [
        (1000, 100, 1000, 130, 5000),
        (4000, 200, 4100, 260, 5000),
        (20_000, 1000, 20_000, 1030, 100_000),
        (300, 30, 310, 52, 2_000),
    ],
)
def test_the_always_valid_p_value_is_one_over_the_mixture_likelihood_ratio(nc, xc, nt, xt, expected_visitors):
    control, treatment = Conversions(nc, xc), Conversions(nt, xt)
    result = sequential_proportions(control, treatment, expected_visitors=expected_visitors)
    estimate, variance = xt / nt - xc / nc, difference_variance(control, treatment)
    tau2 = mixing_rho2(alpha=0.05, expected_visitors=expected_visitors) * variance * (nc + nt)
    assert result.mixture_variance == pytest.approx(tau2, rel=1e-12)
    assert result.p_value.value == pytest.approx(
        min(1.0, 1 / _mixture_likelihood_ratio(estimate, variance, tau2)), rel=1e-8
    )
    # The interval's ends are where Λ(θ0) reaches 1/α.
    for end in (result.difference.low, result.difference.high):
        assert _mixture_likelihood_ratio(estimate, variance, tau2, theta0=end) == pytest.approx(20.0, rel=1e-8)


def test_the_mixing_parameter_follows_waudby_smith():
    minus_2_log_alpha = -2 * math.log(0.05)
    assert mixing_rho2(alpha=0.05, expected_visitors=5000) == pytest.approx(
        (minus_2_log_alpha + math.log(minus_2_log_alpha + 1)) / 5000
    )
    assert DEFAULT_EXPECTED_VISITORS == 5000


def test_the_interval_is_tightest_near_the_expected_visitors():
    control, treatment = Conversions(5000, 500), Conversions(5000, 540)

    def width(expected_visitors):
        difference = sequential_proportions(control, treatment, expected_visitors=expected_visitors).difference
        return difference.high - difference.low

    assert width(10_000) < width(5_000) and width(10_000) < width(20_000)


def test_the_always_valid_intervals_always_contain_the_fixed_horizon_ones():
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(400):
        nc, nt = (int(v) for v in rng.integers(20, 50_000, size=2))
        xc, xt = int(rng.binomial(nc, 0.04)), int(rng.binomial(nt, 0.045))
        expected = float(rng.choice([1_000, 5_000, 50_000, 1_000_000]))
        alpha = float(rng.choice([0.01, 0.05, 0.1, 0.2]))
        fixed = compare_proportions(Conversions(nc, xc), Conversions(nt, xt), alpha=alpha)
        sequential = sequential_proportions(
            Conversions(nc, xc), Conversions(nt, xt), alpha=alpha, expected_visitors=expected
        )
        for wide, narrow in ((sequential.difference, fixed.difference), (sequential.uplift, fixed.uplift)):
            if narrow.has_interval:
                assert wide.low <= narrow.low <= narrow.high <= wide.high
                checked += 1
        if fixed.p_value.defined:
            assert sequential.p_value.value >= fixed.p_value.value
    assert checked > 600  # both intervals of most of the 400 cases were compared


def test_the_always_valid_mean_intervals_contain_welchs_even_with_a_handful_of_visitors():
    rng = np.random.default_rng(4)
    checked = 0
    for visitors in (3, 5, 8, 30, 300, 3_000):
        for _ in range(20):
            control = MeanSample.from_values(rng.exponential(10.0, visitors) * (rng.random(visitors) < 0.5))
            treatment = MeanSample.from_values(rng.exponential(12.0, visitors) * (rng.random(visitors) < 0.5))
            fixed, sequential = compare_means(control, treatment), sequential_means(control, treatment)
            for wide, narrow in ((sequential.difference, fixed.difference), (sequential.uplift, fixed.uplift)):
                if narrow.has_interval:
                    assert wide.low <= narrow.low <= narrow.high <= wide.high
                    checked += 1
            if fixed.p_value.defined:
                assert sequential.p_value.value >= fixed.p_value.value
    assert checked > 150


def test_with_a_huge_sample_the_always_valid_interval_closes_in_on_the_fixed_one():
    gaps = []
    for visitors in (10**4, 10**6, 10**8):
        control = Conversions(visitors, visitors // 10)
        treatment = Conversions(visitors, visitors // 10 + int(math.sqrt(visitors)))
        fixed = compare_proportions(control, treatment).difference
        sequential = sequential_proportions(control, treatment).difference
        gaps.append(max(fixed.low - sequential.low, sequential.high - fixed.high))
    assert gaps[0] > gaps[1] > gaps[2] > 0
    assert gaps[2] < 2e-4  # two hundredths of a percentage point on a 10 % rate
    assert gaps[0] / gaps[2] > 40


def test_it_says_why_a_sequential_result_is_undefined():
    nothing = sequential_proportions(Conversions(0, 0), Conversions(10, 1))
    assert (nothing.difference, nothing.uplift, nothing.p_value) == (
        Estimate.undefined("no visitors in control"),
        Estimate.undefined("no visitors in control"),
        Estimate.undefined("no visitors in control"),
    )
    assert nothing.mixture_variance is None
    no_conversions = sequential_proportions(Conversions(500, 0), Conversions(500, 0))
    assert no_conversions.p_value == Estimate.undefined("no conversions in either variant")
    assert no_conversions.difference == Estimate(value=0.0, reason="no conversions in either variant: no interval")
    assert no_conversions.uplift == Estimate.undefined("no conversions in control")
    no_treatment_conversions = sequential_proportions(Conversions(500, 5), Conversions(500, 0))
    assert no_treatment_conversions.uplift == Estimate(value=-1.0, reason="no conversions in treatment: no interval")
    assert no_treatment_conversions.p_value.defined
    flat = sequential_means(MeanSample.from_values([0.0] * 40), MeanSample.from_values([0.0] * 40))
    assert flat.p_value == Estimate.undefined("no variation in either variant")
    assert flat.uplift == Estimate.undefined("no revenue in control")


def _first_rejection(p_values):
    return any(p is not None and p < 0.05 for p in p_values)


def test_peeking_every_100_visitors_at_aa_tests_inflates_naive_p_values_but_not_sequential_ones():
    rng = np.random.default_rng(2024)
    tests, per_variant, peek_every, rate = 500, 2_500, 50, 0.10  # a peek each time 100 more visitors have entered
    naive = sequential = 0
    for _ in range(tests):
        control_conversions = np.cumsum(rng.random(per_variant) < rate)
        treatment_conversions = np.cumsum(rng.random(per_variant) < rate)
        naive_hit = sequential_hit = False
        for n in range(peek_every, per_variant + 1, peek_every):
            control = Conversions(n, int(control_conversions[n - 1]))
            treatment = Conversions(n, int(treatment_conversions[n - 1]))
            naive_hit = naive_hit or _first_rejection([compare_proportions(control, treatment).p_value.value])
            sequential_hit = sequential_hit or _first_rejection(
                [sequential_proportions(control, treatment, expected_visitors=2 * per_variant).p_value.value]
            )
            if naive_hit and sequential_hit:
                break
        naive += naive_hit
        sequential += sequential_hit
    assert naive / tests > 0.2  # 50 looks at a 5 % test
    assert sequential / tests <= 0.05


def test_peeking_at_aa_revenue_tests_keeps_the_sequential_false_positive_rate_down():
    rng = np.random.default_rng(99)
    tests, per_variant, peek_every = 150, 2_500, 50
    naive = sequential = 0
    for _ in range(tests):
        sums = []
        for _variant in range(2):
            amounts = np.where(rng.random(per_variant) < 0.05, rng.lognormal(math.log(40.0), 1.2, per_variant), 0.0)
            sums.append((np.cumsum(amounts), np.cumsum(amounts**2)))
        naive_hit = sequential_hit = False
        for n in range(peek_every, per_variant + 1, peek_every):
            control, treatment = (MeanSample(n, float(s[n - 1]), float(sq[n - 1])) for s, sq in sums)
            naive_hit = naive_hit or _first_rejection([compare_means(control, treatment).p_value.value])
            sequential_hit = sequential_hit or _first_rejection(
                [sequential_means(control, treatment, expected_visitors=2 * per_variant).p_value.value]
            )
            if naive_hit and sequential_hit:
                break
        naive += naive_hit
        sequential += sequential_hit
    assert naive / tests > 0.15
    assert sequential / tests <= 0.05

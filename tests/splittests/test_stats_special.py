"""The pure-Python distribution functions behind the p-values, against SciPy."""

import pytest
from scipy import special
from scipy import stats as scipy_stats

from splittests.stats import _special


@pytest.mark.parametrize("df", [1, 1.5, 2, 3, 5.7, 10, 30, 117.3, 1_000, 10_000, 100_000, 1_000_000])
@pytest.mark.parametrize("t", [0.0, 0.01, 0.5, 1.0, 1.96, 2.5, 4.0, 8.0, 20.0, 100.0])
def test_the_t_distribution_matches_scipy(df, t):
    expected = 2 * scipy_stats.t.sf(t, df)
    assert _special.student_t_two_sided_p(t, df) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert _special.student_t_two_sided_p(-t, df) == pytest.approx(expected, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("df", [1, 2, 3, 7, 30, 117.3, 999, 1_000, 2_000, 1e6, 1e7])
@pytest.mark.parametrize("q", [0.9, 0.975, 0.995, 0.9995])
def test_the_t_quantile_matches_scipy(df, q):
    assert _special.student_t_quantile(q, df) == pytest.approx(scipy_stats.t.ppf(q, df), rel=1e-11)


@pytest.mark.parametrize("df", [1, 2, 3, 4, 9, 20, 100])
@pytest.mark.parametrize("x", [0.0, 0.001, 0.5, 1.0, 3.0, 10.0, 30.0, 100.0, 500.0])
def test_the_chi_square_tail_matches_scipy(df, x):
    assert _special.chi2_sf(x, df) == pytest.approx(scipy_stats.chi2.sf(x, df), rel=1e-11, abs=1e-300)


@pytest.mark.parametrize(
    ("a", "b", "x"),
    [(0.5, 0.5, 0.3), (2, 3, 0.9), (100, 200, 0.33), (5e5, 0.5, 0.999999), (3, 1e6, 2e-6), (1, 1, 0.25)],
)
def test_the_incomplete_beta_matches_scipy(a, b, x):
    assert _special.betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-11)


@pytest.mark.parametrize(("a", "b"), [(0.5, 0.5), (3, 7), (8, 0.5), (31, 0.5), (5e6, 0.5), (1e5, 1e6), (2.5, 40.0)])
def test_the_log_beta_matches_scipy(a, b):
    assert _special.log_beta(a, b) == pytest.approx(special.betaln(a, b), rel=1e-13, abs=1e-13)


def test_the_normal_tail_keeps_its_precision_far_out():
    assert _special.normal_two_sided_p(10.0) == pytest.approx(2 * scipy_stats.norm.sf(10.0), rel=1e-12)
    assert _special.normal_cdf(-30.0) == pytest.approx(scipy_stats.norm.cdf(-30.0), rel=1e-12)

"""splittests.stats: the public API, its inputs, and what it refuses."""

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import splittests.stats as stats
from splittests.stats import (
    Conversions,
    Estimate,
    MeanSample,
    can_declare,
    compare_means,
    compare_proportions,
    compare_variants,
    plan_test,
    sample_ratio_mismatch,
    sample_size,
    sequential_proportions,
    wilson_interval,
)

ROOT = Path(__file__).resolve().parents[2]


def test_it_imports_without_django_numpy_or_scipy():
    code = (
        "import sys, splittests.stats; "
        "loaded = sorted(m for m in ('django', 'numpy', 'scipy', 'statsmodels') if m in sys.modules); "
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_it_exports_every_public_name():
    assert sorted(stats.__all__) == sorted(set(stats.__all__))
    for name in stats.__all__:
        assert hasattr(stats, name), name


def test_an_estimate_says_whether_it_is_defined():
    assert Estimate.undefined("no conversions in control") == Estimate(
        value=None, low=None, high=None, reason="no conversions in control"
    )
    assert not Estimate.undefined("x").defined
    interval = Estimate(value=0.1, low=0.05, high=0.2)
    assert interval.defined and interval.has_interval
    assert interval.contains(0.05) and not interval.contains(0.3)
    assert not Estimate(value=-1.0, reason="no interval").has_interval


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Conversions(visitors=-1, conversions=0), "visitors must not be negative, got -1"),
        (lambda: Conversions(visitors=10, conversions=-2), "conversions must not be negative, got -2"),
        (lambda: Conversions(visitors=10, conversions=11), r"conversions \(11\) cannot exceed visitors \(10\)"),
        (lambda: Conversions(visitors=10.5, conversions=1), "visitors must be a whole number, got 10.5"),
        (lambda: Conversions(visitors=True, conversions=0), "visitors must be a whole number, got True"),
        (lambda: Conversions(visitors="10", conversions=0), "visitors must be a whole number, got '10'"),
        (lambda: MeanSample(visitors=-3, total=0, total_squares=0), "visitors must not be negative"),
        (lambda: MeanSample(visitors=3, total=1.0, total_squares=-1.0), "total_squares must not be negative"),
        (lambda: MeanSample(visitors=3, total=float("nan"), total_squares=1.0), "total must be a finite number"),
        (lambda: MeanSample(visitors=3, total=1.0, total_squares=float("inf")), "total_squares must be a finite"),
        (lambda: MeanSample(visitors=0, total=5.0, total_squares=25.0), "must be 0 when there are no visitors"),
        # sum 30 over 3 visitors needs sum of squares >= 300
        (lambda: MeanSample(visitors=3, total=30.0, total_squares=299.0), "total_squares .* is too small"),
    ],
)
def test_it_rejects_bad_samples(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_a_sample_from_values_equals_sums_aggregated_in_sql():
    amounts = [0.0, 0.0, 19.99, 0.0, 5.0, 120.0]
    assert MeanSample.from_values(amounts) == MeanSample(
        visitors=6, total=144.99, total_squares=19.99**2 + 25.0 + 14400.0
    )
    sample = MeanSample.from_values(amounts)
    assert sample.mean == pytest.approx(144.99 / 6)
    assert sample.variance == pytest.approx(sum((a - 144.99 / 6) ** 2 for a in amounts) / 5, rel=1e-12)
    assert MeanSample(visitors=1, total=3.0, total_squares=9.0).variance is None
    assert MeanSample(visitors=0, total=0, total_squares=0).mean is None


def test_it_takes_decimal_sums_from_sql_and_numpy_counts_as_plain_numbers():
    sample = MeanSample(visitors=np.int64(4), total=Decimal("30.00"), total_squares=Decimal("500.00"))
    assert sample == MeanSample(visitors=4, total=30.0, total_squares=500.0)
    assert type(sample.visitors) is int and type(sample.total) is float
    conversions = Conversions(visitors=np.int64(10), conversions=np.int32(3))
    assert conversions == Conversions(10, 3) and type(conversions.visitors) is int
    with pytest.raises(ValueError, match="total must be a finite number, got Decimal\\('NaN'\\)"):
        MeanSample(visitors=2, total=Decimal("NaN"), total_squares=1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: compare_proportions(Conversions(10, 1), Conversions(10, 2), alpha=0), "alpha must be between 0 and 1"),
        (lambda: compare_proportions(Conversions(10, 1), Conversions(10, 2), alpha=1.5), "alpha must be between 0"),
        (lambda: compare_proportions((10, 1), Conversions(10, 2)), "control must be Conversions"),
        (
            lambda: compare_means(MeanSample(2, 0, 0), Conversions(10, 2)),
            "treatment must be MeanSample",
        ),
        (lambda: wilson_interval(Conversions(10, 1), alpha=float("nan")), "alpha must be a finite number"),
        (
            lambda: sequential_proportions(Conversions(10, 1), Conversions(10, 1), expected_visitors=0),
            "expected_visitors must be positive",
        ),
        (lambda: sample_ratio_mismatch([10, 10], [0, 0]), "weights must sum to more than 0"),
        (lambda: sample_ratio_mismatch([10, -1], [1, 1]), "exposures must not be negative"),
        (lambda: sample_size(baseline=0.05, mde=0.1, power=0.01), r"power must be between alpha \(0.05\) and 1"),
        (lambda: plan_test(baseline=0.05, mde=0.1, variants=1), "at least 2 variants"),
        (
            lambda: compare_variants(Conversions(10, 1), {"B": MeanSample(2, 0, 0)}),
            "treatment 'B' must be Conversions like control",
        ),
        (
            lambda: can_declare(variants={"A": Conversions(10, 1)}, sequential_p_value=0.01),
            "at least two variants",
        ),
        (
            lambda: compare_variants(Conversions(10, 1), [Conversions(10, 2)]),
            "treatments must be a mapping of names to samples or \\(name, sample\\) pairs",
        ),
        (
            lambda: can_declare(variants=[Conversions(10, 1), Conversions(10, 2)], sequential_p_value=0.01),
            "variants must be a mapping of names to samples",
        ),
    ],
)
def test_it_rejects_bad_arguments_with_a_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()

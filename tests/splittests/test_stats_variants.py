"""Three or more variants (Holm), and the sample-ratio mismatch check, against statsmodels/SciPy."""

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from splittests.stats import (
    Conversions,
    Estimate,
    MeanSample,
    bonferroni,
    compare_means,
    compare_proportions,
    compare_variants,
    holm,
    sample_ratio_mismatch,
    sequential_means,
    sequential_proportions,
)


@pytest.mark.parametrize("seed", range(5))
def test_holm_and_bonferroni_match_statsmodels(seed):
    p_values = list(np.random.default_rng(seed).uniform(0, 0.2, size=int(2 + seed)))
    assert holm(p_values) == pytest.approx(list(multipletests(p_values, method="holm")[1]), abs=1e-15)
    assert bonferroni(p_values) == pytest.approx(list(multipletests(p_values, method="bonferroni")[1]), abs=1e-15)


def test_an_undefined_p_value_still_counts_as_a_hypothesis():
    assert holm([0.01, None, 0.04]) == pytest.approx([0.03, None, 0.08])
    assert bonferroni([0.01, None]) == [0.02, None]


def test_it_rejects_p_values_outside_0_and_1():
    with pytest.raises(ValueError, match="p-values must be numbers between 0 and 1"):
        holm([0.2, 1.5])


def test_three_treatments_are_each_compared_with_control_and_holm_corrected():
    control = Conversions(4000, 200)
    treatments = {"B": Conversions(4000, 250), "C": Conversions(4100, 205), "D": Conversions(3900, 262)}
    report = compare_variants(control, treatments, control_name="A", expected_visitors=16_000)

    assert (report.control, report.correction, report.alpha) == ("A", "holm", 0.05)
    assert report.note == (
        "P-values are adjusted with Holm's method over 3 comparisons with control, so the chance that any treatment "
        "is wrongly declared different stays below 5%; intervals are not adjusted."
    )
    assert [r.name for r in report.results] == ["B", "C", "D"]
    raw = [compare_proportions(control, t).p_value.value for t in treatments.values()]
    raw_sequential = [
        sequential_proportions(control, t, expected_visitors=16_000).p_value.value for t in treatments.values()
    ]
    for result, treatment, adjusted, adjusted_sequential in zip(
        report.results,
        treatments.values(),
        multipletests(raw, method="holm")[1],
        multipletests(raw_sequential, method="holm")[1],
        strict=True,
    ):
        assert result.fixed == compare_proportions(control, treatment)
        assert result.sequential == sequential_proportions(control, treatment, expected_visitors=16_000)
        assert result.p_value == Estimate(value=pytest.approx(adjusted, abs=1e-15))
        assert result.sequential_p_value == Estimate(value=pytest.approx(adjusted_sequential, abs=1e-15))
    # B and D are clear winners even after the correction; C is not.
    assert [r.p_value.value < 0.05 for r in report.results] == [True, False, True]


def test_revenue_variants_use_welch_and_bonferroni_on_request():
    rng = np.random.default_rng(8)
    samples = [MeanSample.from_values(rng.exponential(20.0, 500) * (rng.random(500) < 0.1)) for _ in range(3)]
    report = compare_variants(samples[0], [("B", samples[1]), ("C", samples[2])], correction="bonferroni")
    assert report.correction == "bonferroni"
    assert "Bonferroni's method over 2 comparisons" in report.note
    for result, sample in zip(report.results, samples[1:], strict=True):
        assert result.fixed == compare_means(samples[0], sample)
        assert result.sequential == sequential_means(samples[0], sample)
        assert result.p_value.value == pytest.approx(min(1.0, 2 * result.fixed.p_value.value))


def test_a_single_treatment_needs_no_correction():
    report = compare_variants(Conversions(100, 10), {"B": Conversions(100, 12)})
    assert report.correction == "none"
    assert report.note == "One comparison with control: no multiple-comparison correction is needed."
    assert report.results[0].p_value == report.results[0].fixed.p_value


def test_without_a_correction_the_note_warns():
    report = compare_variants(
        Conversions(100, 10), {"B": Conversions(100, 12), "C": Conversions(100, 9)}, correction="none"
    )
    assert report.correction == "none"
    assert report.note.startswith("No multiple-comparison correction: with 2 comparisons the chance")


def test_an_undefined_comparison_keeps_its_reason_and_counts_in_the_family():
    report = compare_variants(Conversions(300, 0), {"B": Conversions(300, 0), "C": Conversions(300, 9)})
    assert report.results[0].p_value == Estimate.undefined("no conversions in either variant")
    raw_c = report.results[1].fixed.p_value.value
    assert report.results[1].p_value.value == pytest.approx(min(1.0, 2 * raw_c))


@pytest.mark.parametrize(
    ("treatments", "kwargs", "message"),
    [
        ({}, {}, "at least one treatment is needed"),
        ({"Control": Conversions(10, 1)}, {}, "variant names must be distinct"),
        ({"B": Conversions(10, 1)}, {"correction": "sidak"}, "correction must be one of holm, bonferroni, none"),
    ],
)
def test_it_rejects_bad_variant_sets(treatments, kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare_variants(Conversions(10, 1), treatments, **kwargs)


@pytest.mark.parametrize(
    ("exposures", "weights"),
    [
        ([5000, 5300], [50, 50]),
        ([5000, 5500], [1, 1]),
        ([10_000, 5_100, 4_700], [0.5, 0.25, 0.25]),
        ([2, 0], [1, 1]),
        ([812, 790, 815, 801], [1, 1, 1, 1]),
        ([7000, 3100], [70, 30]),
    ],
)
def test_the_sample_ratio_check_matches_scipy_chisquare(exposures, weights):
    expected = [sum(exposures) * w / sum(weights) for w in weights]
    reference = scipy_stats.chisquare(exposures, f_exp=expected)
    check = sample_ratio_mismatch(exposures, weights)
    assert check.chi2 == pytest.approx(reference.statistic, rel=1e-12)
    assert check.p_value == Estimate(value=pytest.approx(reference.pvalue, rel=1e-10, abs=1e-300))
    assert check.expected == pytest.approx(tuple(expected))
    assert check.mismatch == (reference.pvalue < 0.001)
    assert check.threshold == 0.001


def test_it_flags_a_mismatch_only_below_one_in_a_thousand():
    assert not sample_ratio_mismatch([5000, 5300], [1, 1]).mismatch  # p ≈ 0.003: suspicious, not flagged
    assert sample_ratio_mismatch([5000, 5500], [1, 1]).mismatch  # p ≈ 1e-6


def test_the_sample_ratio_check_says_when_it_cannot_run():
    check = sample_ratio_mismatch([0, 0], [1, 1])
    assert (check.chi2, check.p_value, check.mismatch) == (None, Estimate.undefined("no exposures yet"), False)
    only_one = sample_ratio_mismatch([10, 0], [1, 0])
    assert only_one.p_value == Estimate.undefined("only one variant has a weight")
    assert not only_one.mismatch
    leaked = sample_ratio_mismatch([10, 3], [1, 0])
    assert (leaked.p_value, leaked.mismatch) == (
        Estimate(value=0.0, reason="exposures in a variant with weight 0"),
        True,
    )
    # A paused variant (weight 0, nobody exposed) takes no part in the test.
    paused = sample_ratio_mismatch([500, 0, 520], [1, 0, 1])
    assert paused.chi2 == pytest.approx(scipy_stats.chisquare([500, 520]).statistic)


@pytest.mark.parametrize(
    ("exposures", "weights", "message"),
    [
        ([10, 10], [0, 0], "weights must sum to more than 0"),
        ([10, 10], [1, -1], "weights must not be negative"),
        ([10, 10], [1, 1, 1], "got 2 exposure counts for 3 weights"),
        ([10], [1], "at least two variants are needed"),
        ([10, -1], [1, 1], "exposures must not be negative"),
        ([10, 2.5], [1, 1], "exposures must be a whole number"),
        ([10, 10], [1, float("nan")], "weight must be a finite number"),
    ],
)
def test_the_sample_ratio_check_rejects_bad_input(exposures, weights, message):
    with pytest.raises(ValueError, match=message):
        sample_ratio_mismatch(exposures, weights)

"""The statistics of split tests: pure functions, no Django, no NumPy/SciPy (docs/splittest-statistics.md).

Inputs are ``Conversions(visitors, conversions)`` for conversion goals and ``MeanSample(visitors, total,
total_squares)`` for revenue per visitor; results are frozen dataclasses of ``Estimate``s that say why when a value
cannot be computed. Everything a caller needs is importable from here.
"""

from splittests.stats.core import DEFAULT_ALPHA, Conversions, Estimate, MeanSample
from splittests.stats.means import MeanComparison, compare_means, mean_interval, relative_uplift_of_means
from splittests.stats.planning import (
    DEFAULT_POWER,
    MIN_CONVERSIONS,
    MIN_VISITORS,
    Declaration,
    SampleSizePlan,
    can_declare,
    duration_days,
    effect_size,
    plan_test,
    power_two_proportions,
    sample_size,
)
from splittests.stats.proportions import (
    ProportionComparison,
    chance_to_beat,
    compare_proportions,
    relative_uplift,
    wilson_interval,
)
from splittests.stats.sequential import (
    DEFAULT_EXPECTED_VISITORS,
    SequentialResult,
    mixing_rho2,
    sequential_means,
    sequential_proportions,
)
from splittests.stats.srm import SRM_THRESHOLD, SampleRatioCheck, sample_ratio_mismatch
from splittests.stats.variants import CORRECTIONS, VariantResult, VariantsReport, bonferroni, compare_variants, holm

__all__ = [
    "CORRECTIONS",
    "DEFAULT_ALPHA",
    "DEFAULT_EXPECTED_VISITORS",
    "DEFAULT_POWER",
    "MIN_CONVERSIONS",
    "MIN_VISITORS",
    "SRM_THRESHOLD",
    "Conversions",
    "Declaration",
    "Estimate",
    "MeanComparison",
    "MeanSample",
    "ProportionComparison",
    "SampleRatioCheck",
    "SampleSizePlan",
    "SequentialResult",
    "VariantResult",
    "VariantsReport",
    "bonferroni",
    "can_declare",
    "chance_to_beat",
    "compare_means",
    "compare_proportions",
    "compare_variants",
    "duration_days",
    "effect_size",
    "holm",
    "mean_interval",
    "mixing_rho2",
    "plan_test",
    "power_two_proportions",
    "relative_uplift",
    "relative_uplift_of_means",
    "sample_ratio_mismatch",
    "sample_size",
    "sequential_means",
    "sequential_proportions",
    "wilson_interval",
]

"""Before and at the end of a test: the sample-size calculator, the duration estimate, and when a winner may be named.

Sample size: two-sided test of two proportions on Cohen's effect size h = 2·asin(√p2) − 2·asin(√p1), the calculation
of statsmodels' ``NormalIndPower().solve_power(proportion_effectsize(p2, p1), alpha=α, power=…, ratio=1)`` (both
rejection tails counted), rounded up to whole visitors per variant.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from splittests.stats._special import normal_cdf, normal_quantile
from splittests.stats.core import (
    DEFAULT_ALPHA,
    Conversions,
    check_alpha,
    check_conversions,
    check_count,
    check_real,
    named_samples,
)

DEFAULT_POWER = 0.8
MIN_VISITORS = 100
MIN_CONVERSIONS = 25


def effect_size(baseline: float, target: float) -> float:
    """Cohen's h between two rates (statsmodels' ``proportion_effectsize(target, baseline)``)."""
    return 2 * math.asin(math.sqrt(target)) - 2 * math.asin(math.sqrt(baseline))


def power_two_proportions(*, h: float, visitors_per_variant: float, alpha: float) -> float:
    """The power of the two-sided test with equal variants, both tails counted (``NormalIndPower().power``)."""
    critical = normal_quantile(1 - alpha / 2)
    shift = abs(h) * math.sqrt(visitors_per_variant / 2)
    return normal_cdf(shift - critical) + normal_cdf(-shift - critical)


def _check_rates(baseline, mde, alpha, power) -> tuple[float, float, float, float]:
    baseline = check_real(baseline, "baseline")
    if not 0 < baseline < 1:
        raise ValueError(f"baseline must be a rate between 0 and 1 (exclusive), got {baseline}")
    mde = check_real(mde, "mde")
    if mde == 0:
        raise ValueError("mde (the minimum detectable relative effect) must not be 0")
    target = baseline * (1 + mde)
    if not 0 < target < 1:
        raise ValueError(f"baseline × (1 + mde) must be a rate between 0 and 1, got {target:g}")
    alpha = check_alpha(alpha)
    power = check_real(power, "power")
    if not alpha < power < 1:
        raise ValueError(f"power must be between alpha ({alpha}) and 1, got {power}")
    return baseline, target, alpha, power


def sample_size(*, baseline: float, mde: float, alpha: float = DEFAULT_ALPHA, power: float = DEFAULT_POWER) -> int:
    """Visitors per variant to detect a relative change ``mde`` (0.1 = +10 %) from ``baseline`` (0.04 = 4 %)."""
    baseline, target, alpha, power = _check_rates(baseline, mde, alpha, power)
    h = effect_size(baseline, target)
    # The one-tail closed form is an upper bound (the far tail only adds power); step down to the smallest n.
    n = max(1, math.ceil(2 * ((normal_quantile(1 - alpha / 2) + normal_quantile(power)) / h) ** 2))
    while n > 1 and power_two_proportions(h=h, visitors_per_variant=n - 1, alpha=alpha) >= power:
        n -= 1
    return n


def duration_days(*, visitors_per_variant: int, variants: int, daily_visitors: float) -> int:
    """Whole days until every variant has its visitors, at ``daily_visitors`` entering the test per day."""
    check_count(visitors_per_variant, "visitors_per_variant")
    _check_variant_count(variants)
    daily_visitors = check_real(daily_visitors, "daily_visitors")
    if daily_visitors <= 0:
        raise ValueError(f"daily_visitors must be positive, got {daily_visitors}")
    return math.ceil(visitors_per_variant * variants / daily_visitors)


def _check_variant_count(variants) -> int:
    check_count(variants, "variants")
    if variants < 2:
        raise ValueError(f"a split test needs at least 2 variants (control included), got {variants}")
    return variants


@dataclass(frozen=True)
class SampleSizePlan:
    baseline: float
    target_rate: float  # baseline × (1 + mde)
    variants: int  # control included
    alpha: float  # per comparison: α / (variants − 1) when corrected for several treatments
    power: float
    visitors_per_variant: int
    total_visitors: int
    days: int | None  # None without a daily traffic figure


def plan_test(
    *,
    baseline: float,
    mde: float,
    variants: int = 2,
    daily_visitors: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
    correct_for_variants: bool = True,
) -> SampleSizePlan:
    """The calculator. With 3+ variants the results are Holm-corrected, so by default each comparison is planned at
    the Bonferroni level α / (variants − 1), Holm's strictest step: the planned power is then a floor."""
    _check_variant_count(variants)
    alpha = check_alpha(alpha)
    per_comparison = alpha / (variants - 1) if correct_for_variants else alpha
    n = sample_size(baseline=baseline, mde=mde, alpha=per_comparison, power=power)
    return SampleSizePlan(
        baseline=baseline,
        target_rate=baseline * (1 + mde),
        variants=variants,
        alpha=per_comparison,
        power=power,
        visitors_per_variant=n,
        total_visitors=n * variants,
        days=None
        if daily_visitors is None
        else duration_days(visitors_per_variant=n, variants=variants, daily_visitors=daily_visitors),
    )


@dataclass(frozen=True)
class Declaration:
    allowed: bool
    basis: str | None  # "sequential" or "fixed-horizon" when allowed
    reasons: tuple[str, ...]  # what is missing, one sentence each; empty when allowed


def _check_p(p, name: str) -> float | None:
    if p is None:
        return None
    p = check_real(p, name)
    if not 0 <= p <= 1:
        raise ValueError(f"{name} must be between 0 and 1, got {p}")
    return p


def can_declare(
    *,
    variants: Mapping[str, Conversions] | Sequence[tuple[str, Conversions]],
    sequential_p_value: float | None,
    p_value: float | None = None,
    planned_visitors_per_variant: int | None = None,
    sample_ratio_mismatch: bool = False,
    alpha: float = DEFAULT_ALPHA,
    min_visitors: int = MIN_VISITORS,
    min_conversions: int = MIN_CONVERSIONS,
) -> Declaration:
    """May a winner (or loser) be named for this comparison now? All of:

    1. every variant has at least ``min_visitors`` exposures and ``min_conversions`` conversions (for a revenue goal,
       paying visitors);
    2. no sample-ratio mismatch;
    3. either the always-valid p-value is below α (``basis="sequential"``), or every variant has reached the planned
       sample and the fixed-horizon p-value is below α (``basis="fixed-horizon"``).

    Pass the p-values of this treatment vs control after the multiple-comparison correction (``VariantsReport``).
    """
    pairs = named_samples(variants, "variants")
    if len(pairs) < 2:
        raise ValueError("at least two variants (control and a treatment) are needed")
    for name, sample in pairs:
        check_conversions(sample, f"variant {name!r}")
    sequential_p_value = _check_p(sequential_p_value, "sequential_p_value")
    p_value = _check_p(p_value, "p_value")
    alpha = check_alpha(alpha)
    check_count(min_visitors, "min_visitors")
    check_count(min_conversions, "min_conversions")
    if planned_visitors_per_variant is not None:
        check_count(planned_visitors_per_variant, "planned_visitors_per_variant")

    reasons = []
    for name, sample in pairs:
        if sample.visitors < min_visitors:
            reasons.append(f"{name} has {sample.visitors:,} visitors; at least {min_visitors:,} are needed.")
        if sample.conversions < min_conversions:
            reasons.append(f"{name} has {sample.conversions:,} conversions; at least {min_conversions:,} are needed.")
    if sample_ratio_mismatch:
        reasons.append("Visitors are not split as configured (sample-ratio mismatch): the results are not reliable.")

    basis = None
    planned_reached = planned_visitors_per_variant is not None and all(
        sample.visitors >= planned_visitors_per_variant for _, sample in pairs
    )
    if sequential_p_value is not None and sequential_p_value < alpha:
        basis = "sequential"
    elif planned_reached and p_value is not None and p_value < alpha:
        basis = "fixed-horizon"
    elif planned_reached:
        shown = "undefined" if p_value is None else f"{p_value:.3g}"
        reasons.append(f"The planned sample is reached but the difference is not significant (p = {shown}).")
    else:
        shown = "undefined" if sequential_p_value is None else f"{sequential_p_value:.3g}"
        planned = ""
        if planned_visitors_per_variant is not None:
            planned = f" and the planned {planned_visitors_per_variant:,} visitors per variant are not reached"
        reasons.append(f"Not significant yet (always-valid p = {shown}){planned}.")
    allowed = not reasons
    return Declaration(allowed=allowed, basis=basis if allowed else None, reasons=tuple(reasons))

"""Always-valid (anytime-valid) results for a running test: the mixture sequential probability ratio test (mSPRT).

The estimate θ̂ of the difference (or of the log of the ratio, for the uplift) is taken as normal around the true θ
with its estimated variance V, and H0: θ = 0 is tested against a normal mixture θ ~ N(0, τ²) (Johari, Koomen,
Pekelis & Walsh, "Peeking at A/B tests", 2017). The mixture likelihood ratio is

    Λ = sqrt(V / (V + τ²)) · exp(θ̂² τ² / (2 V (V + τ²)))

and by Ville's inequality P(Λ ever reaches 1/α under H0) ≤ α, so p = min(1, 1/Λ) and the interval {θ0 : Λ(θ0) < 1/α}
stay valid however often the results are looked at. As in GrowthBook, τ² is set relative to the per-visitor variance
s² = V·N (N = visitors in both variants): τ² = ρ² s², with ρ² = (−2 ln α + ln(1 − 2 ln α)) / N* chosen so the
interval is narrowest when N reaches N*, the expected number of visitors in the two variants (Waudby-Smith et al.
2023, eq. 161). In those terms the interval is θ̂ ± sqrt(V · (1 + Nρ²)/(Nρ²) · (2 ln(1/α) + ln(1 + Nρ²))).

A sequential result never claims more than the fixed-horizon test on the same data: its p-value is the larger and its
interval the wider of the two (which only matters for Welch's t with very few visitors). Both remain always-valid.
"""

import math
from dataclasses import dataclass

from splittests.stats import means, proportions
from splittests.stats._special import normal_quantile, normal_two_sided_p, student_t_quantile, student_t_two_sided_p
from splittests.stats.core import (
    DEFAULT_ALPHA,
    Conversions,
    Estimate,
    MeanSample,
    check_alpha,
    check_conversions,
    check_mean_sample,
    check_real,
)

# GrowthBook's default tuning: the interval is tightest at 5,000 visitors in the two variants together. When there is a
# plan, pass the visitors the two compared variants will have: 2 × SampleSizePlan.visitors_per_variant.
DEFAULT_EXPECTED_VISITORS = 5_000


def mixing_rho2(*, alpha: float, expected_visitors: float) -> float:
    """ρ² = τ² / s², the mixture variance relative to the per-visitor variance, tuned to ``expected_visitors``."""
    alpha = check_alpha(alpha)
    expected_visitors = check_real(expected_visitors, "expected_visitors")
    if expected_visitors <= 0:
        raise ValueError(f"expected_visitors must be positive, got {expected_visitors}")
    minus_2_log_alpha = -2.0 * math.log(alpha)
    return (minus_2_log_alpha + math.log1p(minus_2_log_alpha)) / expected_visitors


def msprt_p_value(*, estimate: float, variance: float, visitors: int, rho2: float) -> float:
    """min(1, 1/Λ) for H0: θ = 0, with Λ computed in logs (it overflows long before the p-value underflows)."""
    x = visitors * rho2
    log_lambda = x * (estimate * estimate / variance) / (2.0 * (1.0 + x)) - 0.5 * math.log1p(x)
    return 1.0 if log_lambda <= 0 else math.exp(-log_lambda)


def msprt_half_width(*, variance: float, visitors: int, rho2: float, alpha: float) -> float:
    x = visitors * rho2
    return math.sqrt(variance * (1.0 + x) / x * (2.0 * math.log(1.0 / alpha) + math.log1p(x)))


@dataclass(frozen=True)
class SequentialResult:
    """Always-valid results: valid at whatever moment they are read, however often."""

    difference: Estimate  # treatment − control
    uplift: Estimate  # treatment / control − 1 (interval on the log ratio, mapped back)
    p_value: Estimate  # always-valid two-sided p-value of the difference
    alpha: float
    expected_visitors: float  # N*, where the interval is tuned to be narrowest
    mixture_variance: float | None  # τ² on the scale of the difference, for the record


@dataclass(frozen=True)
class _Difference:
    """The fixed-horizon ingredients of the difference, or its point value (if any) and why the rest is undefined."""

    value: float | None
    variance: float | None = None
    fixed_half_width: float | None = None
    fixed_p_value: float | None = None
    reason: str | None = None


def _sequential(
    *,
    visitors: int,
    difference: _Difference,
    log_ratio: tuple[float, float] | str,
    point_uplift: float | None,
    alpha: float,
    expected_visitors: float,
) -> SequentialResult:
    rho2 = mixing_rho2(alpha=alpha, expected_visitors=expected_visitors)
    mixture_variance = None
    value, variance = difference.value, difference.variance
    if difference.reason:
        p_value = Estimate.undefined(difference.reason)
        if value is None:
            difference_estimate = Estimate.undefined(difference.reason)
        else:
            difference_estimate = Estimate(value, reason=f"{difference.reason}: no interval")
    else:
        half = msprt_half_width(variance=variance, visitors=visitors, rho2=rho2, alpha=alpha)
        half = max(half, difference.fixed_half_width)
        p = msprt_p_value(estimate=value, variance=variance, visitors=visitors, rho2=rho2)
        p = max(p, difference.fixed_p_value)
        difference_estimate = Estimate(value=value, low=value - half, high=value + half)
        p_value = Estimate(value=p)
        mixture_variance = rho2 * variance * visitors
    if isinstance(log_ratio, str):
        if point_uplift is None:
            uplift = Estimate.undefined(log_ratio)
        else:
            uplift = Estimate(value=point_uplift, reason=f"{log_ratio}: no interval")
    else:
        log_value, log_variance = log_ratio
        half = max(
            msprt_half_width(variance=log_variance, visitors=visitors, rho2=rho2, alpha=alpha),
            normal_quantile(1 - alpha / 2) * math.sqrt(log_variance),
        )
        uplift = proportions.uplift_from_log_ratio(log_value, half)
    return SequentialResult(
        difference=difference_estimate,
        uplift=uplift,
        p_value=p_value,
        alpha=alpha,
        expected_visitors=expected_visitors,
        mixture_variance=mixture_variance,
    )


def sequential_proportions(
    control: Conversions,
    treatment: Conversions,
    *,
    alpha: float = DEFAULT_ALPHA,
    expected_visitors: float = DEFAULT_EXPECTED_VISITORS,
) -> SequentialResult:
    """Always-valid p-value and intervals for rate_t − rate_c (unpooled variance) and for rate_t / rate_c − 1."""
    check_conversions(control, "control")
    check_conversions(treatment, "treatment")
    alpha = check_alpha(alpha)
    if control.visitors == 0 or treatment.visitors == 0:
        reason = f"no visitors in {'control' if control.visitors == 0 else 'treatment'}"
        difference, log_ratio, point_uplift = _Difference(None, reason=reason), reason, None
    else:
        value = treatment.rate - control.rate
        variance = proportions.difference_variance(control, treatment)
        if variance == 0:
            difference = _Difference(value, reason=proportions.no_variance_reason(control.rate, treatment.rate))
        else:
            se = math.sqrt(variance)
            difference = _Difference(
                value, variance, normal_quantile(1 - alpha / 2) * se, normal_two_sided_p(value / se)
            )
        log_ratio = proportions.log_ratio(control, treatment)
        point_uplift = treatment.rate / control.rate - 1 if control.conversions else None
    return _sequential(
        visitors=control.visitors + treatment.visitors,
        difference=difference,
        log_ratio=log_ratio,
        point_uplift=point_uplift,
        alpha=alpha,
        expected_visitors=expected_visitors,
    )


def sequential_means(
    control: MeanSample,
    treatment: MeanSample,
    *,
    alpha: float = DEFAULT_ALPHA,
    expected_visitors: float = DEFAULT_EXPECTED_VISITORS,
) -> SequentialResult:
    """Always-valid p-value and intervals for mean_t − mean_c (Welch variance) and for mean_t / mean_c − 1."""
    check_mean_sample(control, "control")
    check_mean_sample(treatment, "treatment")
    alpha = check_alpha(alpha)
    computed = means.welch(control, treatment)
    both_seen = control.visitors > 0 and treatment.visitors > 0
    if isinstance(computed, str):
        difference = _Difference(treatment.mean - control.mean if both_seen else None, reason=computed)
    else:
        se = math.sqrt(computed.variance)
        difference = _Difference(
            computed.difference,
            computed.variance,
            student_t_quantile(1 - alpha / 2, computed.df) * se,
            student_t_two_sided_p(computed.difference / se, computed.df),
        )
    return _sequential(
        visitors=control.visitors + treatment.visitors,
        difference=difference,
        log_ratio=means.log_ratio_of_means(control, treatment),
        point_uplift=treatment.mean / control.mean - 1 if both_seen and control.mean > 0 else None,
        alpha=alpha,
        expected_visitors=expected_visitors,
    )

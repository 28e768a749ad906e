"""Amounts per visitor (revenue per visitor, mostly zeros), from sufficient statistics.

Welch's t-test (unequal variances) for the difference of means — the same numbers as
``scipy.stats.ttest_ind(..., equal_var=False)`` — and the relative uplift with a delta-method interval on the log of
the ratio of means, as for conversion rates.
"""

import math
from dataclasses import dataclass

from splittests.stats._special import normal_quantile, student_t_quantile, student_t_two_sided_p
from splittests.stats.core import DEFAULT_ALPHA, Estimate, MeanSample, check_alpha, check_mean_sample


def _too_small(control: MeanSample, treatment: MeanSample) -> str | None:
    for name, sample in (("control", control), ("treatment", treatment)):
        if sample.visitors == 0:
            return f"no visitors in {name}"
        if sample.visitors < 2:
            return f"fewer than 2 visitors in {name}"
    return None


@dataclass(frozen=True)
class Welch:
    difference: float
    variance: float  # of the difference: s_t²/n_t + s_c²/n_c
    df: float  # Welch–Satterthwaite


def welch(control: MeanSample, treatment: MeanSample) -> Welch | str:
    """The Welch ingredients, or why they are undefined."""
    reason = _too_small(control, treatment)
    if reason:
        return reason
    a = treatment.variance / treatment.visitors
    b = control.variance / control.visitors
    if a + b == 0:
        return "no variation in either variant"
    df = (a + b) ** 2 / (a * a / (treatment.visitors - 1) + b * b / (control.visitors - 1))
    return Welch(difference=treatment.mean - control.mean, variance=a + b, df=df)


def mean_interval(sample: MeanSample, *, alpha: float = DEFAULT_ALPHA, name: str = "variant") -> Estimate:
    """The mean with its t interval (n − 1 degrees of freedom)."""
    check_mean_sample(sample, name)
    alpha = check_alpha(alpha)
    if sample.visitors == 0:
        return Estimate.undefined(f"no visitors in {name}")
    if sample.visitors < 2:
        return Estimate(value=sample.mean, reason=f"fewer than 2 visitors in {name}: no interval")
    half = student_t_quantile(1 - alpha / 2, sample.visitors - 1) * math.sqrt(sample.variance / sample.visitors)
    return Estimate(value=sample.mean, low=sample.mean - half, high=sample.mean + half)


def log_ratio_of_means(control: MeanSample, treatment: MeanSample) -> tuple[float, float] | str:
    """log(mean_t / mean_c) and its delta-method variance, or the reason it is undefined."""
    if control.visitors == 0 or treatment.visitors == 0:
        return f"no visitors in {'control' if control.visitors == 0 else 'treatment'}"
    for name, sample in (("control", control), ("treatment", treatment)):
        if sample.mean == 0:
            return f"no revenue in {name}"
        if sample.mean < 0:
            return f"the mean in {name} is negative"
    reason = _too_small(control, treatment)
    if reason:
        return reason
    variance = treatment.variance / (treatment.visitors * treatment.mean**2) + control.variance / (
        control.visitors * control.mean**2
    )
    if variance == 0:
        return "no variation in either variant"
    return math.log(treatment.mean / control.mean), variance


def relative_uplift_of_means(control: MeanSample, treatment: MeanSample, *, alpha: float = DEFAULT_ALPHA) -> Estimate:
    """mean_t / mean_c − 1, interval from the delta method on log(mean_t / mean_c) with the normal quantile."""
    check_mean_sample(control, "control")
    check_mean_sample(treatment, "treatment")
    alpha = check_alpha(alpha)
    computed = log_ratio_of_means(control, treatment)
    if isinstance(computed, str):
        if control.visitors and treatment.visitors and control.mean > 0:
            return Estimate(value=treatment.mean / control.mean - 1, reason=f"{computed}: no interval")
        return Estimate.undefined(computed)
    value, variance = computed
    half = normal_quantile(1 - alpha / 2) * math.sqrt(variance)
    return Estimate(value=math.expm1(value), low=math.expm1(value - half), high=math.expm1(value + half))


@dataclass(frozen=True)
class MeanComparison:
    """Treatment vs control on an amount per visitor, fixed-horizon statistics."""

    control_mean: Estimate
    treatment_mean: Estimate
    difference: Estimate  # mean_t − mean_c, Welch t interval
    uplift: Estimate  # mean_t / mean_c − 1, log-ratio delta-method interval
    p_value: Estimate  # Welch's two-sided t-test
    t: float | None
    df: float | None
    alpha: float


def compare_means(control: MeanSample, treatment: MeanSample, *, alpha: float = DEFAULT_ALPHA) -> MeanComparison:
    check_mean_sample(control, "control")
    check_mean_sample(treatment, "treatment")
    alpha = check_alpha(alpha)
    computed = welch(control, treatment)
    t = df = None
    if isinstance(computed, str):
        p_value = Estimate.undefined(computed)
        if control.visitors and treatment.visitors:
            difference = Estimate(value=treatment.mean - control.mean, reason=f"{computed}: no interval")
        else:
            difference = Estimate.undefined(computed)
    else:
        se = math.sqrt(computed.variance)
        t, df = computed.difference / se, computed.df
        half = student_t_quantile(1 - alpha / 2, df) * se
        value = computed.difference
        difference = Estimate(value=value, low=value - half, high=value + half)
        p_value = Estimate(value=student_t_two_sided_p(t, df))
    return MeanComparison(
        control_mean=mean_interval(control, alpha=alpha, name="control"),
        treatment_mean=mean_interval(treatment, alpha=alpha, name="treatment"),
        difference=difference,
        uplift=relative_uplift_of_means(control, treatment, alpha=alpha),
        p_value=p_value,
        t=t,
        df=df,
        alpha=alpha,
    )

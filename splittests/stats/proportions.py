"""Conversion rates per visitor: Wilson intervals, the treatment-vs-control comparison and the chance to beat control.

Conventions (docs/splittest-statistics.md): the p-value is the two-sided z-test of the difference with the unpooled
(Wald) variance, the same variance as the difference's interval and the sequential test, so "significant" and "the
interval excludes 0" always agree; the uplift interval is the delta method on the log of the rate ratio.
"""

import math
from dataclasses import dataclass

from splittests.stats._special import log_beta, normal_cdf, normal_quantile, normal_two_sided_p
from splittests.stats.core import DEFAULT_ALPHA, Conversions, Estimate, check_alpha, check_conversions

# Beyond this many terms the exact sum for the chance to beat gives way to a normal approximation of the two Beta
# posteriors, which by then (every parameter above 100,000) is off by well under 0.1 percentage points.
EXACT_TERMS_LIMIT = 100_000


def wilson_interval(sample: Conversions, *, alpha: float = DEFAULT_ALPHA, name: str = "variant") -> Estimate:
    """The conversion rate with its Wilson score interval (statsmodels' ``proportion_confint(method="wilson")``)."""
    check_conversions(sample, name)
    alpha = check_alpha(alpha)
    n = sample.visitors
    if n == 0:
        return Estimate.undefined(f"no visitors in {name}")
    p = sample.conversions / n
    z = normal_quantile(1 - alpha / 2)
    z2 = z * z
    denominator = 1 + z2 / n
    center = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return Estimate(value=p, low=max(0.0, center - half), high=min(1.0, center + half))


def no_variance_reason(rate_control: float, rate_treatment: float) -> str:
    if rate_control == rate_treatment == 0:
        return "no conversions in either variant"
    if rate_control == rate_treatment == 1:
        return "every visitor converted in both variants"
    return "no variation: one variant converted 0% and the other 100%"


def difference_variance(control: Conversions, treatment: Conversions) -> float:
    """Unpooled variance of rate_t − rate_c (both variants must have visitors)."""
    pc, pt = control.rate, treatment.rate
    return pt * (1 - pt) / treatment.visitors + pc * (1 - pc) / control.visitors


def log_ratio(control: Conversions, treatment: Conversions) -> tuple[float, float] | str:
    """log(rate_t / rate_c) and its delta-method variance, or the reason it is undefined."""
    if control.conversions == 0:
        return "no conversions in control"
    if treatment.conversions == 0:
        return "no conversions in treatment"
    pc, pt = control.rate, treatment.rate
    variance = (1 - pt) / treatment.conversions + (1 - pc) / control.conversions
    if variance == 0:
        return "every visitor converted in both variants"
    return math.log(pt / pc), variance


def uplift_from_log_ratio(log_value: float, half_width: float) -> Estimate:
    return Estimate(
        value=math.expm1(log_value), low=math.expm1(log_value - half_width), high=math.expm1(log_value + half_width)
    )


def relative_uplift(control: Conversions, treatment: Conversions, *, alpha: float = DEFAULT_ALPHA) -> Estimate:
    """rate_t / rate_c − 1 with a delta-method interval on log(rate_t / rate_c), mapped back (never below −100 %)."""
    check_conversions(control, "control")
    check_conversions(treatment, "treatment")
    alpha = check_alpha(alpha)
    if control.visitors == 0 or treatment.visitors == 0:
        return Estimate.undefined(f"no visitors in {'control' if control.visitors == 0 else 'treatment'}")
    computed = log_ratio(control, treatment)
    if isinstance(computed, str):
        if control.conversions > 0:  # the point estimate exists; only its interval does not
            return Estimate(value=treatment.rate / control.rate - 1, reason=f"{computed}: no interval")
        return Estimate.undefined(computed)
    value, variance = computed
    return uplift_from_log_ratio(value, normal_quantile(1 - alpha / 2) * math.sqrt(variance))


def _sum_b_beats_a(a_alpha: float, a_beta: float, b_alpha: int, b_beta: float) -> float:
    """P(X_B > X_A) for X_A ~ Beta(a_alpha, a_beta), X_B ~ Beta(b_alpha, b_beta) with a whole b_alpha.

    The closed form sum_{i<b_alpha} B(a_alpha + i, a_beta + b_beta) / ((b_beta + i) B(1 + i, b_beta) B(a_alpha,
    a_beta)) (Evan Miller, "Formulas for Bayesian A/B testing"), with each term from the previous one by the ratio
    (a_alpha + i)(b_beta + i) / ((a_alpha + a_beta + b_beta + i)(1 + i)), in logs so the first terms cannot underflow.
    """
    log_term = log_beta(a_alpha, a_beta + b_beta) - log_beta(a_alpha, a_beta)
    total = 0.0
    for i in range(b_alpha):
        total += math.exp(log_term)
        log_term += math.log((a_alpha + i) * (b_beta + i) / ((a_alpha + a_beta + b_beta + i) * (1 + i)))
    return min(1.0, total)


def _normal_b_beats_a(a_alpha: float, a_beta: float, b_alpha: float, b_beta: float) -> float:
    def moments(alpha_: float, beta_: float) -> tuple[float, float]:
        s = alpha_ + beta_
        return alpha_ / s, alpha_ * beta_ / (s * s * (s + 1))

    mean_a, var_a = moments(a_alpha, a_beta)
    mean_b, var_b = moments(b_alpha, b_beta)
    return normal_cdf((mean_b - mean_a) / math.sqrt(var_a + var_b))


def beta_beats_probability(control: tuple[int, int], treatment: tuple[int, int]) -> float:
    """P(p_t > p_c) for p_c ~ Beta(*control), p_t ~ Beta(*treatment) with whole parameters.

    The exact sum runs over one whole parameter; by symmetry (swap the variants, or look at 1 − p) any of the four
    will do, so it takes the smallest — usually a conversion count.
    """
    (ac, bc), (at, bt) = control, treatment
    smallest = min(at, ac, bt, bc)
    if smallest > EXACT_TERMS_LIMIT:
        return _normal_b_beats_a(ac, bc, at, bt)
    if smallest == at:
        return _sum_b_beats_a(ac, bc, at, bt)
    if smallest == ac:
        return 1.0 - _sum_b_beats_a(at, bt, ac, bc)
    if smallest == bc:  # p_t > p_c  <=>  1 - p_c > 1 - p_t
        return _sum_b_beats_a(bt, at, bc, ac)
    return 1.0 - _sum_b_beats_a(bc, ac, bt, at)


def chance_to_beat(control: Conversions, treatment: Conversions) -> Estimate:
    """P(rate_t > rate_c) under independent Beta(1, 1) priors: deterministic, no sampling."""
    check_conversions(control, "control")
    check_conversions(treatment, "treatment")
    if control.visitors == 0 or treatment.visitors == 0:
        return Estimate.undefined(f"no visitors in {'control' if control.visitors == 0 else 'treatment'}")
    probability = beta_beats_probability(
        (1 + control.conversions, 1 + control.visitors - control.conversions),
        (1 + treatment.conversions, 1 + treatment.visitors - treatment.conversions),
    )
    return Estimate(value=min(1.0, max(0.0, probability)))


@dataclass(frozen=True)
class ProportionComparison:
    """Treatment vs control on a conversion goal, fixed-horizon (classic two-sided) statistics."""

    control_rate: Estimate
    treatment_rate: Estimate
    difference: Estimate  # rate_t − rate_c, Wald interval
    uplift: Estimate  # rate_t / rate_c − 1, log-ratio delta-method interval
    p_value: Estimate  # two-sided z-test of the difference, unpooled variance
    chance_to_beat: Estimate  # P(rate_t > rate_c), Beta(1, 1) priors
    alpha: float


def compare_proportions(
    control: Conversions, treatment: Conversions, *, alpha: float = DEFAULT_ALPHA
) -> ProportionComparison:
    check_conversions(control, "control")
    check_conversions(treatment, "treatment")
    alpha = check_alpha(alpha)
    z = normal_quantile(1 - alpha / 2)
    if control.visitors == 0 or treatment.visitors == 0:
        missing = Estimate.undefined(f"no visitors in {'control' if control.visitors == 0 else 'treatment'}")
        difference = p_value = missing
    else:
        value = treatment.rate - control.rate
        variance = difference_variance(control, treatment)
        if variance == 0:
            reason = no_variance_reason(control.rate, treatment.rate)
            difference = Estimate(value=value, reason=f"{reason}: no interval")
            p_value = Estimate.undefined(reason)
        else:
            se = math.sqrt(variance)
            difference = Estimate(value=value, low=value - z * se, high=value + z * se)
            p_value = Estimate(value=normal_two_sided_p(value / se))
    return ProportionComparison(
        control_rate=wilson_interval(control, alpha=alpha, name="control"),
        treatment_rate=wilson_interval(treatment, alpha=alpha, name="treatment"),
        difference=difference,
        uplift=relative_uplift(control, treatment, alpha=alpha),
        p_value=p_value,
        chance_to_beat=chance_to_beat(control, treatment),
        alpha=alpha,
    )

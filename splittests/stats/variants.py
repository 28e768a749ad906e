"""Tests with three or more variants: every treatment against control, p-values corrected with Holm's method.

Holm's step-down procedure controls the family-wise error rate (the chance that any treatment is wrongly called
different from control) at α for any dependence between the comparisons, and it is uniformly more powerful than
Bonferroni. Both it and Bonferroni are applied to the fixed-horizon and to the always-valid p-values (an always-valid
p-value is a valid p-value at any stopping time, so the correction keeps its guarantee). Intervals are not adjusted.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from splittests.stats.core import DEFAULT_ALPHA, Conversions, Estimate, MeanSample, check_alpha, named_samples
from splittests.stats.means import MeanComparison, compare_means
from splittests.stats.proportions import ProportionComparison, compare_proportions
from splittests.stats.sequential import (
    DEFAULT_EXPECTED_VISITORS,
    SequentialResult,
    sequential_means,
    sequential_proportions,
)

CORRECTIONS = ("holm", "bonferroni", "none")


def _check_p_values(p_values: Sequence[float | None]) -> list[float | None]:
    checked = list(p_values)
    for p in checked:
        if p is not None and (isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0):
            raise ValueError(f"p-values must be numbers between 0 and 1 (or None when undefined), got {p!r}")
    return checked


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values (statsmodels' ``multipletests(method="holm")``), in the input order.

    An undefined p-value (None) still counts as one of the m hypotheses, as if it were 1, and stays None.
    """
    p_values = _check_p_values(p_values)
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (p_values[i] is None, p_values[i] or 0.0))
    adjusted: list[float | None] = [None] * m
    running = 0.0
    for rank, i in enumerate(order):
        if p_values[i] is None:
            break  # the undefined ones sort last
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def bonferroni(p_values: Sequence[float | None]) -> list[float | None]:
    p_values = _check_p_values(p_values)
    return [None if p is None else min(1.0, len(p_values) * p) for p in p_values]


def adjust(p_values: Sequence[float | None], correction: str) -> list[float | None]:
    if correction == "holm":
        return holm(p_values)
    if correction == "bonferroni":
        return bonferroni(p_values)
    if correction == "none":
        return _check_p_values(p_values)
    raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")


@dataclass(frozen=True)
class VariantResult:
    name: str
    fixed: ProportionComparison | MeanComparison  # fixed-horizon statistics, p-value unadjusted
    sequential: SequentialResult  # always-valid statistics, p-value unadjusted
    p_value: Estimate  # fixed-horizon p-value after the correction
    sequential_p_value: Estimate  # always-valid p-value after the correction


@dataclass(frozen=True)
class VariantsReport:
    control: str
    results: tuple[VariantResult, ...]
    correction: str  # what was applied: "holm", "bonferroni" or "none"
    note: str  # one sentence for the results page
    alpha: float


def _correction_note(correction: str, comparisons: int, alpha: float) -> tuple[str, str]:
    if comparisons == 1:
        return "none", "One comparison with control: no multiple-comparison correction is needed."
    if correction == "none":
        return "none", (
            f"No multiple-comparison correction: with {comparisons} comparisons the chance that some treatment is "
            f"wrongly declared different from control exceeds {alpha:.0%}."
        )
    method = "Holm's method" if correction == "holm" else "Bonferroni's method"
    return correction, (
        f"P-values are adjusted with {method} over {comparisons} comparisons with control, so the chance that any "
        f"treatment is wrongly declared different stays below {alpha:.0%}; intervals are not adjusted."
    )


def _adjusted(estimates: list[Estimate], correction: str) -> list[Estimate]:
    values = adjust([e.value for e in estimates], correction)
    return [e if value is None else Estimate(value=value) for e, value in zip(estimates, values, strict=True)]


def compare_variants(
    control: Conversions | MeanSample,
    treatments: Mapping[str, Conversions | MeanSample] | Sequence[tuple[str, Conversions | MeanSample]],
    *,
    control_name: str = "Control",
    alpha: float = DEFAULT_ALPHA,
    expected_visitors: float = DEFAULT_EXPECTED_VISITORS,
    correction: str = "holm",
) -> VariantsReport:
    """Each treatment vs control, fixed-horizon and sequential, with corrected p-values when there are several."""
    alpha = check_alpha(alpha)
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}")
    pairs = named_samples(treatments, "treatments")
    if not pairs:
        raise ValueError("at least one treatment is needed")
    names = [control_name] + [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError(f"variant names must be distinct, got {names}")
    if isinstance(control, Conversions):
        kind, fixed_fn, sequential_fn = Conversions, compare_proportions, sequential_proportions
    elif isinstance(control, MeanSample):
        kind, fixed_fn, sequential_fn = MeanSample, compare_means, sequential_means
    else:
        raise ValueError(f"control must be Conversions or MeanSample, got {type(control).__name__}")
    for name, sample in pairs:
        if not isinstance(sample, kind):
            raise ValueError(f"treatment {name!r} must be {kind.__name__} like control, got {type(sample).__name__}")

    fixed = [fixed_fn(control, sample, alpha=alpha) for _, sample in pairs]
    sequential = [sequential_fn(control, s, alpha=alpha, expected_visitors=expected_visitors) for _, s in pairs]
    applied, note = _correction_note(correction, len(pairs), alpha)
    p_values = _adjusted([f.p_value for f in fixed], applied)
    sequential_p_values = _adjusted([s.p_value for s in sequential], applied)
    results = tuple(
        VariantResult(name=name, fixed=f, sequential=s, p_value=p, sequential_p_value=sp)
        for (name, _), f, s, p, sp in zip(pairs, fixed, sequential, p_values, sequential_p_values, strict=True)
    )
    return VariantsReport(control=control_name, results=results, correction=applied, note=note, alpha=alpha)

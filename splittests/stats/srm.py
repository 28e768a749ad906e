"""Sample-ratio mismatch: do the exposures per variant fit the configured traffic weights?

A chi-square goodness-of-fit test (``scipy.stats.chisquare`` with the expected counts from the weights); a mismatch
is flagged when p < 0.001 — strict, because the check runs on every look at a running test and a true mismatch
(broken assignment, a redirect losing visitors, bots in one variant) shows up with overwhelming evidence.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from splittests.stats._special import chi2_sf
from splittests.stats.core import Estimate, check_count, check_real

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SampleRatioCheck:
    chi2: float | None
    p_value: Estimate
    expected: tuple[float, ...]  # expected exposures per variant from the weights
    mismatch: bool  # p < threshold: the results should not be trusted
    threshold: float


def sample_ratio_mismatch(
    exposures: Sequence[int], weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> SampleRatioCheck:
    """Chi-square test of the exposures against the weights (any positive scale: 50/50, 1:1, 0.5/0.5).

    A variant with weight 0 takes no part in the test if it has no exposures; with exposures it is a mismatch
    outright (p = 0).
    """
    exposures = [check_count(e, "exposures") for e in exposures]
    weights = [check_real(w, "weight") for w in weights]
    threshold = check_real(threshold, "threshold")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    if len(exposures) != len(weights):
        raise ValueError(f"got {len(exposures)} exposure counts for {len(weights)} weights")
    if len(exposures) < 2:
        raise ValueError("at least two variants are needed")
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must not be negative, got {weights}")
    weight_sum = math.fsum(weights)
    if weight_sum <= 0:
        raise ValueError(f"weights must sum to more than 0, got {weights}")

    total = sum(exposures)
    expected = tuple(total * w / weight_sum for w in weights)
    if total == 0:
        return SampleRatioCheck(None, Estimate.undefined("no exposures yet"), expected, False, threshold)
    if any(w == 0 and e > 0 for w, e in zip(weights, exposures, strict=True)):
        p_value = Estimate(value=0.0, reason="exposures in a variant with weight 0")
        return SampleRatioCheck(None, p_value, expected, True, threshold)
    pairs = [(e, x) for e, x, w in zip(exposures, expected, weights, strict=True) if w > 0]
    if len(pairs) < 2:
        return SampleRatioCheck(None, Estimate.undefined("only one variant has a weight"), expected, False, threshold)
    chi2 = math.fsum((e - x) ** 2 / x for e, x in pairs)
    p = chi2_sf(chi2, len(pairs) - 1)
    return SampleRatioCheck(chi2, Estimate(value=p), expected, p < threshold, threshold)

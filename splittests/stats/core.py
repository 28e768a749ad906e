"""Inputs and results shared by every split-test calculation.

A result that cannot be computed from the data says why (``Estimate(value=None, reason="no conversions in
control")``) instead of raising or returning NaN or infinity; bad inputs (negative counts, more conversions than
visitors, …) raise ``ValueError`` with a message naming the offending value.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from numbers import Integral, Real

DEFAULT_ALPHA = 0.05


@dataclass(frozen=True)
class Estimate:
    """A number with an optional two-sided interval [low, high]; ``reason`` says what could not be computed.

    ``value is None`` means undefined; a defined value with ``low``/``high`` of None means the interval is undefined
    (e.g. an uplift of -100 % when the treatment has no conversions). P-values and probabilities carry no interval.
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    reason: str | None = None

    @classmethod
    def undefined(cls, reason: str) -> "Estimate":
        return cls(value=None, reason=reason)

    @property
    def defined(self) -> bool:
        return self.value is not None

    @property
    def has_interval(self) -> bool:
        return self.low is not None and self.high is not None

    def contains(self, x: float) -> bool:
        return self.has_interval and self.low <= x <= self.high


def check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):  # Integral: NumPy integers too
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")
    return int(value)


def check_real(value, name: str) -> float:
    # Decimal is not a numbers.Real, but SUM() over a money column in PostgreSQL comes back as one.
    if isinstance(value, bool) or not isinstance(value, Real | Decimal) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_alpha(alpha) -> float:
    alpha = check_real(alpha, "alpha")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha}")
    return alpha


@dataclass(frozen=True)
class Conversions:
    """A variant measured against a conversion goal: visitors exposed and how many of them converted.

    Used for "any conversion" and for revenue goals counted per visitor ("paid anything", "paid at least X").
    """

    visitors: int
    conversions: int

    def __post_init__(self):
        # Normalised to plain ints, so results compare and serialise the same whatever the caller passed.
        object.__setattr__(self, "visitors", check_count(self.visitors, "visitors"))
        object.__setattr__(self, "conversions", check_count(self.conversions, "conversions"))
        if self.conversions > self.visitors:
            raise ValueError(f"conversions ({self.conversions}) cannot exceed visitors ({self.visitors})")

    @property
    def rate(self) -> float | None:
        return self.conversions / self.visitors if self.visitors else None


@dataclass(frozen=True)
class MeanSample:
    """A variant measured by a per-visitor amount (revenue per visitor), as sufficient statistics.

    ``visitors`` counts every exposed visitor, including the many with 0; ``total`` is the sum of the amounts and
    ``total_squares`` the sum of their squares, so a caller can aggregate all three in SQL.
    """

    visitors: int
    total: float
    total_squares: float

    def __post_init__(self):
        object.__setattr__(self, "visitors", check_count(self.visitors, "visitors"))
        total = check_real(self.total, "total")
        squares = check_real(self.total_squares, "total_squares")
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "total_squares", squares)
        if squares < 0:
            raise ValueError(f"total_squares must not be negative, got {squares}")
        if self.visitors == 0 and (total != 0 or squares != 0):
            raise ValueError("total and total_squares must be 0 when there are no visitors")
        # Cauchy–Schwarz: (sum x)^2 <= n * sum x^2 for any real amounts; a little slack for float sums from SQL.
        if total * total > self.visitors * squares * (1 + 1e-9) + 1e-9:
            raise ValueError(
                f"total_squares ({squares}) is too small for a total of {total} over {self.visitors} visitors"
            )

    @classmethod
    def from_values(cls, values) -> "MeanSample":
        values = [check_real(v, "amount") for v in values]
        return cls(visitors=len(values), total=math.fsum(values), total_squares=math.fsum(v * v for v in values))

    @property
    def mean(self) -> float | None:
        return self.total / self.visitors if self.visitors else None

    @property
    def variance(self) -> float | None:
        """The sample variance (n - 1 in the denominator); None below 2 visitors."""
        n = self.visitors
        if n < 2:
            return None
        return max(0.0, (self.total_squares - self.total * self.total / n) / (n - 1))


def check_conversions(sample, name: str) -> Conversions:
    if not isinstance(sample, Conversions):
        raise ValueError(f"{name} must be Conversions(visitors=..., conversions=...), got {type(sample).__name__}")
    return sample


def check_mean_sample(sample, name: str) -> MeanSample:
    if not isinstance(sample, MeanSample):
        raise ValueError(
            f"{name} must be MeanSample(visitors=..., total=..., total_squares=...), got {type(sample).__name__}"
        )
    return sample


def named_samples(samples, what: str) -> list[tuple[str, object]]:
    """``{"B": sample, ...}`` or ``[("B", sample), ...]`` as a list of (name, sample) pairs."""
    pairs = list(samples.items()) if isinstance(samples, Mapping) else list(samples)
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)):
            raise ValueError(f"{what} must be a mapping of names to samples or (name, sample) pairs, got {pair!r}")
    return pairs

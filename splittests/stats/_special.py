"""The few distribution functions the split-test maths needs, in pure Python.

The standard library has the normal distribution (``math.erfc``, ``statistics.NormalDist``) but not Student's t or the
chi-square distribution, so those are built here on the regularised incomplete beta and gamma functions, evaluated
with the continued fractions of Numerical Recipes (Lentz's method). Accuracy against SciPy is ~1e-12 relative over the
ranges the tests cover; keeping SciPy out of the runtime keeps the web process small.
"""

import math
from statistics import NormalDist

_EPS = 1e-15
_TINY = 1e-300
_STANDARD_NORMAL = NormalDist()


def normal_cdf(x: float) -> float:
    # erfc keeps its precision in the far left tail, where 0.5 * (1 + erf(x)) rounds to 0.
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def normal_quantile(q: float) -> float:
    return _STANDARD_NORMAL.inv_cdf(q)


def _stirling_tail(x: float) -> float:
    # lgamma(x) - [(x - 1/2) ln x - x + ln(2 pi) / 2], accurate to ~1e-16 for x >= 30 (next term 1/(1188 x^9)).
    x2 = x * x
    return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x


def _lgamma_difference(a: float, b: float) -> float:
    """lgamma(a) - lgamma(a + b) without the cancellation of two huge lgamma values when a is large."""
    if a < 30.0:
        return math.lgamma(a) - math.lgamma(a + b)
    return -b * math.log(a) - (a + b - 0.5) * math.log1p(b / a) + b + _stirling_tail(a) - _stirling_tail(a + b)


def log_beta(a: float, b: float) -> float:
    small, large = min(a, b), max(a, b)
    return math.lgamma(small) + _lgamma_difference(large, small)


def _log_pair(x: float, y: float) -> tuple[float, float]:
    # ln x and ln y for x + y = 1, each through log1p of the other when it is close to 1.
    log_x = math.log1p(-y) if y < 0.5 else math.log(x)
    log_y = math.log1p(-x) if x < 0.5 else math.log(y)
    return log_x, log_y


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (Numerical Recipes' betacf, modified Lentz)."""
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    # Convergence takes O(sqrt(max(a, b))) terms on the side of the mean it is used on.
    for m in range(1, 1000 + 20 * int(math.sqrt(max(a, b)))):
        for coefficient in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + coefficient * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + coefficient / c
            c = c if abs(c) > _TINY else _TINY
            delta = c * d
            h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError("incomplete beta continued fraction did not converge")


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """Regularised incomplete beta I_x(a, b). ``y`` is 1 - x when the caller knows it more precisely than 1 - x."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_x, log_y = _log_pair(x, y)
    front = math.exp(a * log_x + b * log_y - log_beta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, y) / b


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom (df may be fractional, as Welch's is)."""
    t2 = t * t
    return betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def student_t_pdf(t: float, df: float) -> float:
    log_density = (
        math.lgamma((df + 1.0) / 2.0)
        - math.lgamma(df / 2.0)
        - 0.5 * math.log(df * math.pi)
        - (df + 1.0) / 2.0 * math.log1p(t * t / df)
    )
    return math.exp(log_density)


def student_t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q, for 0.5 < q < 1."""
    z = normal_quantile(q)
    if df >= 1000:
        # Cornish-Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5); its error is far below 1e-12 here, while
        # Newton's steps would chase the ~1e-10 noise of the incomplete beta at such df.
        z2 = z * z
        g1 = (z2 + 1) * z / 4
        g2 = ((5 * z2 + 16) * z2 + 3) * z / 96
        g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384
        g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z / 92160
        return z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df
    upper = 1.0 - q
    # The normal quantile lies left of the t quantile and the upper tail is convex there, so Newton's steps approach
    # the root monotonically from the left.
    t = z
    for _ in range(200):
        step = (student_t_two_sided_p(t, df) / 2.0 - upper) / student_t_pdf(t, df)
        t += step
        if abs(step) <= 1e-12 * t:
            return t
    raise ArithmeticError("t quantile did not converge")


def gammaincc(a: float, x: float) -> float:
    """Regularised upper incomplete gamma Q(a, x)."""
    if x <= 0.0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        term = total = 1.0 / a
        denominator = a
        for _ in range(100_000):
            denominator += 1.0
            term *= x / denominator
            total += term
            if abs(term) < abs(total) * _EPS:
                return max(0.0, 1.0 - total * math.exp(log_front))
        raise ArithmeticError("gamma series did not converge")
    # Q = front / (b - 1(1-a)/(b+2 - 2(2-a)/(b+4 - ...))) with b = x + 1 - a (Numerical Recipes' gcf).
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return math.exp(log_front) * h
    raise ArithmeticError("gamma continued fraction did not converge")


def chi2_sf(statistic: float, df: int) -> float:
    return gammaincc(df / 2.0, statistic / 2.0)

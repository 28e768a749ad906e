"""A split test's results from its rows: who was exposed to what, who converted, what they paid. Pure, no Django.

selectors.splittest_results runs the queries and hands the rows here; the page, the CSV and the Stats API all render
the Report this returns, so they can never disagree.

Counting (docs/splittest-statistics.md): each visitor counts once, in the variant of their first exposure (intention
to treat: a visitor session-level randomization showed another variant later is not counted twice). A conversion
counts when it happens at or after that exposure, less EXPOSURE_SLACK: the page view that shows a variant,
the exposure it sends and a payment's Stripe timestamp (whole seconds) arrive separately, seconds apart. Revenue is
the net amount (after refunds and lost disputes) of attributed payments in the site's currency; a revenue goal is met
by a payment whose net amount is above 0 ("any revenue") or at least the target.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from splittests.stats import (
    DEFAULT_ALPHA,
    DEFAULT_EXPECTED_VISITORS,
    MIN_CONVERSIONS,
    MIN_VISITORS,
    Conversions,
    Estimate,
    MeanSample,
    can_declare,
    compare_variants,
    sample_ratio_mismatch,
    wilson_interval,
)

EXPOSURE_SLACK = timedelta(seconds=60)
SEQUENTIAL, FIXED = "sequential", "fixed-horizon"
MAX_CHART_DAYS = 366


@dataclass(frozen=True)
class VariantSpec:
    id: int
    name: str
    weight: int
    is_control: bool


@dataclass(frozen=True)
class Payment:
    visitor_id: int
    at: datetime
    net: Decimal


@dataclass
class Row:
    variant: VariantSpec
    visitors: int = 0
    conversions: int = 0
    revenue: Decimal = Decimal(0)
    revenue_squares: float = 0.0
    paying_visitors: int = 0
    rate: Estimate | None = None
    # Treatments only: against control, in the shown mode.
    difference: Estimate | None = None
    uplift: Estimate | None = None
    p_value: Estimate | None = None
    chance_to_beat: Estimate | None = None
    revenue_uplift: Estimate | None = None
    revenue_p_value: Estimate | None = None
    evidence: float = 0.0  # 0–1: how far the p-value has come towards alpha (1 = significant)
    declaration: tuple[str, ...] = ()  # why not declarable; empty when it may be declared

    @property
    def revenue_per_visitor(self) -> Decimal | None:
        return self.revenue / self.visitors if self.visitors else None

    @property
    def name(self):
        return self.variant.name


@dataclass
class Report:
    rows: list[Row]
    mode: str
    planned_reached: bool
    planned_visitors_per_variant: int | None
    srm_p_value: Estimate
    srm_mismatch: bool
    correction_note: str
    alpha: float
    warnings: list[str] = field(default_factory=list)
    declarable: dict[int, tuple[str, ...]] = field(default_factory=dict)  # variant id → reasons (empty = allowed)
    chart_labels: list[str] = field(default_factory=list)
    chart_series: list[tuple[str, list[float | None]]] = field(default_factory=list)
    crossover_visitors: int = 0

    @property
    def control(self) -> Row:
        return self.rows[0]

    @property
    def treatments(self) -> list[Row]:
        return self.rows[1:]

    @property
    def total_visitors(self) -> int:
        return sum(r.visitors for r in self.rows)


def _evidence(p: Estimate | None, alpha: float) -> float:
    if p is None or p.value is None:
        return 0.0
    if p.value <= 0:
        return 1.0
    return max(0.0, min(1.0, math.log(1 / p.value) / math.log(1 / alpha)))


def first_exposures(exposures) -> dict[tuple[int, int], datetime]:
    """(variant id, visitor id) → the first exposure time, from (variant id, visitor id, time) rows."""
    first = {}
    for variant_id, visitor_id, at in exposures:
        key = (variant_id, visitor_id)
        if key not in first or at < first[key]:
            first[key] = at
    return first


def _first_at_or_after(times: list[datetime], start: datetime) -> datetime | None:
    return next((t for t in times if t >= start), None)


def build(
    *,
    variants: list[VariantSpec],
    exposures,
    goal_hits: dict[int, list[datetime]] | None,
    payments: list[Payment],
    revenue_threshold: Decimal | None,
    planned_visitors_per_variant: int | None,
    timezone: str = "UTC",
    today: date | None = None,
    requested_mode: str | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> Report:
    """goal_hits: visitor id → sorted times of page-visit/event goal hits, or None for a revenue goal (then a payment
    of at least `revenue_threshold` is the conversion; Decimal(0) with "above 0" meaning any revenue)."""
    variants = sorted(variants, key=lambda v: not v.is_control)
    rows = {v.id: Row(variant=v) for v in variants}
    paid = defaultdict(list)
    for payment in payments:
        paid[payment.visitor_id].append(payment)
    for times in paid.values():
        times.sort(key=lambda p: p.at)

    zone = ZoneInfo(timezone)
    exposed_days = defaultdict(lambda: defaultdict(int))  # variant → day → newly exposed visitors
    converted_days = defaultdict(lambda: defaultdict(int))
    seen_in = defaultdict(set)
    # Each visitor counts once, in the variant they saw first (intention to treat): a visitor that session-level
    # randomization showed another variant on a later visit is not counted, nor credited, twice.
    assigned = {}
    for (variant_id, visitor_id), at in first_exposures(exposures).items():
        if variant_id not in rows:
            continue
        seen_in[visitor_id].add(variant_id)
        if visitor_id not in assigned or at < assigned[visitor_id][1]:
            assigned[visitor_id] = (variant_id, at)
    for visitor_id, (variant_id, at) in assigned.items():
        row = rows[variant_id]
        start = at - EXPOSURE_SLACK
        row.visitors += 1
        exposed_days[variant_id][at.astimezone(zone).date()] += 1
        converted_at = None
        if goal_hits is not None:
            converted_at = _first_at_or_after(goal_hits.get(visitor_id, []), start)
        amount = Decimal(0)
        for payment in paid.get(visitor_id, []):
            if payment.at < start:
                continue
            amount += payment.net
            if goal_hits is None and converted_at is None:
                meets = payment.net > 0 if not revenue_threshold else payment.net >= revenue_threshold
                if meets:
                    converted_at = payment.at
        if converted_at is not None:
            row.conversions += 1
            converted_days[variant_id][converted_at.astimezone(zone).date()] += 1
        if amount:
            row.revenue += amount
            row.revenue_squares += float(amount) ** 2
            row.paying_visitors += 1

    ordered = [rows[v.id] for v in variants]
    for row in ordered:
        row.rate = wilson_interval(Conversions(row.visitors, row.conversions), alpha=alpha, name=row.name)

    weighted = [r for r in ordered if r.variant.weight > 0]
    planned_reached = bool(planned_visitors_per_variant) and all(
        r.visitors >= planned_visitors_per_variant for r in weighted
    )
    mode = FIXED if planned_reached and requested_mode in (None, FIXED) else SEQUENTIAL

    if (
        len(ordered) < 2
        or sum(1 for r in ordered if r.variant.is_control) != 1
        or not sum(r.variant.weight for r in ordered)
    ):
        # Only a broken setup (edited by hand in the admin) gets here: counts, but nothing to compare.
        broken = "The test needs exactly one control and at least one variant."
        report = Report(
            rows=ordered, mode=mode, planned_reached=planned_reached,
            planned_visitors_per_variant=planned_visitors_per_variant,
            srm_p_value=Estimate.undefined("the test needs the control and a variant with weights"),
            srm_mismatch=False, correction_note="", alpha=alpha,
            declarable={r.variant.id: (broken,) for r in ordered},
        )  # fmt: skip
        report.warnings.append(f"{broken[:-1]}: nothing to compare.")
        return report

    srm = sample_ratio_mismatch([r.visitors for r in ordered], [r.variant.weight for r in ordered])
    control, treatments = ordered[0], ordered[1:]
    expected = 2 * planned_visitors_per_variant if planned_visitors_per_variant else DEFAULT_EXPECTED_VISITORS
    conversions = compare_variants(
        Conversions(control.visitors, control.conversions),
        [(r.name, Conversions(r.visitors, r.conversions)) for r in treatments],
        control_name=control.name,
        alpha=alpha,
        expected_visitors=expected,
    )
    revenue = compare_variants(
        MeanSample(control.visitors, control.revenue, control.revenue_squares),
        [(r.name, MeanSample(r.visitors, r.revenue, r.revenue_squares)) for r in treatments],
        control_name=control.name,
        alpha=alpha,
        expected_visitors=expected,
    )
    declarable = {}
    control_reasons = []

    # The minimum sample holds for every variant that takes traffic, not only the pair compared: a winner is not
    # named while another treatment has hardly been seen.
    def sampled(row):
        return [r for r in ordered if r is control or r is row or r.variant.weight > 0]

    for row, result, money in zip(treatments, conversions.results, revenue.results, strict=True):
        shown = result.fixed if mode == FIXED else result.sequential
        row.difference, row.uplift = shown.difference, shown.uplift
        row.p_value = result.p_value if mode == FIXED else result.sequential_p_value
        row.chance_to_beat = result.fixed.chance_to_beat
        row.revenue_uplift = money.fixed.uplift if mode == FIXED else money.sequential.uplift
        row.revenue_p_value = money.p_value if mode == FIXED else money.sequential_p_value
        row.evidence = _evidence(row.p_value, alpha)
        declaration = can_declare(
            variants=[(r.name, Conversions(r.visitors, r.conversions)) for r in sampled(row)],
            sequential_p_value=result.sequential_p_value.value,
            p_value=result.p_value.value,
            planned_visitors_per_variant=planned_visitors_per_variant,
            sample_ratio_mismatch=srm.mismatch,
            alpha=alpha,
        )  # fmt: skip
        reasons = list(declaration.reasons)
        better = (shown.difference.value or 0) > 0
        if declaration.allowed and not better:
            reasons.append(f"{row.name} converts worse than {control.name}.")
        if declaration.allowed and better:
            control_reasons.append(f"{row.name} converts better than {control.name}.")
        elif not declaration.allowed:
            control_reasons.extend(r for r in declaration.reasons if r not in control_reasons)
        row.declaration = tuple(reasons)
        declarable[row.variant.id] = row.declaration
    declarable[control.variant.id] = tuple(control_reasons)

    report = Report(
        rows=ordered,
        mode=mode,
        planned_reached=planned_reached,
        planned_visitors_per_variant=planned_visitors_per_variant,
        srm_p_value=srm.p_value,
        srm_mismatch=srm.mismatch,
        correction_note=conversions.note,
        alpha=alpha,
        declarable=declarable,
        crossover_visitors=sum(1 for seen in seen_in.values() if len(seen) > 1),
    )
    _warn(report)
    _chart(report, exposed_days, converted_days, today)
    return report


def _warn(report: Report):
    if report.srm_mismatch:
        report.warnings.append(
            f"Sample-ratio mismatch (p = {report.srm_p_value.value:.2g} < 0.001): visitors are not split as the "
            "weights say. Something is losing or adding visitors in one variant (a redirect failing, bots, a "
            "cached page); the results are not reliable and no winner can be declared."
        )
    small = [r.name for r in report.rows if r.visitors < MIN_VISITORS or r.conversions < MIN_CONVERSIONS]
    if small:
        report.warnings.append(
            f"{', '.join(small)} {'has' if len(small) == 1 else 'have'} fewer than {MIN_VISITORS} visitors or "
            f"{MIN_CONVERSIONS} conversions: too few to declare a winner."
        )
    if report.crossover_visitors:
        report.warnings.append(
            f"{report.crossover_visitors:,} visitors saw more than one variant (session-level randomization assigns "
            "each visit afresh); each counts once, in the variant they saw first."
        )


def _chart(report: Report, exposed_days, converted_days, today):
    days = {d for per in exposed_days.values() for d in per}
    if not days:
        return
    start, end = min(days), max(today or max(days), max(days))
    if (end - start).days >= MAX_CHART_DAYS:
        start = end - timedelta(days=MAX_CHART_DAYS - 1)
    labels, series = [], []
    span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    labels = [d.strftime("%-d %b") for d in span]
    for row in report.rows:
        vid = row.variant.id
        exposed = sum(n for d, n in exposed_days[vid].items() if d < start)
        converted = sum(n for d, n in converted_days[vid].items() if d < start)
        values = []
        for day in span:
            exposed += exposed_days[vid].get(day, 0)
            converted += converted_days[vid].get(day, 0)
            values.append(round(100 * converted / exposed, 2) if exposed else None)
        series.append((row.name, values))
    report.chart_labels, report.chart_series = labels, series

"""A Report (report.py) as the page, the CSV and the Stats API show it. Pure, no Django.

A number that cannot be computed is shown as "—" with its reason (never 0, ∞ or NaN); the API gives null and the
reason.
"""

from decimal import Decimal

from splittests.report import FIXED, Report, Row
from splittests.stats import Estimate

DASH = "—"


def pct(value, digits=2):
    return DASH if value is None else f"{value * 100:.{digits}f} %"


def signed_pct(value, digits=1):
    return DASH if value is None else f"{value * 100:+.{digits}f} %"


def money(value, currency):
    return DASH if value is None else f"{Decimal(value):,.2f} {currency}"


def p_text(estimate: Estimate | None):
    if estimate is None or estimate.value is None:
        return DASH
    return "< 0.0001" if estimate.value < 0.0001 else f"{estimate.value:.4f}"


def interval_text(estimate: Estimate | None, *, signed=True):
    if estimate is None or estimate.value is None:
        return DASH
    fmt = signed_pct if signed else pct
    if not estimate.has_interval:
        return f"{fmt(estimate.value)} (no interval)"
    return f"{fmt(estimate.value)} [{fmt(estimate.low)}, {fmt(estimate.high)}]"


def reason(estimate: Estimate | None):
    return None if estimate is None else estimate.reason


def row_display(row: Row, currency: str, *, is_control: bool):
    return {
        "id": row.variant.id,
        "name": row.name,
        "is_control": is_control,
        "weight": row.variant.weight,
        "visitors": f"{row.visitors:,}",
        "conversions": f"{row.conversions:,}",
        "rate": interval_text(row.rate, signed=False),
        "rate_reason": reason(row.rate),
        "revenue": money(row.revenue, currency),
        "rpv": money(row.revenue_per_visitor, currency),
        "uplift": DASH if is_control else interval_text(row.uplift),
        "uplift_reason": None if is_control else reason(row.uplift),
        "p_value": DASH if is_control else p_text(row.p_value),
        "p_reason": None if is_control else reason(row.p_value),
        "chance": DASH if is_control else pct(row.chance_to_beat.value if row.chance_to_beat else None, 1),
        "revenue_uplift": DASH if is_control else interval_text(row.revenue_uplift),
        "revenue_p_value": DASH if is_control else p_text(row.revenue_p_value),
        "revenue_reason": None if is_control else reason(row.revenue_uplift),
        "evidence_percent": 0 if is_control else round(row.evidence * 100),
        "declaration": row.declaration,
    }


def csv_rows(report: Report, currency: str):
    header = [
        "variant", "control", "weight", "visitors", "conversions", "conversion_rate", "rate_low", "rate_high",
        f"revenue_{currency}", f"revenue_per_visitor_{currency}", "uplift", "uplift_low", "uplift_high", "p_value",
        "chance_to_beat_control", "revenue_uplift", "revenue_p_value", "results",
    ]  # fmt: skip
    yield header

    def num(value, digits=6):
        return "" if value is None else f"{value:.{digits}f}"

    for index, row in enumerate(report.rows):
        treatment = index > 0

        def est(e, attr="value", treatment=treatment):
            return num(getattr(e, attr)) if treatment and e is not None else ""

        yield [
            row.name, "no" if treatment else "yes", row.variant.weight, row.visitors, row.conversions,
            num(row.rate.value), num(row.rate.low), num(row.rate.high), f"{row.revenue:.2f}",
            num(row.revenue_per_visitor, 4), est(row.uplift), est(row.uplift, "low"), est(row.uplift, "high"),
            est(row.p_value), est(row.chance_to_beat), est(row.revenue_uplift), est(row.revenue_p_value), report.mode,
        ]  # fmt: skip


def _estimate_json(e: Estimate | None):
    if e is None:
        return None
    return {"value": e.value, "low": e.low, "high": e.high, "reason": e.reason}


def api_json(report: Report, *, test, currency: str):
    variants = []
    for index, row in enumerate(report.rows):
        item = {
            "id": row.variant.id,
            "name": row.name,
            "control": index == 0,
            "weight": row.variant.weight,
            "visitors": row.visitors,
            "conversions": row.conversions,
            "conversion_rate": _estimate_json(row.rate),
            "revenue": f"{row.revenue:.2f}",
            "revenue_per_visitor": None if row.revenue_per_visitor is None else f"{row.revenue_per_visitor:.4f}",
        }
        if index:
            item.update(
                {
                    "difference": _estimate_json(row.difference),
                    "uplift": _estimate_json(row.uplift),
                    "p_value": _estimate_json(row.p_value),
                    "chance_to_beat_control": _estimate_json(row.chance_to_beat),
                    "revenue_uplift": _estimate_json(row.revenue_uplift),
                    "revenue_p_value": _estimate_json(row.revenue_p_value),
                    "can_declare": not row.declaration,
                    "not_declarable_because": list(row.declaration),
                }
            )
        variants.append(item)
    return {
        "test": {
            "id": test.id,
            "name": test.name,
            "status": test.status,
            "page": test.page_path,
            "goal": test.goal_label,
            "randomization": test.randomization,
            "started_at": test.started_at.isoformat() if test.started_at else None,
            "stopped_at": test.stopped_at.isoformat() if test.stopped_at else None,
            "winner": test.winner.name if test.winner_id else None,
        },
        "results": report.mode,
        "fixed_horizon_available": report.planned_reached,
        "planned_visitors_per_variant": report.planned_visitors_per_variant,
        "currency": currency,
        "alpha": report.alpha,
        "variants": variants,
        "sample_ratio_mismatch": {"p_value": _estimate_json(report.srm_p_value), "mismatch": report.srm_mismatch},
        "correction": report.correction_note,
        "warnings": report.warnings,
    }


def mode_sentence(report: Report):
    if report.mode == FIXED:
        return (
            "Fixed-horizon results: every variant has reached the planned sample, so the classic two-sided tests "
            "apply to this look."
        )
    if report.planned_reached:
        return "Sequential (always-valid) results, as you asked; fixed-horizon results are available."
    return (
        "Sequential (always-valid) results: valid however often you look and whenever you stop. Fixed-horizon "
        "results are offered once every variant reaches the planned sample."
    )

"""Writes for split tests: create and edit drafts, the lifecycle (launch, pause, resume, stop, declare a winner),
recording exposures, and the auto-stop sweep.

Lifecycle changes are conditional UPDATEs on the current status, so two clicks (or a click and the auto-stop task)
never both apply; a refused change raises ValidationError with a sentence for the page.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from splittests import delivery
from splittests.models import Exposure, SplitTest, Variant
from splittests.stats import plan_test

Status = SplitTest.Status
MAX_VARIANTS = 8


def _planned(fields, variants):
    baseline, effect = fields.get("baseline_rate"), fields.get("minimum_effect")
    if baseline is None or effect is None:
        return None
    try:
        return plan_test(baseline=baseline, mde=effect, variants=max(2, len(variants))).visitors_per_variant
    except ValueError as error:
        raise ValidationError({"minimum_effect": str(error)}) from None


def _check_variants(variants):
    if len(variants) < 2:
        raise ValidationError("A test needs the control and at least one variant.")
    if len(variants) > MAX_VARIANTS:
        raise ValidationError(f"At most {MAX_VARIANTS} variants (control included).")
    if sum(1 for v in variants if v["kind"] == Variant.Kind.CONTROL) != 1:
        raise ValidationError("Exactly one variant is the control.")
    names = [v["name"] for v in variants]
    if len(set(names)) != len(names):
        raise ValidationError("Give every variant its own name.")
    if sum(v["weight"] for v in variants) <= 0:
        raise ValidationError("At least one variant needs a traffic weight above 0.")


def splittest_goal_check(*, fields):
    """The goal's rules (its amount, path or event present; the others cleared), for the admin's form too."""
    _check_goal(fields)


def splittest_plan_refresh(*, test):
    """A draft's planned sample from its baseline and effect and its number of variants (the admin saves the
    variants after the test, so it plans afterwards)."""
    if not test.is_editable:
        return test
    fields = {"baseline_rate": test.baseline_rate, "minimum_effect": test.minimum_effect}
    try:
        planned = _planned(fields, list(test.variants.all()))
    except ValidationError:
        planned = None
    SplitTest.objects.filter(pk=test.pk, status=Status.DRAFT).update(planned_visitors_per_variant=planned)
    test.planned_visitors_per_variant = planned
    return test


def _check_goal(fields):
    kind = fields["goal_kind"]
    if kind == SplitTest.GoalKind.REVENUE_TARGET and not (fields.get("goal_amount") or 0) > 0:
        raise ValidationError({"goal_amount": "Enter the amount a payment must reach."})
    if kind == SplitTest.GoalKind.PAGE and not fields.get("goal_path"):
        raise ValidationError({"goal_path": "Enter the goal page's path, like /thanks or /docs/*."})
    if kind == SplitTest.GoalKind.EVENT and not fields.get("goal_event"):
        raise ValidationError({"goal_event": "Enter the event name, like Signup."})
    if kind != SplitTest.GoalKind.REVENUE_TARGET:
        fields["goal_amount"] = None
    if kind != SplitTest.GoalKind.PAGE:
        fields["goal_path"] = ""
    if kind != SplitTest.GoalKind.EVENT:
        fields["goal_event"] = ""


def _write_variants(test, variants):
    test.variants.all().delete()
    Variant.objects.bulk_create(
        Variant(
            test=test,
            position=position,
            name=v["name"],
            kind=v["kind"],
            weight=v["weight"],
            redirect_url=v.get("redirect_url", "") if v["kind"] == Variant.Kind.REDIRECT else "",
            changes=v.get("changes", []) if v["kind"] == Variant.Kind.CHANGES else [],
        )
        for position, v in enumerate(sorted(variants, key=lambda v: v["kind"] != Variant.Kind.CONTROL))
    )


@transaction.atomic
def splittest_create(*, site, user, fields, variants):
    """fields: the SplitTest fields the form shapes; variants: [{name, kind, weight, redirect_url, changes}]."""
    fields = dict(fields)
    _check_variants(variants)
    _check_goal(fields)
    fields["planned_visitors_per_variant"] = _planned(fields, variants)
    test = SplitTest.objects.create(site=site, created_by=user, **fields)
    _write_variants(test, variants)
    return test


@transaction.atomic
def splittest_update(*, test, fields, variants):
    if not SplitTest.objects.filter(pk=test.pk, status=Status.DRAFT).select_for_update().exists():
        raise ValidationError("Only a draft can be edited: changing a running test would mix two experiments.")
    fields = dict(fields)
    _check_variants(variants)
    _check_goal(fields)
    fields["planned_visitors_per_variant"] = _planned(fields, variants)
    for name, value in fields.items():
        setattr(test, name, value)
    test.save()
    _write_variants(test, variants)
    return test


def _transition(test, *, allowed, to, refusal, **changes):
    updated = SplitTest.objects.filter(pk=test.pk, status__in=allowed).update(
        status=to, updated_at=timezone.now(), **changes
    )
    if not updated:
        raise ValidationError(refusal)
    test.refresh_from_db()
    delivery.forget(test.site.domain)
    return test


def splittest_launch(*, test, now=None):
    variants = list(test.variants.all())
    if len(variants) < 2 or not any(v.is_control for v in variants):
        raise ValidationError("A test needs the control and at least one variant before it can launch.")
    # Two tests on one page would change each other's control (a no-code change shown to the other's control
    # visitors, a redirect taking them away): one at a time per page.
    busy = (
        SplitTest.objects.filter(
            site_id=test.site_id, page_path=test.page_path, status__in=[Status.RUNNING, Status.PAUSED]
        )
        .exclude(pk=test.pk)
        .values_list("name", flat=True)
        .first()
    )
    if busy is not None:
        raise ValidationError(f"“{busy}” already tests {test.page_path}: stop it before launching another test there.")
    return _transition(
        test,
        allowed=[Status.DRAFT],
        to=Status.RUNNING,
        refusal="Only a draft can be launched.",
        started_at=now or timezone.now(),
    )


def splittest_pause(*, test):
    return _transition(test, allowed=[Status.RUNNING], to=Status.PAUSED, refusal="Only a running test can be paused.")


def splittest_resume(*, test):
    return _transition(test, allowed=[Status.PAUSED], to=Status.RUNNING, refusal="Only a paused test can be resumed.")


def splittest_stop(*, test, reason="Stopped by hand.", now=None):
    return _transition(
        test,
        allowed=[Status.RUNNING, Status.PAUSED],
        to=Status.STOPPED,
        refusal="Only a running or paused test can be stopped.",
        stopped_at=now or timezone.now(),
        stop_reason=reason,
    )


def splittest_declare_winner(*, test, variant, now=None):
    """Name the winner and stop the test, when the results allow it (selectors.splittest_results → declarable)."""
    from splittests.selectors import splittest_results

    if variant.test_id != test.pk:
        raise ValidationError("That variant belongs to another test.")
    if test.status not in (Status.RUNNING, Status.PAUSED, Status.STOPPED) or test.winner_id:
        raise ValidationError("A winner can be declared once, for a test that has run.")
    results = splittest_results(test=test, now=now)
    reasons = results.declarable.get(variant.pk)
    if reasons:
        raise ValidationError(f"{variant.name} cannot be declared the winner yet: " + " ".join(reasons))
    updated = SplitTest.objects.filter(
        pk=test.pk, winner__isnull=True, status__in=[Status.RUNNING, Status.PAUSED, Status.STOPPED]
    ).update(
        winner=variant,
        status=Status.STOPPED,
        stopped_at=test.stopped_at or now or timezone.now(),
        stop_reason=f"{variant.name} declared the winner.",
        updated_at=timezone.now(),
    )
    if not updated:
        raise ValidationError("A winner can be declared once, for a test that has run.")
    test.refresh_from_db()
    delivery.forget(test.site.domain)
    return test


def exposure_record(*, site_id, test_id, variant_id, view_id, visitor_id, now=None):
    """Store the exposure once per (test, view id); True when it was new."""
    try:
        with transaction.atomic():
            Exposure.objects.create(
                site_id=site_id,
                test_id=test_id,
                variant_id=variant_id,
                view_id=view_id,
                visitor_id=visitor_id,
                created_at=now or timezone.now(),
            )
    except IntegrityError:
        return False
    return True


def splittests_auto_stop(*, now=None):
    """Stop running tests past their auto-stop day or at their planned sample. Safe to run twice (conditional
    UPDATEs); returns the ids stopped."""
    from splittests.selectors import exposed_visitors_per_variant

    now = now or timezone.now()
    stopped = []
    running = SplitTest.objects.filter(status=Status.RUNNING).select_related("site")
    for test in running.exclude(auto_stop_days__isnull=True, auto_stop_at_sample=False):
        reason = None
        if test.auto_stop_days and test.started_at and now >= test.started_at + timedelta(days=test.auto_stop_days):
            reason = f"Stopped automatically after {test.auto_stop_days} days."
        elif test.auto_stop_at_sample and test.planned_visitors_per_variant:
            counts = exposed_visitors_per_variant(test=test)
            weighted = [v for v in test.variants.all() if v.weight > 0]
            if weighted and all(counts.get(v.pk, 0) >= test.planned_visitors_per_variant for v in weighted):
                reason = f"Stopped automatically: every variant reached {test.planned_visitors_per_variant:,} visitors."
        if reason:
            try:
                splittest_stop(test=test, reason=reason, now=now)
            except ValidationError:
                continue  # stopped or paused meanwhile
            stopped.append(test.pk)
    return stopped

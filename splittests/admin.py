"""Staff admin for split tests: the lifecycle as actions (the same services as the Split tests tab), exposures
read-only. Status, dates and the winner change only through the actions, never by editing the fields; declaring a
winner asks which variant on an intermediate page and is refused, with the reasons, when the results do not allow it.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse

from splittests import changes, paths, services
from splittests.models import Exposure, SplitTest, Variant
from splittests.stats import plan_test

LOCKED = ["status", "winner", "stop_reason", "started_at", "stopped_at", "planned_visitors_per_variant"]


class SplitTestAdminForm(forms.ModelForm):
    """The tab's rules for what staff type: the control page is a path on the site."""

    class Meta:
        model = SplitTest
        # Every field staff set: the admin builds its form from this list (a list of only the site and the page left
        # staff unable to name a test or set its goal, traffic share or randomization).
        fields = [
            "site", "name", "hypothesis", "page_path", "randomization", "traffic_percent", "goal_kind", "goal_amount",
            "goal_path", "goal_event", "baseline_rate", "minimum_effect", "daily_visitors", "auto_stop_days",
            "auto_stop_at_sample",
        ]  # fmt: skip

    def clean(self):
        data = super().clean()
        site, page = data.get("site"), data.get("page_path")
        if site and page:
            try:
                data["page_path"] = paths.control_path(page, domain=site.domain)
            except paths.PathError as error:
                self.add_error("page_path", str(error))
        # The goal's rules and a possible plan, as the tab has them: a revenue target without its amount would
        # otherwise count any payment, a page goal without its path nothing.
        if "goal_kind" in self.fields and data.get("goal_kind"):
            goal = {k: data.get(k) for k in ("goal_kind", "goal_amount", "goal_path", "goal_event")}
            try:
                services.splittest_goal_check(fields=goal)
            except ValidationError as error:
                for field, errors in error.message_dict.items():
                    self.add_error(field if field in self.fields else None, errors)
            else:
                data.update(goal)
        baseline, effect = data.get("baseline_rate"), data.get("minimum_effect")
        if (baseline is None) != (effect is None):
            self.add_error("minimum_effect", "Enter both the baseline rate and the effect for a plan, or neither.")
        elif baseline is not None:
            try:
                plan_test(baseline=baseline, mde=effect, variants=2)
            except ValueError as error:
                self.add_error("minimum_effect", str(error))
        if data.get("auto_stop_at_sample") and baseline is None:
            self.add_error("auto_stop_at_sample", "Stopping at the planned sample needs a plan: enter the baseline.")
        return data


class VariantAdminForm(forms.ModelForm):
    class Meta:
        model = Variant
        fields = ["kind", "redirect_url", "changes"]  # the inline adds the rest of its fields

    def clean(self):
        data = super().clean()
        test = data.get("test") or getattr(self.instance, "test", None)
        kind = data.get("kind")
        if kind == Variant.Kind.REDIRECT and test is not None and test.site_id:
            try:
                data["redirect_url"] = paths.redirect_target(
                    data.get("redirect_url", ""), domain=test.site.domain, control=test.page_path
                )
            except paths.PathError as error:
                self.add_error("redirect_url", str(error))
        if kind == Variant.Kind.CHANGES:
            raw = data.get("changes")
            try:
                if not isinstance(raw, list) or not raw:
                    raise changes.ChangeError('write a list like [{"selector": "h1", "action": "text", "value": "Hi"}]')
                data["changes"] = [
                    changes.check(
                        {"selector": str(c.get("selector", "")),
                         "action": f"{c.get('action', '')}:{c['name']}" if c.get("name") else str(c.get("action", "")),
                         "value": str(c.get("value", ""))},
                        number,
                    )
                    if isinstance(c, dict) else changes.check({"selector": "", "action": "", "value": ""}, number)
                    for number, c in enumerate(raw, start=1)
                ]  # fmt: skip
            except changes.ChangeError as error:
                self.add_error("changes", str(error))
        return data


class VariantFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if kept and sum(1 for f in kept if f.cleaned_data.get("kind") == Variant.Kind.CONTROL) != 1:
            raise ValidationError("Exactly one variant is the control.")
        if kept and sum(f.cleaned_data.get("weight") or 0 for f in kept) <= 0:
            raise ValidationError("At least one variant needs a traffic weight above 0.")


class VariantInline(admin.TabularInline):
    model = Variant
    form = VariantAdminForm
    formset = VariantFormSet
    extra = 0
    fields = ["position", "name", "kind", "weight", "redirect_url", "changes"]

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.is_editable

    has_add_permission = has_delete_permission = has_change_permission


def _apply(modeladmin, request, queryset, service, verb):
    done, refused = 0, []
    for test in queryset.select_related("site"):
        try:
            service(test=test)
        except ValidationError as error:
            refused.append(f"{test.name}: {' '.join(error.messages)}")
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{verb} {done} split test{'s' if done != 1 else ''}.", messages.SUCCESS)
    for text in refused:
        modeladmin.message_user(request, text, messages.WARNING)


@admin.register(SplitTest)
class SplitTestAdmin(admin.ModelAdmin):
    form = SplitTestAdminForm
    list_display = ["name", "site", "status", "page_path", "goal_kind", "randomization", "started_at", "winner"]
    list_filter = ["status", "goal_kind", "randomization"]
    search_fields = ["name", "site__domain", "page_path"]
    list_select_related = ["site", "winner"]
    readonly_fields = [*LOCKED, "created_by", "created_at", "updated_at"]
    inlines = [VariantInline]
    actions = ["launch", "pause", "resume", "stop", "declare_winner"]

    @admin.action(description="Launch the selected drafts")
    def launch(self, request, queryset):
        _apply(self, request, queryset, services.splittest_launch, "Launched")

    @admin.action(description="Pause the selected tests")
    def pause(self, request, queryset):
        _apply(self, request, queryset, services.splittest_pause, "Paused")

    @admin.action(description="Resume the selected tests")
    def resume(self, request, queryset):
        _apply(self, request, queryset, services.splittest_resume, "Resumed")

    @admin.action(description="Stop the selected tests")
    def stop(self, request, queryset):
        _apply(self, request, queryset, lambda test: services.splittest_stop(test=test, reason="Stopped by staff."),
               "Stopped")  # fmt: skip

    @admin.action(description="Declare a winner…")
    def declare_winner(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Declare a winner for one test at a time.", messages.WARNING)
            return None
        test = queryset.select_related("site").get()
        variants = list(test.variants.all())
        if "variant" in request.POST:
            variant = next((v for v in variants if str(v.pk) == request.POST["variant"]), None)
            if variant is None:
                self.message_user(request, "Choose one of the test's variants.", messages.ERROR)
                return None
            try:
                services.splittest_declare_winner(test=test, variant=variant)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                self.message_user(request, f"{variant.name} is declared the winner of {test.name}.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Declare the winner of {test.name}",
            "test": test,
            "variants": variants,
            "opts": self.model._meta,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/splittests/declare_winner.html", context)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.splittest_plan_refresh(test=form.instance)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and not obj.is_editable:  # a running test's setup is the experiment: keep it as it is
            fields += [f.name for f in SplitTest._meta.fields if f.name not in fields and f.name != "id"]
        return fields


@admin.register(Exposure)
class ExposureAdmin(admin.ModelAdmin):
    list_display = ["view_id", "test", "variant", "created_at"]
    list_filter = ["test__site"]
    search_fields = ["view_id", "test__name"]
    list_select_related = ["test", "variant"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

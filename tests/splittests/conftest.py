"""Split tests of alice's example.com: a draft and a running redirect test, and helpers to expose visitors."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from splittests import delivery, services
from splittests.models import Exposure, SplitTest, Variant

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def variants(*treatments):
    return [{"name": "Control", "kind": Variant.Kind.CONTROL, "weight": 1}, *treatments]


REDIRECT_B = {"name": "B", "kind": Variant.Kind.REDIRECT, "weight": 1, "redirect_url": "/pricing-b"}


def fields(**overrides):
    return {
        "name": "Pricing headline",
        "hypothesis": "A shorter page sells more.",
        "page_path": "/pricing",
        "traffic_percent": 100,
        "randomization": SplitTest.Randomization.USER,
        "goal_kind": SplitTest.GoalKind.REVENUE_ANY,
        **overrides,
    }


@pytest.fixture(autouse=True)
def _fresh_delivery_cache():
    delivery.forget()
    yield
    delivery.forget()


@pytest.fixture
def draft(site, alice):
    return services.splittest_create(site=site, user=alice, fields=fields(), variants=variants(REDIRECT_B))


@pytest.fixture
def running(draft):
    return services.splittest_launch(test=draft, now=T0)


def control_of(test):
    return test.variants.get(kind=Variant.Kind.CONTROL)


def variant_named(test, name):
    return test.variants.get(name=name)


_views = iter(range(10**9))


def expose(test, variant, visitor_id, at=T0 + timedelta(minutes=1)):
    return Exposure.objects.create(
        site=test.site, test=test, variant=variant, view_id=f"exposure{next(_views):014d}", visitor_id=visitor_id,
        created_at=at,
    )  # fmt: skip


def money(text):
    return Decimal(text)

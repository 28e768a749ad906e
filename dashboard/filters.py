"""Query filters as Django Q objects: visit-level on Visit, event-level on PageView and Event rows."""

import re

from django.db.models import Q

from dashboard.query import PROPS_PREFIX, VISIT_DIMENSIONS, Logical
from sites.models import Goal

ALWAYS = Q(pk__isnull=False)
NEVER = Q(pk__isnull=True)


def text_q(field_name, operator, values):
    if operator in ("is", "is_not"):
        q = Q(**{f"{field_name}__in": list(values)})
    elif operator in ("contains", "contains_not"):
        q = NEVER
        for value in values:
            q |= Q(**{f"{field_name}__contains": value})
    else:  # matches
        q = NEVER
        for value in values:
            q |= Q(**{f"{field_name}__regex": value})
    return ~q if operator.endswith("_not") else q


def python_match(text, operator, values):
    if operator in ("is", "is_not"):
        hit = text in values
    elif operator in ("contains", "contains_not"):
        hit = any(v in text for v in values)
    else:
        hit = any(re.search(v, text) for v in values)
    return not hit if operator.endswith("_not") else hit


def wildcard_regex(pattern):
    """A goal path like /blog/* → an anchored regular expression; `*` matches anything but `/`, `**` anything."""
    parts = re.split(r"(\*\*|\*)", pattern)
    body = "".join(".*" if p == "**" else "[^/]*" if p == "*" else re.escape(p) for p in parts)
    return f"^{body}$"


def goal_qs(goals):
    """(page view Q, event Q) that match any of the goals."""
    pv_q, ev_q = NEVER, NEVER
    for goal in goals:
        if goal.kind == Goal.Kind.PAGE:
            if "*" in goal.page_path:
                pv_q |= Q(pathname__regex=wildcard_regex(goal.page_path))
            else:
                pv_q |= Q(pathname=goal.page_path)
        else:
            ev_q |= Q(name=goal.event_name)
    return pv_q, ev_q


def event_qs(item, goals):
    """(page view Q, custom event Q) for an event-level filter."""
    if isinstance(item, Logical):
        pairs = [event_qs(child, goals) for child in item.children]
        if item.operator == "not":
            pv, ev = pairs[0]
            return ~pv, ~ev
        pv_q, ev_q = (ALWAYS, ALWAYS) if item.operator == "and" else (NEVER, NEVER)
        for pv, ev in pairs:
            if item.operator == "and":
                pv_q, ev_q = pv_q & pv, ev_q & ev
            else:
                pv_q, ev_q = pv_q | pv, ev_q | ev
        return pv_q, ev_q
    operator, dimension, values = item.operator, item.dimension, item.values
    if dimension == "event:page":
        q = text_q("pathname", operator, values)
        return q, q
    if dimension == "event:name":
        return (ALWAYS if python_match("pageview", operator, values) else NEVER), text_q("name", operator, values)
    if dimension == "event:goal":
        chosen = [g for g in goals if python_match(g.name, operator.removesuffix("_not"), values)]
        pv_q, ev_q = goal_qs(chosen)
        return (~pv_q, ~ev_q) if operator.endswith("_not") else (pv_q, ev_q)
    key = dimension[len(PROPS_PREFIX) :]
    q = text_q(f"props__{key}", operator, values)
    if operator.endswith("_not"):  # rows without the prop do not match "is_not" either (Plausible: (none))
        q &= Q(**{"props__has_key": key})
    return q, q


def visit_q(item):
    if isinstance(item, Logical):
        children = [visit_q(child) for child in item.children]
        if item.operator == "not":
            return ~children[0]
        combined = children[0]
        for child in children[1:]:
            combined = combined & child if item.operator == "and" else combined | child
        return combined
    return text_q(VISIT_DIMENSIONS[item.dimension], item.operator, item.values)

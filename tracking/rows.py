"""The database side of storing a batch (tracking.services.events_store): reads and writes of rows.

On PostgreSQL (production, CI) rows go in with COPY and change with one `UPDATE … FROM unnest(arrays)`
per table, and lookups pass their keys as one array. The ORM's bulk_create / bulk_update / `__in` build
and bind every value of every row in Python (a model instance per row, a placeholder per value that the
client cursor splices into the SQL): that was ~70 % of the flusher's CPU. Elsewhere (SQLite, the
embedded default) the ORM does the same work, slower; both are tested.

Only quoted model metadata is ever interpolated into SQL; every value is a parameter or COPY data.
"""

import json
from collections import defaultdict
from decimal import Decimal

from django.db import connection

from tracking.models import Event, PageView, Visit
from tracking.sessions import DIMENSIONS, LOADED, MUTABLE, OpenVisit


def _pg():
    return connection.vendor == "postgresql"


def _table(model):
    return connection.ops.quote_name(model._meta.db_table)


def _columns(model, names):
    quote = connection.ops.quote_name
    return [quote(model._meta.get_field(name).column) for name in names]


# --- array parameters ------------------------------------------------------------------------------
def _int_array(values):
    return "{" + ",".join("NULL" if value is None else str(int(value)) for value in values) + "}"


def _quoted(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text_array(values):
    return "{" + ",".join(_quoted(value) for value in values) + "}"


def _time_array(values):
    return "{" + ",".join(_quoted(value.isoformat()) for value in values) + "}"


def _bool_array(values):
    return "{" + ",".join("t" if value else "f" for value in values) + "}"


_ARRAYS = {"bigint": _int_array, "integer": _int_array, "text": _text_array, "timestamptz": _time_array,
           "boolean": _bool_array}  # fmt: skip


def _update(model, key, columns, rows):
    """UPDATE model SET columns FROM unnest(one array per column) WHERE model.key = v.key.

    `columns` is [(field name, array type)], the key first; `rows` are tuples in that order.
    """
    if not rows:
        return
    names = [name for name, _ in columns]
    quoted = _columns(model, names)
    arrays = ", ".join(f"%s::{kind}[]" for _, kind in columns)
    assignments = ", ".join(f"{column} = v.{column}" for column in quoted[1:])
    sql = (
        f"UPDATE {_table(model)} AS t SET {assignments} "  # noqa: S608 - quoted metadata only
        f"FROM unnest({arrays}) AS v({', '.join(quoted)}) WHERE t.{quoted[0]} = v.{quoted[0]}"
    )
    params = [_ARRAYS[kind]([row[i] for row in rows]) for i, (_, kind) in enumerate(columns)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _copy(model, names, rows):
    if not rows:
        return
    sql = f"COPY {_table(model)} ({', '.join(_columns(model, names))}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


# --- reads -----------------------------------------------------------------------------------------
def existing_keys(model, site_id, view_ids, *fields):
    """The (view_id, *fields) rows `model` already stores for these view ids of a site."""
    if not _pg():
        return model.objects.filter(site_id=site_id, view_id__in=view_ids).values_list("view_id", *fields)
    columns = ", ".join(_columns(model, ["view_id", *fields]))
    site, view = _columns(model, ["site", "view_id"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM {_table(model)} WHERE {site} = %s AND {view} = ANY(%s::text[])",  # noqa: S608
            [site_id, _text_array(view_ids)],
        )
        return cursor.fetchall()


def open_visits(site_id, visitor_ids, since):
    """The site's visits of these visitors seen since `since`, oldest activity first, as OpenVisits."""
    if not _pg():
        rows = (
            Visit.objects.filter(site_id=site_id, visitor_id__in=visitor_ids, last_seen_at__gte=since)
            .order_by("last_seen_at")
            .values_list(*LOADED)
        )
    else:
        columns = ", ".join(_columns(Visit, LOADED))
        site, visitor, seen = _columns(Visit, ["site", "visitor_id", "last_seen_at"])
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {_table(Visit)} "  # noqa: S608
                f"WHERE {site} = %s AND {visitor} = ANY(%s::bigint[]) AND {seen} >= %s ORDER BY {seen}",
                [site_id, _int_array(visitor_ids), since],
            )
            rows = cursor.fetchall()
    return [OpenVisit(**dict(zip(LOADED, row, strict=True))) for row in rows]


def pageviews_for_engagement(site_id, view_ids):
    """[(id, view_id, engaged_ms, scroll_depth, visit_id, timestamp)] of these view ids of a site."""
    names = ["id", "view_id", "engaged_ms", "scroll_depth", "visit_id", "timestamp"]
    if not _pg():
        return list(PageView.objects.filter(site_id=site_id, view_id__in=view_ids).values_list(*names))
    site, view = _columns(PageView, ["site", "view_id"])
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_columns(PageView, names))} FROM {_table(PageView)} "  # noqa: S608
            f"WHERE {site} = %s AND {view} = ANY(%s::text[])",
            [site_id, _text_array(view_ids)],
        )
        return cursor.fetchall()


def visit_spans(visit_ids):
    """{visit id: (started_at, last_seen_at)}."""
    if not _pg():
        rows = Visit.objects.filter(pk__in=visit_ids).values_list("id", "started_at", "last_seen_at")
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, started_at, last_seen_at FROM {_table(Visit)} WHERE id = ANY(%s::bigint[])",  # noqa: S608
                [_int_array(visit_ids)],
            )
            rows = cursor.fetchall()
    return {visit_id: (started, seen) for visit_id, started, seen in rows}


# --- writes ----------------------------------------------------------------------------------------
_VISIT_INSERT = ("id", "site", "visitor_id", *MUTABLE, *DIMENSIONS)
_VISIT_UPDATE = [("id", "bigint"), ("started_at", "timestamptz"), ("entry_page", "text"),
                 ("last_seen_at", "timestamptz"), ("duration", "integer"), ("pageviews", "integer"),
                 ("events", "integer"), ("is_bounce", "boolean"), ("exit_page", "text")]  # fmt: skip
_PAGEVIEW_INSERT = ("site", "view_id", "visit", "visitor_id", "timestamp", "hostname", "pathname", "props",
                    "engaged_ms", "checkout_session_id")  # fmt: skip
_EVENT_INSERT = ("site", "view_id", "visit", "visitor_id", "name", "timestamp", "pathname", "props", "interactive",
                 "revenue_amount", "revenue_currency")  # fmt: skip


def visits_insert(visits):
    rows = [
        (v.id, v.site_id, v.visitor_id, *(getattr(v, name) for name in MUTABLE), *(v.dimensions[n] for n in DIMENSIONS))
        for v in visits
    ]
    if _pg():
        _copy(Visit, _VISIT_INSERT, rows)
    else:
        names = [Visit._meta.get_field(name).attname for name in _VISIT_INSERT]
        Visit.objects.bulk_create([Visit(**dict(zip(names, row, strict=True))) for row in rows], batch_size=500)


def visits_update(visits):
    """Write back what a batch changed in stored visits (MUTABLE)."""
    visits = list(visits)
    if _pg():
        _update(Visit, "id", _VISIT_UPDATE, [tuple(getattr(v, name) for name, _ in _VISIT_UPDATE) for v in visits])
    else:
        objects = [Visit(**{name: getattr(v, name) for name in LOADED}) for v in visits]
        Visit.objects.bulk_update(objects, list(MUTABLE), batch_size=500)


def visits_extend(spans):
    """Set last_seen_at and duration of visits: {visit id: (last_seen_at, duration)}."""
    if _pg():
        columns = [("id", "bigint"), ("last_seen_at", "timestamptz"), ("duration", "integer")]
        _update(Visit, "id", columns, [(visit_id, *span) for visit_id, span in spans.items()])
    else:
        objects = [Visit(id=pk, last_seen_at=seen, duration=duration) for pk, (seen, duration) in spans.items()]
        Visit.objects.bulk_update(objects, ["last_seen_at", "duration"], batch_size=500)


def pageviews_insert(records):
    rows = [
        (r["site"], r["view_id"], r["visit_id"], r["visitor"], r["dt"], r["hostname"], r["pathname"],
         json.dumps(r["props"]), 0, r["checkout_session_id"])
        for r in records
    ]  # fmt: skip
    _insert(PageView, _PAGEVIEW_INSERT, rows, records)


def events_insert(records):
    rows = [
        (r["site"], r["view_id"], r["visit_id"], r["visitor"], r["name"], r["dt"], r["pathname"],
         json.dumps(r["props"]), r["interactive"],
         Decimal(r["revenue_amount"]) if r["revenue_amount"] is not None else None, r["revenue_currency"])
        for r in records
    ]  # fmt: skip
    _insert(Event, _EVENT_INSERT, rows, records)


def _insert(model, names, rows, records):
    """COPY on PostgreSQL; elsewhere bulk_create of model instances (props as the record's dict, not its JSON)."""
    if _pg():
        _copy(model, names, rows)
        return
    attnames = [model._meta.get_field(name).attname for name in names]
    objects = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
    for obj, record in zip(objects, records, strict=True):
        obj.props = record["props"]
    model.objects.bulk_create(objects, batch_size=500, ignore_conflicts=True)


def pageviews_engage(rows):
    """Set engaged_ms and scroll_depth of page views: [(id, engaged_ms, scroll_depth)]."""
    if _pg():
        _update(PageView, "id", [("id", "bigint"), ("engaged_ms", "integer"), ("scroll_depth", "integer")], rows)
        return
    objects = [PageView(id=pk, engaged_ms=engaged, scroll_depth=depth) for pk, engaged, depth in rows]
    PageView.objects.bulk_update(objects, ["engaged_ms", "scroll_depth"], batch_size=500)


def by_site(keys):
    """{site id: [view ids]} of (site id, view id, …) keys."""
    grouped = defaultdict(list)
    for site_id, view_id, *_rest in keys:
        grouped[site_id].append(view_id)
    return grouped

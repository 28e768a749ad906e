"""The column store: each complete local day of a site kept as arrays, for filtered dashboard queries.

A filtered dashboard query that no rollup answers (two filters, an event filter, `is_not`…) would read the raw
tables, whose visit rows are ~330 bytes wide: a month of a busy site is ~400 MB of heap for every statement. The
same month as arrays is ~20 bytes a visit and ~5 a page view, read once per page render (dashboard.column_reader).

One VisitColumns row per (day, column):
- the visits that started that day, ordered by id: `visit_id`, `visitor`, `vnum` (the visitor's number: see
  number_visitors), `bounce`, `duration`, `pageviews`, and every visit dimension as codes into the site's ColumnValues
  (`f:source`, `f:country`, …);
- the page views of that day, in runs of one path: `pv_vday` (how many days before this one their visit started: 0,
  1 or 2; 255 when the visit was not found), `pv_visit` (the visit's position in that day's arrays), `pv_path`
  (codes), and the runs: `pv_run_code`, `pv_run_len`;
- the custom events of that day: `ev_vday`, `ev_visit`, `ev_name`, `ev_path` likewise.

A day is written once every visit that started on it has ended (no visit of it seen within SETTLED_AFTER), so
its arrays never change; RollupState.columns_until moves in the same transaction (idempotent: a day's rows are
replaced). The encoding helpers at the top are pure (numpy only).
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np

# The visit dimensions, as the rollups name them (tracking.rollups.VISIT_FIELDS, repeated to keep this module pure:
# tests/dashboard/test_column_reader.py checks the two agree).
VISIT_TEXT = (
    "source", "channel", "referrer", "referrer_host", "utm_source", "utm_medium", "utm_campaign", "utm_content",
    "utm_term", "entry_page", "exit_page", "hostname", "country", "region", "city", "browser", "browser_version",
    "os", "os_version", "device", "screen_class",
)  # fmt: skip
# The row kinds of a day besides its visits: (prefix, the raw columns kept); their models in row_tables().
ROW_KINDS = (("pv", ("pathname",)), ("ev", ("name", "pathname")))
UNKNOWN_DAY = 255  # pv_vday / ev_vday of a row whose visit was not found within two days
# The most days after the store the provisional snapshot holds (read whole in its view, so kept in memory): a store
# further behind (its fill failing) gets none, and those days are read raw until it catches up.
SNAPSHOT_MAX_DAYS = 4


def field_column(field):
    return f"f:{field}"


def row_column(prefix, name):
    """The store's name of a page view or event column: pv_path, ev_name, ev_path."""
    return f"{prefix}_{'path' if name == 'pathname' else name}"


def row_tables():
    """(prefix, model, raw columns) of the row kinds."""
    from tracking.models import Event, PageView

    models = {"pv": PageView, "ev": Event}
    return [(prefix, models[prefix], names) for prefix, names in ROW_KINDS]


def pack_ints(values, signed=False):
    """(dtype name, bytes) of integers in the smallest little-endian dtype that holds them."""
    array = np.asarray(values, dtype=np.int64)
    if signed:
        dtype = "<i8"
    else:
        top = int(array.max()) if array.size else 0
        dtype = "<u1" if top < 2**8 else "<u2" if top < 2**16 else "<u4" if top < 2**32 else "<i8"
    return dtype, array.astype(dtype).tobytes()


class Dictionary:
    """A text column's codes: `values[code]`, append-only (a new text gets the next code)."""

    def __init__(self, values=()):
        self.values = list(values)
        self.index = {value: code for code, value in enumerate(self.values)}
        self.stored = len(self.values)  # how many the database holds

    def code(self, texts):
        index, values = self.index, self.values

        def one(text):
            text = text or ""
            found = index.get(text)
            if found is None:
                found = index[text] = len(values)
                values.append(text)
            return found

        return np.fromiter((one(t) for t in texts), dtype=np.int64, count=len(texts))


def number_visitors(visitors, known_visitors, known_numbers, next_number):
    """(each visitor id's number, the next free number): the number the id had among the known ones (the visits of the
    two days before), else a new one from `next_number` on, in order of first appearance.

    A visitor id lives about a day (its salt rotates daily) and touches at most a couple of adjacent local days, so
    distinct numbers over any range are distinct visitor ids, the COUNT(DISTINCT) the raw path gives, and dense: the
    reader counts them with a bitmap, or sorts (number, group) pairs that come nearly in order, instead of sorting
    64-bit hashes."""
    visitors = np.asarray(visitors, dtype=np.int64)
    numbers = np.empty(len(visitors), dtype=np.int64)
    hit = np.zeros(len(visitors), dtype=bool)
    known_visitors = np.asarray(known_visitors, dtype=np.int64)
    if len(known_visitors) and len(visitors):
        known, first = np.unique(known_visitors, return_index=True)
        at = np.minimum(np.searchsorted(known, visitors), len(known) - 1)
        hit = known[at] == visitors
        numbers[hit] = np.asarray(known_numbers, dtype=np.int64)[first[at[hit]]]
    fresh = visitors[~hit]
    distinct, first_seen, inverse = np.unique(fresh, return_index=True, return_inverse=True)
    order = np.empty(len(distinct), dtype=np.int64)
    order[np.argsort(first_seen, kind="stable")] = np.arange(len(distinct))
    numbers[~hit] = next_number + order[inverse.reshape(-1)]
    return numbers, next_number + len(distinct)


def unpack(dtype, data):
    return np.frombuffer(bytes(data) if not isinstance(data, bytes) else data, dtype=dtype)


def visit_refs(row_visit_ids, days_ids):
    """(vday, position) arrays locating each row's visit among the sorted visit-id arrays of the row's day, the day
    before and the one before that (`days_ids[k]` = the sorted ids of the visits of k days earlier)."""
    ids = np.asarray(row_visit_ids, dtype=np.int64)
    vday = np.full(ids.shape, UNKNOWN_DAY, dtype=np.int64)
    position = np.zeros(ids.shape, dtype=np.int64)
    for back, day_ids in enumerate(days_ids):
        if day_ids is None or not len(day_ids):
            continue
        at = np.searchsorted(day_ids, ids)
        inside = at < len(day_ids)
        hit = np.zeros(ids.shape, dtype=bool)
        hit[inside] = day_ids[at[inside]] == ids[inside]
        hit &= vday == UNKNOWN_DAY
        vday[hit], position[hit] = back, at[hit]
    return vday, position


# --- writing (Django from here on) ------------------------------------------------------------
def columns_fill(site, *, now=None, max_days=None):
    """Write every complete, settled day not written yet. Returns the number of days written."""
    from django.utils import timezone as dj_timezone

    from tracking.models import RollupState, Visit
    from tracking.rollups import SETTLED_AFTER, _first_day, day_bounds

    state = RollupState.objects.filter(site=site).first()
    if state is None or state.complete_until is None or state.timezone != site.timezone:
        return 0
    tz = ZoneInfo(site.timezone)
    now = now or dj_timezone.now()
    day = state.columns_until + timedelta(days=1) if state.columns_until else _first_day(site, tz)
    done, recent = 0, {}
    while day is not None and day <= state.complete_until and (max_days is None or done < max_days):
        start, end = day_bounds(tz, day)
        if Visit.objects.filter(
            site_id=site.pk, started_at__gte=start, started_at__lt=end, last_seen_at__gte=now - SETTLED_AFTER
        ).exists():
            break  # a visit of this day may still go on: its arrays would change
        recent[day] = _write_day(site, tz, day, state, recent)
        recent.pop(day - timedelta(days=3), None)
        done, day = done + 1, day + timedelta(days=1)
    return done


KEY_COLUMNS = ("visit_id", "visitor", "vnum")  # what _day_keys reads of a day


def _day_keys(site, day, recent):
    """(visit ids, visitor ids, visitor numbers) of a stored day's visits (empty arrays for a day without any)."""
    from tracking.models import VisitColumns

    if day in recent:
        return recent[day]
    rows = VisitColumns.objects.filter(site=site, day=day, name__in=KEY_COLUMNS).values_list("name", "dtype", "data")
    found = {name: unpack(dtype, data) for name, dtype, data in rows}
    empty = np.zeros(0, dtype=np.int64)
    return tuple(found.get(name, empty) for name in KEY_COLUMNS)


def text_columns():
    return [*(field_column(f) for f in VISIT_TEXT), *(row_column(p, n) for p, names in ROW_KINDS for n in names)]


def load_dictionaries(site_id):
    from tracking.models import ColumnValues

    found = dict(ColumnValues.objects.filter(site_id=site_id).values_list("name", "values"))
    return {name: Dictionary(found.get(name, ())) for name in text_columns()}


def save_dictionaries(site_id, dictionaries):
    """Store the texts coded since the dictionaries were read (call under the RollupState lock)."""
    from tracking.models import ColumnValues

    for name, dictionary in dictionaries.items():
        if len(dictionary.values) > dictionary.stored:
            ColumnValues.objects.update_or_create(site_id=site_id, name=name, defaults={"values": dictionary.values})
            dictionary.stored = len(dictionary.values)


def day_rows(site_id, tz, day):
    """(visits, {prefix: rows}) of one local day as stored now: its visits ordered by id (id, visitor_id, is_bounce,
    duration, pageviews, *VISIT_TEXT), and its page views and events (visit_id, *their raw columns)."""
    from tracking.models import Visit
    from tracking.rollups import day_bounds, fetch_rows

    start, end = day_bounds(tz, day)
    visits = fetch_rows(
        Visit.objects.filter(site_id=site_id, started_at__gte=start, started_at__lt=end)
        .order_by("id")
        .values_list("id", "visitor_id", "is_bounce", "duration", "pageviews", *VISIT_TEXT)
    )
    rows = {
        prefix: fetch_rows(
            model.objects.filter(site_id=site_id, timestamp__gte=start, timestamp__lt=end).values_list(
                "visit_id", *value_columns
            )
        )
        for prefix, model, value_columns in row_tables()
    }
    return visits, rows


def day_arrays(site_id, tz, day, earlier, dictionaries, next_number, *, rows=None):
    """({name: (dtype, bytes)}, the day's keys as _day_keys gives them, the next visitor number) of one day (its
    day_rows, read now unless given), texts coded by `dictionaries`, visitors numbered from `next_number` on. A page
    view or event whose visit is not among the day's or those `earlier` holds (the two days before) gets UNKNOWN_DAY:
    only the raw rows can answer for it."""
    visits, timed = rows if rows is not None else day_rows(site_id, tz, day)
    ids = np.array([row[0] for row in visits], dtype=np.int64)
    visitors = np.array([row[1] for row in visits], dtype=np.int64)
    numbers, next_number = number_visitors(
        visitors, np.concatenate([keys[1] for keys in earlier]), np.concatenate([keys[2] for keys in earlier]),
        next_number,
    )  # fmt: skip
    columns = {
        "visit_id": pack_ints(ids, signed=True),
        "visitor": pack_ints(visitors, signed=True),
        "vnum": pack_ints(numbers),
        "bounce": pack_ints([1 if row[2] else 0 for row in visits]),
        "duration": pack_ints([row[3] for row in visits]),
        "pageviews": pack_ints([row[4] for row in visits]),
    }
    for offset, field in enumerate(VISIT_TEXT, start=5):
        name = field_column(field)
        columns[name] = pack_ints(dictionaries[name].code([row[offset] for row in visits]))
    for prefix, _model, value_columns in row_tables():
        kind_rows = timed[prefix]
        vday, position = visit_refs([row[0] for row in kind_rows], [ids, *(keys[0] for keys in earlier)])
        codes = {
            row_column(prefix, name): dictionaries[row_column(prefix, name)].code([row[offset] for row in kind_rows])
            for offset, name in enumerate(value_columns, start=1)
        }
        if prefix == "pv":
            # Page views in runs of one path (in arrival order within a run): `pv_run_code` / `pv_run_len` say which
            # rows hold which path, so a page filter reads only its runs of pv_vday and pv_visit.
            order = np.argsort(codes["pv_path"], kind="stable")
            vday, position, codes["pv_path"] = vday[order], position[order], codes["pv_path"][order]
            run_code, run_len = _runs(codes["pv_path"])
            columns["pv_run_code"], columns["pv_run_len"] = pack_ints(run_code), pack_ints(run_len)
        columns[f"{prefix}_vday"], columns[f"{prefix}_visit"] = pack_ints(vday), pack_ints(position)
        for column, array in codes.items():
            columns[column] = pack_ints(array)
    return columns, (ids, visitors, numbers), next_number


def _runs(sorted_codes):
    """(code, length) of each run of equal codes."""
    if not len(sorted_codes):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], sorted_codes[1:] != sorted_codes[:-1]]))
    return sorted_codes[starts], np.diff(np.concatenate([starts, [len(sorted_codes)]]))


def _write_day(site, tz, day, state, recent):
    from django.db import transaction

    from tracking.models import RollupState, VisitColumns

    earlier = [_day_keys(site, day - timedelta(days=back), recent) for back in (1, 2)]
    with transaction.atomic():
        locked = RollupState.objects.select_for_update().get(pk=state.pk)
        if locked.columns_until is not None and locked.columns_until >= day:
            return _day_keys(site, day, {})  # another filler wrote it
        dictionaries = load_dictionaries(site.pk)  # under the lock: nobody else appends meanwhile
        columns, keys, next_number = day_arrays(site.pk, tz, day, earlier, dictionaries, locked.columns_visitors)
        objects = [
            VisitColumns(site=site, day=day, name=name, dtype=d, data=data) for name, (d, data) in columns.items()
        ]
        save_dictionaries(site.pk, dictionaries)
        VisitColumns.objects.filter(site=site, day=day).delete()
        VisitColumns.objects.bulk_create(objects)
        changes = {"columns_until": day, "columns_visitors": next_number}
        if locked.columns_from is None:
            changes["columns_from"] = day
        RollupState.objects.filter(pk=state.pk).update(**changes)
        state.columns_until = day
    return keys


def snapshot(site, tz, rows_by_day, columns_until, next_number):
    """ProvisionalColumns objects for the days after the store (`rows_by_day`: {day: day_rows()}, read in the
    provisional snapshot's view, so they hold everything stored at its moment), visitors numbered on from the store's
    `next_number`, which stays as it is. None when the days do not follow the store's last one. Call it under the
    RollupState lock: it codes new texts into the site's dictionaries."""
    from tracking.models import ProvisionalColumns

    days = sorted(rows_by_day)
    if columns_until is None or not days or days[0] != columns_until + timedelta(days=1):
        return None
    dictionaries = load_dictionaries(site.pk)
    recent, objects = {}, []
    for day in days:
        earlier = [_day_keys(site, day - timedelta(days=back), recent) for back in (1, 2)]
        columns, recent[day], next_number = day_arrays(
            site.pk, tz, day, earlier, dictionaries, next_number, rows=rows_by_day[day]
        )
        objects += [
            ProvisionalColumns(site=site, day=day, name=name, dtype=dtype, data=data)
            for name, (dtype, data) in columns.items()
        ]
    save_dictionaries(site.pk, dictionaries)
    return objects


def columns_reset(site):
    from tracking.models import ColumnValues, ProvisionalColumns, RollupState, VisitColumns

    ColumnValues.objects.filter(site=site).delete()
    VisitColumns.objects.filter(site=site).delete()
    ProvisionalColumns.objects.filter(site=site).delete()
    RollupState.objects.filter(site=site).update(columns_from=None, columns_until=None, columns_visitors=0)

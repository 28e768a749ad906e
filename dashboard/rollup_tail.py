"""The days after the last complete one (the tail) for dashboard.rollup_reader: the provisional snapshot corrected with
the raw rows of the visitors whose rows changed since it was taken, or, without a usable snapshot, the raw rows
themselves. `active_rows` serves the segment snapshot (dashboard.segment_reader), which holds what had settled by an
earlier cutoff: its correction reads every visitor active since then.

Both add their days to the reader's {dimension: {(day, value): Stats}}, with the carries into and between them.
"""

from collections import defaultdict
from datetime import timedelta

from django.db.models import BooleanField, ExpressionWrapper, F, Q

from dashboard import segment_reader
from tracking import rollups
from tracking.models import Event, PageView, ProvisionalRollup, ProvisionalVisit, Visit
from tracking.rollup_segments import among
from tracking.rollups import LocalDate, fetch_rows


def snapshot_covers(state, day, goals):
    """Whether the provisional snapshot holds `day` (and every day between the last complete one and it), counting
    these goals."""
    return (
        state.provisional_cutoff is not None
        and state.provisional_from == state.complete_until + timedelta(days=1)
        and state.provisional_until >= day
        and {g.pk for g in goals} <= set(state.provisional_goals)
    )


def stored_snapshot_covers(state, day, goals):
    """snapshot_covers for ProvisionalRollup, which also needs to know what it saw (snapshots from before it kept that
    counted only what had settled: such a tail is read raw until the next refresh)."""
    known = state.provisional_at is not None and state.provisional_seen is not None
    return known and snapshot_covers(state, day, goals)


def apply_change(codes, full, seen, entry, *, before=None, carry_entry=None):
    """Add to a snapshot what one day's rows of the active visitors change: `full` and `seen` are aggregate()'s
    answers for those rows in full and as the snapshot saw them; `entry(dim, value)` is the Stats to add to. With
    `before` (the day before's full and seen answers), the change in the carries between the two days goes to
    `carry_entry(dim, value)` (None: nothing to carry into)."""
    for dim in codes:
        then = seen[0][dim]
        for value, stats in full[0][dim].items():
            entry(dim, value).add_change(stats, then.get(value) or rollups.Stats())
    if before is None:
        return
    now_carried, then_carried = rollups.carries(before[0][1], full[1]), rollups.carries(before[1][1], seen[1])
    for dim in codes:
        for value, count in now_carried[dim].items():
            target = carry_entry(dim, value)
            if target is not None:
                target.carry += count - then_carried[dim].get(value, 0)


def _carry_entry(run, result, dim, day, value):
    """The entry that holds `day`'s carry into the next day (None when `day` is before the range). Without time
    buckets the stored days are one summed entry: the last stored day's carry gets an entry of its own."""
    if day < run.query.date_range.start:
        return None
    return result[dim].setdefault((day, value), rollups.Stats())


def from_raw(run, codes, result, tail_start, goals):
    """The unfilled tail (today, maybe yesterday): the same computation on raw rows, with live carries."""
    date_range = run.query.date_range
    previous_pairs = None
    if tail_start - timedelta(days=1) >= date_range.start:
        previous_pairs = rollups.day_stats(run.site.pk, run.tz, tail_start - timedelta(days=1), codes, goals)[1]
    day = tail_start
    while day <= date_range.end:
        stats, pairs = rollups.day_stats(run.site.pk, run.tz, day, codes, goals)
        if previous_pairs is not None:
            for dim, counts in rollups.carries(previous_pairs, pairs).items():
                for value, count in counts.items():
                    entry = _carry_entry(run, result, dim, day - timedelta(days=1), value)
                    if entry is not None:
                        entry.carry = count
        for dim in codes:
            for value, entry in stats[dim].items():
                result[dim][(day, value)] = entry
        previous_pairs = pairs
        day += timedelta(days=1)


def from_snapshot(run, state, codes, result, tail_start, goals):
    """The snapshot of the tail days (everything stored when it was taken), corrected for the visitors whose rows
    changed since.

    Every row stored or changed since the snapshot belongs to a visitor with a visit open at its cutoff that is no
    longer as the snapshot saw it, or with one started since (changed_rows). For those visitors only, their rows of
    the tail days (and of the day before, for carries) are summed twice: as the snapshot saw them and in full; the
    difference is added to the snapshot. Every other visitor is counted in the snapshot as they are now.
    """
    date_range, site_id, tz, at = run.query.date_range, run.site.pk, run.tz, state.provisional_at
    rows = ProvisionalRollup.objects.filter(
        site_id=site_id, dimension__in=codes, day__gte=tail_start, day__lte=date_range.end
    ).values_list("dimension", "day", "value", "visitors", "visits", "bounces", "duration", "pageviews", "carry_in")
    carry_in = []
    for dim, day, value, *numbers, carried in fetch_rows(rows):
        result[dim][(day, value)] = rollups.Stats(*numbers)
        if carried:
            carry_in.append((dim, day - timedelta(days=1), value, carried))
    for dim, day, value, carried in carry_in:
        entry = _carry_entry(run, result, dim, day, value)
        if entry is not None:
            entry.carry = carried
    first = tail_start - timedelta(days=1)  # the day before, for carries into the tail
    start, end = rollups.day_bounds(tz, first)[0], rollups.day_bounds(tz, date_range.end)[1]
    timed = []  # (model, value column) of the event rows the dimensions need
    if rollups.PAGE in codes or (rollups.GOAL in codes and any(g.kind == "page" for g in goals)):
        timed.append((PageView, "pathname"))
    if rollups.GOAL in codes and any(g.kind != "page" for g in goals):
        timed.append((Event, "name"))
    fields = [dim for dim in codes if dim not in (rollups.TOTAL, rollups.PAGE, rollups.GOAL)]
    raw = changed_rows(run, state, start, end, [model for model, _ in timed], fields)
    if raw is None:
        return
    matchers = rollups.goal_matchers(goals)

    def summed(dims, day, snapshot, with_goals=False):
        # Rows are split by (local day, seen by the snapshot) once per render (see changed_rows).
        dim_fields = [dim for dim in dims if dim not in (rollups.TOTAL, rollups.PAGE, rollups.GOAL)]
        picked = [4 + raw["field_index"][f] for f in dim_fields]
        visit_rows = raw["visits"].get((day, snapshot), ()) if set(dims) - {rollups.PAGE, rollups.GOAL} else ()
        day_visits = [(*row[:4], *(row[i] for i in picked)) for row in visit_rows]
        timed_rows = {model: raw[model].get((day, snapshot), ()) for model, _ in timed}
        return rollups.aggregate(
            dims, dim_fields, day_visits, timed_rows.get(PageView, ()), timed_rows.get(Event, ()),
            matchers if with_goals else ((), {}), pairs_of=carried_visitors(raw),
        )  # fmt: skip

    def shared(family, dims, day, snapshot):
        # The dashboard's usual dimensions summed once per render for all its queries, not once per query.
        key = ("tail_sums", family, site_id, at, start, end, day, snapshot)
        if key not in run.memo:
            run.memo[key] = summed(dims, day, snapshot)
        return run.memo[key]

    def sums(day, snapshot):
        stats, pairs, rest = {}, {}, []
        visit_codes = [code for code in codes if code not in (rollups.PAGE, rollups.GOAL)]
        parts = []
        if run.memo_shared and visit_codes and set(visit_codes) <= set(SHARED_VISIT_DIMS):
            parts.append((visit_codes, shared("visits", SHARED_VISIT_DIMS, day, snapshot)))
        else:
            rest += visit_codes
        if rollups.PAGE in codes:
            parts.append(([rollups.PAGE], shared("pages", (rollups.PAGE,), day, snapshot)))
        if rollups.GOAL in codes:
            rest.append(rollups.GOAL)
        if rest:
            parts.append((rest, summed(rest, day, snapshot, with_goals=True)))
        for dims, (part_stats, part_pairs) in parts:
            for dim in dims:
                stats[dim], pairs[dim] = part_stats[dim], part_pairs[dim]
        return stats, pairs

    # The day before is summed only for its carries into the tail, which only visitors seen on both days make.
    full = {first: sums(first, False)} if first >= date_range.start and carried_visitors(raw) else {}
    seen = dict(full)
    day = tail_start
    while day <= date_range.end:
        full[day], seen[day] = sums(day, False), sums(day, True)
        previous = day - timedelta(days=1)
        apply_change(
            codes, full[day], seen[day], lambda dim, value, d=day: result[dim].setdefault((d, value), rollups.Stats()),
            before=(full[previous], seen[previous]) if previous in full else None,
            carry_entry=lambda dim, value, p=previous: _carry_entry(run, result, dim, p, value),
        )  # fmt: skip
        day += timedelta(days=1)


SHARED_VISIT_DIMS = segment_reader.SHARED_VISIT_DIMS


def active_rows(run, site_id, tz, cutoff, start, end, models, fields):
    """The raw rows of the visitors active since the snapshot's cutoff, fetched once per page render.

    {"visits": {(local day, snapshot): [(visitor_id, is_bounce, duration, pageviews, *fields)]}, "by_id": those
    rows by visit id, "field_index": where each field read sits among `fields` (the usual ones and those asked),
    PageView: {(local day, snapshot): [(visitor_id, visit_id, pathname)]}, Event: likewise with names}: a row
    is under (day, False) always and under (day, True) too when the snapshot counted it (its visit had ended,
    or it happened, before the cutoff). None when nobody was active.
    """

    def visits_of(columns, first_day, last_day):
        state = run.memo[("rollup_state", site_id)]
        # A visit active after the cutoff started less than two days before it (as everywhere in the engine).
        earliest = max(start - timedelta(days=1), cutoff - timedelta(days=2))
        if state.provisional_seen is None:
            # A snapshot from before open visits were kept: find them (a scan of two days).
            active = Visit.objects.filter(
                site_id=site_id, last_seen_at__gte=cutoff, started_at__gte=earliest, started_at__lt=end
            ).values("visitor_id")
            of_active = Visit.objects.filter(
                site_id=site_id, started_at__gte=start - timedelta(days=1), started_at__lt=end, visitor_id__in=active
            )
        else:  # open at the cutoff (kept with the snapshot: ProvisionalVisit), or started since: no scan
            active = set(ProvisionalVisit.objects.filter(site_id=site_id).values_list("visitor_id", flat=True))
            active.update(
                Visit.objects.filter(site_id=site_id, started_at__gte=cutoff, started_at__lt=end).values_list(
                    "visitor_id", flat=True
                )
            )
            of_active = among(Visit.objects.filter(site_id=site_id), "visitor_id", list(active))
        visits, by_id = defaultdict(list), {}
        for visit_id, day, settled, *rest in fetch_rows(
            _visit_rows(of_active, tz, cutoff, first_day, last_day, columns)
        ):
            visits[(day, False)].append(rest)
            if settled:
                visits[(day, True)].append(rest)
            by_id[visit_id] = rest
        return visits, by_id

    def saw(model):  # (the flag read with each row, whether the snapshot saw a row: (flag, id) -> bool)
        return _before(cutoff, "timestamp"), lambda before, _pk: before

    return _tail_rows(run, ("active_rows", site_id, cutoff, start, end), start, end, models, fields, visits_of, saw)


def changed_rows(run, state, start, end, models, fields):
    """The raw rows of the visitors whose rows changed since the provisional snapshot, in full and as it saw them,
    fetched once per page render; like active_rows (and in its shape), with (day, True) for "as the snapshot saw it".

    A visit settled by the cutoff never changes again, and a record is stored within STORED_WITHIN of its timestamp:
    whatever changed after the snapshot is a visit open at the cutoff that is not as ProvisionalVisit keeps it (a
    page view, an event or an engagement changes what it keeps), or one started since `provisional_at -
    STORED_WITHIN`. Their visitors' visits are read by visitor, their page views and events by visit. The snapshot saw
    a visit open at the cutoff as kept, a settled one as it is, a later one not at all; it saw a page view or event of
    the last STORED_WITHIN if its id is kept, and every earlier one.
    """
    site_id, tz = run.site.pk, run.tz
    since = state.provisional_at - rollups.STORED_WITHIN

    def visits_of(columns, first_day, last_day):
        changed, kept = _changed_visitors(run, state)
        visits, by_id = defaultdict(list), {}
        if not changed:
            return visits, by_id
        of_changed = among(Visit.objects.filter(site_id=site_id), "visitor_id", list(changed))
        rows = _visit_rows(of_changed, tz, state.provisional_cutoff, first_day, last_day, columns)
        entry_at, exit_at = (4 + columns.index(f) if f in columns else None for f in ("entry_page", "exit_page"))
        for visit_id, day, settled, *rest in fetch_rows(rows):
            visits[(day, False)].append(rest)
            by_id[visit_id] = rest
            then = kept.get(visit_id)
            if then is not None:  # open at the cutoff: as it was then
                then_day, *numbers, entry, exit_, _events = then
                row = [rest[0], *numbers, *rest[4:]]
                if entry_at is not None:
                    row[entry_at] = entry
                if exit_at is not None:
                    row[exit_at] = exit_
                visits[(then_day, True)].append(row)
            elif settled:  # unchanged since
                visits[(day, True)].append(rest)
        return visits, by_id

    def saw(model):
        seen = _seen_records(run, state)["pageviews" if model is PageView else "events"]
        return _before(since, "timestamp"), lambda early, pk: early or pk in seen

    key = ("changed_rows", site_id, state.provisional_at, start, end)
    return _tail_rows(run, key, start, end, models, fields, visits_of, saw)


def _tail_rows(run, key, start, end, models, fields, visits_of, saw):
    """active_rows' and changed_rows' reading, memoized under `key`: the visits (`visits_of(columns, first local
    day, last local day)` -> ({(day, seen): rows}, {id: row})) with the usual fields and those asked only (decoding all
    21 text fields of thousands of visits cost more than the statement; a rarer field asked later reads them again
    with it added), then their page views and events by visit id, under (day, True) too when `saw(model)` says so."""
    tz = run.tz
    first_day, last_day = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
    found = run.memo.get(key)
    columns = [dim for dim in SHARED_VISIT_DIMS if dim]
    if found is not None and not set(fields) <= set(found["field_index"]):
        columns, found = list(found["field_index"]), None
    columns += [f for f in fields if f not in columns]
    if found is None:
        visits, by_id = visits_of(columns, first_day, last_day)
        found = {**run.memo.get(key, {}), "visits": visits, "ids": set(by_id), "by_id": by_id}
        found["field_index"] = {name: index for index, name in enumerate(columns)}
        run.memo[key] = found
    if not found["ids"]:
        return None
    for model in models:
        if model not in found:
            column = "pathname" if model is PageView else "name"
            flag, seen = saw(model)
            # By their visits' ids (the visit index: a few thousand lookups), kept to the range by the local day — a
            # timestamp range would let PostgreSQL scan two days of page views and filter them by the ids instead.
            rows = (
                among(model.objects.filter(site_id=run.site.pk), "visit_id", list(found["ids"]))
                .annotate(local_day=LocalDate("timestamp", tzinfo=tz), flag=flag)
                .filter(local_day__gte=first_day, local_day__lte=last_day)
                .values_list("local_day", "flag", "id", "visitor_id", "visit_id", column)
            )
            split = defaultdict(list)
            for day, flagged, pk, *row in fetch_rows(rows):
                split[(day, False)].append(row)
                if seen(flagged, pk):
                    split[(day, True)].append(row)
            found[model] = split
    return found


def _visit_rows(visits, tz, cutoff, first_day, last_day, columns):
    """(id, local day, settled by the cutoff, visitor_id, is_bounce, duration, pageviews, *columns) of `visits` that
    started on the days read (and the day before). The local day and "settled" come from SQL: decoding thousands of
    timestamptz values costs more. The days are kept by the local day, not by a started_at range, so PostgreSQL finds
    these few visitors by the (site, visitor_id) index instead of filtering two days of visits."""
    return (
        visits.annotate(local_day=LocalDate("started_at", tzinfo=tz), settled=_before(cutoff, "last_seen_at"))
        .filter(local_day__gte=first_day - timedelta(days=1), local_day__lte=last_day)
        .values_list("id", "local_day", "settled", "visitor_id", "is_bounce", "duration", "pageviews", *columns)
    )


def _changed_visitors(run, state):
    """({visitor ids}, {visit id: (local day, *the rest of SEEN_VISIT) as the snapshot kept it}), once per render:
    the visitors of changed_visits; the kept visits of these visitors."""
    key = ("changed_visitors", run.site.pk, state.provisional_at)
    if key not in run.memo:
        changed = set(changed_visits(run.site.pk, run.tz, state, render_shared(run.memo, run.site.pk)).values())
        then = {}
        if changed:
            kept = ProvisionalVisit.objects.filter(site_id=run.site.pk)
            rows = among(kept, "visitor_id", list(changed)).values_list("visit_id", *rollups.SEEN_VISIT)
            then = {visit_id: tuple(rest) for visit_id, *rest in fetch_rows(rows)}
        run.memo[key] = (changed, then)
    return run.memo[key]


def render_shared(memo, site_id):
    """What one page render's readers of a site share, in a dict of the render's memo: the changed visits (read once
    for the rollup tail and the column frames alike), the column store's texts."""
    return memo.setdefault(("render", site_id), {})


def changed_visits(site_id, tz, state, shared):
    """{visit id: visitor id} of every visit that may differ from what the snapshot stored, once per render (in
    `shared`, render_shared's dict): those open at its cutoff that are no longer as ProvisionalVisit keeps them (a page
    view, an event or an engagement changes what it keeps), and those started in its last STORED_WITHIN or since (a
    record takes up to that long to be stored). Every other visit, and its page views and events, is as the snapshot
    saw it."""
    key = ("changed_visits", state.provisional_at)
    if key not in shared:
        kept = ProvisionalVisit.objects.filter(site_id=site_id)
        same = Q(now_day=F("local_day"), **{f"visit__{name}": F(name) for name in rollups.SEEN_VISIT[1:]})
        changed = dict(
            kept.annotate(now_day=LocalDate("visit__started_at", tzinfo=tz))
            .exclude(same)
            .values_list("visit_id", "visitor_id")
        )
        since = state.provisional_at - rollups.STORED_WITHIN
        changed.update(Visit.objects.filter(site_id=site_id, started_at__gte=since).values_list("id", "visitor_id"))
        shared[key] = changed
    return shared[key]


def _seen_records(run, state):
    """{"pageviews": {ids}, "events": {ids}}: those of the snapshot's last STORED_WITHIN it saw; once per render."""
    key = ("seen_records", run.site.pk, state.provisional_at)
    if key not in run.memo:
        run.memo[key] = {name: set(state.provisional_seen[name]) for name in ("pageviews", "events")}
    return run.memo[key]


def carried_visitors(raw):
    """The active visitors seen on two adjacent days: the only ones whose (visitor, value) pairs make carries."""
    key = ("carried", *(model in raw for model in (PageView, Event)))  # page views or events may come later
    if key not in raw:
        by_day = defaultdict(set)
        for part in (raw["visits"], *(raw[model] for model in (PageView, Event) if model in raw)):
            for (day, snapshot), rows in part.items():
                if not snapshot:
                    by_day[day].update(row[0] for row in rows)
        carried = set()
        for day, visitors in by_day.items():
            carried |= visitors & by_day.get(day + timedelta(days=1), set())
        raw[key] = carried
    return raw[key]


def _before(moment, column):
    return ExpressionWrapper(Q(**{f"{column}__lt": moment}), output_field=BooleanField())

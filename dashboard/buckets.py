"""Pure helpers of the engine's results: percentages, time buckets and how keys are shown and sorted."""

from datetime import datetime, timedelta


def pct(part, whole, digits=2):
    if not whole:
        return 0.0
    value = round(100.0 * part / whole, digits)
    return int(value) if digits == 0 else value


def truncate(moment, kind):
    if kind == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def advance(moment, kind):
    if kind == "hour":
        return moment + timedelta(hours=1)
    if kind == "day":
        return moment + timedelta(days=1)
    if kind == "week":
        return moment + timedelta(days=7)
    return (moment.replace(day=1) + timedelta(days=32)).replace(day=1)


def display(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if (value.hour or value.minute) else value.strftime("%Y-%m-%d")
    return value


def sort_key(value):
    return (0, value) if not isinstance(value, str) else (1, value.lower())

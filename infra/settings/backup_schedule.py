"""The longest gap between two runs of a six-field cron schedule: validates `kiva:backups.schedule`
and sets the backup-age alert's threshold.

`kiva:backups.schedule` is a `ScheduledBackup.spec.schedule`. CloudNativePG 1.30 parses it with
`cron.Parse` of github.com/robfig/cron v1.2.0 (internal/controller/scheduledbackup_controller.go,
go.mod): seconds, minutes, hours, day of month, month, day of week; `*` and `?` for any value, lists
(`1,15`), ranges (`1-5`), steps (`*/6`, `0-30/10`) and the names `JAN`..`DEC` and `SUN`..`SAT`. When
both day fields are restricted a day matches if either does; when one is `*` or `?`, both must match
(robfig/cron `dayMatches`). The alert needs the longest wait between backups, not the average: a
schedule of "Monday and Thursday" waits up to four days.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

#: (lowest, highest) of each field, in the order of the schedule.
_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
_WEEKDAYS = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
#: Four years and a month from 2029-01-01 hold a leap day (2032), every month length and weekday.
_START = dt.date(2029, 1, 1)
_DAYS = 4 * 365 + 1 + 31
EXAMPLE = '"0 0 2 * * *" (every day at 02:00:00)'


class ScheduleError(ValueError):
    """A schedule CloudNativePG would reject; the message says why and gives a valid example."""


@dataclass(frozen=True)
class _Field:
    values: frozenset[int]
    star: bool


def _number(text: str, names: dict[str, int], field: str, spec: str) -> int:
    token = text.upper()
    if token in names:
        return names[token]
    if not token.isdigit():
        raise ScheduleError(
            f"{text!r} in the {field} field of {spec!r} is not a number; "
            f"use a six-field cron such as {EXAMPLE}"
        )
    return int(token)


def _field(text: str, field: str, low: int, high: int, spec: str) -> _Field:
    names = _MONTHS if field == "month" else _WEEKDAYS if field == "day of week" else {}
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text, {}, field, spec) if step_text else 1
        if body in ("*", "?"):
            start, end = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, end = _number(first, names, field, spec), _number(last, names, field, spec)
        else:
            start = _number(body, names, field, spec)
            end = high if step_text else start
        if step < 1 or not low <= start <= end <= high:
            raise ScheduleError(
                f"{part!r} is outside the {field} field's {low}-{high} in "
                f"{spec!r}; use a six-field cron such as {EXAMPLE}"
            )
        values.update(range(start, end + 1, step))
    return _Field(frozenset(values), star=text in ("*", "?") or text.startswith(("*/", "?/")))


def longest_interval_seconds(spec: str) -> int:
    """The longest time between two consecutive runs of `spec`, in seconds.

    Times of day repeat identically on every matching day, so the longest gap is either the longest
    gap inside one day or the wait from the last run of one matching day to the first of the next.
    """
    parts = spec.split()
    if len(parts) != len(_FIELDS):
        raise ScheduleError(
            f"{spec!r} has {len(parts)} fields, CloudNativePG needs six (seconds first), e.g. {EXAMPLE}"
        )
    second, minute, hour, dom, month, dow = (
        _field(text, name, low, high, spec) for text, (name, low, high) in zip(parts, _FIELDS, strict=True)
    )
    times = sorted(h * 3600 + m * 60 + s for h in hour.values for m in minute.values for s in second.values)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    days = []
    for offset in range(_DAYS):
        day = _START + dt.timedelta(days=offset)
        dom_match = day.day in dom.values
        dow_match = day.isoweekday() % 7 in dow.values
        matches = dom_match and dow_match if dom.star or dow.star else dom_match or dow_match
        if matches and day.month in month.values:
            days.append(offset)
    if len(days) < 2:
        raise ScheduleError(f"{spec!r} runs less than once a year; use a six-field cron such as {EXAMPLE}")
    gaps += [(later - earlier) * 86400 - times[-1] + times[0] for earlier, later in itertools.pairwise(days)]
    return max(gaps)

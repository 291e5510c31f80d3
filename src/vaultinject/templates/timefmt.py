"""Go's time.Format layouts (reference time Mon Jan 2 15:04:05 MST 2006), for UTC times."""

from __future__ import annotations

import time

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

# Layout elements, longest first where one is a prefix of another.
_ELEMENTS = (
    "January",
    "Jan",
    "Monday",
    "Mon",
    "MST",
    "2006",
    "Z07:00:00",
    "Z070000",
    "Z07:00",
    "Z0700",
    "Z07",
    "-07:00:00",
    "-070000",
    "-07:00",
    "-0700",
    "-07",
    "__2",
    "002",
    "_2",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "PM",
    "pm",
    "1",
    "2",
    "3",
    "4",
    "5",
)


def _fraction(layout: str, index: int) -> int:
    """Length of a fractional-second element (.000 or .999) at ``index``, or 0."""
    if layout[index] not in ".," or index + 1 >= len(layout) or layout[index + 1] not in "09":
        return 0
    digit = layout[index + 1]
    end = index + 1
    while end < len(layout) and layout[end] == digit:
        end += 1
    if end < len(layout) and "0" <= layout[end] <= "9":
        return 0
    return end - index


def format_utc(epoch: float, layout: str) -> str:
    """time.Unix(epoch).UTC().Format(layout)."""
    seconds = int(epoch // 1)
    nanos = round((epoch - seconds) * 1e9)
    tm = time.gmtime(seconds)
    hour12 = tm.tm_hour % 12 or 12
    values = {
        "January": _MONTHS[tm.tm_mon - 1],
        "Jan": _MONTHS[tm.tm_mon - 1][:3],
        "Monday": _DAYS[tm.tm_wday],
        "Mon": _DAYS[tm.tm_wday][:3],
        "MST": "UTC",
        "2006": f"{tm.tm_year:04d}",
        "06": f"{tm.tm_year % 100:02d}",
        "01": f"{tm.tm_mon:02d}",
        "1": str(tm.tm_mon),
        "02": f"{tm.tm_mday:02d}",
        "_2": f"{tm.tm_mday:2d}",
        "2": str(tm.tm_mday),
        "__2": f"{tm.tm_yday:3d}",
        "002": f"{tm.tm_yday:03d}",
        "15": f"{tm.tm_hour:02d}",
        "03": f"{hour12:02d}",
        "3": str(hour12),
        "04": f"{tm.tm_min:02d}",
        "4": str(tm.tm_min),
        "05": f"{tm.tm_sec:02d}",
        "5": str(tm.tm_sec),
        "PM": "PM" if tm.tm_hour >= 12 else "AM",
        "pm": "pm" if tm.tm_hour >= 12 else "am",
    }
    out = []
    index = 0
    while index < len(layout):
        fraction = _fraction(layout, index)
        if fraction:
            digits = f"{nanos:09d}"[: fraction - 1]
            if layout[index + 1] == "9":
                digits = digits.rstrip("0")
                out.append(layout[index] + digits if digits else "")
            else:
                out.append(layout[index] + digits)
            index += fraction
            continue
        for element in _ELEMENTS:
            if layout.startswith(element, index):
                out.append(_element_value(element, values))
                index += len(element)
                break
        else:
            out.append(layout[index])
            index += 1
    return "".join(out)


_UTC_OFFSETS = {
    "-07": "+00",
    "-0700": "+0000",
    "-07:00": "+00:00",
    "-070000": "+000000",
    "-07:00:00": "+00:00:00",
}


def _element_value(element: str, values: dict[str, str]) -> str:
    if element.startswith("Z"):
        return "Z"
    if element.startswith("-"):
        return {"-07": "+00", "-0700": "+0000", "-07:00": "+00:00", "-070000": "+000000"}.get(
            element, "+00:00:00"
        )
    return values[element]

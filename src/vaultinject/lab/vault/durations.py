"""Durations and timestamps the way Vault reads and writes them."""

from __future__ import annotations

import datetime as dt
import re

_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_INTEGER = re.compile(r"[-+]?[0-9]{1,20}")
# Go's time.Duration is int64 nanoseconds: about 292 years. Longer durations overflow in Vault.
MAX_DURATION_SECONDS = (2**63 - 1) // 10**9


def parse_duration(value: object) -> int:
    """Whole seconds from an int, a numeric string, or a Go duration such as "1h30m", "90s" or "2d".

    Raises ValueError for anything else, like Vault's `parseutil.ParseDurationSecond`.
    """
    if isinstance(value, bool):
        raise ValueError(f"cannot parse {value!r} as a duration")
    if isinstance(value, int | float):
        return _bounded(value, value)
    if not isinstance(value, str):
        raise ValueError(f"cannot parse {value!r} as a duration")
    text = value.strip()
    if text == "":
        return 0
    if text.lstrip("+-").isdigit() and text.isascii():
        if not _INTEGER.fullmatch(text):
            raise _invalid(value)
        return _bounded(int(text), value)
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    position, total = 0, 0.0
    while position < len(body):
        match = _PART.match(body, position)
        if match is None:
            raise ValueError(f'time: invalid duration "{value}"')
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position == 0:
        raise ValueError(f'time: invalid duration "{value}"')
    return _bounded(sign * total, value)


def _invalid(value: object) -> ValueError:
    text = str(value)
    shown = text if len(text) <= 40 else f"{text[:20]}...{text[-10:]}"
    return ValueError(f'time: invalid duration "{shown}": at most {MAX_DURATION_SECONDS}s (about 292 years)')


def _bounded(seconds: float, original: object) -> int:
    """Whole seconds, or the error Go gives for a duration its int64 nanoseconds cannot hold."""
    if not -MAX_DURATION_SECONDS <= seconds <= MAX_DURATION_SECONDS:
        raise _invalid(original)
    return int(seconds)


def go_duration(seconds: int) -> str:
    """Go's `time.Duration.String()` for whole seconds: "0s", "45s", "30m0s", "768h0m0s"."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{sign}{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{sign}{minutes}m{secs}s"
    return f"{sign}{secs}s"


def rfc3339(timestamp: float) -> str:
    """RFC 3339 in UTC with fractional seconds trimmed like Go's RFC3339Nano."""
    moment = dt.datetime.fromtimestamp(timestamp, dt.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}".rstrip("0")
    return f"{text}.{fraction}Z" if fraction else f"{text}Z"


def rfc3339_seconds(timestamp: float) -> str:
    """RFC 3339 in UTC at whole seconds."""
    return dt.datetime.fromtimestamp(int(timestamp), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""One line per event, as text or JSON, with every form of every known secret value scrubbed out.

Nothing passes a secret to the logger on purpose; the scrubber is the second line of defence, for
error texts that might quote one (a template error, a server message, a command's output). Those texts
quote values already escaped, so each registered value is matched in every form it can take on a line:
raw; JSON-escaped, with and without ``ensure_ascii``; Go's encoding/json (``\\u003c`` for ``<``);
Go-quoted as ``%q`` renders it (strconv.Quote and QuoteToASCII); Python's repr and ascii; and each line
of a multi-line value (a PEM key quoted one line at a time) in all of those forms.

What is registered, and why (the rule trades a little redaction of ordinary text for no leak):

- strings of at least 4 characters: shorter ones ("on", "1") would wreck every line and hide nothing;
- not strings that spell a flag (``true``, ``false``, ``null``, ``none``, ``<nil>``, any case): one bit
  of information, which JSON lines and field values print all the time;
- numbers (Vault data keeps their literal text) whose rendered form has at least 6 digits: account
  numbers, PINs stored as numbers, ids; shorter numbers are ports, years, exit codes, statuses, TTLs
  and counts that every log carries. Each registered number is also matched as Go's ``%v`` of a
  float64 (``7.3914682e+07``) and as Python renders it;
- never booleans, for the same reason as flags.

A line is scrubbed field by field before it is encoded (so no encoding of a form is ever produced) and
again after (so encoding cannot reassemble one); a field that could only be cleaned by breaking its
encoding is replaced whole. The timestamp and level are the agent's own and are not scrubbed.

Matching looks for the first four characters of every form, and where one is found compares the
forms that start with it there, longest first. A few prefixes (an agent with a handful of secrets) are
searched for one by one; more are found by one compiled regular expression (a prefix tree), so a line
without a secret costs one scan in C however many secrets there are. The pattern is rebuilt only when
a new prefix is registered, and stays small: a secret rotated in a loop keeps its prefix.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import sys
import time

from vaultinject.templates.gofmt import format_float, go_quote
from vaultinject.templates.jsonenc import json_string
from vaultinject.templates.values import JSONNumber

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, TextIO

LEVELS = {"trace": 0, "debug": 1, "info": 2, "warn": 3, "warning": 3, "err": 4, "error": 4}
REDACTED = "[redacted]"
SHORTEST_SECRET = 4  # characters of a string secret
FEWEST_NUMBER_DIGITS = 6  # digits of a numeric secret
FLAGS = frozenset({"true", "false", "null", "none", "<nil>"})
FEW_PREFIXES = 24  # up to this many, prefixes are searched for one by one; beyond, with one pattern
_NOTHING_TO_ESCAPE = re.compile(r"[ !#-%(-;=?-\[\]-~]*")  # printable ASCII but " & ' < > \\


_SEQUENCES = (list, tuple)
_NUMBERS = (JSONNumber, int, float)  # checked before str: a JSONNumber is a str


class Scrubber:
    """The secret values the agent knows, and every form they can take on a log line."""

    def __init__(self) -> None:
        self._seen: set[str] = set()  # strings already registered: a refetch adds nothing twice
        self._forms: set[str] = set()
        self._by_prefix: dict[str, list[str]] = {}  # forms by their first characters, longest first
        self._pattern: re.Pattern[str] | None = None  # finds those first characters
        self._stale = False  # a prefix was added since the pattern was compiled

    def add(self, value: object) -> None:
        """Never print this value, or any string or long number inside it (dicts, lists, tuples)."""
        forms: set[str] = set()
        stack = [value]
        while stack:  # a loop, not recursion: Vault data may nest deeply
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, _SEQUENCES):
                stack.extend(item)
            elif isinstance(item, _NUMBERS) and not isinstance(item, bool):
                forms |= _number_forms(item)
            elif isinstance(item, str) and item not in self._seen:
                self._seen.add(item)
                forms |= _string_forms(item)
        for form in forms:
            self._add_form(form)

    def _add_form(self, form: str) -> None:
        if form in self._forms:
            return
        self._forms.add(form)
        prefix = form[:SHORTEST_SECRET]
        known = self._by_prefix.get(prefix)
        if known is None:
            self._by_prefix[prefix] = [form]
            self._stale = True
        else:
            bisect.insort(known, form, key=_longest_first)

    def scrub(self, text: str) -> str:
        """`text` with every form of every registered value replaced by [redacted]: at the leftmost
        place where one starts, the longest one that starts there."""
        found = self._next_prefix(text, 0)
        if found is None:
            return text
        parts: list[str] = []
        done = 0
        while found is not None:
            at, prefix = found
            for form in self._by_prefix[prefix]:
                if text.startswith(form, at):
                    parts += (text[done:at], REDACTED)
                    done = at + len(form)
                    break
            found = self._next_prefix(text, max(done, at + 1))
        parts.append(text[done:])
        return "".join(parts)

    def _next_prefix(self, text: str, start: int) -> tuple[int, str] | None:
        """The leftmost place at or after `start` where a form's prefix starts, and that prefix."""
        if len(self._by_prefix) <= FEW_PREFIXES:  # a few searches cost less than compiling a pattern
            places = ((text.find(prefix, start), prefix) for prefix in self._by_prefix)
            return min((place for place in places if place[0] >= 0), default=None)
        if self._stale:
            self._pattern = _compile(self._by_prefix)
            self._stale = False
        assert self._pattern is not None
        match = self._pattern.search(text, start)
        return None if match is None else (match.start(), match.group())


def _longest_first(form: str) -> int:
    return -len(form)


def _string_forms(value: str) -> set[str]:
    pieces = {value, *(line.strip() for line in value.splitlines())}
    forms: set[str] = set()
    for piece in pieces:
        if len(piece) >= SHORTEST_SECRET and piece.lower() not in FLAGS:
            forms |= _encodings(piece)
    return forms


def _encodings(text: str) -> set[str]:
    """`text` as each encoder on the agent's path writes it inside quotes."""
    if _NOTHING_TO_ESCAPE.fullmatch(text):
        return {text}
    return {
        text,
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        json_string(text)[1:-1],
        go_quote(text)[1:-1],
        go_quote(text, ascii_only=True)[1:-1],
        repr(text)[1:-1],
        ascii(text)[1:-1],
    }


def _number_forms(value: object) -> set[str]:
    literal = value if isinstance(value, str) else repr(value)
    if _digits(literal) < FEWEST_NUMBER_DIGITS:
        return set()
    forms = {literal}
    try:
        number = float(literal)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        forms |= {format_float(number, "g", -1), repr(number)}
    return {form for form in forms if _digits(form) >= FEWEST_NUMBER_DIGITS}


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _compile(prefixes: Iterable[str]) -> re.Pattern[str]:
    """One pattern for every prefix (a prefix tree four levels deep, so it cannot nest too far)."""
    ordered = sorted(prefixes)
    pattern = re.compile(_alternation(ordered, 0, len(ordered), 0))
    re.purge()  # re's cache would otherwise keep every generation of this pattern alive
    return pattern


def _alternation(forms: list[str], start: int, stop: int, depth: int) -> str:
    """The prefix tree of sorted `forms[start:stop]`, which share their first `depth` characters, as
    nested alternatives: a run without branches is one literal, and a longer alternative is tried
    before a shorter one, so the leftmost match is the longest. Built from index ranges, not nodes,
    so a rebuild allocates little more than the pattern itself."""
    ends_here = len(forms[start]) == depth  # sorted: a form ending here comes first
    if ends_here:
        start += 1
    branches = []
    while start < stop:
        first = forms[start][depth]
        group_stop = start + 1
        while group_stop < stop and forms[group_stop][depth] == first:
            group_stop += 1
        shared = _common_prefix(forms[start], forms[group_stop - 1], depth + 1)
        literal = re.escape(forms[start][depth:shared])
        branches.append(literal + _alternation(forms, start, group_stop, shared))
        start = group_stop
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if ends_here else body


def _common_prefix(low: str, high: str, known: int) -> int:
    """The length of the prefix two sorted strings share (every string between them shares it too)."""
    limit = min(len(low), len(high))
    while known < limit and low[known] == high[known]:
        known += 1
    return known


class Logger:
    """Vault-style lines: `2026-11-23T10:00:00.000Z [INFO]  agent: rendered file=/vault/secrets/db`."""

    def __init__(
        self, level: str = "info", log_format: str = "standard", stream: TextIO | None = None
    ) -> None:
        self.threshold = LEVELS.get(level, 2)
        self.json = log_format == "json"
        self.stream = stream or sys.stderr
        self.scrubber = Scrubber()

    def add_secret(self, value: object) -> None:
        """Never print this value (or any string inside it)."""
        self.scrubber.add(value)

    def scrub(self, text: str) -> str:
        """`text` with every known secret value, in any of its forms, replaced by [redacted]."""
        return self.scrubber.scrub(text)

    def trace(self, message: str, **fields: Any) -> None:
        self._log(0, "TRACE", message, fields)

    def debug(self, message: str, **fields: Any) -> None:
        self._log(1, "DEBUG", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._log(2, "INFO", message, fields)

    def warn(self, message: str, **fields: Any) -> None:
        self._log(3, "WARN", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._log(4, "ERROR", message, fields)

    def _log(self, level: int, name: str, message: str, fields: dict[str, Any]) -> None:
        if level < self.threshold:
            return
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
        if self.json:
            head = {"@level": name.lower(), "@module": "agent", "@message": message}
            items = ", ".join(
                f"{json.dumps(key)}: {self._field(value, _json)}"
                for key, value in (*head.items(), *fields.items())
            )
            line = f'{{"@timestamp": "{stamp}", {items}}}'
        else:
            extras = "".join(f" {key}={self._field(value, _text)}" for key, value in fields.items())
            line = f"{stamp} [{name}]{' ' * (6 - len(name))}agent: {self._field(message, str)}{extras}"
        self.stream.write(line + "\n")
        self.stream.flush()

    def _field(self, value: object, encode: Callable[[object], str]) -> str:
        """One value, scrubbed, encoded, and scrubbed again."""
        scrub = self.scrubber.scrub
        if isinstance(value, str):
            value = scrub(value)
        elif value is not None and not isinstance(value, int | float):
            value = scrub(str(value))
        encoded = encode(value)
        if isinstance(value, str) and value in (encoded, encoded[1:-1]):
            return encoded  # nothing was escaped: nothing new to find
        cleaned = scrub(encoded)
        if cleaned == encoded or not _broke_encoding(encoded, cleaned, encode):
            return cleaned
        return encode(REDACTED)


def _broke_encoding(encoded: str, cleaned: str, encode: Callable[[object], str]) -> bool:
    """Whether scrubbing an encoded value left something that no longer decodes."""
    if encode is str or (encode is _text and not encoded.startswith('"')):
        return False
    try:
        json.loads(cleaned)
    except ValueError:
        return True
    return False


def _json(value: object) -> str:
    return json.dumps(value, default=str)


def _text(value: object) -> str:
    text = str(value)
    quote = not text or " " in text or '"' in text or not text.isprintable()
    return json.dumps(text) if quote else text

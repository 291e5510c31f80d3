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

Matching is one compiled regular expression over a prefix tree of every form, rebuilt only on the first
line after the secret set changed, so a line costs one scan however many secrets there are.
"""

from __future__ import annotations

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


class Scrubber:
    """The secret values the agent knows, and every form they can take on a log line."""

    def __init__(self) -> None:
        self._seen: set[object] = set()  # registered values, so a refetch adds nothing twice
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._stale = False  # forms were added since the pattern was compiled

    def add(self, value: object) -> None:
        """Never print this value, or any string or long number inside it (dicts, lists, tuples)."""
        pending = [value]
        while pending:  # a loop, not recursion: Vault data may nest deeply
            item = pending.pop()
            if isinstance(item, dict):
                pending.extend(item.values())
            elif isinstance(item, list | tuple):
                pending.extend(item)
            elif item not in self._seen and not isinstance(item, bool):
                self._add_leaf(item)

    def _add_leaf(self, item: object) -> None:
        if isinstance(item, JSONNumber | int | float):
            forms = _number_forms(item)
        elif isinstance(item, str):
            forms = _string_forms(item)
        else:
            return
        self._seen.add(item)
        if not forms <= self._forms:
            self._forms |= forms
            self._stale = True

    def scrub(self, text: str) -> str:
        """`text` with every form of every registered value replaced by [redacted]."""
        if self._stale:
            self._pattern = _compile(self._forms)
            self._stale = False
        return text if self._pattern is None else self._pattern.sub(REDACTED, text)


def _string_forms(value: str) -> set[str]:
    pieces = {value}
    if "\n" in value or "\r" in value:
        pieces.update(line.strip() for line in value.splitlines())
    forms: set[str] = set()
    for piece in pieces:
        if len(piece) >= SHORTEST_SECRET and piece.lower() not in FLAGS:
            forms |= _encodings(piece)
    return forms


def _encodings(text: str) -> set[str]:
    """`text` as each encoder on the agent's path writes it inside quotes."""
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
    forms = {literal}
    try:
        number = float(literal)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        forms |= {format_float(number, "g", -1), repr(number)}
    return {form for form in forms if sum(ch.isdigit() for ch in form) >= FEWEST_NUMBER_DIGITS}


def _compile(forms: Iterable[str]) -> re.Pattern[str] | None:
    if not forms:
        return None
    try:
        pattern = re.compile(_alternation(_prefix_tree(forms)))
    except (RecursionError, re.error):  # a tree nested too deep for the parser: a flat alternation
        pattern = re.compile("|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)))
    re.purge()  # re's cache would otherwise keep every generation of this large pattern alive
    return pattern


_END = ""  # the key marking that a form ends at this node


def _prefix_tree(forms: Iterable[str]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for form in forms:
        node = root
        for ch in form:
            node = node.setdefault(ch, {})
        node[_END] = {}
    return root


def _alternation(node: dict[str, Any]) -> str:
    """The tree as nested alternatives: runs without branches become one literal, the longer
    alternative is tried first, so the leftmost match is the longest."""
    branches = []
    for first, child in node.items():
        if first == _END:
            continue
        run, rest = [first], child
        while len(rest) == 1 and _END not in rest:
            ((ch, rest),) = rest.items()
            run.append(ch)
        branches.append(re.escape("".join(run)) + _alternation(rest))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body


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

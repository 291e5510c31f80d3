"""The test oracle for log scrubbing: every form a secret value can take on an agent's log line.

Written independently of the scrubber (from the encoders that produce the lines), so a form the
scrubber forgot shows up as a leak.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from vaultinject.templates.gofmt import format_float, go_quote
from vaultinject.templates.jsonenc import json_string

ENCODERS: dict[str, Callable[[str], str]] = {
    "raw": lambda text: text,
    "json": lambda text: json.dumps(text)[1:-1],
    "json-unicode": lambda text: json.dumps(text, ensure_ascii=False)[1:-1],
    "go-json": lambda text: json_string(text)[1:-1],
    "go-quote": lambda text: go_quote(text)[1:-1],
    "go-quote-ascii": lambda text: go_quote(text, ascii_only=True)[1:-1],
    "repr": lambda text: repr(text)[1:-1],
    "ascii": lambda text: ascii(text)[1:-1],
}
FLAG_WORDS = {"true", "false", "null", "none", "<nil>"}


def pieces(secret: str) -> set[str]:
    """The texts of a string secret that must never appear: itself and each line (4+ characters)."""
    candidates = {secret} | {line.strip() for line in secret.splitlines()}
    return {text for text in candidates if len(text) >= 4 and text.lower() not in FLAG_WORDS}


def string_forms(secret: str) -> set[str]:
    return {encode(piece) for piece in pieces(secret) for encode in ENCODERS.values()}


def number_forms(literal: str) -> set[str]:
    """A numeric secret of 6+ digits: its literal text, Go's %v of it as a float64, Python's float."""
    number = float(literal)
    forms = {literal, format_float(number, "g", -1), repr(number)}
    return {form for form in forms if sum(ch.isdigit() for ch in form) >= 6}


def on_a_line(forms: set[str]) -> set[str]:
    """The forms, and the forms as a quoted log field writes them."""
    return forms | {json.dumps(form)[1:-1] for form in forms}


def leaks(forms: set[str], log: str) -> set[str]:
    return {form for form in on_a_line(forms) if form in log}

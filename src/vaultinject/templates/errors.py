"""Template errors, located as Go locates them: name, line and byte column."""

from __future__ import annotations


class TemplateError(Exception):
    """Base of template errors: ``str(e)`` is ``"<name>:<line>:<col>: <message>"``."""

    def __init__(self, message: str, *, name: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return f"{self.name}:{self.line}:{self.column}: {self.message}"


class TemplateSyntaxError(TemplateError):
    """The template does not parse (raised by :func:`parse`); the message is Go's."""


class TemplateExecError(TemplateError):
    """Rendering failed; the message is Go's (``executing "<name>" at <node>: <reason>``)."""

    def __init__(self, message: str, *, name: str, line: int, column: int, reason: str = "") -> None:
        super().__init__(message, name=name, line=line, column=column)
        self.reason = reason or message


class MissingKeyError(TemplateExecError):
    """A map key was missing while ``error_on_missing_key`` was set."""


def locate(text: str, pos: int) -> tuple[int, int]:
    """Line (1-based) and byte column (0-based, as Go's ErrorContext) of a position."""
    line_start = text.rfind("\n", 0, pos) + 1
    line = text.count("\n", 0, pos) + 1
    segment = text[line_start:pos]
    column = len(segment) if segment.isascii() else len(segment.encode("utf-8", "surrogateescape"))
    return line, column

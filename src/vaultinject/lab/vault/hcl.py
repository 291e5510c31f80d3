"""A parser for the subset of HCL 1 that Vault policies use.

Supports `key = value`, blocks with string labels (`path "secret/*" { ... }`), nested objects written with
or without `=`, lists, strings, numbers, booleans, heredocs and `#`, `//`, `/* */` comments. A document
parses to a list of `Item`s so repeated keys (many `path` blocks) are kept in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class HCLError(ValueError):
    """The input is not valid HCL."""


@dataclass(frozen=True)
class Item:
    """`key label... = value` or `key label... { body }`; `line` is 1-based."""

    key: str
    labels: tuple[str, ...]
    value: Any
    line: int


@dataclass(frozen=True)
class Token:
    kind: str
    value: Any
    line: int


_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<heredoc><<-?(?P<tag>[A-Za-z_][A-Za-z0-9_]*)\n)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_\-.]*)
  | (?P<punct>[{}\[\]=,:])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "/": "/"}


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position, line = 0, 1
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise HCLError(f"At {line}: illegal char {text[position]!r}")
        kind = match.lastgroup or ""
        chunk = match.group(0)
        if kind == "heredoc" or match.group("heredoc"):
            tag = match.group("tag")
            end = re.compile(rf"^[ \t]*{re.escape(tag)}[ \t]*$", re.MULTILINE).search(text, match.end())
            if end is None:
                raise HCLError(f"At {line}: unterminated heredoc")
            tokens.append(Token("string", text[match.end() : end.start()], line))
            line += text.count("\n", position, end.end())
            position = end.end()
            continue
        if kind == "string":
            tokens.append(Token("string", _unquote(chunk, line), line))
        elif kind == "number":
            tokens.append(
                Token("number", float(chunk) if any(c in chunk for c in ".eE") else int(chunk), line)
            )
        elif kind == "ident":
            tokens.append(Token("ident", chunk, line))
        elif kind == "punct":
            tokens.append(Token(chunk, chunk, line))
        line += chunk.count("\n")
        position = match.end()
    tokens.append(Token("eof", None, line))
    return tokens


def _unquote(chunk: str, line: int) -> str:
    body, out, index = chunk[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            escaped = body[index + 1]
            if escaped not in _ESCAPES:
                raise HCLError(f"At {line}: invalid escape \\{escaped}")
            out.append(_ESCAPES[escaped])
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self, kind: str | None = None) -> Token:
        token = self.tokens[self.index]
        if kind is not None and token.kind != kind:
            raise HCLError(f"At {token.line}: expected {kind!r}, got {token.kind!r}")
        self.index += 1
        return token

    def body(self, closing: str) -> list[Item]:
        items: list[Item] = []
        while self.peek().kind != closing:
            items.append(self.item())
            if self.peek().kind == ",":
                self.take(",")
        return items

    def item(self) -> Item:
        first = self.peek()
        if first.kind not in ("ident", "string"):
            raise HCLError(f"At {first.line}: expected a key, got {first.kind!r}")
        key = str(self.take().value)
        labels: list[str] = []
        while self.peek().kind in ("ident", "string"):
            labels.append(str(self.take().value))
        if self.peek().kind in ("=", ":"):
            self.take()
            return Item(key, tuple(labels), self.value(), first.line)
        if self.peek().kind == "{":
            return Item(key, tuple(labels), self.object(), first.line)
        raise HCLError(f"At {self.peek().line}: expected '=' or '{{' after key {key!r}")

    def object(self) -> list[Item]:
        self.take("{")
        items = self.body("}")
        self.take("}")
        return items

    def value(self) -> Any:
        token = self.peek()
        if token.kind in ("string", "number"):
            return self.take().value
        if token.kind == "ident" and token.value in ("true", "false"):
            self.take()
            return token.value == "true"
        if token.kind == "[":
            return self.list_value()
        if token.kind == "{":
            return self.object()
        raise HCLError(f"At {token.line}: unexpected {token.kind!r} where a value was expected")

    def list_value(self) -> list[Any]:
        self.take("[")
        values: list[Any] = []
        while self.peek().kind != "]":
            values.append(self.value())
            if self.peek().kind == ",":
                self.take(",")
            elif self.peek().kind != "]":
                raise HCLError(f"At {self.peek().line}: expected ',' or ']' in list")
        self.take("]")
        return values


def parse(text: str) -> list[Item]:
    """Parse an HCL document into its top-level items."""
    parser = _Parser(tokenize(text))
    items = parser.body("eof")
    parser.take("eof")
    return items


def to_plain(value: Any) -> Any:
    """Turn parsed objects into plain dicts (later keys win), leaving lists and scalars alone."""
    if isinstance(value, list) and all(isinstance(entry, Item) for entry in value) and value:
        result: dict[str, Any] = {}
        for entry in value:
            result[entry.key] = to_plain(entry.value)
        return result
    if isinstance(value, list):
        return [to_plain(entry) for entry in value]
    return value

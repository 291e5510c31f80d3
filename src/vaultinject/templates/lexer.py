"""Tokenizer for Go text/template source, following Go's lexer rule for rule.

The whole input is scanned up front into a list of tokens; Go scans lazily in a
goroutine, but its lexer never depends on the parser, so the token stream (and
the first error token) is the same.
"""

from __future__ import annotations

# Token types, in the order of Go's itemType.
ERROR = 0
BOOL = 1
CHAR = 2
CHAR_CONSTANT = 3
COMMENT = 4
COMPLEX = 5
ASSIGN = 6
DECLARE = 7
EOF = 8
FIELD = 9
IDENTIFIER = 10
LEFT_DELIM = 11
LEFT_PAREN = 12
NUMBER = 13
PIPE = 14
RAW_STRING = 15
RIGHT_DELIM = 16
RIGHT_PAREN = 17
SPACE = 18
STRING = 19
TEXT = 20
VARIABLE = 21
KEYWORD = 22  # Types above this one are keywords.
BLOCK = 23
BREAK = 24
CONTINUE = 25
DOT = 26
DEFINE = 27
ELSE = 28
END = 29
IF = 30
NIL = 31
RANGE = 32
TEMPLATE = 33
WITH = 34

KEYWORDS = {
    ".": DOT,
    "block": BLOCK,
    "break": BREAK,
    "continue": CONTINUE,
    "define": DEFINE,
    "else": ELSE,
    "end": END,
    "if": IF,
    "range": RANGE,
    "nil": NIL,
    "template": TEMPLATE,
    "with": WITH,
}

SPACE_CHARS = " \t\r\n"
LEFT_COMMENT = "/*"
RIGHT_COMMENT = "*/"
_TERMINATORS = frozenset(" \t\r\n.,|:()")
_ASCII_WORD = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class Token:
    """One lexical item: its type, offset in the input, text and line."""

    __slots__ = ("line", "pos", "typ", "val")

    def __init__(self, typ: int, pos: int, val: str, line: int) -> None:
        self.typ = typ
        self.pos = pos
        self.val = val
        self.line = line

    def describe(self) -> str:
        """Render the token as Go's item.String() does, for error messages."""
        from .gofmt import go_quote

        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ > KEYWORD:
            return f"<{self.val}>"
        if len(self.val.encode("utf-8", "surrogateescape")) > 10:
            return go_quote(_first_runes(self.val, 10)) + "..."
        return go_quote(self.val)


def _first_runes(text: str, count: int) -> str:
    return text[:count]


def is_space(ch: str) -> bool:
    """Go's template notion of space: ASCII space, tab, CR, LF."""
    return ch in SPACE_CHARS and ch != ""


def is_alphanumeric(ch: str) -> bool:
    """Letter, decimal digit or underscore, as Go's isAlphaNumeric."""
    return ch == "_" or ch.isalpha() or ch.isdecimal()


def has_left_trim_marker(text: str, pos: int) -> bool:
    return text[pos : pos + 1] == "-" and text[pos + 1 : pos + 2] in (" ", "\t", "\r", "\n")


def has_right_trim_marker(text: str, pos: int) -> bool:
    return text[pos : pos + 1] in (" ", "\t", "\r", "\n") and text[pos + 1 : pos + 2] == "-"


class _Lexer:
    """State machine over the input; each state method returns the next state or None."""

    def __init__(self, text: str, left: str, right: str, break_ok: bool, continue_ok: bool) -> None:
        self.text = text
        self.left = left or "{{"
        self.right = right or "}}"
        self.break_ok = break_ok
        self.continue_ok = continue_ok
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0
        self.at_eof = False
        self.tokens: list[Token] = []

    # Primitive moves.
    def next(self) -> str:
        if self.pos >= len(self.text):
            self.at_eof = True  # As in Go, later backups become no-ops.
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        if ch == "\n":
            self.line += 1
        return ch

    def backup(self) -> None:
        if not self.at_eof and self.pos > 0:
            self.pos -= 1
            if self.text[self.pos] == "\n":
                self.line -= 1

    def peek(self) -> str:
        ch = self.next()
        self.backup()
        return ch

    def emit(self, typ: int) -> None:
        self.tokens.append(Token(typ, self.start, self.text[self.start : self.pos], self.start_line))
        self.start = self.pos
        self.start_line = self.line

    def ignore(self) -> None:
        self.line += self.text.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        ch = self.next()
        if ch and ch in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            ch = self.next()
            if not ch or ch not in valid:
                break
        self.backup()

    def error(self, message: str) -> None:
        self.tokens.append(Token(ERROR, self.start, message, self.start_line))

    def at_terminator(self) -> bool:
        if self.pos >= len(self.text):
            self.at_eof = True  # Go's peek hit EOF here.
            return True
        if self.text[self.pos] in _TERMINATORS:
            return True
        return self.text.startswith(self.right, self.pos)

    def at_right_delim(self) -> tuple[bool, bool]:
        if has_right_trim_marker(self.text, self.pos) and self.text.startswith(self.right, self.pos + 2):
            return True, True
        if self.text.startswith(self.right, self.pos):
            return True, False
        return False, False

    # States.
    def run(self) -> list[Token]:
        state = self.lex_text
        while state is not None:
            state = state()  # type: ignore[assignment]
        return self.tokens

    def lex_text(self) -> object:
        found = self.text.find(self.left, self.pos)
        if found >= 0:
            left_len = len(self.left)
            self.pos = found
            trim = 0
            if has_left_trim_marker(self.text, self.pos + left_len):
                segment = self.text[self.start : self.pos]
                trim = len(segment) - len(segment.rstrip(SPACE_CHARS))
            self.pos -= trim
            if self.pos > self.start:
                self.line += self.text.count("\n", self.start, self.pos)
                self.emit(TEXT)
            self.pos += trim
            self.ignore()
            return self.lex_left_delim
        self.pos = len(self.text)
        if self.pos > self.start:
            self.line += self.text.count("\n", self.start, self.pos)
            self.emit(TEXT)
        self.emit(EOF)
        return None

    def lex_left_delim(self) -> object:
        self.pos += len(self.left)
        trim_space = has_left_trim_marker(self.text, self.pos)
        after_marker = 2 if trim_space else 0
        if self.text.startswith(LEFT_COMMENT, self.pos + after_marker):
            self.pos += after_marker
            self.ignore()
            return self.lex_comment
        self.emit(LEFT_DELIM)
        self.pos += after_marker
        self.ignore()
        self.paren_depth = 0
        return self.lex_inside_action

    def lex_comment(self) -> object:
        self.pos += len(LEFT_COMMENT)
        end = self.text.find(RIGHT_COMMENT, self.pos)
        if end < 0:
            self.error("unclosed comment")
            return None
        self.pos = end + len(RIGHT_COMMENT)
        delim, trim_space = self.at_right_delim()
        if not delim:
            self.error("comment ends before closing delimiter")
            return None
        if trim_space:
            self.pos += 2
        self.pos += len(self.right)
        if trim_space:
            rest = self.text[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
        self.ignore()
        return self.lex_text

    def lex_right_delim(self) -> object:
        trim_space = has_right_trim_marker(self.text, self.pos)
        if trim_space:
            self.pos += 2
            self.ignore()
        self.pos += len(self.right)
        self.emit(RIGHT_DELIM)
        if trim_space:
            rest = self.text[self.pos :]
            self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
            self.ignore()
        return self.lex_text

    def lex_inside_action(self) -> object:
        delim, _ = self.at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self.lex_right_delim
            self.error("unclosed left paren")
            return None
        ch = self.next()
        if ch == "":
            self.error("unclosed action")
            return None
        if is_space(ch):
            self.backup()
            return self.lex_space
        simple = _SIMPLE_ACTION_CHARS.get(ch)
        if simple is not None:
            return simple(self)
        if ch == ".":
            if self.pos < len(self.text) and not ("0" <= self.text[self.pos] <= "9"):
                return self.lex_field
            self.backup()
            return self.lex_number
        if ch in "+-" or "0" <= ch <= "9":
            self.backup()
            return self.lex_number
        if is_alphanumeric(ch):
            self.backup()
            return self.lex_identifier
        if ch == "(":
            self.emit(LEFT_PAREN)
            self.paren_depth += 1
            return self.lex_inside_action
        if ch == ")":
            self.emit(RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self.error("unexpected right paren U+0029 ')'")
                return None
            return self.lex_inside_action
        if " " < ch <= "~":
            self.emit(CHAR)
            return self.lex_inside_action
        self.error(f"unrecognized character in action: {_rune_repr(ch)}")
        return None

    def _emit_assign(self) -> object:
        self.emit(ASSIGN)
        return self.lex_inside_action

    def _emit_declare(self) -> object:
        if self.next() != "=":
            self.error("expected :=")
            return None
        self.emit(DECLARE)
        return self.lex_inside_action

    def _emit_pipe(self) -> object:
        self.emit(PIPE)
        return self.lex_inside_action

    def lex_space(self) -> object:
        text, start = self.text, self.pos
        pos, end = start, len(text)
        while pos < end and text[pos] in SPACE_CHARS:
            pos += 1
        if pos >= end:
            self.at_eof = True  # Go's peek hit EOF here.
        self.line += text.count("\n", start, pos)
        self.pos = pos
        if has_right_trim_marker(text, pos - 1) and text.startswith(self.right, pos + 1):
            self.backup()
            if pos - start == 1:
                return self.lex_right_delim
        self.emit(SPACE)
        return self.lex_inside_action

    def _scan_alphanumerics(self) -> str:
        """Consume a run of identifier characters; return the character that stopped it."""
        text, pos, end = self.text, self.pos, len(self.text)
        while pos < end:
            ch = text[pos]
            if ch not in _ASCII_WORD and (ch < "\x80" or not is_alphanumeric(ch)):
                self.pos = pos
                return ch
            pos += 1
        self.pos = end
        self.at_eof = True
        return ""

    def lex_identifier(self) -> object:
        stop = self._scan_alphanumerics()
        word = self.text[self.start : self.pos]
        if not self.at_terminator():
            self.error(f"bad character {_rune_repr(stop)}")
            return None
        keyword = KEYWORDS.get(word, 0)
        if keyword > KEYWORD:
            if (keyword == BREAK and not self.break_ok) or (keyword == CONTINUE and not self.continue_ok):
                self.emit(IDENTIFIER)
            else:
                self.emit(keyword)
        elif word[0] == ".":
            self.emit(FIELD)
        elif word in ("true", "false"):
            self.emit(BOOL)
        else:
            self.emit(IDENTIFIER)
        return self.lex_inside_action

    def lex_field(self) -> object:
        return self._lex_field_or_variable(FIELD)

    def lex_variable(self) -> object:
        if self.at_terminator():
            self.emit(VARIABLE)
            return self.lex_inside_action
        return self._lex_field_or_variable(VARIABLE)

    def _lex_field_or_variable(self, typ: int) -> object:
        if self.at_terminator():
            self.emit(VARIABLE if typ == VARIABLE else DOT)
            return self.lex_inside_action
        ch = self._scan_alphanumerics()
        if not self.at_terminator():
            self.error(f"bad character {_rune_repr(ch)}")
            return None
        self.emit(typ)
        return self.lex_inside_action

    def lex_char(self) -> object:
        return self._lex_escaped("'", CHAR_CONSTANT, "unterminated character constant")

    def lex_number(self) -> object:
        if not self.scan_number():
            self.error(f"bad number syntax: {_quoted(self.text[self.start : self.pos])}")
            return None
        if self.peek() in ("+", "-") and self.peek() != "":
            if not self.scan_number() or self.text[self.pos - 1] != "i":
                self.error(f"bad number syntax: {_quoted(self.text[self.start : self.pos])}")
                return None
            self.emit(COMPLEX)
        else:
            self.emit(NUMBER)
        return self.lex_inside_action

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        nxt = self.peek()
        if nxt and is_alphanumeric(nxt):
            self.next()
            return False
        return True

    def lex_quote(self) -> object:
        return self._lex_escaped('"', STRING, "unterminated quoted string")

    def _lex_escaped(self, close: str, token: int, unterminated: str) -> object:
        """A quoted constant with backslash escapes, ending at `close` on the same line."""
        while True:
            ch = self.next()
            if ch == "\\":
                if self.next() not in ("", "\n"):
                    continue
                self.error(unterminated)
                return None
            if ch in ("", "\n"):
                self.error(unterminated)
                return None
            if ch == close:
                break
        self.emit(token)
        return self.lex_inside_action

    def lex_raw_quote(self) -> object:
        end = self.text.find("`", self.pos)
        if end < 0:
            self.pos = len(self.text)
            self.error("unterminated raw quoted string")
            return None
        self.line += self.text.count("\n", self.pos, end + 1)
        self.pos = end + 1
        self.emit(RAW_STRING)
        return self.lex_inside_action


_SIMPLE_ACTION_CHARS = {
    "=": _Lexer._emit_assign,
    ":": _Lexer._emit_declare,
    "|": _Lexer._emit_pipe,
    '"': _Lexer.lex_quote,
    "`": _Lexer.lex_raw_quote,
    "$": _Lexer.lex_variable,
    "'": _Lexer.lex_char,
}


def _rune_repr(ch: str) -> str:
    """Go's %#U: U+0041 'A' (the quoted char only when printable)."""
    if ch == "":
        return "U+FFFFFFFFFFFFFFFF"  # Go prints eof (-1) like this.
    code = ord(ch)
    if ch.isprintable() and not (0xDC80 <= code <= 0xDCFF):
        return f"U+{code:04X} '{ch}'"
    return f"U+{code:04X}"


def _quoted(text: str) -> str:
    from .gofmt import go_quote

    return go_quote(text)


def tokenize(
    text: str, left: str, right: str, break_ok: bool = True, continue_ok: bool = True
) -> list[Token]:
    """Scan the whole template into tokens; the list ends with EOF or ERROR."""
    return _Lexer(text, left, right, break_ok, continue_ok).run()

"""Parse trees for Go text/template: the node types and a parser that follows Go's.

Error messages are Go's, word for word, so a template rejected by Vault Agent is
rejected here with the same text.
"""

from __future__ import annotations

from . import lexer as lx
from .literals import (
    LiteralError,
    fits_int64,
    fits_uint64,
    parse_complex,
    parse_float,
    parse_int,
    parse_uint,
    unquote,
    unquote_char,
)

TYPE_CHECKING = False  # typing is not imported at run time: importing this package must stay cheap.
if TYPE_CHECKING:
    from collections.abc import Callable, Container, Mapping

#: Go's unicode.IsSpace characters (Python's str.isspace also counts U+001C..U+001F).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


class ParseError(Exception):
    """A syntax error at a byte position of the source (message in Go's words)."""

    def __init__(self, message: str, line: int, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.pos = pos


# --- nodes -------------------------------------------------------------------------------


class Node:
    """Base of all parse tree nodes; ``pos`` is the offset in the source text."""

    __slots__ = ("pos",)

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def __str__(self) -> str:
        return ""


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.nodes: list[Node] = []

    def __str__(self) -> str:
        return "".join(str(node) for node in self.nodes)


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return self.text


class CommentNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


class IdentifierNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: str) -> None:
        super().__init__(pos)
        self.ident = ident

    def __str__(self) -> str:
        return self.ident


class VariableNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: str) -> None:
        super().__init__(pos)
        self.ident = ident.split(".")

    def __str__(self) -> str:
        return ".".join(self.ident)


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class FieldNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos: int, ident: str) -> None:
        super().__init__(pos)
        self.ident = ident[1:].split(".")

    def __str__(self) -> str:
        return "".join("." + name for name in self.ident)


class ChainNode(Node):
    __slots__ = ("field", "node")

    def __init__(self, pos: int, node: Node) -> None:
        super().__init__(pos)
        self.node = node
        self.field: list[str] = []

    def add(self, field: str) -> None:
        self.field.append(field[1:])

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return head + "".join("." + name for name in self.field)


class BoolNode(Node):
    __slots__ = ("true",)

    def __init__(self, pos: int, true: bool) -> None:
        super().__init__(pos)
        self.true = true

    def __str__(self) -> str:
        return "true" if self.true else "false"


class NumberNode(Node):
    """A numeric constant with every interpretation Go's rules allow."""

    __slots__ = (
        "complex128",
        "float64",
        "int64",
        "is_complex",
        "is_float",
        "is_int",
        "is_uint",
        "text",
        "uint64",
    )

    def __init__(self, pos: int, text: str) -> None:
        super().__init__(pos)
        self.text = text
        self.is_int = self.is_uint = self.is_float = self.is_complex = False
        self.int64 = self.uint64 = 0
        self.float64 = 0.0
        self.complex128 = 0j

    def __str__(self) -> str:
        return self.text


class StringNode(Node):
    __slots__ = ("quoted", "text")

    def __init__(self, pos: int, quoted: str, text: str) -> None:
        super().__init__(pos)
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.args: list[Node] = []

    def __str__(self) -> str:
        return " ".join(f"({arg})" if isinstance(arg, PipeNode) else str(arg) for arg in self.args)


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign", "line")

    def __init__(self, pos: int, line: int) -> None:
        super().__init__(pos)
        self.line = line
        self.is_assign = False
        self.decl: list[VariableNode] = []
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        head = ", ".join(str(v) for v in self.decl) + " := " if self.decl else ""
        return head + " | ".join(str(cmd) for cmd in self.cmds)


class ActionNode(Node):
    __slots__ = ("line", "pipe")

    def __init__(self, pos: int, line: int, pipe: PipeNode) -> None:
        super().__init__(pos)
        self.line = line
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class BranchNode(Node):
    """Shared shape of if, range and with."""

    __slots__ = ("else_list", "line", "list", "pipe")
    KEYWORD = ""

    def __init__(
        self, pos: int, line: int, pipe: PipeNode, body: ListNode, else_list: ListNode | None
    ) -> None:
        super().__init__(pos)
        self.line = line
        self.pipe = pipe
        self.list = body
        self.else_list = else_list

    def __str__(self) -> str:
        text = "{{" + self.KEYWORD + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            text += "{{else}}" + str(self.else_list)
        return text + "{{end}}"


class IfNode(BranchNode):
    __slots__ = ()
    KEYWORD = "if"


class RangeNode(BranchNode):
    __slots__ = ()
    KEYWORD = "range"


class WithNode(BranchNode):
    __slots__ = ()
    KEYWORD = "with"


class TemplateNode(Node):
    __slots__ = ("line", "name", "pipe")

    def __init__(self, pos: int, line: int, name: str, pipe: PipeNode | None) -> None:
        super().__init__(pos)
        self.line = line
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        from .gofmt import go_quote

        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


class BreakNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos: int, line: int) -> None:
        super().__init__(pos)
        self.line = line

    def __str__(self) -> str:
        return "{{break}}"


class ContinueNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos: int, line: int) -> None:
        super().__init__(pos)
        self.line = line

    def __str__(self) -> str:
        return "{{continue}}"


class _EndNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class _ElseNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos: int, line: int) -> None:
        super().__init__(pos)
        self.line = line

    def __str__(self) -> str:
        return "{{else}}"


def is_empty_tree(node: Node | None) -> bool:
    """parse.IsEmptyTree: nothing but space and comments."""
    if node is None or isinstance(node, CommentNode):
        return True
    if isinstance(node, ListNode):
        return all(is_empty_tree(child) for child in node.nodes)
    if isinstance(node, TextNode):
        return node.text.strip(GO_SPACE) == ""
    return False


# --- numbers -----------------------------------------------------------------------------


def new_number(pos: int, text: str, typ: int) -> NumberNode:
    """parse.newNumber: every reading of a numeric or character constant."""
    node = NumberNode(pos, text)
    if typ == lx.CHAR_CONSTANT:
        try:
            _, code, end = unquote_char(text, 1, "'")
        except LiteralError:
            raise LiteralError("invalid syntax") from None
        if text[end:] != "'":
            raise LiteralError(f"malformed character constant: {text}")
        node.int64 = node.uint64 = code
        node.float64 = float(code)
        node.is_int = node.is_uint = node.is_float = True
        return node
    if typ == lx.COMPLEX:
        value = parse_complex(text)
        if value is None:
            raise LiteralError(f"illegal number syntax: {_quote(text)}")
        node.is_complex = True
        node.complex128 = value
        _simplify_complex(node)
        return node
    if text.endswith("i"):
        imaginary = parse_float(text[:-1])
        if imaginary is not None:
            node.is_complex = True
            node.complex128 = complex(0, imaginary)
            _simplify_complex(node)
            return node
    _read_real(node, text)
    if not (node.is_int or node.is_uint or node.is_float):
        raise LiteralError(f"illegal number syntax: {_quote(text)}")
    return node


def _read_real(node: NumberNode, text: str) -> None:
    unsigned = parse_uint(text)
    if unsigned is not None:
        node.is_uint = True
        node.uint64 = unsigned
    signed = parse_int(text)
    if signed is not None:
        node.is_int = True
        node.int64 = signed
        if signed == 0:
            node.is_uint = True
            node.uint64 = unsigned or 0
    if node.is_int:
        node.is_float = True
        node.float64 = float(node.int64)
    elif node.is_uint:
        node.is_float = True
        node.float64 = float(node.uint64)
    else:
        value = parse_float(text)
        if value is not None:
            if not any(ch in text for ch in ".eEpP"):
                raise LiteralError(f"integer overflow: {_quote(text)}")
            node.is_float = True
            node.float64 = value
            if fits_int64(value):
                node.is_int = True
                node.int64 = int(value)
            if fits_uint64(value):
                node.is_uint = True
                node.uint64 = int(value)


def _simplify_complex(node: NumberNode) -> None:
    node.is_float = node.complex128.imag == 0
    if node.is_float:
        node.float64 = node.complex128.real
        node.is_int = fits_int64(node.float64)
        if node.is_int:
            node.int64 = int(node.float64)
        node.is_uint = fits_uint64(node.float64)
        if node.is_uint:
            node.uint64 = int(node.float64)


def _quote(text: str) -> str:
    from .gofmt import go_quote

    return go_quote(text)


# --- parser ------------------------------------------------------------------------------


class Tree:
    """One named template: its root list of nodes."""

    __slots__ = ("name", "root")

    def __init__(self, name: str, root: ListNode) -> None:
        self.name = name
        self.root = root


class _Parser:
    """Recursive-descent parser over the token list, with Go's three-token lookahead."""

    def __init__(
        self,
        name: str,
        tokens: list[lx.Token],
        *,
        functions: Container[str],
        trees: dict[str, Tree],
        allow_else_with: bool,
        parse_name: str,
        refused: Mapping[str, str],
    ) -> None:
        self.refused = refused
        self.name = name
        self.parse_name = parse_name
        self.tokens = tokens
        self.index = 0
        self.functions = functions
        self.trees = trees
        self.allow_else_with = allow_else_with
        self.token: list[lx.Token] = [tokens[0], tokens[0], tokens[0]]
        self.peek_count = 0
        self.vars: list[str] = ["$"]
        self.action_line = 0
        self.range_depth = 0

    # Token stream.
    def _lex(self) -> lx.Token:
        token = self.tokens[self.index]
        if self.index < len(self.tokens) - 1:
            self.index += 1
        return token

    def next(self) -> lx.Token:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0] = self._lex()
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def backup2(self, t1: lx.Token) -> None:
        self.token[1] = t1
        self.peek_count = 2

    def backup3(self, t2: lx.Token, t1: lx.Token) -> None:
        self.token[1] = t1
        self.token[2] = t2
        self.peek_count = 3

    def peek(self) -> lx.Token:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[0] = self._lex()
        return self.token[0]

    def next_non_space(self) -> lx.Token:
        while True:
            token = self.next()
            if token.typ != lx.SPACE:
                return token

    def peek_non_space(self) -> lx.Token:
        token = self.next_non_space()
        self.backup()
        return token

    # Errors.
    def error(self, message: str) -> ParseError:
        current = self.token[0]
        return ParseError(message, current.line, current.pos)

    def expect(self, expected: int, context: str) -> lx.Token:
        token = self.next_non_space()
        if token.typ != expected:
            raise self.unexpected(token, context)
        return token

    def expect_one_of(self, first: int, second: int, context: str) -> lx.Token:
        token = self.next_non_space()
        if token.typ not in (first, second):
            raise self.unexpected(token, context)
        return token

    def unexpected(self, token: lx.Token, context: str) -> ParseError:
        if token.typ == lx.ERROR:
            extra = ""
            if self.action_line not in (0, token.line):
                extra = f" in action started at {self.parse_name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.error(f"{token.val}{extra}")
        return self.error(f"unexpected {token.describe()} in {context}")

    # Grammar.
    def parse(self) -> ListNode:
        root = ListNode(self.peek().pos)
        while self.peek().typ != lx.EOF:
            if self.peek().typ == lx.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == lx.DEFINE:
                    self.parse_definition()
                    continue
                self.backup2(delim)
            node = self.text_or_action()
            if isinstance(node, (_EndNode, _ElseNode)):
                raise self.error(f"unexpected {node}")
            root.nodes.append(node)
        return root

    def _sub_tree(self, name: str) -> _Parser:
        sub = _Parser(
            name,
            self.tokens,
            functions=self.functions,
            trees=self.trees,
            allow_else_with=self.allow_else_with,
            parse_name=self.parse_name,
            refused=self.refused,
        )
        sub.index = self.index
        sub.token = list(self.token)
        sub.peek_count = self.peek_count
        return sub

    def _resume_from(self, sub: _Parser) -> None:
        self.index = sub.index
        self.token = sub.token
        self.peek_count = sub.peek_count

    def parse_definition(self) -> None:
        context = "define clause"
        name_token = self.expect_one_of(lx.STRING, lx.RAW_STRING, context)
        name = self.unquote_token(name_token)
        self.expect(lx.RIGHT_DELIM, context)
        sub = self._sub_tree(name)
        root, end = sub.item_list()
        self._resume_from(sub)
        if not isinstance(end, _EndNode):
            raise self.error(f"unexpected {end} in {context}")
        self.add_tree(name, root)

    def add_tree(self, name: str, root: ListNode) -> None:
        existing = self.trees.get(name)
        if existing is None or is_empty_tree(existing.root):
            self.trees[name] = Tree(name, root)
            return
        if not is_empty_tree(root):
            raise self.error(f"template: multiple definition of template {_quote(name)}")

    def item_list(self) -> tuple[ListNode, Node]:
        body = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().typ != lx.EOF:
            node = self.text_or_action()
            if isinstance(node, (_EndNode, _ElseNode)):
                return body, node
            body.nodes.append(node)
        raise self.error("unexpected EOF")

    def text_or_action(self) -> Node:
        token = self.next_non_space()
        if token.typ == lx.TEXT:
            return TextNode(token.pos, token.val)
        if token.typ == lx.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if token.typ == lx.COMMENT:
            return CommentNode(token.pos, token.val)
        raise self.unexpected(token, "input")

    def action(self) -> Node:
        token = self.next_non_space()
        handler = _CONTROLS.get(token.typ)
        if handler is not None:
            return handler(self, token)
        self.backup()
        token = self.peek()
        return ActionNode(token.pos, token.line, self.pipeline("command", lx.RIGHT_DELIM))

    def break_control(self, keyword: lx.Token) -> Node:
        token = self.next_non_space()
        if token.typ != lx.RIGHT_DELIM:
            raise self.unexpected(token, "{{break}}")
        if self.range_depth == 0:
            raise self.error("{{break}} outside {{range}}")
        return BreakNode(keyword.pos, keyword.line)

    def continue_control(self, keyword: lx.Token) -> Node:
        token = self.next_non_space()
        if token.typ != lx.RIGHT_DELIM:
            raise self.unexpected(token, "{{continue}}")
        if self.range_depth == 0:
            raise self.error("{{continue}} outside {{range}}")
        return ContinueNode(keyword.pos, keyword.line)

    def pipeline(self, context: str, end: int) -> PipeNode:
        token = self.peek_non_space()
        pipe = PipeNode(token.pos, token.line)
        self._declarations(pipe, context)
        while True:
            token = self.next_non_space()
            if token.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.typ in _OPERAND_STARTS:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(token, context)

    def _declarations(self, pipe: PipeNode, context: str) -> None:
        while True:
            variable = self.peek_non_space()
            if variable.typ != lx.VARIABLE:
                return
            self.next()
            token_after = self.peek()
            following = self.peek_non_space()
            if following.typ in (lx.ASSIGN, lx.DECLARE):
                pipe.is_assign = following.typ == lx.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(variable.pos, variable.val))
                self.vars.append(variable.val)
                return
            if following.typ == lx.CHAR and following.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(variable.pos, variable.val))
                self.vars.append(variable.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (lx.VARIABLE, lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            if token_after.typ == lx.SPACE:
                self.backup3(variable, token_after)
            else:
                self.backup2(variable)
            return

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.error(f"missing value for {context}")
        for index, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.error(f"non executable command in pipeline stage {index + 2}")

    def parse_control(self, context: str) -> tuple[int, int, PipeNode, ListNode, ListNode | None]:
        """An if, range or with up to its end; an else-if (else-with) chain is read in a loop.

        Go reads ``{{if a}}_{{else if b}}_{{end}}`` as ``{{if a}}_{{else}}{{if b}}_{{end}}{{end}}``
        by recursing per link; a chain is not nesting, so a long one must not exhaust the stack.
        """
        mark = len(self.vars)
        try:
            links: list[tuple[PipeNode, ListNode, int]] = []
            while True:
                pipe = self.pipeline(context, lx.RIGHT_DELIM)
                if context == "range":
                    self.range_depth += 1
                body, nxt = self.item_list()
                if context == "range":
                    self.range_depth -= 1
                if isinstance(nxt, _ElseNode) and self._else_chains(context):
                    links.append((pipe, body, nxt.pos))
                    continue
                else_list = self._else_list() if isinstance(nxt, _ElseNode) else None
                break
            parts = (pipe.pos, pipe.line, pipe, body, else_list)
            for link_pipe, link_body, else_pos in reversed(links):
                chained = ListNode(else_pos)
                chained.nodes.append(_BRANCHES[context](*parts))
                parts = (link_pipe.pos, link_pipe.line, link_pipe, link_body, chained)
            return parts
        finally:
            del self.vars[mark:]

    def _else_chains(self, context: str) -> bool:
        """After an else: consume the if (with) of an else-if (else-with) and say whether it was there."""
        chained = {"if": lx.IF, "with": lx.WITH if self.allow_else_with else -1}.get(context)
        if chained is not None and self.peek().typ == chained:
            self.next()
            return True
        return False

    def _else_list(self) -> ListNode:
        else_list, nxt = self.item_list()
        if not isinstance(nxt, _EndNode):
            raise self.error(f"expected end; found {nxt}")
        return else_list

    def if_control(self, _keyword: lx.Token) -> Node:
        return IfNode(*self.parse_control("if"))

    def range_control(self, _keyword: lx.Token) -> Node:
        return RangeNode(*self.parse_control("range"))

    def with_control(self, _keyword: lx.Token) -> Node:
        return WithNode(*self.parse_control("with"))

    def end_control(self, _keyword: lx.Token) -> Node:
        return _EndNode(self.expect(lx.RIGHT_DELIM, "end").pos)

    def else_control(self, _keyword: lx.Token) -> Node:
        peek = self.peek_non_space()
        if peek.typ == lx.IF or (self.allow_else_with and peek.typ == lx.WITH):
            return _ElseNode(peek.pos, peek.line)
        token = self.expect(lx.RIGHT_DELIM, "else")
        return _ElseNode(token.pos, token.line)

    def block_control(self, _keyword: lx.Token) -> Node:
        context = "block clause"
        token = self.next_non_space()
        name = self.parse_template_name(token, context)
        pipe = self.pipeline(context, lx.RIGHT_DELIM)
        sub = self._sub_tree(name)
        root, end = sub.item_list()
        self._resume_from(sub)
        if not isinstance(end, _EndNode):
            raise self.error(f"unexpected {end} in {context}")
        self.add_tree(name, root)
        return TemplateNode(token.pos, token.line, name, pipe)

    def template_control(self, _keyword: lx.Token) -> Node:
        context = "template clause"
        token = self.next_non_space()
        name = self.parse_template_name(token, context)
        pipe = None
        if self.next_non_space().typ != lx.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, lx.RIGHT_DELIM)
        return TemplateNode(token.pos, token.line, name, pipe)

    def parse_template_name(self, token: lx.Token, context: str) -> str:
        if token.typ in (lx.STRING, lx.RAW_STRING):
            return self.unquote_token(token)
        raise self.unexpected(token, context)

    def unquote_token(self, token: lx.Token) -> str:
        try:
            return unquote(token.val)
        except LiteralError as exc:
            raise self.error(str(exc)) from None

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ == lx.SPACE:
                continue
            if token.typ in (lx.RIGHT_DELIM, lx.RIGHT_PAREN):
                self.backup()
            elif token.typ != lx.PIPE:
                raise self.unexpected(token, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == lx.FIELD:
            chain = ChainNode(self.peek().pos, node)
            while self.peek().typ == lx.FIELD:
                chain.add(self.next().val)
            if isinstance(node, FieldNode):
                return FieldNode(chain.pos, str(chain))
            if isinstance(node, VariableNode):
                return VariableNode(chain.pos, str(chain))
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise self.error(f"unexpected . after term {_quote(str(node))}")
            return chain
        return node

    def term(self) -> Node | None:
        token = self.next_non_space()
        typ = token.typ
        if typ == lx.IDENTIFIER:
            refusal = self.refused.get(token.val)
            if refusal is not None:
                raise self.error(refusal)
            if token.val not in self.functions:
                raise self.error(f"function {_quote(token.val)} not defined")
            return IdentifierNode(token.pos, token.val)
        if typ == lx.DOT:
            return DotNode(token.pos)
        if typ == lx.NIL:
            return NilNode(token.pos)
        if typ == lx.VARIABLE:
            return self.use_var(token.pos, token.val)
        if typ == lx.FIELD:
            return FieldNode(token.pos, token.val)
        if typ == lx.BOOL:
            return BoolNode(token.pos, token.val == "true")
        if typ in (lx.CHAR_CONSTANT, lx.COMPLEX, lx.NUMBER):
            try:
                return new_number(token.pos, token.val, typ)
            except LiteralError as exc:
                raise self.error(str(exc)) from None
        if typ == lx.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", lx.RIGHT_PAREN)
        if typ in (lx.STRING, lx.RAW_STRING):
            return StringNode(token.pos, token.val, self.unquote_token(token))
        self.backup()
        return None

    def use_var(self, pos: int, name: str) -> Node:
        node = VariableNode(pos, name)
        if node.ident[0] not in self.vars:
            raise self.error(f"undefined variable {_quote(node.ident[0])}")
        return node


_OPERAND_STARTS = frozenset(
    (
        lx.BOOL,
        lx.CHAR_CONSTANT,
        lx.COMPLEX,
        lx.DOT,
        lx.FIELD,
        lx.IDENTIFIER,
        lx.NUMBER,
        lx.NIL,
        lx.RAW_STRING,
        lx.STRING,
        lx.VARIABLE,
        lx.LEFT_PAREN,
    )
)

_BRANCHES: dict[str, type[BranchNode]] = {"if": IfNode, "range": RangeNode, "with": WithNode}

_CONTROLS: dict[int, Callable[[_Parser, lx.Token], Node]] = {
    lx.BLOCK: _Parser.block_control,
    lx.BREAK: _Parser.break_control,
    lx.CONTINUE: _Parser.continue_control,
    lx.ELSE: _Parser.else_control,
    lx.END: _Parser.end_control,
    lx.IF: _Parser.if_control,
    lx.RANGE: _Parser.range_control,
    lx.TEMPLATE: _Parser.template_control,
    lx.WITH: _Parser.with_control,
}


def parse_trees(
    name: str,
    text: str,
    left: str,
    right: str,
    *,
    functions: Container[str],
    allow_else_with: bool = True,
    parse_name: str | None = None,
    refused: Mapping[str, str] | None = None,
) -> dict[str, Tree]:
    """Parse ``text`` into its named trees (the top one under ``name``); raises ParseError.

    ``parse_name`` is the name error messages use (Go's Tree.ParseName); it defaults to ``name``.
    """
    tokens = lx.tokenize(text, left, right)
    trees: dict[str, Tree] = {}
    parser = _Parser(
        name,
        tokens,
        functions=functions,
        trees=trees,
        allow_else_with=allow_else_with,
        parse_name=name if parse_name is None else parse_name,
        refused=refused or {},
    )
    root = parser.parse()
    parser.add_tree(name, root)
    return trees

"""Evaluation of parse trees, following Go's text/template exec.go step by step.

Values are the model of :mod:`.values`. Go distinguishes "no value" (an invalid
reflect.Value, here ``None``) from a nil ``interface{}`` read out of a map or slice
(here ``NIL_INTERFACE``); the pipeline unwraps the latter into the former, as Go does.
"""

from __future__ import annotations

from . import parser as p
from .budget import Budget, BudgetExceeded, shallow_size
from .builtins import is_true, unwrap_interface
from .funcdef import ANY, VALUE, FuncError, GoFunc, ParamType
from .gofmt import format_value, go_bytes, go_quote, sprintf
from .literals import parse_float
from .values import (
    MAP,
    NIL_INTERFACE,
    SLICE,
    GoStruct,
    Int64,
    InterfaceValue,
    JSONNumber,
    NilStrList,
    StrList,
    StrMap,
    TypedNil,
    go_kind,
    go_type_name,
    strip_interface,
)

TYPE_CHECKING = False  # typing is not imported at run time: importing this package must stay cheap.
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

MISSING_KEY_MODES = ("invalid", "zero", "error")


class ExecFailure(Exception):
    """An execution error at a node, in Go's words; located by the caller."""

    def __init__(
        self,
        reason: str,
        node: p.Node | None,
        tree_name: str,
        missing_key: bool = False,
        quoted: tuple[str, ...] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node
        self.tree_name = tree_name
        self.missing_key = missing_key
        self.quoted = quoted  # The run-time values the reason quotes, for redaction.


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Missing:
    """Go's missingVal: no final value piped into a command."""


_MISSING = _Missing()


def _element(value: object) -> object:
    """An element read out of an interface{} container, before the pipeline unwraps it."""
    if value is None:
        return NIL_INTERFACE
    return InterfaceValue(value)


class Executor:
    """One execution of a set of trees: output buffer, variables and limits."""

    def __init__(
        self,
        *,
        trees: Mapping[str, p.Tree],
        funcs: Mapping[str, GoFunc],
        missing_key: str,
        max_output: int,
        max_depth: int,
        budget: Budget,
        context: object = None,
    ) -> None:
        self.context = context
        self.trees = trees
        self.funcs = funcs
        self.missing_key = missing_key
        self.max_output = max_output
        self.max_depth = max_depth
        self.budget = budget
        self.out: list[str] = []
        self.node: p.Node | None = None
        self.tree_name = ""
        self.depth = 0
        self.vars: list[list[Any]] = []

    def execute(self, tree_name: str, dot: object) -> str:
        """Run the named tree with ``dot`` as data and return the output."""
        tree = self.trees[tree_name]
        self.tree_name = tree_name
        self.vars = [["$", dot]]
        try:
            self.walk(dot, tree.root)
        except BudgetExceeded as exc:
            raise self.fail(str(exc)) from None
        return "".join(self.out)

    # Errors and output.
    def fail(self, reason: str, missing_key: bool = False, quoted: tuple[str, ...] = ()) -> ExecFailure:
        return ExecFailure(reason, self.node, self.tree_name, missing_key, quoted)

    def write(self, text: str) -> None:
        self.budget.charge_output(len(text), self.max_output)
        self.out.append(text)

    # Variables.
    def set_var(self, name: str, value: object) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.fail(f"undefined variable: {name}")

    def var_value(self, name: str) -> object:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.fail(f"undefined variable: {name}")

    # Walking.
    def walk(self, dot: object, node: p.Node) -> None:
        self.node = node
        self.budget.step()
        kind = type(node)
        if kind is p.TextNode:
            self.write(node.text)  # type: ignore[attr-defined]
        elif kind is p.ActionNode:
            pipe: p.PipeNode = node.pipe  # type: ignore[attr-defined]
            value = self.eval_pipeline(dot, pipe)
            if not pipe.decl:
                self.node = node
                self.write(format_value(value))
        elif kind is p.ListNode:
            for child in node.nodes:  # type: ignore[attr-defined]
                self.walk(dot, child)
        elif kind is p.IfNode or kind is p.WithNode:
            self.walk_if_or_with(kind is p.WithNode, dot, node)  # type: ignore[arg-type]
        elif kind is p.RangeNode:
            self.walk_range(dot, node)  # type: ignore[arg-type]
        elif kind is p.TemplateNode:
            self.walk_template(dot, node)  # type: ignore[arg-type]
        elif kind is p.BreakNode:
            raise _Break
        elif kind is p.ContinueNode:
            raise _Continue

    def walk_if_or_with(self, is_with: bool, dot: object, node: p.BranchNode) -> None:
        """Walk an if or with, and the else-if (else-with) chain after it without recursing."""
        mark = len(self.vars)
        try:
            while True:
                value = self.eval_pipeline(dot, node.pipe)
                if is_true(value):
                    self.walk(value if is_with else dot, node.list)
                    return
                chained = _chained_branch(node.else_list)
                if chained is None:
                    break
                self.node = node = chained
                self.budget.step()
                is_with = type(node) is p.WithNode
            if node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            del self.vars[mark:]

    def walk_range(self, dot: object, node: p.RangeNode) -> None:
        self.node = node
        mark = len(self.vars)
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if isinstance(value, GoStruct) and value.GO_POINTER:
                value = _DerefStruct(value)
            body_mark = len(self.vars)
            kind = go_kind(value)
            if kind == SLICE and isinstance(value, list) and value:
                generic = type(value) is list
                for index, item in enumerate(value):
                    self._iteration(node, body_mark, index, _element(item) if generic else item)
                return
            if kind == MAP and isinstance(value, dict) and value:
                generic = not isinstance(value, StrMap)
                for key in sorted(value, key=go_bytes):
                    item = value[key]
                    self._iteration(node, body_mark, key, _element(item) if generic else item)
                return
            if value is not None and kind not in (SLICE, MAP):
                shown = _range_repr(value)
                raise self.fail(f"range can't iterate over {shown}", quoted=(shown,))
            if node.else_list is not None:
                self.walk(dot, node.else_list)
        except _Break:
            pass
        finally:
            del self.vars[mark:]

    def _iteration(self, node: p.RangeNode, mark: int, index: object, elem: object) -> None:
        self.budget.step()
        decl = node.pipe.decl
        if decl:
            self.vars[-1][1] = elem
            if len(decl) > 1:
                self.vars[-2][1] = index
        try:
            self.walk(elem, node.list)
        except _Continue:
            pass
        finally:
            del self.vars[mark:]

    def walk_template(self, dot: object, node: p.TemplateNode) -> None:
        self.node = node
        tree = self.trees.get(node.name)
        if tree is None:
            raise self.fail(f"template {go_quote(node.name)} not defined")
        if self.depth >= self.max_depth:
            raise self.fail(f"exceeded maximum template depth ({self.max_depth})")
        self.budget.call()
        value = self.eval_pipeline(dot, node.pipe)
        saved = (self.vars, self.tree_name)
        self.vars = [["$", value]]
        self.tree_name = node.name
        self.depth += 1
        try:
            self.walk(value, tree.root)
        except BudgetExceeded as exc:
            raise self.fail(str(exc)) from None  # Located in this template, before it is left.
        finally:
            self.depth -= 1
            self.vars, self.tree_name = saved

    # Pipelines and commands.
    def eval_pipeline(self, dot: object, pipe: p.PipeNode | None) -> object:
        if pipe is None:
            return None
        self.node = pipe
        value: object = _MISSING
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if type(value) is InterfaceValue:
                value = value.value
            elif value is NIL_INTERFACE:
                value = None
        for variable in pipe.decl:
            if pipe.is_assign:
                self.set_var(variable.ident[0], value)
            else:
                self.vars.append([variable.ident[0], value])
        return value

    def not_a_function(self, args: list[p.Node], final: object) -> None:
        if len(args) > 1 or final is not _MISSING:
            raise self.fail(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot: object, cmd: p.CommandNode, final: object) -> object:
        self.budget.step()
        first = cmd.args[0]
        kind = type(first)
        if kind is p.FieldNode:
            return self.eval_field_node(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if kind is p.ChainNode:
            return self.eval_chain_node(dot, first, cmd.args, final)  # type: ignore[arg-type]
        if kind is p.IdentifierNode:
            return self.eval_function(dot, first, cmd, cmd.args, final)  # type: ignore[arg-type]
        if kind is p.PipeNode:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)  # type: ignore[arg-type]
        if kind is p.VariableNode:
            return self.eval_variable_node(dot, first, cmd.args, final)  # type: ignore[arg-type]
        self.node = first
        self.not_a_function(cmd.args, final)
        if kind is p.BoolNode:
            return first.true  # type: ignore[attr-defined]
        if kind is p.DotNode:
            return dot
        if kind is p.NilNode:
            raise self.fail("nil is not a command")
        if kind is p.NumberNode:
            return self.ideal_constant(first)  # type: ignore[arg-type]
        if kind is p.StringNode:
            return first.text  # type: ignore[attr-defined]
        raise self.fail(f"can't evaluate command {go_quote(str(first))}")

    def ideal_constant(self, number: p.NumberNode) -> object:
        self.node = number
        text = number.text
        if number.is_complex:
            return number.complex128
        if (
            number.is_float
            and not _is_hex_int(text)
            and not text.startswith("'")
            and any(ch in text for ch in ".eEpP")
        ):
            return number.float64
        if number.is_int:
            return number.int64
        if number.is_uint:
            raise self.fail(f"{text} overflows int")
        return None

    # Fields.
    def eval_field_node(
        self, dot: object, field: p.FieldNode, args: list[p.Node] | None, final: object
    ) -> object:
        self.node = field
        return self.eval_field_chain(
            dot, strip_interface(dot), type(dot) is InterfaceValue, field, field.ident, args, final
        )

    def eval_chain_node(
        self, dot: object, chain: p.ChainNode, args: list[p.Node] | None, final: object
    ) -> object:
        self.node = chain
        if not chain.field:
            raise self.fail("internal error: no fields in evalChainNode")
        if isinstance(chain.node, p.NilNode):
            raise self.fail(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, None, chain.node)
        iface = isinstance(chain.node, p.IdentifierNode) and self.funcs[chain.node.ident].returns_interface
        return self.eval_field_chain(dot, receiver, iface, chain, chain.field, args, final)

    def eval_variable_node(
        self, dot: object, variable: p.VariableNode, args: list[p.Node] | None, final: object
    ) -> object:
        self.node = variable
        value = self.var_value(variable.ident[0])
        if len(variable.ident) == 1:
            self.not_a_function(args or [variable], final)
            return value
        return self.eval_field_chain(
            dot,
            strip_interface(value),
            type(value) is InterfaceValue,
            variable,
            variable.ident[1:],
            args,
            final,
        )

    def eval_field_chain(  # noqa: PLR0917 - mirrors Go's evalFieldChain
        self,
        dot: object,
        receiver: object,
        iface: bool,
        node: p.Node,
        idents: list[str],
        args: list[p.Node] | None,
        final: object,
    ) -> object:
        last = len(idents) - 1
        for index, name in enumerate(idents):
            if index < last:
                receiver, iface = self.eval_field(dot, name, node, None, _MISSING, receiver, iface)
            else:
                receiver, iface = self.eval_field(dot, name, node, args, final, receiver, iface)
        if iface and receiver is not NIL_INTERFACE and receiver is not None:
            return InterfaceValue(receiver)
        return receiver

    def eval_field(  # noqa: PLR0917 - mirrors Go's evalField
        self,
        dot: object,
        name: str,
        node: p.Node,
        args: list[p.Node] | None,
        final: object,
        receiver: object,
        iface: bool,
    ) -> tuple[object, bool]:
        if receiver is None:
            if self.missing_key == "error":
                raise self.fail(f"nil data; no entry for key {go_quote(name)}", missing_key=True)
            return None, False
        type_name = "interface {}" if iface else go_type_name(receiver)
        if receiver is NIL_INTERFACE:
            raise self.fail(f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, TypedNil):
            if name not in receiver.fields:
                raise self.fail(f"can't evaluate field {name} in type {type_name}")
            raise self.fail(f"nil pointer evaluating {type_name}.{name}")
        has_args = (args is not None and len(args) > 1) or final is not _MISSING
        if type(receiver) is JSONNumber and name in _NUMBER_METHODS:
            method = _NUMBER_METHODS[name]
            bound = GoFunc(name, lambda: method(receiver), ())
            return self.eval_call(dot, bound, node, name, args, final), False
        if isinstance(receiver, GoStruct):
            if name in receiver.GO_METHODS:
                bound = GoFunc(name, receiver.go_method(name), ())
                return self.eval_call(dot, bound, node, name, args, final), False
            if name in receiver.GO_FIELDS:
                if has_args:
                    raise self.fail(f"{name} has arguments but cannot be invoked as function")
                return receiver.go_field(name), False
        elif isinstance(receiver, dict):
            if has_args:
                raise self.fail(f"{name} is not a method but has arguments")
            generic = not isinstance(receiver, StrMap)
            if name in receiver:
                value = receiver[name]
                if generic:
                    return (NIL_INTERFACE if value is None else value), True
                return value, False
            return self._missing_key(name, generic)
        raise self.fail(f"can't evaluate field {name} in type {type_name}")

    def _missing_key(self, name: str, generic: bool) -> tuple[object, bool]:
        if self.missing_key == "zero":
            return (NIL_INTERFACE, True) if generic else ("", False)
        if self.missing_key == "error":
            raise self.fail(f"map has no entry for key {go_quote(name)}", missing_key=True)
        return None, False

    # Calls.
    def eval_function(
        self, dot: object, node: p.IdentifierNode, cmd: p.Node, args: list[p.Node] | None, final: object
    ) -> object:
        self.node = node
        function = self.funcs.get(node.ident)
        if function is None:
            raise self.fail(f"{go_quote(node.ident)} is not a defined function")
        return self.eval_call(dot, function, cmd, node.ident, args, final)

    def eval_call(  # noqa: PLR0917 - mirrors Go's evalCall
        self, dot: object, fn: GoFunc, node: p.Node, name: str, args: list[p.Node] | None, final: object
    ) -> object:
        arg_nodes = args[1:] if args is not None else []
        params = fn.params
        num_in = len(arg_nodes) + (final is not _MISSING)
        num_fixed = len(arg_nodes)
        if fn.variadic:
            num_fixed = len(params) - 1
            if num_in < num_fixed:
                raise self.fail(
                    f"wrong number of args for {name}: want at least {len(params) - 1} got {len(arg_nodes)}"
                )
        elif num_in != len(params):
            raise self.fail(f"wrong number of args for {name}: want {len(params)} got {num_in}")
        if fn.builtin and name in ("and", "or"):
            return self._and_or(dot, name == "or", arg_nodes, final)
        argv: list[object] = []
        index = 0
        while index < num_fixed and index < len(arg_nodes):
            argv.append(self.eval_arg(dot, params[index], arg_nodes[index]))
            index += 1
        if fn.variadic:
            for arg in arg_nodes[index:]:
                argv.append(self.eval_arg(dot, params[-1], arg))
        if final is not _MISSING:
            param = params[-1]
            if fn.variadic and num_in - 1 < num_fixed:
                param = params[num_in - 1]
            argv.append(self.validate_type(final, param))
        budget = self.budget
        budget.call()
        cost = fn.cost if type(fn.cost) is int else fn.cost(*argv)  # type: ignore[operator]
        budget.charge_work(shallow_size(argv), cost)
        estimate = fn.estimate(budget.max_value, *argv) if fn.estimate is not None else 0
        if estimate:
            budget.check_value(estimate)
        try:
            result = fn.impl(self.context, *argv) if fn.needs_context else fn.impl(*argv)
        except FuncError as exc:
            self.node = node
            raise self.fail(f"error calling {name}: {exc}", quoted=exc.quoted) from None
        size = len(result) if isinstance(result, str) else estimate
        budget.charge_value(size)
        budget.charge_work(size, cost)
        if result is None and fn.returns_interface:
            return NIL_INTERFACE
        return result

    def _and_or(self, dot: object, is_or: bool, arg_nodes: list[p.Node], final: object) -> object:
        value: object = None
        for arg in arg_nodes:
            value = self.eval_arg(dot, VALUE, arg)
            if is_true(unwrap_interface(value)) == is_or:
                return value
        if final is not _MISSING:
            value = self.validate_type(final, VALUE)
        return value

    def validate_type(self, value: object, typ: ParamType | None) -> object:
        if typ is not None and typ.kind == "value":
            return value  # A reflect.Value parameter sees the value as it is, interface or not.
        value = strip_interface(value)
        if value is None:
            if typ is None or typ.kind in ("any", "value"):
                return None
            if typ.kind == "slice":
                return NilStrList() if typ.name == "[]string" else []
            raise self.fail(f"invalid value; expected {typ}")
        if typ is None or typ.kind == "value":
            return value
        if typ.kind == "any":
            return None if value is NIL_INTERFACE else value
        if _assignable(value, typ):
            return value
        raise self.fail(f"wrong type for value; expected {typ}; got {go_type_name(value)}")

    def eval_arg(self, dot: object, typ: ParamType | None, node: p.Node) -> object:
        self.node = node
        kind = type(node)
        if kind is p.DotNode:
            return self.validate_type(dot, typ)
        if kind is p.NilNode:
            if typ is None or typ.kind in ("any", "value", "slice"):
                return self.validate_type(None, typ)
            raise self.fail(f"cannot assign nil to {typ}")
        if kind is p.FieldNode:
            return self.validate_type(self.eval_field_node(dot, node, [node], _MISSING), typ)  # type: ignore[arg-type]
        if kind is p.VariableNode:
            return self.validate_type(self.eval_variable_node(dot, node, None, _MISSING), typ)  # type: ignore[arg-type]
        if kind is p.PipeNode:
            return self.validate_type(self.eval_pipeline(dot, node), typ)  # type: ignore[arg-type]
        if kind is p.IdentifierNode:
            return self.validate_type(self.eval_function(dot, node, node, None, _MISSING), typ)  # type: ignore[arg-type]
        if kind is p.ChainNode:
            return self.validate_type(self.eval_chain_node(dot, node, None, _MISSING), typ)  # type: ignore[arg-type]
        return self._eval_constant(typ, node)

    def _eval_constant(self, typ: ParamType | None, node: p.Node) -> object:
        kind = typ.kind if typ is not None else "any"
        if kind == "bool":
            if isinstance(node, p.BoolNode):
                return node.true
            raise self.fail(f"expected bool; found {node}")
        if kind == "int":
            if isinstance(node, p.NumberNode) and node.is_int:
                return node.int64
            raise self.fail(f"expected integer; found {node}")
        if kind == "string":
            if isinstance(node, p.StringNode):
                return node.text
            raise self.fail(f"expected string; found {node}")
        if kind in ("any", "value") and typ is not None:
            return self.eval_empty_interface(node)
        raise self.fail(f"can't handle {node} for arg of type {typ}")

    def eval_empty_interface(self, node: p.Node) -> object:
        self.node = node
        if isinstance(node, p.BoolNode):
            return node.true
        if isinstance(node, p.NumberNode):
            return self.ideal_constant(node)
        if isinstance(node, p.StringNode):
            return node.text
        raise self.fail(f"can't handle assignment of {node} to empty interface argument")


def _chained_branch(else_list: p.ListNode | None) -> p.BranchNode | None:
    """The if or with of an ``{{else if}}`` (``{{else with}}``): an else list holding just that."""
    if else_list is None or len(else_list.nodes) != 1:
        return None
    node = else_list.nodes[0]
    return node if type(node) is p.IfNode or type(node) is p.WithNode else None


class _DerefStruct:
    """A struct reached through a pointer, for range's error message."""

    __slots__ = ("struct",)

    def __init__(self, struct: GoStruct) -> None:
        self.struct = struct


def _range_repr(value: object) -> str:
    if isinstance(value, _DerefStruct):
        return format_value(value.struct)
    return sprintf("%v", [value])


def _is_hex_int(text: str) -> bool:
    return len(text) > 2 and text[0] == "0" and text[1] in "xX" and not any(ch in text for ch in "pP")


def _assignable(value: object, typ: ParamType) -> bool:
    kind = typ.kind
    cls = type(value)
    if kind == "string":
        return cls is str
    if kind == "int":
        return cls is int
    if kind == "bool":
        return cls is bool
    if kind == "slice":
        if typ.name == "[]string":
            return isinstance(value, StrList)
        return cls is list
    return go_kind(value) != "invalid"


def _decimal_int(text: str) -> int | None:
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    value = int(text)
    if not -(1 << 63) <= value < 1 << 63:
        return None
    return value


def _int_reason(text: str) -> str:
    body = text[1:] if text[:1] in "+-" else text
    if body and body.isascii() and body.isdigit():
        return "value out of range"
    return "invalid syntax"


def _number_float64(number: str) -> object:
    value = parse_float(number) if number else None
    if value is None:
        raise FuncError(f"strconv.ParseFloat: parsing {go_quote(number)}: invalid syntax", number)
    return value


_NUMBER_METHODS = {
    "String": lambda number: number + "",
    "Int64": lambda number: Int64(_decimal_or_fail(number)),
    "Float64": _number_float64,
}


def _decimal_or_fail(number: str) -> int:
    value = _decimal_int(number)
    if value is None:
        raise FuncError(f"strconv.ParseInt: parsing {go_quote(number)}: {_int_reason(number)}", number)
    return value


__all__ = ["ANY", "MISSING_KEY_MODES", "ExecFailure", "Executor"]

"""How template functions are declared: Go parameter types, variadics and result type."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: importing this package must stay cheap.
if TYPE_CHECKING:
    from collections.abc import Callable


class FuncError(Exception):
    """A function's own error; the template reports it as ``error calling NAME: MESSAGE``.

    ``quoted`` are the run-time values (as text) the message quotes: the render redacts those
    that may hold secret data.
    """

    def __init__(self, message: str, *quoted: str) -> None:
        super().__init__(message)
        self.quoted = quoted


class ParamType:
    """A Go parameter type, as far as argument checking needs it."""

    __slots__ = ("kind", "name")

    def __init__(self, name: str, kind: str) -> None:
        self.name = name  # As Go prints it in errors.
        self.kind = kind  # "any", "value", "string", "int", "bool" or "slice".

    def __str__(self) -> str:
        return self.name


ANY = ParamType("interface {}", "any")
VALUE = ParamType("reflect.Value", "value")
STRING = ParamType("string", "string")
INT = ParamType("int", "int")
BOOL = ParamType("bool", "bool")
STRINGS = ParamType("[]string", "slice")
ANYS = ParamType("[]interface {}", "slice")


class GoFunc:
    """A function callable from templates.

    ``params`` are the Go parameter types; when ``variadic`` the last one is the element
    type of the ``...`` parameter. ``returns_interface`` marks an ``interface{}`` result,
    whose nil Go keeps as a typed nil until the pipeline unwraps it. ``needs_context``
    functions receive the render's context (its secret source) as first argument.
    ``estimate(limit, *args)`` bounds the bytes of the result before it is built, for functions
    whose result can outgrow their arguments (it may stop counting past ``limit``). ``cost`` is
    the worst measured nanoseconds per byte of arguments and result, charged to the render's work
    budget (the default is C-speed work, like a copy); a callable gets the arguments and answers
    the cost of this call (a fast path's cost when the arguments allow it).
    """

    __slots__ = (
        "builtin",
        "cost",
        "estimate",
        "impl",
        "name",
        "needs_context",
        "params",
        "returns_interface",
        "variadic",
    )

    def __init__(
        self,
        name: str,
        impl: Callable[..., object],
        params: tuple[ParamType, ...],
        *,
        variadic: bool = False,
        returns_interface: bool = False,
        builtin: bool = False,
        needs_context: bool = False,
        estimate: Callable[..., int] | None = None,
        cost: int | Callable[..., int] = 2,
    ) -> None:
        self.name = name
        self.estimate = estimate
        self.cost = cost
        self.impl = impl
        self.params = params
        self.variadic = variadic
        self.returns_interface = returns_interface
        self.builtin = builtin
        self.needs_context = needs_context


def func(
    name: str,
    impl: Callable[..., object],
    *params: ParamType,
    variadic: bool = False,
    returns_interface: bool = False,
    builtin: bool = False,
    needs_context: bool = False,
    estimate: Callable[..., int] | None = None,
    cost: int | Callable[..., int] = 2,
) -> GoFunc:
    """Shorthand to declare a :class:`GoFunc`."""
    return GoFunc(
        name,
        impl,
        params,
        variadic=variadic,
        returns_interface=returns_interface,
        builtin=builtin,
        needs_context=needs_context,
        estimate=estimate,
        cost=cost,
    )

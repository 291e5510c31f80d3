"""The one budget a render spends: steps, calls and bytes, so no template can hang or bloat the agent.

Admission accepts any template that parses, so evaluation itself must be bounded. Every place
where work grows charges the same :class:`Budget`: each node walked, command evaluated and range
iteration is a step; each function call and template invocation is a call; each value a function
builds is measured (before it is built where the size is known from the arguments) against a cap
per value and a cap on all bytes built in the render; the work inside functions is charged, before
and after each call, at the function's measured cost per byte read and built; output has its own
cap. The defaults keep a render near a second and well inside the agent's 64Mi memory limit.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported at run time: importing this package must stay cheap.
if TYPE_CHECKING:
    from collections.abc import Iterable

#: Nodes walked, commands evaluated and range iterations (about a second of pure Python work).
MAX_STEPS = 1_000_000
#: Function calls and template invocations.
MAX_CALLS = 50_000
#: Bytes of any one value a function builds.
MAX_VALUE_BYTES = 4 * 1024 * 1024
#: Bytes of all the values functions build during one render.
MAX_BUILT_BYTES = 32 * 1024 * 1024
#: Characters of rendered output.
MAX_OUTPUT = 8 * 1024 * 1024
#: Estimated nanoseconds of work inside functions (each declares its cost per byte it reads and builds).
MAX_WORK_NS = 1_000_000_000

#: What one element of a built list or map costs beyond its text (pointer and object header).
ITEM_BYTES = 64


class BudgetExceeded(Exception):
    """A render spent one of its budgets; the message names the budget and its limit."""


class Budget:
    """What one render may still spend; every ``charge_*`` raises :class:`BudgetExceeded` when spent."""

    __slots__ = (
        "built_left",
        "calls_left",
        "max_calls",
        "max_steps",
        "max_value",
        "max_work",
        "output_left",
        "steps_left",
        "work_left",
    )

    def __init__(
        self,
        *,
        max_steps: int = MAX_STEPS,
        max_calls: int = MAX_CALLS,
        max_value: int = MAX_VALUE_BYTES,
        max_built: int = MAX_BUILT_BYTES,
        max_output: int = MAX_OUTPUT,
        max_work: int = MAX_WORK_NS,
    ) -> None:
        self.max_steps = max_steps
        self.max_work = max_work
        self.work_left = max_work
        self.max_calls = max_calls
        self.max_value = max_value
        self.steps_left = max_steps
        self.calls_left = max_calls
        self.built_left = max_built
        self.output_left = max_output

    def step(self) -> None:
        """One node walked, command evaluated or range iteration."""
        self.steps_left -= 1
        if self.steps_left < 0:
            raise BudgetExceeded(f"template evaluation exceeds {self.max_steps} steps")

    def call(self) -> None:
        """One function call or template invocation."""
        self.calls_left -= 1
        if self.calls_left < 0:
            raise BudgetExceeded(f"template evaluation exceeds {self.max_calls} calls")

    def check_value(self, size: int) -> None:
        """Refuse, before building it, a value of ``size`` bytes that would exceed a cap."""
        if size > self.max_value:
            raise BudgetExceeded(f"a value of {size} bytes exceeds the limit of {self.max_value} bytes")
        if size > self.built_left:
            raise BudgetExceeded("template evaluation builds more data than its budget allows")

    def charge_value(self, size: int) -> None:
        """A built value of ``size`` bytes."""
        self.check_value(size)
        self.built_left -= size

    def charge_work(self, size: int, cost: int) -> None:
        """Work on ``size`` bytes at ``cost`` estimated nanoseconds per byte."""
        self.work_left -= size * cost
        if self.work_left < 0:
            raise BudgetExceeded(f"template evaluation exceeds its {self.max_work // 1_000_000} ms of work")

    def charge_output(self, size: int, limit: int) -> None:
        """``size`` more characters of output (``limit`` names the cap in the error)."""
        self.output_left -= size
        if self.output_left < 0:
            raise BudgetExceeded(f"output exceeds {limit} characters")


def approx_size(value: object, limit: int) -> int:
    """Bytes a value takes, roughly; stops counting once past ``limit``."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        total = ITEM_BYTES
        for key, item in value.items():
            total += ITEM_BYTES + len(key) + approx_size(item, limit - total)
            if total > limit:
                break
        return total
    if isinstance(value, list):
        total = ITEM_BYTES
        for item in value:
            total += ITEM_BYTES + approx_size(item, limit - total)
            if total > limit:
                break
        return total
    return ITEM_BYTES


def indented_size(value: object, limit: int, indent: int = 0) -> int:
    """Bytes of a value written one item per line, each line indented two spaces per level."""
    if isinstance(value, dict):
        items: list[object] = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return indent + approx_size(value, limit)
    total = indent + 2
    for item in items:
        total += indented_size(item, limit - total, indent + 2) + 2
        if total > limit:
            break
    return total


def shallow_size(values: Iterable[object]) -> int:
    """Bytes of the strings and top-level items of some values, without walking into containers."""
    total = 0
    for value in values:
        if isinstance(value, str):
            total += len(value)
        elif isinstance(value, (list, dict)):
            total += len(value) * ITEM_BYTES
        else:
            total += ITEM_BYTES
    return total


def sum_sizes(values: tuple[object, ...], limit: int) -> int:
    """Total :func:`approx_size` of several values, stopping past ``limit``."""
    total = 0
    for value in values:
        total += approx_size(value, limit - total)
        if total > limit:
            break
    return total

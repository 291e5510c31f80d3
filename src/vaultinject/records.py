"""`Record`: `typing.NamedTuple` for the agent path, without importing `typing`.

`typing` costs ~8 ms of every agent's cold start. Type checkers see the real `NamedTuple` (see the
`TYPE_CHECKING` import in each module); at run time a `Record` subclass is built by
`collections.namedtuple` from the class's annotations and defaults, keeping its methods and docstring.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

__all__ = ["Record"]

_CLASS_KEYS = {"__module__", "__qualname__", "__annotations__", "__dict__", "__weakref__", "__orig_bases__"}


class _RecordMeta(type):
    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
        if not bases:
            return super().__new__(mcs, name, bases, namespace)
        fields = list(namespace.get("__annotations__", {}))  # type: ignore[call-overload]
        defaults = [namespace[field] for field in fields if field in namespace]
        if any(field in namespace for field in fields[: len(fields) - len(defaults)]):
            raise TypeError(f"{name}: fields without defaults cannot follow fields with defaults")
        make_tuple: Callable[..., type] = collections.namedtuple
        record = make_tuple(name, fields, defaults=defaults, module=str(namespace["__module__"]))
        for key, value in namespace.items():
            if key not in _CLASS_KEYS and key not in fields:
                setattr(record, key, value)
        record.__qualname__ = str(namespace["__qualname__"])
        return record


TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:

    class Record(metaclass=_RecordMeta):
        """Subclass with annotated fields (and defaults) to get an immutable named tuple."""

"""Routing inside a mount: path patterns to per-operation handlers (`framework.Path`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from vaultinject.lab.vault.envelope import Response, unsupported_operation, unsupported_path
from vaultinject.lab.vault.request import CREATE, UPDATE, Request

Handler = Callable[[Request, "re.Match[str]"], Response]
ExistenceCheck = Callable[[Request, "re.Match[str]"], bool]


@dataclass
class Route:
    pattern: re.Pattern[str]
    handlers: dict[str, Handler]
    exists: ExistenceCheck | None = None


@dataclass
class Router:
    """Ordered routes; the first whose pattern fully matches the mount-relative path wins."""

    routes: list[Route] = field(default_factory=list)

    def add(self, pattern: str, *, exists: ExistenceCheck | None = None, **handlers: Handler) -> None:
        """Add a route; `handlers` are keyed by operation (read, list, update, create, delete, patch)."""
        self.routes.append(Route(re.compile(pattern), handlers, exists))

    def match(self, rel: str) -> tuple[Route, re.Match[str]] | None:
        for route in self.routes:
            found = route.pattern.fullmatch(rel)
            if found is not None:
                return route, found
        return None

    def dispatch(self, request: Request) -> Response:
        found = self.match(request.rel)
        if found is None:
            raise unsupported_path()
        route, match = found
        handler = route.handlers.get(request.operation)
        if handler is None and request.operation == CREATE:
            handler = route.handlers.get(UPDATE)
        if handler is None:
            raise unsupported_operation()
        return handler(request, match)

    def exists(self, request: Request) -> bool | None:
        """The route's existence check result, or None when it has none."""
        found = self.match(request.rel)
        if found is None or found[0].exists is None:
            return None
        route, match = found
        assert route.exists is not None
        return route.exists(request, match)

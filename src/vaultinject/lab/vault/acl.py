"""ACL evaluation: which capabilities a set of policies grants on a path, as `vault/acl.go` decides.

Exact rules win. Otherwise every matching glob (`secret/*`) and segment-wildcard (`secret/+/x`) rule is a
candidate and the highest-priority pattern applies (Vault's documented priority order). Rules for the same
pattern from several policies are merged, and `deny` overrides everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaultinject.lab.vault.policy import PathRule, Policy

_OPERATION_CAPABILITY = {
    "read": "read",
    "list": "list",
    "update": "update",
    "create": "create",
    "delete": "delete",
    "patch": "patch",
}
_CAPABILITY_ORDER = ("create", "delete", "list", "patch", "read", "subscribe", "sudo", "update")


@dataclass
class Permissions:
    """The merged grant for one pattern."""

    capabilities: set[str] = field(default_factory=set)
    allowed_parameters: dict[str, list[Any]] = field(default_factory=dict)
    denied_parameters: dict[str, list[Any]] = field(default_factory=dict)
    required_parameters: list[str] = field(default_factory=list)

    def merge(self, rule: PathRule) -> None:
        if "deny" in self.capabilities:
            return
        if "deny" in rule.capabilities:
            self.capabilities = {"deny"}
            self.allowed_parameters, self.denied_parameters, self.required_parameters = {}, {}, []
            return
        self.capabilities |= rule.capabilities
        _merge_parameters(self.allowed_parameters, rule.allowed_parameters)
        _merge_parameters(self.denied_parameters, rule.denied_parameters)
        self.required_parameters.extend(rule.required_parameters)


def _merge_parameters(into: dict[str, list[Any]], new: dict[str, list[Any]]) -> None:
    for name, values in new.items():
        if name not in into:
            into[name] = list(values)
        elif not values or not into[name]:
            into[name] = []
        else:
            into[name] = into[name] + list(values)


@dataclass(frozen=True)
class _Pattern:
    text: str
    is_prefix: bool
    segments: tuple[str, ...]
    priority: tuple[int, int, int, int, str]

    @classmethod
    def of(cls, text: str) -> _Pattern:
        is_prefix = text.endswith("*")
        wildcard_positions = [i for i in (text.find("+"), text.find("*")) if i >= 0]
        first_wildcard = min(wildcard_positions) if wildcard_positions else len(text)
        plus_segments = sum(1 for segment in text.split("/") if segment == "+")
        priority = (first_wildcard, 0 if is_prefix else 1, -plus_segments, len(text), text)
        return cls(text, is_prefix, tuple(text.split("/")), priority)

    def matches(self, path: str) -> bool:
        if "+" not in self.segments:
            return self.is_prefix and path.startswith(self.text[:-1])
        parts = path.split("/")
        if len(parts) < len(self.segments) or (not self.is_prefix and len(parts) != len(self.segments)):
            return False
        last = len(self.segments) - 1
        for index, segment in enumerate(self.segments):
            if segment == "+":
                continue
            if index == last and self.is_prefix:
                return "/".join(parts[index:]).startswith(segment[:-1])
            if segment != parts[index]:
                return False
        return True


class ACL:
    """The compiled union of a token's policies."""

    def __init__(self, policies: list[Policy], root: bool = False) -> None:
        self.root = root
        self.exact: dict[str, Permissions] = {}
        wildcard: dict[str, Permissions] = {}
        for policy in policies:
            for rule in policy.rules:
                is_wildcard = rule.pattern.endswith("*") or "+" in rule.pattern.split("/")
                table = wildcard if is_wildcard else self.exact
                table.setdefault(rule.pattern, Permissions()).merge(rule)
        self.wildcard = sorted(
            ((_Pattern.of(text), permissions) for text, permissions in wildcard.items()),
            key=lambda pair: pair[0].priority,
            reverse=True,
        )

    def permissions(self, path: str, operation: str = "") -> Permissions | None:
        """The grant that applies to `path`, or None when no rule matches."""
        path = path.lstrip("/")
        if path in self.exact:
            return self.exact[path]
        if operation == "list" and path.rstrip("/") in self.exact:
            return self.exact[path.rstrip("/")]
        for pattern, permissions in self.wildcard:
            if pattern.matches(path):
                return permissions
        return None

    def capabilities(self, path: str) -> list[str]:
        """Capability names for `sys/capabilities*`: `["root"]`, `["deny"]` or the sorted grants."""
        if self.root:
            return ["root"]
        permissions = self.permissions(path)
        if permissions is None or not permissions.capabilities or "deny" in permissions.capabilities:
            return ["deny"]
        return [name for name in _CAPABILITY_ORDER if name in permissions.capabilities]

    def allows(self, operation: str, path: str, data: dict[str, Any], sudo_required: bool) -> bool:
        """Whether the operation on `path` with these parameters is permitted."""
        if self.root:
            return True
        permissions = self.permissions(path, operation)
        if permissions is None or "deny" in permissions.capabilities:
            return False
        needed = _OPERATION_CAPABILITY.get(operation)
        if needed is None or needed not in permissions.capabilities:
            return False
        if sudo_required and "sudo" not in permissions.capabilities:
            return False
        if operation in ("read", "update", "create", "patch"):
            return parameters_allowed(permissions, data)
        return True

    def has_any_under(self, prefix: str) -> bool:
        """Whether some rule grants a capability on `prefix` or below it (`hasMountAccess`)."""
        if self.root:
            return True
        for path, permissions in self.exact.items():
            if path.startswith(prefix) and permissions.capabilities - {"deny"}:
                return True
        for pattern, permissions in self.wildcard:
            if not permissions.capabilities - {"deny"}:
                continue
            head = pattern.text.split("+", 1)[0].rstrip("*")
            if head.startswith(prefix) or prefix.startswith(head):
                return True
        return False

    def has_sudo(self, path: str) -> bool:
        if self.root:
            return True
        permissions = self.permissions(path)
        return permissions is not None and "sudo" in permissions.capabilities


def parameters_allowed(permissions: Permissions, data: dict[str, Any]) -> bool:
    """`allowed_parameters`, `denied_parameters` and `required_parameters`, as acl.go checks them."""
    lowered = {str(name).lower(): value for name, value in data.items()}
    if any(name not in lowered for name in permissions.required_parameters):
        return False
    if not lowered:
        return True
    denied = permissions.denied_parameters
    if denied:
        if "*" in denied:
            return False
        for name, value in lowered.items():
            if name in denied and value_in_list(value, denied[name]):
                return False
    allowed = permissions.allowed_parameters
    if not allowed:
        return True
    allow_all = "*" in allowed
    if allow_all and len(allowed) == 1:
        return True
    for name, value in lowered.items():
        if name not in allowed:
            if not allow_all:
                return False
            continue
        if not value_in_list(value, allowed[name]):
            return False
    return True


def value_in_list(value: Any, candidates: list[Any]) -> bool:
    """Vault's `valueInParameterList`: an empty list matches anything; strings match as globs.

    Values of different types never match, as with Go's `reflect.DeepEqual`: a policy value `"false"` does
    not match a JSON `false` in the request.
    """
    if not candidates:
        return True
    for candidate in candidates:
        if isinstance(candidate, str) and isinstance(value, str):
            if glob_match(candidate, value):
                return True
        elif type(candidate) is type(value) and candidate == value:
            return True
    return False


def glob_match(pattern: str, value: str) -> bool:
    """`strutil.GlobbedStringsMatch`: `*` only as a prefix and/or suffix wildcard."""
    if pattern == "*":
        return True
    if len(pattern) >= 2 and pattern.startswith("*") and pattern.endswith("*"):
        return pattern[1:-1] in value
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return pattern == value


def glob_list_contains(patterns: list[str], value: str) -> bool:
    """`strutil.StrListContainsGlob`."""
    return any(glob_match(pattern, value) for pattern in patterns)

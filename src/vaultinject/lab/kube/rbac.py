"""RBAC authorization (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac) and the Forbidden message."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vaultinject.lab.kube.model import UserInfo
from vaultinject.lab.kube.selectors import LabelSelector, SelectorError
from vaultinject.lab.kube.status import ApiError, GroupResource, forbidden
from vaultinject.lab.kube.store import Store

if TYPE_CHECKING:
    from vaultinject.lab.kube.routing import RequestInfo

JSON = dict[str, Any]
_RBAC = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Attributes:
    """What a request asks to do (authorizer.Attributes)."""

    user: UserInfo
    verb: str
    resource_request: bool
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @classmethod
    def of_request(cls, user: UserInfo, info: RequestInfo) -> Attributes:
        """The attributes of a routed request: the user plus what its URL addresses."""
        return cls(user, **dataclasses.asdict(info))


def _subject_matches(subject: JSON, user: UserInfo, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return name == user.username
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.username == f"system:serviceaccount:{namespace}:{name}"
    return False


def _has(values: list[str] | None, wanted: str) -> bool:
    return values is not None and ("*" in values or wanted in values)


def _resource_matches(rule: JSON, attrs: Attributes) -> bool:
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    for resource in rule.get("resources") or []:
        if resource in {"*", combined}:
            return True
        if attrs.subresource and resource == f"*/{attrs.subresource}":
            return True
    return False


def _path_matches(rule: JSON, path: str) -> bool:
    for pattern in rule.get("nonResourceURLs") or []:
        if pattern in ("*", path) or (pattern.endswith("*") and path.startswith(pattern[:-1])):
            return True
    return False


def rule_allows(rule: JSON, attrs: Attributes) -> bool:
    """Whether one PolicyRule covers the request."""
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.resource_request:
        return _path_matches(rule, attrs.path)
    if not _has(rule.get("apiGroups"), attrs.group) or not _resource_matches(rule, attrs):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


class Authorizer:
    """Evaluates ClusterRoleBindings, then the RoleBindings of the request's namespace."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def authorize(self, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason); `system:masters` is always allowed, as in a real cluster."""
        if "system:masters" in attrs.user.groups:
            return True, ""
        for binding in self.store.list_objects(f"clusterrolebindings.{_RBAC}")[0]:
            if self._binding_allows(binding, "", attrs):
                return True, self._reason("ClusterRoleBinding", binding, attrs)
        if attrs.namespace:
            for binding in self.store.list_objects(f"rolebindings.{_RBAC}", attrs.namespace)[0]:
                if self._binding_allows(binding, attrs.namespace, attrs):
                    return True, self._reason("RoleBinding", binding, attrs)
        return False, ""

    def _reason(self, kind: str, binding: JSON, attrs: Attributes) -> str:
        ref = binding.get("roleRef") or {}
        where = binding["metadata"]["name"]
        if kind == "RoleBinding":
            where = f"{where}/{binding['metadata'].get('namespace', '')}"
        role = f'{ref.get("kind")} "{ref.get("name")}"'
        return f'RBAC: allowed by {kind} "{where}" of {role} to {_describe(attrs.user)}'

    def _binding_allows(self, binding: JSON, namespace: str, attrs: Attributes) -> bool:
        subjects = binding.get("subjects") or []
        if not any(_subject_matches(s, attrs.user, namespace) for s in subjects):
            return False
        return any(rule_allows(rule, attrs) for rule in self._rules(binding.get("roleRef") or {}, namespace))

    def _rules(self, ref: JSON, namespace: str) -> list[JSON]:
        if ref.get("kind") == "Role":
            role = self.store.get(f"roles.{_RBAC}", namespace, ref.get("name", ""))
            return list((role or {}).get("rules") or [])
        role = self.store.get(f"clusterroles.{_RBAC}", "", ref.get("name", ""))
        if role is None:
            return []
        return list(role.get("rules") or []) + self._aggregated(role)

    def _aggregated(self, role: JSON) -> list[JSON]:
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        rules: list[JSON] = []
        for selector_json in selectors:
            try:
                selector = LabelSelector.from_json(selector_json)
            except SelectorError:
                continue
            for other in self.store.list_objects(f"clusterroles.{_RBAC}")[0]:
                if other is not role and selector.matches(other["metadata"].get("labels")):
                    rules += other.get("rules") or []
        return rules

    def forbidden(self, attrs: Attributes) -> ApiError:
        """The 403 a denied request gets, message for message."""
        if not attrs.resource_request:
            return forbidden(
                None, "", f'User "{attrs.user.username}" cannot {attrs.verb} path "{attrs.path}"'
            )
        return forbidden(GroupResource(attrs.group, attrs.resource), attrs.name, forbidden_message(attrs))


def forbidden_message(attrs: Attributes) -> str:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    who = (
        f'User "{attrs.user.username}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}"'
    )
    if attrs.namespace:
        return f'{who} in the namespace "{attrs.namespace}"'
    return f"{who} at the cluster scope"


def _describe(user: UserInfo) -> str:
    prefix = "system:serviceaccount:"
    if user.username.startswith(prefix):
        namespace, _, name = user.username[len(prefix) :].partition(":")
        return f'ServiceAccount "{name}/{namespace}"'
    return f'User "{user.username}"'

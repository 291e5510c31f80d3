"""User impersonation (`kubectl --as`): `Impersonate-*` headers, each allowed by the `impersonate` verb."""

from __future__ import annotations

from collections.abc import Mapping

from vaultinject.lab.kube.model import UserInfo
from vaultinject.lab.kube.rbac import Attributes, Authorizer
from vaultinject.lab.kube.status import ApiError, GroupResource, forbidden

_SA_PREFIX = "system:serviceaccount:"


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def impersonate(authorizer: Authorizer, user: UserInfo, headers: Mapping[str, str]) -> UserInfo:
    """The user to act as; `user` itself when no impersonation was asked for. 403 if not allowed."""
    name = headers.get("impersonate-user", "")
    groups = _split(headers.get("impersonate-group", ""))
    uid = headers.get("impersonate-uid", "")
    extra = {
        k[len("impersonate-extra-") :]: _split(v)
        for k, v in headers.items()
        if k.startswith("impersonate-extra-")
    }
    if not name:
        if groups or uid or extra:
            raise ApiError(
                500, "InternalError", "Internal error occurred: requested impersonation without a user"
            )
        return user
    if name.startswith(_SA_PREFIX):
        namespace, _, account = name[len(_SA_PREFIX) :].partition(":")
        _allow(authorizer, user, "serviceaccounts", account, namespace=namespace)
        groups = groups or ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        _allow(authorizer, user, "users", name)
    for group in groups:
        _allow(authorizer, user, "groups", group)
    if uid:
        _allow(authorizer, user, "uids", uid, group="authentication.k8s.io")
    for key, values in extra.items():
        for value in values:
            _allow(authorizer, user, f"userextras/{key}", value, group="authentication.k8s.io")
    if "system:authenticated" not in groups and name != "system:anonymous":
        groups.append("system:authenticated")
    return UserInfo(name, uid, tuple(groups), tuple((k, tuple(v)) for k, v in extra.items()))


def _allow(
    authorizer: Authorizer, user: UserInfo, resource: str, name: str, *, namespace: str = "", group: str = ""
) -> None:
    plural, _, subresource = resource.partition("/")
    attributes = Attributes(user, "impersonate", True, group, "", plural, subresource, namespace, name)
    if not authorizer.authorize(attributes)[0]:
        message = f'User "{user.username}" cannot impersonate resource "{resource}" in API group "{group}"'
        message += f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        raise forbidden(GroupResource(group, plural), name, message)

"""The create-only review kinds: TokenReview, SelfSubjectReview and the SubjectAccessReview family."""

from __future__ import annotations

from typing import Any

from vaultinject.lab.kube.model import UserInfo
from vaultinject.lab.kube.rbac import Attributes, Authorizer
from vaultinject.lab.kube.status import bad_request, internal
from vaultinject.lab.kube.tokens import TokenService

JSON = dict[str, Any]


def token_review(tokens: TokenService, body: JSON) -> JSON:
    """pkg/registry/authentication/tokenreview: authenticated/user/audiences, or `status.error`."""
    spec = body.get("spec") or {}
    token = spec.get("token") or ""
    if not token:
        raise bad_request("token is required for TokenReview in authentication")
    requested = list(spec.get("audiences") or [])
    review = tokens.review(token, requested or None)
    status: JSON
    if review.user is not None:
        if requested and not review.audiences:
            raise internal("error validating audiences")
        status = {"authenticated": True, "user": review.user.to_json(), "audiences": review.audiences}
    else:
        status = {"user": {}, "error": review.error} if review.error else {"user": {}}
    return {
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }


def self_subject_review(user: UserInfo) -> JSON:
    return {
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": user.to_json()},
    }


def _subject(spec: JSON) -> UserInfo:
    extra = tuple((k, tuple(v)) for k, v in (spec.get("extra") or {}).items())
    return UserInfo(spec.get("user") or "", spec.get("uid") or "", tuple(spec.get("groups") or ()), extra)


def access_review(authorizer: Authorizer, kind: str, body: JSON, requester: UserInfo, namespace: str) -> JSON:
    """SubjectAccessReview (who is in the spec), SelfSubjectAccessReview (the caller) or the Local kind."""
    spec = body.get("spec") or {}
    user = requester if kind == "SelfSubjectAccessReview" else _subject(spec)
    resource: JSON = spec.get("resourceAttributes") or {}
    non_resource: JSON = spec.get("nonResourceAttributes") or {}
    if bool(resource) == bool(non_resource):
        raise bad_request("exactly one of nonResourceAttributes or resourceAttributes must be specified")
    if resource:
        attrs = Attributes(
            user,
            resource.get("verb", ""),
            True,
            resource.get("group", ""),
            resource.get("version", ""),
            resource.get("resource", ""),
            resource.get("subresource", ""),
            namespace or resource.get("namespace", ""),
            resource.get("name", ""),
        )
    else:
        attrs = Attributes(user, non_resource.get("verb", ""), False, path=non_resource.get("path", ""))
    allowed, reason = authorizer.authorize(attrs)
    status: JSON = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    metadata: JSON = {"creationTimestamp": None}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "kind": kind,
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": metadata,
        "spec": spec,
        "status": status,
    }

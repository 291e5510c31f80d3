"""One AdmissionReview in, one AdmissionReview out: the webhook's decision, with no I/O."""

from __future__ import annotations

import base64
from typing import Any, NamedTuple

import msgspec

from vaultinject.injector import inject
from vaultinject.spec import Settings, SpecError

API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
_decoder = msgspec.json.Decoder()
_encode = msgspec.json.encode


class BadReview(Exception):
    """The request is not an AdmissionReview for a pod: answered with HTTP 400 and this message."""


class Decision(NamedTuple):
    """What was answered, for the response body, metrics and the decision's log line."""

    body: bytes
    result: str  # injected, skipped, rejected or error
    uid: str
    namespace: str
    pod: str  # the pod's name, or its generateName followed by "*"
    mode: str = ""
    reason: str = ""
    rejected: tuple[str, ...] = ()  # annotations named by the rejection
    dry_run: bool = False


def review(body: bytes, settings: Settings) -> Decision:
    """Decide on an AdmissionReview; raise `BadReview` when `body` is not one."""
    try:
        document = _decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as error:
        raise BadReview(f"the body is not JSON: {error}") from None
    request, api_version = _request_of(document)
    uid, namespace, pod = _pod_request(request)
    dry_run = request.get("dryRun") is True
    base = Decision(b"", "", uid, namespace, _pod_name(pod), dry_run=dry_run)
    allowed = _answer(api_version, uid, allowed=True)
    if request.get("operation", "CREATE") != "CREATE":
        return base._replace(body=allowed, result="skipped", reason="not a CREATE")
    try:
        injection = inject(pod, settings, namespace)
    except SpecError as error:
        message = "vaultinject cannot inject this pod: " + "; ".join(str(each) for each in error.errors)
        status = {"code": 400, "reason": "BadRequest", "message": message}
        return base._replace(
            body=_answer(api_version, uid, allowed=False, status=status),
            result="rejected",
            reason="bad annotations",
            rejected=tuple(each.annotation for each in error.errors),
        )
    if injection.spec is None:
        return base._replace(body=allowed, result="skipped", reason=injection.reason)
    patch = base64.b64encode(_encode(injection.patch)).decode()
    extra: dict[str, Any] = {"patchType": "JSONPatch", "patch": patch}
    if injection.warnings:
        extra["warnings"] = list(injection.warnings)
    return base._replace(
        body=_answer(api_version, uid, allowed=True, **extra),
        result="injected",
        mode=str(injection.spec.mode),
        reason=injection.reason,
    )


def denial(body: bytes, message: str) -> bytes | None:
    """A refusal answering the review in `body` (when its uid can be read), for a decision that failed."""
    try:
        request, api_version = _request_of(_decoder.decode(body))
    except (BadReview, msgspec.DecodeError, RecursionError):
        return None
    uid = request.get("uid")
    if not isinstance(uid, str):
        return None
    status = {"code": 500, "reason": "InternalError", "message": message}
    return _answer(api_version, uid, allowed=False, status=status)


def _request_of(document: Any) -> tuple[dict[str, Any], str]:
    if not isinstance(document, dict):
        raise BadReview("the body is not a JSON object; expected an AdmissionReview")
    api_version = document.get("apiVersion")
    if document.get("kind") != "AdmissionReview" or api_version not in API_VERSIONS:
        raise BadReview(
            f"expected kind AdmissionReview with apiVersion {' or '.join(API_VERSIONS)}; "
            f"got kind {_show(document.get('kind'))}, apiVersion {_show(api_version)}"
        )
    request = document.get("request")
    if not isinstance(request, dict):
        raise BadReview("the AdmissionReview has no request object")
    return request, str(api_version)


def _pod_request(request: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise BadReview("request.uid must be a non-empty string")
    kind = request.get("kind")
    if not isinstance(kind, dict) or (kind.get("group"), kind.get("kind")) != ("", "Pod"):
        raise BadReview(f"request.kind must be the core Pod kind; got {_show(kind)}")
    pod = request.get("object")
    if not isinstance(pod, dict):
        raise BadReview("request.object must be the Pod")
    namespace = request.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise BadReview("request.namespace must be a string")
    metadata = pod.get("metadata")
    pod_namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
    return uid, namespace or (pod_namespace if isinstance(pod_namespace, str) else "") or "default", pod


def _pod_name(pod: dict[str, Any]) -> str:
    metadata = pod.get("metadata")
    if not isinstance(metadata, dict):
        return ""
    name, generate = metadata.get("name"), metadata.get("generateName")
    if isinstance(name, str) and name:
        return name
    return f"{generate}*" if isinstance(generate, str) else ""


def _answer(api_version: str, uid: str, **response: Any) -> bytes:
    document = {"apiVersion": api_version, "kind": "AdmissionReview", "response": {"uid": uid, **response}}
    return _encode(document)


def _show(value: Any) -> str:
    text = _encode(value).decode(errors="replace") if value is not None else "none"
    return text if len(text) <= 80 else text[:77] + "..."

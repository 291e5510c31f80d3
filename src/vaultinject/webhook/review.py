"""One AdmissionReview in, one AdmissionReview out: the webhook's decision, with no I/O."""

from __future__ import annotations

import base64
from collections import OrderedDict
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


class Verdict(NamedTuple):
    """A decision without the review it answers: the same pod in the same namespace gets the same one."""

    response: dict[str, Any]  # the AdmissionResponse without its uid
    result: str
    mode: str = ""
    reason: str = ""
    rejected: tuple[str, ...] = ()


CacheKey = tuple[str, str, bytes]  # operation, namespace, the pod's bytes as the API server sent them


class VerdictCache:
    """The most recent verdicts, by everything they depend on; not thread-safe.

    The pods of one ReplicaSet reach admission byte for byte alike (no name or uid is assigned yet), so
    a scale-up or rollout decides once and answers every other replica from here. Settings are fixed
    for the cache's life: a webhook process has one `Settings`. Bounded by entries and by bytes.
    """

    def __init__(self, entries: int = 512, max_bytes: int = 8 * 1024 * 1024) -> None:
        self.entries, self.max_bytes, self.bytes = entries, max_bytes, 0
        self._verdicts: OrderedDict[CacheKey, tuple[Verdict, str, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._verdicts)

    def get(self, key: CacheKey) -> tuple[Verdict, str] | None:
        """The verdict and the pod's name, when this pod was decided recently."""
        found = self._verdicts.get(key)
        if found is None:
            return None
        self._verdicts.move_to_end(key)
        return found[0], found[1]

    def put(self, key: CacheKey, verdict: Verdict, pod_name: str) -> None:
        cost = _size(verdict) + len(key[2]) + len(pod_name)
        if cost > self.max_bytes // 8:
            return
        self._verdicts[key] = (verdict, pod_name, cost)
        self.bytes += cost
        while len(self._verdicts) > self.entries or self.bytes > self.max_bytes:
            self.bytes -= self._verdicts.popitem(last=False)[1][2]


class _Request(msgspec.Struct, rename="camel"):
    """The fields of an AdmissionRequest the decision reads; the pod is kept as its bytes until needed."""

    uid: Any = None
    kind: Any = None
    namespace: Any = None
    operation: Any = "CREATE"
    object: msgspec.Raw = msgspec.Raw(b"null")
    dry_run: Any = None


class _Review(msgspec.Struct, rename="camel"):
    api_version: Any = None
    kind: Any = None
    request: _Request | None = None


_envelope_decoder = msgspec.json.Decoder(_Review)


def review(body: bytes, settings: Settings, cache: VerdictCache | None = None) -> Decision:
    """Decide on an AdmissionReview; raise `BadReview` when `body` is not one."""
    request, api_version = _envelope(body)
    uid, operation, pod = _pod_request(request)
    namespace = request.namespace if isinstance(request.namespace, str) else ""
    if not namespace:  # rare: the pod's own namespace, then the default one
        metadata = pod.decoded().get("metadata")
        pod_namespace = metadata.get("namespace") if isinstance(metadata, dict) else None
        namespace = (pod_namespace if isinstance(pod_namespace, str) else "") or "default"
    verdict, name = _verdict_for(operation, pod, settings, namespace, cache)
    return Decision(
        _answer(api_version, uid, **verdict.response), verdict.result, uid, namespace, name,
        verdict.mode, verdict.reason, verdict.rejected, request.dry_run is True,
    )  # fmt: skip


class _Pod:
    """The pod as the review sent it: its bytes (the cache's key) and, once needed, its decoded object."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._decoded: dict[str, Any] | None = None

    def decoded(self) -> dict[str, Any]:
        if self._decoded is None:
            try:
                self._decoded = _decoder.decode(self.raw)
            except RecursionError:
                raise BadReview("request.object is nested too deeply to be a Pod") from None
        return self._decoded


def _envelope(body: bytes) -> tuple[_Request, str]:
    """The review's request and apiVersion, read without decoding the pod."""
    try:
        document = _envelope_decoder.decode(body)
    except msgspec.ValidationError as error:  # JSON of the wrong shape, or not JSON: say which
        _request_of(_decode(body))
        raise BadReview(f"the body is not an AdmissionReview: {error}") from None
    except (msgspec.DecodeError, RecursionError) as error:
        raise BadReview(f"the body is not JSON: {error}") from None
    api_version = document.api_version
    if document.kind != "AdmissionReview" or api_version not in API_VERSIONS:
        raise BadReview(
            f"expected kind AdmissionReview with apiVersion {' or '.join(API_VERSIONS)}; "
            f"got kind {_show(document.kind)}, apiVersion {_show(api_version)}"
        )
    if document.request is None:
        raise BadReview("the AdmissionReview has no request object")
    return document.request, str(api_version)


def _pod_request(request: _Request) -> tuple[str, Any, _Pod]:
    uid, kind = request.uid, request.kind
    if not isinstance(uid, str) or not uid:
        raise BadReview("request.uid must be a non-empty string")
    if not isinstance(kind, dict) or (kind.get("group"), kind.get("kind")) != ("", "Pod"):
        raise BadReview(f"request.kind must be the core Pod kind; got {_show(kind)}")
    raw = bytes(request.object)
    if not raw.startswith(b"{"):
        raise BadReview("request.object must be the Pod")
    if request.namespace is not None and not isinstance(request.namespace, str):
        raise BadReview("request.namespace must be a string")
    return uid, request.operation, _Pod(raw)


def _verdict_for(
    operation: Any, pod: _Pod, settings: Settings, namespace: str, cache: VerdictCache | None
) -> tuple[Verdict, str]:
    """The verdict and the pod's name for the log; alike pods (byte for byte) share one cache entry."""
    if cache is None or not isinstance(operation, str):
        return _verdict(operation, pod.decoded(), settings, namespace), _pod_name(pod.decoded())
    key = (operation, namespace, pod.raw)
    found = cache.get(key)
    if found is None:
        found = _verdict(operation, pod.decoded(), settings, namespace), _pod_name(pod.decoded())
        cache.put(key, *found)
    return found


def _size(verdict: Verdict) -> int:
    """About what a cached verdict holds, in bytes: its patch, message and warnings dominate."""
    response = verdict.response
    status = response.get("status") or {}
    texts = [response.get("patch", ""), status.get("message", ""), *response.get("warnings", ())]
    return 256 + sum(len(text) for text in texts)


def _verdict(operation: Any, pod: dict[str, Any], settings: Settings, namespace: str) -> Verdict:
    if operation != "CREATE":
        return Verdict({"allowed": True}, "skipped", reason="not a CREATE")
    try:
        injection = inject(pod, settings, namespace)
    except SpecError as error:
        message = "vaultinject cannot inject this pod: " + "; ".join(str(each) for each in error.errors)
        status = {"code": 400, "reason": "BadRequest", "message": message}
        rejected = tuple(each.annotation for each in error.errors)
        return Verdict({"allowed": False, "status": status}, "rejected", "", "bad annotations", rejected)
    if injection.spec is None:
        return Verdict({"allowed": True}, "skipped", reason=injection.reason)
    patch = base64.b64encode(_encode(injection.patch)).decode()
    response: dict[str, Any] = {"allowed": True, "patchType": "JSONPatch", "patch": patch}
    if injection.warnings:
        response["warnings"] = list(injection.warnings)
    return Verdict(response, "injected", str(injection.spec.mode), injection.reason)


def denial(body: bytes, message: str) -> bytes | None:
    """A refusal answering the review in `body` (when its uid can be read), for a decision that failed."""
    try:
        request, api_version = _request_of(_decode(body))
    except BadReview:
        return None
    uid = request.get("uid")
    if not isinstance(uid, str):
        return None
    status = {"code": 500, "reason": "InternalError", "message": message}
    return _answer(api_version, uid, allowed=False, status=status)


def _decode(body: bytes) -> Any:
    try:
        return _decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as error:
        raise BadReview(f"the body is not JSON: {error}") from None


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

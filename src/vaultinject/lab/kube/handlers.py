"""The REST surface: turns a routed request into Cluster calls and JSON (or streamed) responses."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vaultinject.lab import httpbody
from vaultinject.lab.kube import discovery, logs, openapi, protobuf, reviews, shapes, subresources, tables
from vaultinject.lab.kube.clock import Clock
from vaultinject.lab.kube.cluster import MERGE_PATCH, Cluster
from vaultinject.lab.kube.model import DeleteOptions, Operation, UserInfo
from vaultinject.lab.kube.rbac import Authorizer
from vaultinject.lab.kube.resources import Registry, ResourceType
from vaultinject.lab.kube.routing import RequestInfo
from vaultinject.lab.kube.status import (
    ApiError,
    bad_request,
    invalid,
    method_not_allowed,
    not_supported,
    path_not_found,
    unsupported_media_type,
)
from vaultinject.lab.kube.tokens import TokenService
from vaultinject.lab.kube.watch import WatchRequest, WatchStream

JSON = dict[str, Any]
_DEFAULT_WATCH_TIMEOUT = 1800.0
_JOB_ORPHAN_WARNING = (
    "child pods are preserved by default when jobs are deleted; "
    "set propagationPolicy=Background to remove them "
    "or set propagationPolicy=Orphan to suppress this warning"
)


@dataclass
class Request:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    user: UserInfo


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Iterator[bytes] | None = None


def encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def json_response(status: int, obj: Any, warnings: list[str] | None = None) -> Response:
    headers = [("Warning", f'299 - "{w}"') for w in warnings or []]
    return Response(status, encode(obj), headers=headers)


def error_response(error: ApiError) -> Response:
    return Response(error.code, error.body(), headers=list(error.headers))


def _flag(query: Mapping[str, str], name: str) -> bool:
    return query.get(name, "").lower() in {"true", "1"}


def _int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise bad_request(f'{name}: Invalid value: "{value}": must be an integer') from None


class Api:
    """Dispatch by RequestInfo: discovery, CRUD, watch, subresources and reviews."""

    def __init__(
        self,
        cluster: Cluster,
        tokens: TokenService,
        authorizer: Authorizer,
        *,
        clock: Clock,
        log_root: Path,
        server_address: Callable[[], str],
        bookmark_interval: float,
    ) -> None:
        self.cluster = cluster
        self.registry: Registry = cluster.registry
        self.tokens = tokens
        self.authorizer = authorizer
        self.clock = clock
        self.log_root = log_root
        self.server_address = server_address
        self.bookmark_interval = bookmark_interval

    def handle(self, request: Request, info: RequestInfo) -> Response:
        if not info.resource_request:
            return self._non_resource(request)
        rt = self.registry.by_path(info.group, info.version, info.resource)
        if rt is None or (not rt.namespaced and info.namespace and rt.plural != "namespaces"):
            raise path_not_found()
        if rt.namespaced and info.name and not info.namespace:
            raise path_not_found()
        if info.subresource:
            return self._subresource(request, info, rt)
        if rt.virtual:
            return self._review(request, info, rt)
        return self._crud(request, info, rt)

    # --- discovery and other paths ---

    def _non_resource(self, request: Request) -> Response:
        if request.method not in {"GET", "HEAD"}:
            raise method_not_allowed()
        parts = [p for p in request.path.strip("/").split("/") if p]
        if parts == ["openapi", "v2"]:
            if "protobuf" in request.headers.get("accept", ""):
                return Response(200, openapi.v2_protobuf(self.registry), openapi.V2_PROTOBUF)
            return json_response(200, openapi.v2_document(self.registry))
        document = self._document(parts)
        if document is None:
            raise path_not_found()
        if isinstance(document, Response):
            return document
        return json_response(200, document)

    def _document(self, parts: list[str]) -> JSON | Response | None:
        path = "/".join(parts)
        if path in {"healthz", "livez", "readyz"} or (parts and parts[0] in {"healthz", "livez", "readyz"}):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if path == "version":
            return dict(discovery.VERSION)
        if path == "api":
            return discovery.api_versions(self.server_address())
        if path == "apis":
            return discovery.api_group_list(self.registry)
        if len(parts) == 2 and parts[0] == "api":
            return discovery.resource_list(self.registry, "", parts[1])
        if len(parts) == 2 and parts[0] == "apis":
            return discovery.api_group(self.registry, parts[1])
        if len(parts) == 3 and parts[0] == "apis":
            return discovery.resource_list(self.registry, parts[1], parts[2])
        if path == "openapi/v3":
            return openapi.v3_index(self.registry)
        if parts[:2] == ["openapi", "v3"] and len(parts) in (4, 5):
            group, version = (
                ("", parts[3]) if parts[2] == "api" else (parts[3], parts[4] if len(parts) == 5 else "")
            )
            return openapi.v3_document(self.registry, group, version)
        if path == ".well-known/openid-configuration":
            return self.tokens.openid_configuration(f"https://{self.server_address()}")
        if path == "openid/v1/jwks":
            return Response(200, encode(self.tokens.jwks()), "application/jwk-set+json")
        return None

    # --- bodies, options ---

    def _body(self, request: Request, rt: ResourceType) -> Any:
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
        try:
            if content_type in {"application/json", ""}:
                return httpbody.decode_json(request.body or b"null")
            if content_type in {"application/yaml", "text/yaml"}:
                return httpbody.decode_yaml(request.body.decode(errors="replace"))
            if content_type == protobuf.CONTENT_TYPE:
                return protobuf.decode(request.body)
        except protobuf.ProtobufError as error:
            raise bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): {error}"
            ) from None
        except (ValueError, yaml.YAMLError) as error:
            raise bad_request(
                f"the object provided is unrecognized (must be of type {rt.kind}): "
                "couldn't get version/kind; "
                f"json parse error: {error}"
            ) from None
        raise unsupported_media_type(
            content_type, ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]
        )

    def _operation(self, request: Request, options_kind: str) -> Operation:
        dry_run = request.query.get("dryRun")
        if dry_run not in (None, "", "All"):
            raise invalid(options_kind, "meta.k8s.io", "", [not_supported("dryRun", dry_run, ["All"])])
        return Operation(request.user, dry_run=dry_run == "All")

    def _namespace(self, info: RequestInfo, rt: ResourceType) -> str:
        return info.namespace if rt.namespaced else ""

    # --- CRUD ---

    def _crud(self, request: Request, info: RequestInfo, rt: ResourceType) -> Response:
        namespace = self._namespace(info, rt)
        verb = info.verb
        if verb in {"create", "list", "watch", "deletecollection"} and not info.name:
            if rt.namespaced and not info.namespace and verb in {"create", "deletecollection"}:
                raise method_not_allowed()
            return {
                "create": self._create,
                "list": self._list,
                "watch": self._watch,
                "deletecollection": self._delete_collection,
            }[verb](request, info, rt, namespace)
        handler = {
            "get": self._get,
            "watch": self._watch,
            "update": self._replace,
            "patch": self._patch,
            "delete": self._delete,
        }.get(verb)
        if handler is None or not info.name:
            raise method_not_allowed()
        return handler(request, info, rt, namespace)

    def _create(self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str) -> Response:
        del info  # every CRUD handler takes the same arguments
        op = self._operation(request, "CreateOptions")
        obj = self.cluster.create(rt, namespace, self._body(request, rt), op)
        return json_response(201, obj, op.warnings)

    def _get(self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str) -> Response:
        obj = self.cluster.get(rt, namespace, info.name)
        if tables.wants_table(request.headers.get("accept", "")):
            rv = obj["metadata"].get("resourceVersion", "")
            return json_response(200, self._table(request, rt, [obj], rv))
        return json_response(200, obj)

    def _table(self, request: Request, rt: ResourceType, objects: list[JSON], rv: str) -> JSON:
        include = request.query.get("includeObject", "Metadata")
        return tables.to_table(rt, objects, rv, include, self.clock.now())

    def _row_encoder(self, request: Request, rt: ResourceType) -> Callable[[JSON], JSON] | None:
        if not tables.wants_table(request.headers.get("accept", "")):
            return None

        def row(obj: JSON) -> JSON:
            return self._table(request, rt, [obj], obj["metadata"].get("resourceVersion", ""))

        return row

    def _list(self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str) -> Response:
        del info
        query = request.query
        listing = self.cluster.list(
            rt,
            namespace or None,
            label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""),
            limit=_int(query, "limit"),
            continue_token=query.get("continue") or None,
        )
        if tables.wants_table(request.headers.get("accept", "")):
            items = [{"apiVersion": rt.api_version, "kind": rt.kind, **item} for item in listing["items"]]
            table = self._table(request, rt, items, listing["metadata"]["resourceVersion"])
            table["metadata"].update({k: v for k, v in listing["metadata"].items() if k != "resourceVersion"})
            return json_response(200, table)
        return json_response(200, listing)

    def _watch(self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str) -> Response:
        query = request.query
        timeout = _int(query, "timeoutSeconds")
        watch_request = WatchRequest(
            rt,
            namespace or None,
            self.cluster.matcher(rt, query.get("labelSelector", ""), query.get("fieldSelector", "")),
            query.get("resourceVersion", ""),
            float(timeout) if timeout is not None else _DEFAULT_WATCH_TIMEOUT,
            _flag(query, "allowWatchBookmarks"),
            _flag(query, "sendInitialEvents"),
            info.name or None,
            self._row_encoder(request, rt),
        )
        stream = WatchStream(self.cluster.store, self.clock, watch_request, self.bookmark_interval)
        return Response(200, stream=stream.events())

    def _replace(self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str) -> Response:
        op = self._operation(request, "UpdateOptions")
        obj = self.cluster.replace(rt, namespace, info.name, self._body(request, rt), op=op)
        return json_response(200, obj, op.warnings)

    def _patch(
        self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str, subresource: str = ""
    ) -> Response:
        op = self._operation(request, "PatchOptions")
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        obj, created = self.cluster.patch(
            rt,
            namespace,
            info.name,
            request.body,
            content_type,
            op=op,
            subresource=subresource,
            field_manager=request.query.get("fieldManager", ""),
        )
        return json_response(201 if created else 200, obj, op.warnings)

    def _delete_options(self, request: Request) -> DeleteOptions:
        body: JSON = {}
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        if request.body.strip():
            try:
                parsed = (
                    protobuf.decode(request.body)
                    if content_type == protobuf.CONTENT_TYPE
                    else httpbody.decode_json(request.body)
                )
            except (ValueError, protobuf.ProtobufError) as error:
                raise bad_request(f"error decoding DeleteOptions: {error}") from None
            body = parsed if isinstance(parsed, dict) else {}
        options = DeleteOptions.from_json(body)
        grace = _int(request.query, "gracePeriodSeconds")
        if grace is not None:
            options.grace_period = grace
        if request.query.get("propagationPolicy"):
            options.propagation = request.query["propagationPolicy"]
        elif request.query.get("orphanDependents"):
            options.propagation = "Orphan" if _flag(request.query, "orphanDependents") else "Background"
        if options.propagation not in (None, "Orphan", "Background", "Foreground"):
            raise invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                [
                    not_supported(
                        "propagationPolicy",
                        options.propagation,
                        ["Foreground", "Background", "Orphan", "nil"],
                    )
                ],
            )
        return options

    def _delete(self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str) -> Response:
        op = self._operation(request, "DeleteOptions")
        options = self._delete_options(request)
        if rt.orphans_by_default and options.propagation is None:
            op.warnings.append(_JOB_ORPHAN_WARNING)
        obj, pending = self.cluster.delete(rt, namespace, info.name, options, op)
        if pending or rt.returns_deleted_object:
            return json_response(200, obj, op.warnings)
        details: JSON = {"name": info.name}
        if rt.group:
            details["group"] = rt.group
        details["kind"] = rt.plural
        details["uid"] = obj["metadata"].get("uid", "")
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
        return json_response(200, status, op.warnings)

    def _delete_collection(
        self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str
    ) -> Response:
        del info
        op = self._operation(request, "DeleteOptions")
        options = self._delete_options(request)
        listing = self.cluster.list(
            rt,
            namespace or None,
            label_selector=request.query.get("labelSelector", ""),
            field_selector=request.query.get("fieldSelector", ""),
        )
        deleted = []
        for item in listing["items"]:
            try:
                obj, _ = self.cluster.delete(rt, namespace, item["metadata"]["name"], options, op)
            except ApiError as error:
                if error.code == 404:
                    continue
                raise
            deleted.append({k: v for k, v in obj.items() if k not in {"apiVersion", "kind"}})
        listing["items"] = deleted
        return json_response(200, listing, op.warnings)

    # --- subresources ---

    def _subresource(self, request: Request, info: RequestInfo, rt: ResourceType) -> Response:
        sub = rt.subresource(info.subresource)
        if sub is None:
            raise path_not_found()
        if info.verb not in sub.verbs:
            raise method_not_allowed()
        namespace = self._namespace(info, rt)
        name = info.name
        if sub.name == "status":
            if info.verb == "get":
                return json_response(200, self.cluster.get(rt, namespace, name))
            if info.verb == "patch":
                return self._patch(request, info, rt, namespace, "status")
            op = self._operation(request, "UpdateOptions")
            obj = self.cluster.replace(
                rt, namespace, name, self._body(request, rt), op=op, subresource="status"
            )
            return json_response(200, obj, op.warnings)
        if sub.name == "scale":
            return self._scale(request, info, rt, namespace)
        if sub.name == "log":
            return self._log(request, namespace, name)
        body = self._body(request, rt)
        if not isinstance(body, dict):
            raise bad_request(f"the object provided is unrecognized (must be of type {sub.kind})")
        rules = {"token": shapes.TOKEN_REQUEST, "eviction": shapes.EVICTION, "binding": shapes.BINDING}[
            sub.name
        ]
        shapes.check_rules(sub.kind, sub.version or rt.version, body, rules)
        if sub.name == "token":
            return json_response(
                201, subresources.token_request(self.cluster, self.tokens, namespace, name, body)
            )
        if sub.name == "eviction":
            op = self._operation(request, "CreateOptions")
            return json_response(
                201, subresources.evict(self.cluster, namespace, name, body, op), op.warnings
            )
        return json_response(201, subresources.bind(self.cluster, namespace, name, body))

    def _scale(self, request: Request, info: RequestInfo, rt: ResourceType, namespace: str) -> Response:
        current = self.cluster.get(rt, namespace, info.name)
        scale = subresources.scale_of(current)
        if info.verb == "get":
            return json_response(200, scale)
        if info.verb == "update":
            wanted = self._body(request, rt)
        else:
            content_type = request.headers.get("content-type", "").split(";")[0].strip()
            wanted = self.cluster.patch_document(scale, request.body, content_type)
        replicas = ((wanted or {}).get("spec") or {}).get("replicas", 0)
        patch = json.dumps(
            {
                "metadata": {"resourceVersion": (wanted.get("metadata") or {}).get("resourceVersion")},
                "spec": {"replicas": replicas},
            }
        ).encode()
        op = self._operation(request, "UpdateOptions")
        obj, _ = self.cluster.patch(rt, namespace, info.name, patch, MERGE_PATCH, op=op)
        return json_response(200, subresources.scale_of(obj), op.warnings)

    def _log(self, request: Request, namespace: str, name: str) -> Response:
        pods = self.registry.by_path("", "v1", "pods")
        assert pods is not None
        pod = self.cluster.get(pods, namespace, name)
        query = request.query
        options = logs.LogOptions(
            container=query.get("container", ""),
            follow=_flag(query, "follow"),
            previous=_flag(query, "previous"),
            tail_lines=_int(query, "tailLines"),
            since_seconds=_int(query, "sinceSeconds"),
            since_time=query.get("sinceTime") or None,
            timestamps=_flag(query, "timestamps"),
            limit_bytes=_int(query, "limitBytes"),
        )
        container = logs.choose_container(pod, options.container)
        if not (pod.get("spec") or {}).get("nodeName"):
            return Response(200, b"", "text/plain")
        path = logs.log_file(self.log_root, pod, container, options.previous)
        body, offset = logs.read_log(path, options, self.clock.now())
        if not options.follow:
            return Response(200, body, "text/plain")

        def still_running() -> bool:
            current = self.cluster.store.get("pods", namespace, name)
            if current is None or current["metadata"]["uid"] != pod["metadata"]["uid"]:
                return False
            return logs.log_file(self.log_root, current, container, False) == path and not _terminated(
                current, container
            )

        return Response(
            200,
            content_type="text/plain",
            stream=itertools.chain([body], logs.follow(path, offset, options, still_running)),
        )

    # --- reviews ---

    def _review(self, request: Request, info: RequestInfo, rt: ResourceType) -> Response:
        if info.verb != "create":
            raise method_not_allowed()
        body = self._body(request, rt)
        if not isinstance(body, dict):
            raise bad_request(f"the object provided is unrecognized (must be of type {rt.kind})")
        shapes.check(rt, body)
        if rt.kind == "TokenReview":
            return json_response(201, reviews.token_review(self.tokens, body))
        if rt.kind == "SelfSubjectReview":
            return json_response(201, reviews.self_subject_review(request.user))
        namespace = info.namespace if rt.namespaced else ""
        return json_response(
            201, reviews.access_review(self.authorizer, rt.kind, body, request.user, namespace)
        )


def _terminated(pod: JSON, container: str) -> bool:
    status = pod.get("status") or {}
    for entry in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if entry.get("name") == container:
            return "terminated" in (entry.get("state") or {})
    return False

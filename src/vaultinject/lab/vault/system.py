"""The mounted `sys/` backend: seal, mounts, auth methods, policies, capabilities, leases, audit, wrapping,
the KV-version lookup, and the lab-only endpoints under `sys/lab/` (health and init live in system_status)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from vaultinject.lab.vault import fields, lab_api, responses
from vaultinject.lab.vault.backend import Backend, MountContext
from vaultinject.lab.vault.engines.kv import KVBackend
from vaultinject.lab.vault.envelope import (
    RawBody,
    Response,
    bad_request,
    not_found,
    permission_denied,
)
from vaultinject.lab.vault.mounts import AUTH, SECRETS, MountEntry
from vaultinject.lab.vault.policy import INTERNAL_POLICIES, PolicyError, decode_policy_text
from vaultinject.lab.vault.request import Request
from vaultinject.lab.vault.tokens import TokenEntry

if TYPE_CHECKING:
    from vaultinject.lab.vault.core import Core


class SystemBackend(Backend):
    """The mounted `sys/` backend."""

    type_name = "system"
    unauthenticated_paths = ("wrapping/lookup", "internal/ui/mounts/*")
    sudo_paths = (
        "auth/*",
        "remount",
        "audit",
        "audit/*",
        "raw",
        "raw/*",
        "rotate",
        "seal",
        "step-down",
        "revoke-prefix/*",
        "revoke-force/*",
        "leases/revoke-prefix/*",
        "leases/revoke-force/*",
        "leases/lookup/*",
        "lab/*",
    )

    def __init__(self, context: MountContext, core: Core) -> None:
        super().__init__(context)
        self.core = core
        add = self.router.add
        add(r"seal/?", update=self.seal)
        add(r"step-down/?", update=self.step_down)
        add(r"mounts/?", read=self.list_mounts(SECRETS))
        add(r"mounts/(?P<path>.+?)/tune/?", read=self.read_tune(SECRETS), update=self.tune(SECRETS))
        add(
            r"mounts/(?P<path>.+)",
            read=self.read_mount(SECRETS),
            update=self.enable(SECRETS),
            delete=self.disable(SECRETS),
        )
        add(r"auth/?", read=self.list_mounts(AUTH))
        add(r"auth/(?P<path>.+?)/tune/?", read=self.read_tune(AUTH), update=self.tune(AUTH))
        add(
            r"auth/(?P<path>.+)",
            read=self.read_mount(AUTH),
            update=self.enable(AUTH),
            delete=self.disable(AUTH),
        )
        add(r"policies/acl/?", list=self.list_policies)
        add(
            r"policies/acl/(?P<name>.+)",
            read=self.read_policy,
            update=self.write_policy,
            delete=self.delete_policy,
        )
        add(r"policy/?", read=self.list_policies_legacy, list=self.list_policies)
        add(
            r"policy/(?P<name>.+)",
            read=self.read_policy_legacy,
            update=self.write_policy,
            delete=self.delete_policy,
        )
        add(r"capabilities-self", update=self.capabilities_self)
        add(r"capabilities", update=self.capabilities)
        add(r"capabilities-accessor", update=self.capabilities_accessor)
        add(r"leases/lookup/?", update=self.lookup_lease)
        add(r"leases/lookup/(?P<prefix>.*)", list=self.list_leases)
        for stem in ("leases/renew", "renew"):
            add(rf"{stem}/?", update=self.renew_lease)
            add(rf"{stem}/(?P<lease_id>.+)", update=self.renew_lease)
        for stem in ("leases/revoke", "revoke"):
            add(rf"{stem}/?", update=self.revoke_lease)
            add(rf"{stem}/(?P<lease_id>.+)", update=self.revoke_lease)
        for stem in ("leases/revoke-prefix", "revoke-prefix", "leases/revoke-force", "revoke-force"):
            add(rf"{stem}/(?P<prefix>.+)", update=self.revoke_prefix)
        add(r"audit/?", read=self.list_audit)
        add(r"audit/(?P<path>.+)", update=self.enable_audit, delete=self.disable_audit)
        add(r"audit-hash/(?P<path>.+)", update=self.audit_hash)
        add(r"wrapping/wrap", update=self.wrap)
        add(r"wrapping/unwrap", update=self.unwrap)
        add(r"wrapping/lookup", update=self.wrap_lookup, read=self.wrap_lookup)
        add(r"wrapping/rewrap", update=self.rewrap)
        add(r"internal/ui/mounts/(?P<path>.+)", read=self.ui_mount)
        lab_api.register(self.router, core)
        core.quotas.register(self.router)

    # -- seal ---------------------------------------------------------------------------------------

    def seal(self, _request: Request, _match: re.Match[str]) -> Response:
        self.core.seal_node()
        return responses.no_content()

    def step_down(self, _request: Request, _match: re.Match[str]) -> Response:
        """An HA active node hands over after answering; a single node has nothing to step down from."""
        if self.core.ha is not None:
            self.core.ha.request_step_down()
        return responses.no_content()

    # -- mounts and auth methods --------------------------------------------------------------------

    def list_mounts(self, table: str) -> Any:
        def handler(_request: Request, _match: re.Match[str]) -> Response:
            views = {entry.path: entry.api_view() for entry in self.core.mounts.entries(table)}
            return responses.data(views, sys_injector=True)

        return handler

    def _entry(self, table: str, path: str) -> MountEntry | None:
        return self.core.mounts.get(table, _mount_path(path))

    def read_mount(self, table: str) -> Any:
        def handler(_request: Request, match: re.Match[str]) -> Response:
            entry = self._entry(table, match["path"])
            if entry is None:
                kind = "auth mount" if table == AUTH else "secret mount"
                raise bad_request(f"No {kind} at {_mount_path(match['path'])}")
            return responses.data(entry.api_view(), sys_injector=True)

        return handler

    def enable(self, table: str) -> Any:
        def handler(request: Request, match: re.Match[str]) -> Response:
            data = request.data
            kind = fields.string(data, "type")
            if kind == "plugin" or not kind:
                kind = fields.string(data, "plugin_name")
            if not kind:
                raise bad_request("backend type must be specified as a string")
            path = _mount_path(match["path"])
            config = _mount_config(fields.mapping(data, "config"), table)
            options = fields.mapping(data, "options") or None
            self.core.mounts.mount(
                table,
                path,
                kind,
                description=fields.string(data, "description"),
                config=config,
                options={str(k): str(v) for k, v in options.items()} if options else None,
                local=fields.boolean(data, "local"),
                seal_wrap=fields.boolean(data, "seal_wrap"),
                external_entropy_access=fields.boolean(data, "external_entropy_access"),
            )
            return responses.no_content()

        return handler

    def disable(self, table: str) -> Any:
        def handler(_request: Request, match: re.Match[str]) -> Response:
            path = _mount_path(match["path"])
            entry = self.core.mounts.get(table, path)
            if entry is None:
                return responses.no_content()
            if table == AUTH:
                if entry.type == "token":
                    raise bad_request("token credential backend cannot be disabled")
                for token in self.core.tokens.all_entries():
                    if token.mount_path == entry.route_prefix:
                        self.core.tokens.revoke(token.id)
            else:
                self.core.leases.revoke_prefix(entry.route_prefix)
            self.core.mounts.unmount(table, path)
            return responses.no_content()

        return handler

    def read_tune(self, table: str) -> Any:
        def handler(_request: Request, match: re.Match[str]) -> Response:
            entry = self._entry(table, match["path"])
            if entry is None:
                prefix = "auth/" if table == AUTH else ""
                raise bad_request(f'cannot fetch sysview for path "{prefix}{_mount_path(match["path"])}"')
            return responses.data(entry.tune_view(), sys_injector=True)

        return handler

    def tune(self, table: str) -> Any:
        def handler(request: Request, match: re.Match[str]) -> Response:
            entry = self._entry(table, match["path"])
            if entry is None:
                raise bad_request(f'no mount entry found at path "{_mount_path(match["path"])}"')
            data = request.data
            config = dict(entry.config)
            for name in ("default_lease_ttl", "max_lease_ttl"):
                if name in data:
                    config[name] = _ttl_setting(data, name)
            if config.get("max_lease_ttl") and config.get("default_lease_ttl", 0) > config["max_lease_ttl"]:
                raise bad_request("default lease TTL cannot be greater than maximum lease TTL")
            for name in (
                "listing_visibility",
                "token_type",
                "passthrough_request_headers",
                "audit_non_hmac_request_keys",
                "audit_non_hmac_response_keys",
            ):
                if name in data and data[name] is not None:
                    config[name] = data[name]
            if "force_no_cache" in data:
                config["force_no_cache"] = fields.boolean(data, "force_no_cache")
            entry.config = config
            if "description" in data:
                entry.description = fields.string(data, "description")
            if data.get("options"):
                options = {str(k): str(v) for k, v in fields.mapping(data, "options").items()}
                self._change_kv_version(entry, options)
                entry.options = {**(entry.options or {}), **options}
            self.core.mounts.update(entry)
            return responses.no_content()

        return handler

    def _change_kv_version(self, entry: MountEntry, options: dict[str, str]) -> None:
        """Tuning `options.version` upgrades a KV v1 mount in place; downgrades are refused."""
        if entry.type != "kv" or "version" not in options:
            return
        old = str((entry.options or {}).get("version", "1"))
        new = options["version"]
        if new == old:
            return
        if new != "2":
            raise bad_request(f"cannot downgrade mount from KV version {old} to version {new}")
        backend = self.core.mounts.backend(entry.route_prefix)
        assert isinstance(backend, KVBackend)
        backend.upgrade_to_v2()

    # -- policies -----------------------------------------------------------------------------------

    def list_policies(self, _request: Request, _match: re.Match[str]) -> Response:
        return responses.keys(self.core.policies.names(), sys_injector=True)

    def list_policies_legacy(self, _request: Request, _match: re.Match[str]) -> Response:
        names = self.core.policies.names()
        return responses.data({"keys": names, "policies": names}, sys_injector=True)

    def _policy_text(self, name: str) -> str:
        if name.lower() == "root":
            return ""
        text = self.core.policies.raw(name)
        if text is None:
            raise not_found()
        return text

    def read_policy(self, _request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        return responses.data({"name": name, "policy": self._policy_text(name)}, sys_injector=True)

    def read_policy_legacy(self, _request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        return responses.data({"name": name, "rules": self._policy_text(name)}, sys_injector=True)

    def write_policy(self, request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        if name in INTERNAL_POLICIES:
            raise bad_request(f'cannot update "{name}" policy')
        text = fields.string(request.data, "policy") or fields.string(request.data, "rules")
        if not text:
            raise bad_request("'policy' parameter not supplied or empty")
        try:
            self.core.policies.put(name, decode_policy_text(text))
        except PolicyError as error:
            raise bad_request(str(error)) from None
        return responses.no_content()

    def delete_policy(self, _request: Request, match: re.Match[str]) -> Response:
        name = match["name"].lower()
        if name in ("root", "default"):
            raise bad_request(f'cannot delete "{name}" policy')
        self.core.policies.delete(name)
        return responses.no_content()

    # -- capabilities -------------------------------------------------------------------------------

    def _capabilities(self, token: TokenEntry, data: dict[str, Any]) -> Response:
        paths = fields.string_list(data, "paths") or fields.string_list(data, "path")
        if not paths:
            raise bad_request("'paths' must be specified")
        acl = self.core.acl(token)
        result: dict[str, Any] = {path: acl.capabilities(path) for path in paths}
        if len(paths) == 1:
            result["capabilities"] = result[paths[0]]
        return responses.data(result, sys_injector=True)

    def capabilities_self(self, request: Request, _match: re.Match[str]) -> Response:
        assert request.token is not None
        return self._capabilities(request.token, request.data)

    def capabilities(self, request: Request, _match: re.Match[str]) -> Response:
        token = self.core.tokens.lookup(fields.string(request.data, "token"))
        if token is None:
            raise bad_request("invalid token")
        return self._capabilities(token, request.data)

    def capabilities_accessor(self, request: Request, _match: re.Match[str]) -> Response:
        token = self.core.tokens.by_accessor(fields.string(request.data, "accessor"))
        if token is None:
            raise bad_request("invalid accessor")
        return self._capabilities(token, request.data)

    # -- leases -------------------------------------------------------------------------------------

    def lookup_lease(self, request: Request, _match: re.Match[str]) -> Response:
        lease = self.core.leases.get(fields.string(request.data, "lease_id"))
        if lease is None:
            raise bad_request("invalid lease")
        return responses.data(lease.lookup_data(self.core.clock.now()), sys_injector=True)

    def list_leases(self, _request: Request, match: re.Match[str]) -> Response:
        return responses.keys(self.core.leases.children(match["prefix"]), sys_injector=True)

    def renew_lease(self, request: Request, match: re.Match[str]) -> Response:
        lease_id = match.groupdict().get("lease_id") or fields.string(request.data, "lease_id")
        if not lease_id:
            raise bad_request("lease_id must be specified")
        entry, warnings = self.core.leases.renew(lease_id, fields.duration(request.data, "increment"))
        return Response(
            lease_id=entry.lease_id,
            lease_duration=entry.ttl,
            renewable=entry.renewable,
            warnings=warnings,
            force_envelope=True,
        )

    def revoke_lease(self, request: Request, match: re.Match[str]) -> Response:
        lease_id = match.groupdict().get("lease_id") or fields.string(request.data, "lease_id")
        if not lease_id:
            raise bad_request("lease_id must be specified")
        self.core.leases.revoke(lease_id)
        return responses.no_content()

    def revoke_prefix(self, _request: Request, match: re.Match[str]) -> Response:
        self.core.leases.revoke_prefix(match["prefix"])
        return responses.no_content()

    # -- audit --------------------------------------------------------------------------------------

    def list_audit(self, _request: Request, _match: re.Match[str]) -> Response:
        return responses.data(self.core.audit.views(), sys_injector=True)

    def enable_audit(self, request: Request, match: re.Match[str]) -> Response:
        data = request.data
        options = {str(k): str(v) for k, v in fields.mapping(data, "options").items()}
        self.core.audit.enable(
            _mount_path(match["path"]),
            fields.string(data, "type"),
            fields.string(data, "description"),
            options,
            fields.boolean(data, "local"),
        )
        return responses.no_content()

    def disable_audit(self, _request: Request, match: re.Match[str]) -> Response:
        self.core.audit.disable(_mount_path(match["path"]))
        return responses.no_content()

    def audit_hash(self, request: Request, match: re.Match[str]) -> Response:
        device = self.core.audit.device(_mount_path(match["path"]))
        if device is None:
            raise bad_request("unknown audit backend")
        return responses.data({"hash": device.hash(fields.string(request.data, "input"))}, sys_injector=True)

    # -- response wrapping --------------------------------------------------------------------------

    def wrap(self, request: Request, _match: re.Match[str]) -> Response:
        if not request.wrap_ttl:
            raise bad_request("no wrap TTL specified")
        return Response(data=dict(request.data), force_envelope=True)

    def _wrapping_token(self, request: Request) -> str:
        token = fields.string(request.data, "token")
        if token:
            return token
        if request.token is not None and request.token.wrapping is not None:
            return request.token.id
        raise bad_request("wrapping token is not valid or does not exist")

    def unwrap(self, request: Request, _match: re.Match[str]) -> Response:
        envelope = self.core.wrapper.unwrap(self._wrapping_token(request))
        envelope["request_id"] = request.request_id
        return Response(raw=RawBody(200, "application/json", json.dumps(envelope).encode()))

    def wrap_lookup(self, request: Request, _match: re.Match[str]) -> Response:
        token = fields.string(request.data, "token") or (request.client_token if request.token else "")
        return responses.data(self.core.wrapper.lookup(token), sys_injector=True)

    def rewrap(self, request: Request, _match: re.Match[str]) -> Response:
        token = self._wrapping_token(request)
        entry = self.core.tokens.lookup(token)
        ttl = entry.creation_ttl if entry is not None else 0
        envelope = self.core.wrapper.unwrap(token)
        creation_path = entry.path if entry is not None else request.path
        info = self.core.wrapper.wrap(envelope, creation_path, ttl, "")
        return Response(wrap_info=info)

    # -- the mount lookup Vault Agent and the CLI use to tell KV v1 from v2 -------------------------------

    def ui_mount(self, request: Request, match: re.Match[str]) -> Response:
        """`sys/internal/ui/mounts/<path>`: the mount holding `path`, for any token with access to it."""
        token = self.core.tokens.lookup(request.client_token) if request.client_token else None
        routed = self.core.mounts.route(match["path"].lstrip("/"))
        if token is None or routed is None:
            raise permission_denied()
        entry = routed[0]
        if not self.core.acl(token).has_any_under(entry.route_prefix):
            raise permission_denied()
        view = entry.api_view()
        view["path"] = entry.route_prefix
        return responses.data(view)


def _mount_path(path: str) -> str:
    path = path.strip("/")
    return path + "/" if path else ""


def _ttl_setting(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if value in (None, "", "system"):
        return 0
    return fields.duration(data, name)


def _mount_config(config: dict[str, Any], table: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "default_lease_ttl": _ttl_setting(config, "default_lease_ttl"),
        "max_lease_ttl": _ttl_setting(config, "max_lease_ttl"),
        "force_no_cache": fields.boolean(config, "force_no_cache"),
    }
    if result["max_lease_ttl"] and result["default_lease_ttl"] > result["max_lease_ttl"]:
        raise bad_request("default lease TTL cannot be greater than maximum lease TTL")
    if table == AUTH:
        result["token_type"] = fields.string(config, "token_type", "default-service") or "default-service"
    for name in ("listing_visibility", "passthrough_request_headers", "audit_non_hmac_request_keys"):
        if config.get(name):
            result[name] = config[name]
    return result

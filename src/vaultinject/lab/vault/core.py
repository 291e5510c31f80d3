"""The Vault core: seal state, mounts, tokens, ACL checks and the path every request takes.

A request is routed to the mount with the longest matching prefix. Unless the mount marks the path as a
login path, the client token must be valid and its policies must allow the operation (after the mount's
existence check turned an update into a create). The backend's answer is then completed here: login grants
become tokens, leased secrets are registered, and the response is wrapped when asked.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vaultinject.lab.vault import ids
from vaultinject.lab.vault.acl import ACL
from vaultinject.lab.vault.audit import AuditBroker
from vaultinject.lab.vault.backend import Backend, LoginRenewal
from vaultinject.lab.vault.cidr import address_allowed
from vaultinject.lab.vault.clock import Clock
from vaultinject.lab.vault.config import ServerConfig
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.envelope import (
    LoginGrant,
    Response,
    VaultError,
    bad_request,
    invalid_token,
    no_handler,
    permission_denied,
    render_envelope,
    sealed,
)
from vaultinject.lab.vault.expiry import ExpiryQueue
from vaultinject.lab.vault.fields import sanitize_policies
from vaultinject.lab.vault.identity import IdentityStore
from vaultinject.lab.vault.leases import LeaseManager
from vaultinject.lab.vault.mounts import AUTH, SECRETS, BackendFactory, MountEntry, MountTable
from vaultinject.lab.vault.policy import PolicyStore
from vaultinject.lab.vault.quotas import QuotaManager
from vaultinject.lab.vault.request import CREATE, UPDATE, Request
from vaultinject.lab.vault.seal import SealManager
from vaultinject.lab.vault.store import StorageView, Store
from vaultinject.lab.vault.tokens import TokenEntry, TokenStore
from vaultinject.lab.vault.ttl import TTLLimits, calculate_ttl
from vaultinject.lab.vault.wrapping import INVALID_WRAPPING_TOKEN, ResponseWrapper

if TYPE_CHECKING:
    from vaultinject.lab.vault.ha import HANode

HA_MODES = ("active", "standby", "perfstandby", "drsecondary")
NOT_ACTIVE = "local node not active but active cluster node not found"
# Set by the node that initialized the storage with `--root-token`; the first active node mounts secret/.
DEV_MOUNT_PENDING = "core/lab/dev-secret-mount-pending"


class Core:
    """One lab Vault server's state and request pipeline (transport-independent)."""

    def __init__(self, config: ServerConfig, store: Store, clock: Clock | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock or Clock()
        self.seal = SealManager(StorageView(store, "core/seal/"), config.auto_unseal)
        self.policies = PolicyStore(StorageView(store, "core/policy/"))
        self.tokens = TokenStore(StorageView(store, "core/token/"), self.clock)
        self.leases = LeaseManager(StorageView(store, "core/lease/"), self.clock)
        self.identity = IdentityStore(StorageView(store, "core/identity/"))
        self.audit = AuditBroker(StorageView(store, "core/audit/"))
        self.wrapper = ResponseWrapper(StorageView(store, "core/wrapped/"), self.tokens, self.clock)
        self.expiry = ExpiryQueue()
        self.mounts = MountTable(store, self, _factories(self))
        self.log: Callable[[dict[str, Any]], None] = lambda _event: None
        self.ha_mode = "active"
        self.ha_enabled = False
        self.advertise_address = ""
        self.ha: HANode | None = None
        # Told "initialized", "unsealed", "sealed", "active" and "standby" (service registration, HA).
        self.listeners: list[Callable[[str], None]] = []
        self._acl_cache: dict[tuple[tuple[str, ...], int], ACL] = {}
        self._acl_lock = threading.Lock()
        self.tokens.schedule = lambda when, token_id: self.expiry.push(when, "token", token_id)
        self.leases.schedule = lambda when, lease_id: self.expiry.push(when, "lease", lease_id)
        self.leases.backend_for = self.mounts.backend
        self.leases.limits_for = self.mounts.limits
        self.tokens.revoke_hooks.append(lambda entry: self.leases.revoke_by_token(entry.id))
        self.token_revoked_hooks: list[Callable[[TokenEntry], None]] = []
        self.tokens.revoke_hooks.append(self._notify_token_revoked)
        from vaultinject.lab.vault.system_status import EarlyHandlers

        self.early = EarlyHandlers(self)
        self.quotas = QuotaManager(StorageView(store, "sys/quotas/"), self.clock)

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> None:
        """Bring the server to its start-up state: self-initialize with `--root-token`, auto-unseal."""
        initialized_here = False
        if not self.seal.initialized and self.config.root_token:
            with self.store.transaction():
                # Several HA nodes may start on one empty storage at once: only one initializes it.
                if not self.seal.initialized:
                    result = self.seal.initialize(1, 1)
                    self.write_unseal_keys(result.keys)
                    if self.config.dev_secret_mount:
                        self.store.put(DEV_MOUNT_PENDING, True)
                    initialized_here = True
            if initialized_here:
                self.emit("initialized")
        if initialized_here or (self.seal.initialized and self.config.auto_unseal):
            self.seal.unseal_automatically()
            self.unsealed()

    def unsealed(self) -> None:
        """The seal just opened: a single node loads its state now; an HA node once it wins the lock."""
        self.log({"time": rfc3339(time.time()), "level": "info", "msg": "vault is unsealed"})
        if self.ha is None:
            self.post_unseal()
        self.emit("unsealed")

    def seal_node(self) -> None:
        """`sys/seal`: drop the loaded state and close the seal (an active HA node also gives up the lock)."""
        self.pre_seal()
        self.seal.seal()
        self.emit("sealed")

    def emit(self, event: str) -> None:
        for listener in self.listeners:
            listener(event)

    def serving(self) -> bool:
        """Whether this node answers from its own state: a single node, or the active one of an HA cluster."""
        return self.ha is None or self.ha.is_active()

    def post_unseal(self) -> None:
        """Load mounts, policies, quotas and audit devices; recreate the configured root token; schedule
        expiry. Everything is read from storage afresh (another HA node may have written it meanwhile)."""
        self.policies.invalidate()
        self.policies.ensure_default()
        self.quotas.load()
        self.mounts.load()
        self.audit.load()
        if self.config.root_token:
            self.ensure_root_token(self.config.root_token)
        if self.store.get(DEV_MOUNT_PENDING):
            if self.mounts.get(SECRETS, "secret/") is None:
                self.mounts.mount(
                    SECRETS, "secret/", "kv", description="key/value secret storage", options={"version": "2"}
                )
            self.store.delete(DEV_MOUNT_PENDING)
        self.expiry.clear()
        for token in self.tokens.all_entries():
            self.expiry.push(token.expire_time, "token", token.id)
        for lease in self.leases.all_entries():
            self.expiry.push(lease.expire_time, "lease", lease.lease_id)

    def pre_seal(self) -> None:
        self.mounts.clear()
        self.audit.close()
        self.expiry.clear()
        self.policies.invalidate()
        with self._acl_lock:
            self._acl_cache.clear()

    def close(self) -> None:
        self.mounts.clear()
        self.audit.close()
        self.store.close()

    def write_unseal_keys(self, keys: list[bytes]) -> None:
        """Save the unseal keys (JSON `keys`, `keys_base64`) to `--unseal-key-file`, owner-readable only."""
        path = self.config.unseal_key_file
        if path is None:
            return
        document = {
            "keys": [key.hex() for key in keys],
            "keys_base64": [base64.b64encode(k).decode() for k in keys],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(document, indent=2) + "\n")

    def ensure_root_token(self, token_id: str) -> TokenEntry:
        existing = self.tokens.get(token_id)
        if existing is not None:
            return existing
        entry = TokenEntry(
            id=token_id,
            accessor=ids.accessor(),
            policies=["root"],
            path="auth/token/root",
            display_name="root",
            creation_time=self.clock.now(),
            orphan=True,
        )
        self.tokens.put(entry)
        return entry

    # -- services offered to backends -------------------------------------------------------------

    def limits(self, route_prefix: str) -> TTLLimits:
        return self.mounts.limits(route_prefix)

    def expire_due(self) -> None:
        """Revoke every token and lease whose time has come (called by the sweeper thread)."""
        if self.seal.sealed or not self.serving():
            return
        for kind, item_id in self.expiry.pop_due(self.clock.now()):
            try:
                if kind == "token":
                    self.tokens.expire_if_due(item_id)
                else:
                    self.leases.expire_if_due(item_id)
            except VaultError:
                continue

    def database_credentials(self) -> list[dict[str, Any]]:
        """Lab-only: every database credential whose lease is still alive, across all database mounts."""
        from vaultinject.lab.vault.engines.database import DatabaseBackend

        credentials: list[dict[str, Any]] = []
        for backend in self.mounts.backend_of_type("database"):
            assert isinstance(backend, DatabaseBackend)
            prefix = backend.context.mount.route_prefix + "creds/"
            leases = {}
            for lease_id in self.leases.ids_with_prefix(prefix):
                lease = self.leases.get(lease_id)
                if lease is not None:
                    leases[lease.internal.get("username")] = lease
            for credential in backend.valid_credentials():
                lease = leases.get(credential["username"])
                credential["lease_id"] = lease.lease_id if lease else ""
                credential["expire_time"] = rfc3339(lease.expire_time) if lease else None
                credentials.append(credential)
        return credentials

    def _notify_token_revoked(self, entry: TokenEntry) -> None:
        for hook in self.token_revoked_hooks:
            hook(entry)

    # -- the request path -------------------------------------------------------------------------

    def handle(self, request: Request) -> tuple[Response, str]:
        """Answer one request; raises VaultError for every error response."""
        early = self.early.handle(request)
        if early is not None:
            return early, "system"
        if self.seal.sealed:
            raise sealed()
        if not self.serving():
            raise VaultError(500, NOT_ACTIVE)
        request.response_headers = self.quotas.check(request)
        routed = self.mounts.route(request.path)
        mount: MountEntry | None = None
        backend: Backend | None = None
        if routed is not None:
            mount, backend, request.rel = routed
            request.mount_path, request.mount_type, request.mount_accessor = (
                mount.route_prefix,
                mount.type,
                mount.accessor,
            )
        exhausted = False
        try:
            if backend is None or not self._is_unauthenticated(request, backend):
                request.token = self._authenticate(request)
                if backend is not None:
                    self._resolve_operation(request, backend)
                self._authorize(request, request.token, backend)
                if backend is None:
                    raise no_handler(request.path)
                if request.token.wrapping is None:
                    exhausted = self.tokens.use(request.token)
            assert backend is not None
            assert mount is not None
            response = backend.handle(request)
            self._complete(request, mount, response)
        except VaultError as error:
            self._audit(request, None, error)
            raise
        finally:
            if exhausted and request.token is not None:
                self.tokens.revoke(request.token.id)
        self._audit(request, response, None)
        return response, mount.type

    def _is_unauthenticated(self, request: Request, backend: Backend) -> bool:
        if backend.is_unauthenticated(request.rel):
            return True
        # An unwrap may carry the wrapping token in its body instead of X-Vault-Token.
        return (
            request.path == "sys/wrapping/unwrap"
            and bool(request.data.get("token"))
            and not request.client_token
        )

    def _authenticate(self, request: Request) -> TokenEntry:
        token = self.tokens.lookup(request.client_token) if request.client_token else None
        if token is None:
            if request.path == "sys/wrapping/unwrap":
                raise bad_request(INVALID_WRAPPING_TOKEN)
            raise invalid_token()
        if token.bound_cidrs and not address_allowed(request.remote_addr, token.bound_cidrs):
            raise permission_denied()
        return token

    def _resolve_operation(self, request: Request, backend: Backend) -> None:
        if request.operation == UPDATE and backend.exists(request) is False:
            request.operation = CREATE

    def _authorize(self, request: Request, token: TokenEntry, backend: Backend | None) -> None:
        if token.is_root:
            return
        sudo = backend is not None and backend.requires_sudo(request.rel)
        if not self.acl(token).allows(request.operation, request.path, request.data, sudo):
            raise permission_denied()

    def acl(self, token: TokenEntry) -> ACL:
        """The compiled ACL of a token's policies (cached until any policy changes)."""
        if token.is_root:
            return ACL([], root=True)
        key = (tuple(token.policies), self.policies.generation)
        with self._acl_lock:
            cached = self._acl_cache.get(key)
        if cached is not None:
            return cached
        policies = [p for p in (self.policies.get(name) for name in token.policies) if p is not None]
        compiled = ACL(policies)
        with self._acl_lock:
            if len(self._acl_cache) > 512:
                self._acl_cache.clear()
            self._acl_cache[key] = compiled
        return compiled

    def _complete(self, request: Request, mount: MountEntry, response: Response) -> None:
        if response.login is not None:
            entry, warnings = self.issue_login_token(request, mount, response.login)
            response.auth = auth_block(entry)
            response.warnings.extend(warnings)
        if response.lease is not None:
            self._lease(request, mount, response)
        if request.wrap_ttl and not response.is_empty() and response.raw is None:
            self._wrap(request, mount, response)

    def _lease(self, request: Request, mount: MountEntry, response: Response) -> None:
        assert response.lease is not None
        if mount.type == "kv":
            # KV reports a TTL but never registers a lease (request_handling.go).
            response.lease_duration = response.lease.ttl or mount.limits().default_ttl
            response.renewable = False
            return
        owner = request.token.id if request.token is not None else ""
        entry, warnings = self.leases.register(request.path, mount.route_prefix, owner, response.lease)
        response.lease_id, response.lease_duration = entry.lease_id, entry.ttl
        response.renewable = entry.renewable
        response.warnings.extend(warnings)

    def _wrap(self, request: Request, mount: MountEntry, response: Response) -> None:
        assert request.wrap_ttl is not None
        envelope = render_envelope(response, request.request_id, mount.type)
        wrapped_accessor = str(response.auth["accessor"]) if response.auth else ""
        info = self.wrapper.wrap(envelope, request.path, request.wrap_ttl, wrapped_accessor)
        wrapped = Response(wrap_info=info)
        response.__dict__.update(wrapped.__dict__)

    # -- tokens -------------------------------------------------------------------------------------

    def issue_login_token(
        self, request: Request, mount: MountEntry, grant: LoginGrant
    ) -> tuple[TokenEntry, list[str]]:
        """Turn an auth method's grant into an orphan service token, as Vault's core does on login."""
        now = self.clock.now_int()
        ttl, warnings = calculate_ttl(
            mount.limits(),
            now,
            backend_ttl=grant.ttl,
            period=grant.period,
            backend_max_ttl=grant.max_ttl,
            explicit_max_ttl=grant.explicit_max_ttl,
        )
        source = mount.path.replace("/", "-")
        entry = TokenEntry(
            id=ids.service_token(),
            accessor=ids.accessor(),
            policies=sanitize_policies(grant.policies, add_default=not grant.no_default_policy),
            path=request.path,
            mount_path=mount.route_prefix,
            display_name=(source + grant.display_name).rstrip("-"),
            meta=dict(grant.metadata) or None,
            num_uses=grant.num_uses,
            creation_time=float(now),
            creation_ttl=ttl,
            ttl=ttl,
            expire_time=float(now + ttl),
            explicit_max_ttl=grant.explicit_max_ttl,
            period=grant.period,
            renewable=grant.renewable,
            orphan=True,
            entity_id=self.identity.entity_for_alias(mount.accessor, grant.alias_name),
            bound_cidrs=list(grant.bound_cidrs),
            internal=dict(grant.internal),
            max_ttl=grant.max_ttl,
        )
        self.tokens.put(entry)
        return entry, warnings

    def renew_token(self, entry: TokenEntry, increment: int) -> tuple[TokenEntry, list[str]]:
        """Renew a token through its auth method; errors are Vault's 400s."""
        if not entry.expire_time:
            raise bad_request("lease not found or lease is not renewable")
        if not entry.renewable:
            raise bad_request("lease is not renewable")
        renewal = LoginRenewal(ttl=0, max_ttl=0, period=entry.period)
        if entry.mount_path != "auth/token/":
            backend = self.mounts.backend(entry.mount_path)
            if backend is None:
                raise bad_request("lease not found or lease is not renewable")
            try:
                renewal = backend.renew_login(entry)
            except VaultError as error:
                raise bad_request(error.errors[0] if error.errors else "renewal failed") from None
        now = self.clock.now_int()
        ttl, warnings = calculate_ttl(
            self.mounts.limits(entry.mount_path),
            now,
            increment=increment,
            backend_ttl=renewal.ttl,
            period=renewal.period,
            backend_max_ttl=renewal.max_ttl,
            explicit_max_ttl=entry.explicit_max_ttl,
            start=int(entry.creation_time),
        )
        entry.ttl, entry.expire_time, entry.last_renewal = ttl, float(now + ttl), float(now)
        self.tokens.put(entry)
        return entry, warnings

    # -- audit ------------------------------------------------------------------------------------

    def _audit(self, request: Request, response: Response | None, error: VaultError | None) -> None:
        if not self.audit.enabled:
            return
        token = request.token
        auth = None
        if token is not None:
            auth = {
                "client_token": token.id,
                "accessor": token.accessor,
                "display_name": token.display_name,
                "policies": token.policies,
                "token_policies": token.policies,
                "metadata": token.meta,
                "entity_id": token.entity_id,
                "token_type": token.type,
                "token_ttl": token.ttl,
            }
        audited_request = {
            "id": request.request_id,
            "operation": request.operation,
            "mount_type": request.mount_type,
            "mount_accessor": request.mount_accessor,
            "client_token": request.client_token,
            "namespace": {"id": "root"},
            "path": request.path,
            "data": request.data or None,
            "remote_address": request.remote_addr,
        }
        self.audit.log("request", audited_request, auth)
        extra: dict[str, Any] = {}
        if response is not None:
            extra["response"] = {
                "mount_type": request.mount_type,
                "data": response.data,
                "auth": response.auth,
                "wrap_info": response.wrap_info,
                "warnings": response.warnings or None,
            }
        if error is not None:
            extra["error"] = (
                "; ".join(message.strip() for message in error.errors) or f"status {error.status}"
            )
        self.audit.log("response", audited_request, auth, **extra)


def auth_block(entry: TokenEntry) -> dict[str, Any]:
    """The `auth` object of a login or token-create response."""
    block: dict[str, Any] = {
        "client_token": entry.id,
        "accessor": entry.accessor,
        "policies": list(entry.policies),
    }
    if entry.policies:
        block["token_policies"] = list(entry.policies)
    block.update(
        {
            "metadata": entry.meta or None,
            "lease_duration": entry.ttl,
            "renewable": entry.renewable,
            "entity_id": entry.entity_id,
            "token_type": entry.type,
            "orphan": entry.orphan,
            "mfa_requirement": None,
            "num_uses": max(entry.num_uses, 0),
        }
    )
    return block


def _factories(core: Core) -> dict[str, dict[str, BackendFactory]]:
    from vaultinject.lab.vault.auth.approle import AppRoleBackend
    from vaultinject.lab.vault.auth.jwt import JWTBackend
    from vaultinject.lab.vault.auth.kubernetes import KubernetesBackend
    from vaultinject.lab.vault.auth.token import TokenBackend
    from vaultinject.lab.vault.engines.cubbyhole import CubbyholeBackend
    from vaultinject.lab.vault.engines.database import DatabaseBackend
    from vaultinject.lab.vault.engines.identity import IdentityBackend
    from vaultinject.lab.vault.engines.kv import KVBackend
    from vaultinject.lab.vault.engines.pki import PKIBackend
    from vaultinject.lab.vault.system import SystemBackend

    return {
        SECRETS: {
            "kv": KVBackend,
            "database": DatabaseBackend,
            "pki": PKIBackend,
            "cubbyhole": lambda context: CubbyholeBackend(context, core),
            "identity": IdentityBackend,
            "system": lambda context: SystemBackend(context, core),
        },
        AUTH: {
            "token": lambda context: TokenBackend(context, core),
            "kubernetes": KubernetesBackend,
            "jwt": JWTBackend,
            "oidc": JWTBackend,
            "approle": AppRoleBackend,
        },
    }

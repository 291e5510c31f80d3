"""Endpoints that answer before a token is checked and whether or not the server is unsealed:
`sys/health`, `sys/seal-status`, `sys/leader`, `sys/init` and `sys/unseal` (reference A2), and `sys/seal`
on an HA standby. An HA standby answers all of them itself; it forwards every other request."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vaultinject.lab.vault import fields, responses
from vaultinject.lab.vault.config import BUILD_DATE
from vaultinject.lab.vault.envelope import Response, VaultError, bad_request, sealed, unsupported_operation
from vaultinject.lab.vault.ids import accessor as new_accessor
from vaultinject.lab.vault.ids import service_token
from vaultinject.lab.vault.request import HEAD, READ, Request
from vaultinject.lab.vault.tokens import TokenEntry

if TYPE_CHECKING:
    from vaultinject.lab.vault.core import Core

_STATUS_CODE = re.compile(r"[-+]?[0-9]{1,19}")
_HEALTH_CODES = {
    "activecode": 200,
    "standbycode": 429,
    "drsecondarycode": 472,
    "performancestandbycode": 473,
    "sealedcode": 503,
    "uninitcode": 501,
}


class EarlyHandlers:
    """Endpoints that answer whether or not the server is initialized or sealed, without a token."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.routes: dict[str, Callable[[Request], Response | None]] = {
            "sys/health": self.health,
            "sys/seal-status": self.seal_status,
            "sys/leader": self.leader,
            "sys/init": self.init,
            "sys/unseal": self.unseal,
            "sys/seal": self.standby_seal,
        }

    def handle(self, request: Request) -> Response | None:
        """The answer, or None when the request takes the normal path."""
        handler = self.routes.get(request.path.rstrip("/"))
        return None if handler is None else handler(request)

    def _seal_status(self) -> dict[str, Any]:
        return self.core.seal.status(self.core.config.version, BUILD_DATE, self.core.store.kind)

    def health(self, request: Request) -> Response:
        if request.operation not in (READ, HEAD):
            raise unsupported_operation()
        query = {name: values[0] for name, values in request.query.items() if values}
        codes = {name: _health_int(query, name, default) for name, default in _HEALTH_CODES.items()}
        standby_ok = _health_bool(query, "standbyok")
        perf_standby_ok = _health_bool(query, "perfstandbyok")
        core = self.core
        initialized, is_sealed, mode = core.seal.initialized, core.seal.sealed, core.ha_mode
        if not initialized:
            code = codes["uninitcode"]
        elif is_sealed:
            code = codes["sealedcode"]
        elif mode == "drsecondary":
            code = codes["drsecondarycode"]
        elif mode == "perfstandby":
            code = codes["activecode"] if perf_standby_ok else codes["performancestandbycode"]
        elif mode == "standby":
            code = codes["activecode"] if standby_ok else codes["standbycode"]
        else:
            code = codes["activecode"]
        if request.operation == HEAD or code in (204, 304):
            return responses.raw_empty(code)
        body: dict[str, Any] = {
            "initialized": initialized,
            "sealed": is_sealed,
            "standby": is_sealed or mode in ("standby", "perfstandby"),
            "performance_standby": mode == "perfstandby" and not is_sealed,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "secondary" if mode == "drsecondary" else "disabled",
            "server_time_utc": core.clock.now_int(),
            "version": core.config.version,
            "enterprise": False,
            "echo_duration_ms": 0,
            "clock_skew_ms": 0,
        }
        seal_config = core.seal.config
        if seal_config and not is_sealed:
            body["cluster_name"] = seal_config["cluster_name"]
            body["cluster_id"] = seal_config["cluster_id"]
        return responses.raw_json(code, body)

    def seal_status(self, request: Request) -> Response:
        _read_only(request)
        return responses.raw_json(200, self._seal_status())

    def leader(self, request: Request) -> Response:
        _read_only(request)
        if self.core.seal.sealed:
            raise sealed()
        ha = self.core.ha
        if ha is not None:
            leader = ha.leader()
            return responses.raw_json(
                200,
                {
                    "ha_enabled": True,
                    "is_self": ha.is_active(),
                    "active_time": ha.active_time(),
                    "leader_address": leader.api_addr if leader else "",
                    "leader_cluster_address": leader.cluster_addr if leader else "",
                    "performance_standby": False,
                    "performance_standby_last_remote_wal": 0,
                },
            )
        mode = self.core.ha_mode
        ha_enabled = self.core.ha_enabled
        is_self = mode == "active"
        return responses.raw_json(
            200,
            {
                "ha_enabled": ha_enabled,
                "is_self": ha_enabled and is_self,
                "active_time": "0001-01-01T00:00:00Z",
                "leader_address": self.core.advertise_address if ha_enabled else "",
                "leader_cluster_address": "",
                "performance_standby": mode == "perfstandby",
                "performance_standby_last_remote_wal": 0,
            },
        )

    def init(self, request: Request) -> Response:
        if request.operation == READ:
            return responses.raw_json(200, {"initialized": self.core.seal.initialized})
        if request.operation not in ("update", "create"):
            raise unsupported_operation()
        data = request.data
        if data.get("pgp_keys") or data.get("root_token_pgp_key"):
            raise bad_request("PGP-encrypted keys are not supported by the lab server")
        core = self.core
        auto = core.seal.auto_unseal
        shares = fields.integer(
            data, "recovery_shares" if auto and "recovery_shares" in data else "secret_shares"
        )
        threshold = fields.integer(
            data, "recovery_threshold" if auto and "recovery_threshold" in data else "secret_threshold"
        )
        root = TokenEntry(
            id=service_token(),
            accessor=new_accessor(),
            policies=["root"],
            path="auth/token/root",
            display_name="root",
            creation_time=core.clock.now(),
            orphan=True,
        )
        # One transaction: HA nodes share the storage, and only one of them may initialize it.
        with core.store.transaction():
            result = core.seal.initialize(shares, threshold)
            core.tokens.put(root)
        core.write_unseal_keys(result.keys)
        core.emit("initialized")
        hex_keys = [key.hex() for key in result.keys]
        b64_keys = [base64.b64encode(key).decode() for key in result.keys]
        body: dict[str, Any] = {"keys": hex_keys, "keys_base64": b64_keys, "root_token": root.id}
        if auto:
            body = {
                "keys": [],
                "keys_base64": [],
                "recovery_keys": hex_keys,
                "recovery_keys_base64": b64_keys,
                "root_token": root.id,
            }
            core.seal.unseal_automatically()
            core.unsealed()
        return responses.raw_json(200, body)

    def unseal(self, request: Request) -> Response:
        if request.operation not in ("update", "create"):
            raise unsupported_operation()
        core = self.core
        if not core.seal.initialized:
            raise bad_request("Vault is not initialized")
        if fields.boolean(request.data, "reset"):
            core.seal.reset()
            return responses.raw_json(200, self._seal_status())
        key = fields.string(request.data, "key")
        if not key:
            raise bad_request("'key' must be specified in request body as JSON, or 'reset' set to true")
        was_sealed = core.seal.sealed
        core.seal.submit(key)
        if was_sealed and not core.seal.sealed:
            core.unsealed()
        return responses.raw_json(200, self._seal_status())

    def standby_seal(self, request: Request) -> Response | None:
        """Vault refuses to seal a standby (`SealWithRequest`); any other node seals on the normal path."""
        core = self.core
        if core.ha is None or core.seal.sealed or core.ha.is_active() or request.operation != "update":
            return None
        raise VaultError(500, "vault cannot seal when in standby mode; please restart instead")


def _read_only(request: Request) -> None:
    if request.operation not in (READ, HEAD):
        raise unsupported_operation()


def _health_int(query: dict[str, str], name: str, default: int) -> int:
    """A status code parameter. Vault answers 400 when `strconv.Atoi` fails; a code outside 200-999
    makes Go's `WriteHeader` panic and the connection drop, so the lab answers 400 for it too."""
    if name not in query:
        return default
    text = query[name]
    if not _STATUS_CODE.fullmatch(text):
        raise VaultError(400, f"bad value for {name} parameter: {text!r} is not an integer")
    code = int(text)
    if not 200 <= code <= 999:
        raise VaultError(400, f"bad value for {name} parameter: {code} is not an HTTP status code (200-999)")
    return code


def _health_bool(query: dict[str, str], name: str) -> bool:
    if name not in query:
        return False
    if query[name] == "":
        return True
    try:
        return fields.parse_go_bool(query[name])
    except ValueError as error:
        raise VaultError(400, f"bad value for {name} parameter: {error}") from None
